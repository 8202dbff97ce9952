// The reauth flow as a PAM client drives it (authgear-protocol.md §2.3, §3.11): the answer fed with
// the create request (batch_input) on the pre-filled identify step, one factor, no recovery_code,
// no new grant without offline_access (a new one with it), a disabled user refused, and the
// next-id-token hook serving a stale auth_time or another user's sub on the code exchange.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  authorize, decodeJwt, finish, flow, login, startIdp, totpFor, USER,
} from './helpers.js';

let idp;
before(() => { idp = startIdp(); });
after(() => idp.cleanup());

const reauthorize = (idToken, scope = 'openid') => authorize(idp, { scope, prompt: 'login', max_age: '0', id_token_hint: idToken });

test('reauth: batch_input on create after the pre-filled identify, TOTP alone, same sid, no refresh token', async () => {
  const l = await login(idp, 'alice');
  const sid = decodeJwt(l.tokens.id_token).payload.sid;
  const a = await reauthorize(l.tokens.id_token);
  const r = await flow(idp, '', {
    type: 'reauth', name: 'default', url_query: a.query, batch_input: [{ authentication: 'secondary_totp', code: await totpFor(idp, 'alice') }],
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.result.action.type, 'finished');
  const f = await finish(idp, a, r.json.result.action.data.finish_redirect_uri);
  const p = decodeJwt(f.tokens.id_token).payload;
  assert.equal(p.sid, sid);
  assert.deepEqual(p.amr, ['otp', 'x_secondary_totp']);
  assert.equal(f.tokens.refresh_token, undefined);
});

test('reauth: no recovery_code option or input (§3.11), a wrong choice keeps the state', async () => {
  const l = await login(idp, 'alice');
  const a = await reauthorize(l.tokens.id_token);
  const r = await flow(idp, '', { type: 'reauth', name: 'default', url_query: a.query });
  assert.ok(!r.json.result.action.data.options.some((o) => o.authentication === 'recovery_code'));
  const bad = await flow(idp, '/states/input', { state_token: r.json.result.state_token, input: { authentication: 'recovery_code', recovery_code: USER.alice.recovery_codes[0] } });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.reason, 'ValidationFailed');
  assert.equal(bad.json.result.action.type, 'authenticate');
});

test('reauth with offline_access creates a new offline grant (a new sid and a refresh token)', async () => {
  const l = await login(idp, 'bob');
  const a = await reauthorize(l.tokens.id_token, 'openid offline_access');
  const r = await flow(idp, '', {
    type: 'reauth', name: 'default', url_query: a.query, batch_input: [{ authentication: 'primary_password', password: USER.bob.password }],
  });
  const f = await finish(idp, a, r.json.result.action.data.finish_redirect_uri);
  assert.ok(f.tokens.refresh_token);
  assert.notEqual(decodeJwt(f.tokens.id_token).payload.sid, decodeJwt(l.tokens.id_token).payload.sid);
});

test('reauth of a disabled user: DisabledUser on the answer', async () => {
  const l = await login(idp, 'carol');
  await idp.hook('POST', '/users/carol/disable', {});
  const a = await reauthorize(l.tokens.id_token);
  const r = await flow(idp, '', {
    type: 'reauth', name: 'default', url_query: a.query, batch_input: [{ authentication: 'primary_password', password: USER.carol.password }],
  });
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.error.reason, 'DisabledUser');
  await idp.hook('POST', '/users/carol/enable');
});

test('next-id-token hook on the reauth code exchange: an old auth_time, another sub', async () => {
  const l = await login(idp, 'alice');
  const bob = (await idp.hook('GET', '/users/bob')).sub;
  for (const payload of [{ auth_time: 1000 }, { sub: bob }]) {
    await idp.hook('POST', '/tokens/next-id-token', { grant_type: 'authorization_code', payload });
    const a = await reauthorize(l.tokens.id_token);
    const r = await flow(idp, '', {
      type: 'reauth', name: 'default', url_query: a.query, batch_input: [{ authentication: 'primary_password', password: USER.alice.password }],
    });
    const p = decodeJwt((await finish(idp, a, r.json.result.action.data.finish_redirect_uri)).tokens.id_token).payload;
    for (const [k, v] of Object.entries(payload)) assert.equal(p[k], v);
  }
});
