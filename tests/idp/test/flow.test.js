// Authentication Flow API: login/reauth flows, envelope, every error reason (authgear-protocol.md §3, §4).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  authorize, decodeJwt, finish, flow, login, startIdp, totpFor, USER,
} from './helpers.js';

let idp;
before(() => { idp = startIdp(); });
after(() => idp.cleanup());

const input = (r, inp) => flow(idp, '/states/input', { state_token: r.json.result.state_token, input: inp });
const start = async (extra) => {
  const a = await authorize(idp, extra);
  const r = await flow(idp, '', { type: 'login', name: 'default', url_query: a.query });
  return { a, r };
};
const toPassword = async (username) => {
  const { a, r } = await start();
  return { a, r: await input(r, { identification: 'username', login_id: username }) };
};
function assertError(r, status, name, reason) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.name, name);
  assert.equal(r.json.error.reason, reason);
  assert.equal(r.json.error.code, status);
  assert.equal(typeof r.json.error.message, 'string');
}

test('authorize: 302 to the UI URL with x_ref and an oauth_ui cookie', async () => {
  const a = await authorize(idp);
  assert.equal(a.res.status, 302);
  const loc = new URL(a.res.headers.location);
  assert.equal(loc.origin + loc.pathname, `${idp.issuer}/_internals/oauth_entrypoint`);
  assert.deepEqual([...loc.searchParams.keys()], ['client_id', 'redirect_uri', 'state', 'x_ref', 'x_settings_action_id']);
  assert.equal(loc.searchParams.get('client_id'), 'pam_authgear');
  assert.equal(loc.searchParams.get('state'), a.state);
  assert.match(a.res.headers['set-cookie'][0], /^oauth_ui=[^;]+; Path=\/; Secure; HttpOnly; SameSite=None$/);
});

test('login alice: identify, password, TOTP, finished, 303 consent, tokens', async () => {
  const { a, r } = await start();
  assert.equal(r.status, 200);
  const res0 = r.json.result;
  assert.match(res0.state_token, /^authflowstate_[0-9A-Z]{32}$/);
  assert.equal(res0.type, 'login');
  assert.equal(res0.name, 'default');
  assert.deepEqual(res0.action, { type: 'identify', data: { type: 'identification_data', options: [{ identification: 'email' }, { identification: 'phone' }, { identification: 'username' }] } });
  const r1 = await input(r, { identification: 'username', login_id: 'alice' });
  assert.equal(r1.status, 200);
  assert.notEqual(r1.json.result.state_token, res0.state_token);
  assert.deepEqual(r1.json.result.action, { type: 'authenticate', data: { type: 'authentication_data', options: [{ authentication: 'primary_password' }], device_token_enabled: true } });
  const r2 = await input(r1, { authentication: 'primary_password', password: USER.alice.password });
  assert.deepEqual(r2.json.result.action.data.options, [{ authentication: 'secondary_totp' }, { authentication: 'recovery_code' }]);
  // GET state (POST /states) returns the same state
  const g = await flow(idp, '/states', { state_token: r2.json.result.state_token });
  assert.deepEqual(g.json.result, r2.json.result);
  const r3 = await input(r2, { authentication: 'secondary_totp', code: await totpFor(idp, 'alice') });
  assert.equal(r3.json.result.action.type, 'finished');
  const fin = new URL(r3.json.result.action.data.finish_redirect_uri);
  assert.equal(fin.origin + fin.pathname, `${idp.issuer}/oauth2/consent`);
  assert.deepEqual([...fin.searchParams.keys()], ['client_id', 'code', 'redirect_uri', 'state']);
  // finished flows are gone
  assertError(await flow(idp, '/states', { state_token: r2.json.result.state_token }), 404, 'NotFound', 'AuthenticationFlowNotFound');
  const f = await finish(idp, a, fin.toString());
  assert.equal(f.consent.status, 303);
  assert.equal(f.loc.origin + f.loc.pathname, 'http://127.0.0.1/pam_authgear/callback');
  assert.deepEqual([...f.loc.searchParams.keys()].sort(), ['code', 'state']);
  assert.equal(f.loc.searchParams.get('state'), a.state);
  assert.equal(f.consent.headers['set-cookie'], undefined);
  assert.equal(f.token.status, 200);
  assert.deepEqual(Object.keys(f.tokens), ['access_token', 'token_type', 'expires_in', 'refresh_token', 'id_token']);
  const { payload } = decodeJwt(f.tokens.id_token);
  assert.deepEqual(payload.amr, ['mfa', 'otp', 'pwd', 'x_primary_password', 'x_secondary_totp']);
  assert.equal(payload.nonce, a.nonce);
  // the consent code is single use
  const again = await idp.req('GET', fin.toString());
  assert.equal(again.status, 303);
  assert.equal(new URL(again.headers.location).searchParams.get('error'), 'invalid_request');
  assert.equal(new URL(again.headers.location).searchParams.get('error_description'), 'authentication expired');
});

