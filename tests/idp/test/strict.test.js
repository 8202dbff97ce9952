// Where the IdP is as strict as Authgear (authgear-protocol.md): userinfo claims per identity
// (§5.5), confidential clients at the token endpoint (§5.1), named flows (§3.2), bot protection
// (§3.13), an email OTP second factor (§3.6, §3.7), and the set_field fault.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  authorize, flow, login, REDIRECT, startIdp, USER,
} from './helpers.js';

let idp;
before(() => { idp = startIdp(); });
after(() => idp.cleanup());

const input = (r, inp) => flow(idp, '/states/input', { state_token: r.json.result.state_token, input: inp });
const userinfo = (at) => idp.req('GET', '/oauth2/userinfo', { headers: { authorization: `Bearer ${at}` } });
function assertError(r, status, reason) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json.error.reason, reason, r.text);
}
// authorize + flow to the password step's answer, for `name`; returns the last response
async function toSecondStep(username, { name = 'default', client } = {}) {
  const a = await authorize(idp, {}, client);
  let r = await flow(idp, '', { type: 'login', name, url_query: a.query });
  r = await input(r, { identification: 'email', login_id: USER[username].email });
  r = await input(r, { authentication: 'primary_password', password: USER[username].password });
  return { a, r };
}

test('userinfo: preferred_username only with a username identity, email_verified per email', async () => {
  let { tokens } = await login(idp, 'carol');
  let u = (await userinfo(tokens.access_token)).json;
  assert.equal(u.preferred_username, 'carol');
  assert.equal(u.email, 'carol@example.com');
  assert.equal(u.email_verified, true);
  await idp.hook('POST', '/users/carol/set', { username_identity: false, email_verified: false });
  try {
    // no username login ID: not found by username, as Authgear
    const a = await authorize(idp);
    let r = await flow(idp, '', { type: 'login', name: 'default', url_query: a.query });
    r = await input(r, { identification: 'username', login_id: 'carol' });
    assertError(r, 404, 'UserNotFound');
    ({ tokens } = await toSecondStep('carol').then(async ({ a: a2, r: r2 }) => {
      assert.equal(r2.json.result.action.type, 'finished');
      const c = await idp.req('GET', r2.json.result.action.data.finish_redirect_uri);
      const code = new URL(c.headers.location).searchParams.get('code');
      const t = await idp.req('POST', '/oauth2/token', {
        form: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: a2.client, code_verifier: a2.pk.verifier },
      });
      return { tokens: t.json };
    }));
    u = (await userinfo(tokens.access_token)).json;
    assert.equal('preferred_username' in u, false, JSON.stringify(u));
    assert.equal(u.email, 'carol@example.com');
    assert.equal(u.email_verified, false);
    assert.equal(u['https://authgear.com/claims/user/is_verified'], true); // the user's flag, not the email's
  } finally {
    await idp.hook('POST', '/users/carol/set', { username_identity: true, email_verified: true });
  }
});

test('confidential client: client_secret_post required and checked, Basic accepted', async () => {
  const client = 'pam_authgear_confidential';
  const secret = 'confidential-client-secret-1';
  const code = async () => {
    const { a, r } = await toSecondStep('carol', { client });
    const c = await idp.req('GET', r.json.result.action.data.finish_redirect_uri);
    return { a, code: new URL(c.headers.location).searchParams.get('code') };
  };
  const tok = (form, headers) => idp.req('POST', '/oauth2/token', { form, headers });
  let { a, code: c } = await code();
  const base = { grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, client_id: client, code_verifier: a.pk.verifier };
  let t = await tok(base);
  assert.equal(t.status, 400);
  assert.deepEqual(t.json, { error: 'invalid_client', error_description: 'client secret is required' });
  t = await tok({ ...base, client_secret: 'wrong' });
  assert.deepEqual(t.json, { error: 'invalid_request', error_description: 'invalid client secret' });
  t = await tok({ ...base, client_secret: secret });
  assert.equal(t.status, 200, t.text);
  assert.ok(t.json.id_token && t.json.refresh_token);
  // refresh needs the secret too
  const rt = t.json.refresh_token;
  t = await tok({ grant_type: 'refresh_token', refresh_token: rt, client_id: client });
  assert.equal(t.json.error, 'invalid_client');
  t = await tok({ grant_type: 'refresh_token', refresh_token: rt, client_id: client, client_secret: secret });
  assert.equal(t.status, 200, t.text);
  // HTTP Basic when neither client_id nor client_secret is in the body
  ({ a, code: c } = await code());
  const basic = `Basic ${Buffer.from(`${client}:${secret}`).toString('base64')}`;
  t = await tok({ grant_type: 'authorization_code', code: c, redirect_uri: REDIRECT, code_verifier: a.pk.verifier }, { authorization: basic });
  assert.equal(t.status, 200, t.text);
});

test('flows: unknown names are AuthenticationFlowFlowNotFound, configured ones run', async () => {
  const a = await authorize(idp);
  assertError(await flow(idp, '', { type: 'login', name: 'pam', url_query: a.query }), 404, 'AuthenticationFlowFlowNotFound');
  assert.deepEqual(await idp.hook('POST', '/flows', { login: ['default', 'pam'], reauth: ['default', 'pam'] }),
    { login: ['default', 'pam'], reauth: ['default', 'pam'], bot_protection: [] });
  try {
    const { r } = await toSecondStep('carol', { name: 'pam' });
    assert.equal(r.json.result.name, 'pam');
    assert.equal(r.json.result.action.type, 'finished');
    assertError(await flow(idp, '', { type: 'reauth', name: 'other' }), 404, 'AuthenticationFlowFlowNotFound');
    const r2 = await flow(idp, '', { type: 'reauth', name: 'pam' });
    assert.equal(r2.status, 200, r2.text);
  } finally {
    await idp.hook('POST', '/flows', { login: ['default'], reauth: ['default'] });
  }
});