test('carol (no TOTP) finishes after the password; email and phone identification', async () => {
  const l = await login(idp, 'carol');
  assert.deepEqual(decodeJwt(l.tokens.id_token).payload.amr, ['pwd', 'x_primary_password']);
  const { r } = await start();
  const r1 = await input(r, { identification: 'email', login_id: 'Carol@Example.com' });
  assert.equal(r1.status, 200, r1.text);
  const { r: rp } = await start();
  const r2 = await input(rp, { identification: 'phone', login_id: USER.alice.phone });
  assert.equal(r2.json.result.action.type, 'authenticate');
  const bad = await input(rp, { identification: 'email', login_id: 'not-an-email' });
  assertError(bad, 400, 'Invalid', 'ValidationFailed');
  assert.equal(bad.json.error.info.causes[0].location, '/login_id');
  assert.equal(bad.json.result.state_token, rp.json.result.state_token);
});

test('recovery code: x_recovery_code + mfa, single use', async () => {
  const { a, r } = await toPassword('alice');
  const r2 = await input(r, { authentication: 'primary_password', password: USER.alice.password });
  const r3 = await input(r2, { authentication: 'recovery_code', recovery_code: USER.alice.recovery_codes[0].toLowerCase() });
  assert.equal(r3.json.result.action.type, 'finished', r3.text);
  const f = await finish(idp, a, r3.json.result.action.data.finish_redirect_uri);
  assert.deepEqual(decodeJwt(f.tokens.id_token).payload.amr, ['mfa', 'pwd', 'x_primary_password', 'x_recovery_code']);
  const { r: s } = await toPassword('alice');
  const s2 = await input(s, { authentication: 'primary_password', password: USER.alice.password });
  const s3 = await input(s2, { authentication: 'recovery_code', recovery_code: USER.alice.recovery_codes[0] });
  assertError(s3, 401, 'Unauthorized', 'InvalidCredentials');
  assert.equal(s3.json.error.info.AuthenticationType, 'recovery_code');
});

test('errors: UserNotFound, InvalidCredentials (password, totp) with unchanged state', async () => {
  const { r } = await start();
  const nf = await input(r, { identification: 'username', login_id: 'nobody' });
  assertError(nf, 404, 'NotFound', 'UserNotFound');
  assert.deepEqual(nf.json.error.info, { IdentityTypeIncoming: 'login_id', LoginIDTypeIncoming: 'username', FlowType: 'login' });
  assert.equal(nf.json.result.state_token, r.json.result.state_token);

  const { r: p } = await toPassword('bob');
  const wrong = await input(p, { authentication: 'primary_password', password: 'wrong' });
  assertError(wrong, 401, 'Unauthorized', 'InvalidCredentials');
  assert.deepEqual(wrong.json.error.info, { AuthenticationType: 'password', FlowType: 'login' });
  assert.deepEqual(wrong.json.result, p.json.result);
  const ok = await input(p, { authentication: 'primary_password', password: USER.bob.password });
  assert.equal(ok.status, 200);
  const badTotp = await input(ok, { authentication: 'secondary_totp', code: '000000' === await totpFor(idp, 'bob') ? '111111' : '000000' });
  assertError(badTotp, 401, 'Unauthorized', 'InvalidCredentials');
  assert.equal(badTotp.json.error.info.AuthenticationType, 'totp');
  const notOffered = await input(ok, { authentication: 'recovery_code', recovery_code: 'X' });
  assertError(notOffered, 400, 'Invalid', 'ValidationFailed');
  assert.ok(Array.isArray(notOffered.json.error.info.causes));
});

test('errors: DisabledUser after authentication', async () => {
  const { r } = await toPassword('dave');
  const d = await input(r, { authentication: 'primary_password', password: USER.dave.password });
  assertError(d, 403, 'Forbidden', 'DisabledUser');
  assert.equal(d.json.error.info.FlowType, 'login');
  assert.equal(d.json.result.state_token, r.json.result.state_token);
});

test('errors: envelope (Content-Type, JSON, state token, flow name/type, missing fields)', async () => {
  const ct = await idp.req('POST', '/api/v1/authentication_flows', { body: '{}', headers: { 'content-type': 'text/plain' } });
  assertError(ct, 400, 'BadRequest', 'BadRequest');
  const js = await idp.req('POST', '/api/v1/authentication_flows', { body: '{"type":', headers: { 'content-type': 'application/json; charset=utf-8' } });
  assertError(js, 400, 'BadRequest', 'InvalidJSON');
  assertError(await flow(idp, '/states/input', { state_token: 'authflowstate_NOPE', input: {} }), 404, 'NotFound', 'AuthenticationFlowNotFound');
  assertError(await flow(idp, '/states', { state_token: '' }), 404, 'NotFound', 'AuthenticationFlowNotFound');
  const nn = await flow(idp, '', { type: 'login', name: 'corp' });
  assertError(nn, 404, 'NotFound', 'AuthenticationFlowFlowNotFound');
  assert.equal(nn.json.result, undefined);
  assertError(await flow(idp, '', { type: 'bogus', name: 'default' }), 400, 'Invalid', 'ValidationFailed');
  const miss = await flow(idp, '', { name: 'default' });
  assertError(miss, 400, 'Invalid', 'ValidationFailed');
  assert.deepEqual(miss.json.error.info.causes[0].details.missing, ['type']);
  const noInput = await flow(idp, '/states/input', { state_token: 'x' });
  assertError(noInput, 400, 'Invalid', 'ValidationFailed');
  // a flow not bound to an OAuth session finishes without finish_redirect_uri
  const un = await flow(idp, '', { type: 'login', name: 'default', batch_input: [{ identification: 'username', login_id: 'carol' }, { authentication: 'primary_password', password: USER.carol.password }] });
  assert.deepEqual(un.json.result.action, { type: 'finished', data: {} });
  assert.ok(un.headers['set-cookie'].some((c) => c.startsWith('session=')));
});

test('batch_input: whole login in one request; failure returns the newest state', async () => {
  const a = await authorize(idp);
  const r = await flow(idp, '', {
    type: 'login', name: 'default', url_query: a.query,
    batch_input: [{ identification: 'username', login_id: 'bob' }, { authentication: 'primary_password', password: USER.bob.password },
      { authentication: 'secondary_totp', code: await totpFor(idp, 'bob') }],
  });
  assert.equal(r.json.result.action.type, 'finished', r.text);
  const f = await finish(idp, a, r.json.result.action.data.finish_redirect_uri);
  assert.equal(f.token.status, 200);
  const { r: s } = await start();
  const b = await flow(idp, '/states/input', { state_token: s.json.result.state_token, batch_input: [{ identification: 'username', login_id: 'bob' }, { authentication: 'primary_password', password: 'nope' }] });
  assertError(b, 401, 'Unauthorized', 'InvalidCredentials');
  assert.equal(b.json.result.action.type, 'authenticate');
  assert.deepEqual(b.json.result.action.data.options, [{ authentication: 'primary_password' }]);
});