test('bot protection: the option says so; a missing response is ValidationFailed, a wrong one fails', async () => {
  await idp.hook('POST', '/flows', { login: ['default', 'pam'], bot_protection: ['default'] });
  try {
    const a = await authorize(idp);
    const r = await flow(idp, '', { type: 'login', name: 'default', url_query: a.query });
    assert.deepEqual(r.json.result.action.data.options[0],
      { identification: 'email', bot_protection: { enabled: true, provider: { type: 'cloudflare' } } });
    assertError(await input(r, { identification: 'email', login_id: 'carol@example.com' }), 400, 'ValidationFailed');
    // the batch a PAM client sends fails the same way, with the unchanged state beside it
    const b = await flow(idp, '', {
      type: 'login', name: 'default', url_query: (await authorize(idp)).query,
      batch_input: [{ identification: 'email', login_id: 'carol@example.com' }, { authentication: 'primary_password', password: USER.carol.password }],
    });
    assertError(b, 400, 'ValidationFailed');
    assert.equal(b.json.result.action.data.options[0].bot_protection.enabled, true);
    const bad = await input(r, { identification: 'email', login_id: 'carol@example.com', bot_protection: { type: 'cloudflare', response: 'x' } });
    assertError(bad, 403, 'BotProtectionVerificationFailed');
    const ok = await input(r, { identification: 'email', login_id: 'carol@example.com', bot_protection: { type: 'cloudflare', response: 'test-bot-protection-pass' } });
    assert.equal(ok.json.result.action.type, 'authenticate', ok.text);
    // a flow without bot protection ("pam") offers plain options
    const p = await flow(idp, '', { type: 'login', name: 'pam', url_query: (await authorize(idp)).query });
    assert.deepEqual(p.json.result.action.data.options[0], { identification: 'email' });
  } finally {
    await idp.hook('POST', '/flows', { login: ['default'], bot_protection: [] });
  }
});

test('email OTP second factor: option by index, verify_oob_otp_data, code, amr', async () => {
  await idp.hook('POST', '/users/carol/set', { oob_otp_email: true });
  try {
    const { a, r } = await toSecondStep('carol');
    assert.deepEqual(r.json.result.action.data.options, [{
      authentication: 'secondary_oob_otp_email', otp_form: 'code', masked_display_name: 'car***@example.com', channels: ['email'],
    }]);
    assert.equal(r.json.result.action.data.device_token_enabled, true);
    assertError(await input(r, { authentication: 'secondary_oob_otp_email' }), 400, 'ValidationFailed'); // no index
    assertError(await input(r, { authentication: 'secondary_totp', code: '123456' }), 400, 'ValidationFailed'); // not offered
    const s = await input(r, { authentication: 'secondary_oob_otp_email', index: 0 });
    assert.equal(s.json.result.action.type, 'authenticate');
    assert.equal(s.json.result.action.authentication, 'secondary_oob_otp_email');
    assert.equal(s.json.result.action.data.type, 'verify_oob_otp_data');
    assert.equal(s.json.result.action.data.masked_claim_value, 'car***@example.com');
    assert.equal(s.json.result.action.data.code_length, 6);
    const { code } = await idp.hook('GET', '/otp/carol');
    assert.match(code, /^\d{6}$/);
    const wrong = await input(s, { code: code === '000000' ? '111111' : '000000' });
    assertError(wrong, 401, 'InvalidCredentials');
    assert.equal(wrong.json.error.info.AuthenticationType, 'oob_otp_email');
    const f = await input(s, { code });
    assert.equal(f.json.result.action.type, 'finished', f.text);
    const c = await idp.req('GET', f.json.result.action.data.finish_redirect_uri);
    const t = await idp.req('POST', '/oauth2/token', {
      form: {
        grant_type: 'authorization_code', code: new URL(c.headers.location).searchParams.get('code'), redirect_uri: REDIRECT, client_id: a.client, code_verifier: a.pk.verifier,
      },
    });
    const amr = JSON.parse(Buffer.from(t.json.id_token.split('.')[1], 'base64url')).amr;
    assert.deepEqual(amr, ['mfa', 'otp', 'pwd', 'x_primary_password', 'x_secondary_oob_otp_email']);
  } finally {
    await idp.hook('POST', '/users/carol/set', { oob_otp_email: false });
  }
});

test('fault set_field: one member of a JSON answer replaced (userinfo sub)', async () => {
  const { tokens } = await login(idp, 'carol');
  await idp.hook('POST', '/faults', { path: '/oauth2/userinfo', type: 'set_field', key: 'sub', value: USER.bob.sub, count: 1 });
  const u = (await userinfo(tokens.access_token)).json;
  assert.equal(u.sub, USER.bob.sub);
  assert.equal(u.email, 'carol@example.com');
  assert.equal((await userinfo(tokens.access_token)).json.sub, USER.carol.sub); // count 1: cleared
});