test('batch_input longer than the flow: the flow is gone, AuthenticationFlowNotFound without a state', async () => {
  const a = await authorize(idp);
  const r = await flow(idp, '', {
    type: 'login', name: 'default', url_query: a.query,
    batch_input: [{ identification: 'username', login_id: 'carol' }, { authentication: 'primary_password', password: USER.carol.password },
      { authentication: 'secondary_totp', code: '123456' }],
  });
  assertError(r, 404, 'NotFound', 'AuthenticationFlowNotFound');
  assert.equal(r.json.result, undefined, r.text);
  // alice without TOTP (recovery codes kept) has no secondary authenticator: the flow finishes after the
  // password (§3.4, if_exists), so the code in the batch meets no flow either
  await idp.hook('POST', '/users/alice/set', { totp_secret: null });
  try {
    const b = await flow(idp, '', {
      type: 'login', name: 'default', url_query: (await authorize(idp)).query,
      batch_input: [{ identification: 'username', login_id: 'alice' }, { authentication: 'primary_password', password: USER.alice.password },
        { authentication: 'secondary_totp', code: '123456' }],
    });
    assertError(b, 404, 'NotFound', 'AuthenticationFlowNotFound');
  } finally {
    await idp.hook('POST', '/users/alice/set', { totp_secret: USER.alice.totp_secret });
  }
});

test('erin: change_password with PasswordPolicyViolated, then success', async () => {
  const { a, r } = await toPassword('erin');
  const r2 = await input(r, { authentication: 'primary_password', password: USER.erin.password });
  assert.equal(r2.json.result.action.type, 'change_password');
  assert.equal(r2.json.result.action.data.type, 'new_password_data');
  assert.equal(r2.json.result.action.data.force_change_reason, 'expiry');
  const short = await input(r2, { new_password: 'short' });
  assertError(short, 400, 'Invalid', 'PasswordPolicyViolated');
  const ok = await input(r2, { new_password: 'erin-new-password-2' });
  assert.equal(ok.json.result.action.type, 'finished');
  assert.equal((await finish(idp, a, ok.json.result.action.data.finish_redirect_uri)).token.status, 200);
  await idp.hook('POST', '/users/erin/set', { password: USER.erin.password, password_expired: true });
});

test('frank: prompt_create_passkey, skip', async () => {
  const { r } = await toPassword('frank');
  const r2 = await input(r, { authentication: 'primary_password', password: USER.frank.password });
  assert.equal(r2.json.result.action.type, 'prompt_create_passkey');
  assert.equal(r2.json.result.action.data.type, 'create_passkey_data');
  assert.equal(r2.json.result.action.data.allow_do_not_ask_again, true);
  const r3 = await input(r2, { skip: true });
  assert.equal(r3.json.result.action.type, 'finished');
});

test('terminate_other_sessions for a client with x_max_concurrent_session 1', async () => {
  const first = await login(idp, 'carol', { client: 'pam_authgear_single_session' });
  const a = await authorize(idp, {}, 'pam_authgear_single_session');
  let r = await flow(idp, '', { type: 'login', name: 'default', url_query: a.query, batch_input: [{ identification: 'username', login_id: 'carol' }, { authentication: 'primary_password', password: USER.carol.password }] });
  assert.deepEqual(r.json.result.action, { type: 'terminate_other_sessions', data: {} });
  assertError(await input(r, { confirm_terminate_other_sessions: false }), 400, 'Invalid', 'ValidationFailed');
  r = await input(r, { confirm_terminate_other_sessions: true });
  assert.equal(r.json.result.action.type, 'finished');
  const old = await idp.req('POST', '/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: first.tokens.refresh_token, client_id: 'pam_authgear_single_session' } });
  assert.equal(old.json.error, 'invalid_grant');
  assert.equal((await finish(idp, a, r.json.result.action.data.finish_redirect_uri)).token.status, 200);
});

test('device token: request_device_token sets mfa_device_token; next login skips TOTP without mfa', async () => {
  const { r } = await toPassword('bob');
  const r2 = await input(r, { authentication: 'primary_password', password: USER.bob.password });
  const r3 = await input(r2, { authentication: 'secondary_totp', code: await totpFor(idp, 'bob'), request_device_token: true });
  assert.equal(r3.json.result.action.type, 'finished');
  const cookie = r3.headers['set-cookie'].find((c) => c.startsWith('mfa_device_token='));
  assert.match(cookie, /SameSite=Strict/);
  const a = await authorize(idp);
  const headers = { cookie: cookie.split(';')[0] };
  let s = await flow(idp, '', { type: 'login', name: 'default', url_query: a.query }, headers);
  s = await flow(idp, '/states/input', { state_token: s.json.result.state_token, input: { identification: 'username', login_id: 'bob' } }, headers);
  s = await flow(idp, '/states/input', { state_token: s.json.result.state_token, input: { authentication: 'primary_password', password: USER.bob.password } }, headers);
  assert.equal(s.json.result.action.type, 'finished');
  const f = await finish(idp, a, s.json.result.action.data.finish_redirect_uri);
  assert.deepEqual(decodeJwt(f.tokens.id_token).payload.amr, ['pwd', 'x_device_token', 'x_primary_password']);
  // request_device_token is refused for a user without a second factor
  const { r: c } = await toPassword('carol');
  assertError(await input(c, { authentication: 'primary_password', password: USER.carol.password, request_device_token: true }), 400, 'Invalid', 'ValidationFailed');
});

test('reauth: prompt=login + max_age=0 + id_token_hint, auto-filled identify, same sid, auth_time written back', async () => {
  const l = await login(idp, 'alice');
  const first = decodeJwt(l.tokens.id_token).payload;
  await new Promise((res) => { setTimeout(res, 1100); });
  const a = await authorize(idp, { scope: 'openid', prompt: 'login', max_age: '0', id_token_hint: l.tokens.id_token });
  assert.equal(a.res.status, 302);
  let r = await flow(idp, '', { type: 'reauth', name: 'default', url_query: a.query });
  assert.equal(r.json.result.type, 'reauth');
  assert.deepEqual(r.json.result.action.data.options, [{ authentication: 'primary_password' }, { authentication: 'secondary_totp' }]);
  assert.equal(r.json.result.action.data.device_token_enabled, false);
  r = await input(r, { authentication: 'primary_password', password: USER.alice.password });
  assert.equal(r.json.result.action.type, 'finished');
  const f = await finish(idp, a, r.json.result.action.data.finish_redirect_uri);
  assert.equal(f.token.status, 200, f.token.text);
  assert.equal(f.tokens.refresh_token, undefined);
  const re = decodeJwt(f.tokens.id_token).payload;
  assert.ok(re.auth_time > first.auth_time);
  assert.deepEqual(re.amr, ['pwd', 'x_primary_password']);
  assert.equal(re.sid, first.sid);
  const rf = await idp.req('POST', '/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: l.tokens.refresh_token, client_id: 'pam_authgear' } });
  const p = decodeJwt(rf.json.id_token).payload;
  assert.equal(p.auth_time, re.auth_time);
  assert.deepEqual(p.amr, first.amr);
  assert.equal(p.nonce, undefined);
  // reauth without a hint: identify with id_token; a bad token is Invalid/Invalid
  let q = await flow(idp, '', { type: 'reauth', name: 'default' });
  assert.deepEqual(q.json.result.action.data.options, [{ identification: 'id_token' }]);
  const bad = await input(q, { identification: 'id_token', id_token: `${l.tokens.id_token}x` });
  assertError(bad, 400, 'Invalid', 'Invalid');
  q = await input(q, { identification: 'id_token', id_token: l.tokens.id_token });
  q = await input(q, { authentication: 'secondary_totp', code: await totpFor(idp, 'alice') });
  assert.deepEqual(q.json.result.action, { type: 'finished', data: {} });
});

test('lockout: the crossing attempt and later correct ones answer AccountLockout; unlock hook', async () => {
  const { r } = await toPassword('demo');
  let last;
  for (let i = 0; i < 6; i += 1) last = await input(r, { authentication: 'primary_password', password: `wrong${i}` });
  assertError(last, 429, 'TooManyRequest', 'AccountLockout');
  // Go's RFC3339Nano: a fraction of 1-9 digits without trailing zeros (or none)
  assert.match(last.json.error.info.until, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$/);
  assertError(await input(r, { authentication: 'primary_password', password: USER.demo.password }), 429, 'TooManyRequest', 'AccountLockout');
  await idp.hook('POST', '/users/demo/unlock');
  assert.equal((await input(r, { authentication: 'primary_password', password: USER.demo.password })).status, 200);
  await idp.hook('POST', '/users/demo/lock', { seconds: 60 });
  assertError(await input(r, { authentication: 'primary_password', password: USER.demo.password }), 429, 'TooManyRequest', 'AccountLockout');
  await idp.hook('POST', '/users/demo/unlock');
});

test('rate limits: RateLimited per user per IP, TooManyRequest per IP; switchable off', async () => {
  await idp.hook('POST', '/limits', { lockout: false });
  const { r } = await toPassword('frank');
  for (let i = 0; i < 10; i += 1) assert.equal((await input(r, { authentication: 'primary_password', password: 'x' })).status, 401);
  const rl = await input(r, { authentication: 'primary_password', password: USER.frank.password });
  assertError(rl, 429, 'TooManyRequest', 'RateLimited');
  assert.equal(rl.json.error.info.bucket_name, 'VerifyPasswordPerUserPerIP');
  assert.deepEqual(rl.json.error.info.rate_limit, { name: 'authentication.password.per_user_per_ip', group: 'authentication.password' });
  await idp.hook('POST', '/limits', { rate_limits: false });
  assert.equal((await input(r, { authentication: 'primary_password', password: USER.frank.password })).status, 200);
  await idp.hook('POST', '/limits', { rate_limits: true, flow_per_ip: 3 });
  await idp.hook('POST', '/limits/reset');
  const codes = [];
  for (let i = 0; i < 4; i += 1) codes.push((await flow(idp, '/states', { state_token: r.json.result.state_token })).status);
  assert.deepEqual(codes, [200, 200, 200, 429]);
  assertError(await flow(idp, '/states', { state_token: r.json.result.state_token }), 429, 'TooManyRequest', 'TooManyRequest');
  await idp.hook('POST', '/limits', { flow_per_ip: 1200, lockout: true });
  await idp.hook('POST', '/limits/reset');
});

test('--no-rate-limits: no lockout or rate limit', async () => {
  const nl = startIdp(['--no-rate-limits']);
  try {
    const a = await authorize(nl);
    let r = await flow(nl, '', { type: 'login', name: 'default', url_query: a.query });
    r = await flow(nl, '/states/input', { state_token: r.json.result.state_token, input: { identification: 'username', login_id: 'carol' } });
    for (let i = 0; i < 15; i += 1) {
      const w = await flow(nl, '/states/input', { state_token: r.json.result.state_token, input: { authentication: 'primary_password', password: 'x' } });
      assert.equal(w.json.error.reason, 'InvalidCredentials');
    }
    const ok = await flow(nl, '/states/input', { state_token: r.json.result.state_token, input: { authentication: 'primary_password', password: USER.carol.password } });
    assert.equal(ok.json.result.action.type, 'finished');
  } finally { nl.cleanup(); }
});

test('quirks: unknown action type, finish without second factor, tampered consent state', async () => {
  await idp.hook('POST', '/quirks', { unknown_step: { type: 'x_unknown_step' } });
  const { r } = await toPassword('carol');
  const u = await input(r, { authentication: 'primary_password', password: USER.carol.password });
  assert.deepEqual(u.json.result.action, { type: 'x_unknown_step', data: {} });
  assertError(await input(u, { anything: true }), 400, 'Invalid', 'ValidationFailed');

  await idp.hook('POST', '/quirks', { skip_second_factor: true, consent_location: 'tampered_state' });
  const { a, r: s } = await toPassword('alice');
  const s2 = await input(s, { authentication: 'primary_password', password: USER.alice.password });
  assert.equal(s2.json.result.action.type, 'finished');
  const c = await idp.req('GET', s2.json.result.action.data.finish_redirect_uri);
  assert.equal(c.status, 303);
  assert.notEqual(new URL(c.headers.location).searchParams.get('state'), a.state);
  // quirks are one-shot
  assert.deepEqual(await idp.hook('GET', '/quirks'), {});
});

test('account enumeration: unknown login IDs are rate limited per IP', async () => {
  await idp.hook('POST', '/limits/reset');
  const { r } = await start();
  for (let i = 0; i < 10; i += 1) assert.equal((await input(r, { identification: 'username', login_id: `ghost${i}` })).json.error.reason, 'UserNotFound');
  const rl = await input(r, { identification: 'username', login_id: 'carol' });
  assertError(rl, 429, 'TooManyRequest', 'RateLimited');
  assert.equal(rl.json.error.info.bucket_name, 'AccountEnumerationPerIP');
  await idp.hook('POST', '/limits/reset');
});

test('identify offers only the project\'s login-ID keys; any other identification is ValidationFailed', async () => {
  try {
    assert.equal((await idp.hook('POST', '/login-id-keys', { keys: ['username'] })).keys[0], 'username');
    const { r } = await start();
    assert.deepEqual(r.json.result.action.data.options, [{ identification: 'username' }]);
    const byEmail = await input(r, { identification: 'email', login_id: 'alice@example.com' });
    assertError(byEmail, 400, 'Invalid', 'ValidationFailed');
    assert.deepEqual(byEmail.json.error.info.causes[0], { location: '/identification', kind: 'enum', details: { actual: 'email', expected: ['username'] } });
    assert.equal((await input(r, { identification: 'username', login_id: 'alice' })).status, 200);
    await idp.hook('POST', '/login-id-keys', { keys: ['email'] });
    const { r: r2 } = await start();
    assertError(await input(r2, { identification: 'username', login_id: 'alice' }), 400, 'Invalid', 'ValidationFailed');
    assert.equal((await input(r2, { identification: 'email', login_id: 'alice@example.com' })).status, 200);
    await assert.rejects(idp.hook('POST', '/login-id-keys', { keys: ['oauth'] }), /-> 400/);
  } finally {
    await idp.hook('POST', '/login-id-keys', { keys: ['email', 'phone', 'username'] });
  }
});

test('count_all_attempts: per-method limits count successful attempts too, as Authgear does', async () => {
  await idp.hook('POST', '/limits/reset');
  await idp.hook('POST', '/limits', { count_all_attempts: true, password_per_user_per_ip: 2 });
  try {
    for (let i = 0; i < 2; i += 1) {
      const { r } = await toPassword('bob');
      assert.equal((await input(r, { authentication: 'primary_password', password: USER.bob.password })).status, 200);
    }
    const { r } = await toPassword('bob');
    const rl = await input(r, { authentication: 'primary_password', password: USER.bob.password });
    assertError(rl, 429, 'TooManyRequest', 'RateLimited');
    assert.equal(rl.json.error.info.bucket_name, 'VerifyPasswordPerUserPerIP');
  } finally {
    await idp.hook('POST', '/limits', { count_all_attempts: false, password_per_user_per_ip: 10 });
    await idp.hook('POST', '/limits/reset');
  }
});
