// Authorize validation, token endpoint, refresh/rotation, JWT access tokens, revoke, userinfo,
// resolver, user hooks and crafted tokens (authgear-protocol.md §2, §5, §6, §7).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  authorize, CLIENT, decodeJwt, login, REDIRECT, startIdp, USER,
} from './helpers.js';

let idp;
before(() => { idp = startIdp(); });
after(() => idp.cleanup());

const token = (form) => idp.req('POST', '/oauth2/token', { form });
const refresh = (rt, client = CLIENT) => token({ grant_type: 'refresh_token', refresh_token: rt, client_id: client });
const bearer = (t) => ({ authorization: `Bearer ${t}` });
const resolveHeaders = async (headers) => {
  const r = await idp.req('GET', '/_resolver/resolve', { headers });
  assert.equal(r.status, 200);
  assert.equal(r.text, '');
  return Object.fromEntries(Object.entries(r.headers).filter(([k]) => k.startsWith('x-authgear-')));
};

test('authorize: fatal 400 text and redirect errors', async () => {
  const unknown = await authorize(idp, {}, 'nope');
  assert.equal(unknown.res.status, 400);
  assert.equal(unknown.res.text, 'Invalid OAuth authorization request:\nerror: unauthorized_client\nerror_description: invalid client ID');
  const badRedirect = await authorize(idp, { redirect_uri: 'http://127.0.0.1:5555/pam_authgear/callback' });
  assert.equal(badRedirect.res.status, 400);
  assert.match(badRedirect.res.headers['content-type'], /^text\/plain/);
  const cases = [
    [{ scope: 'offline_access' }, 'invalid_scope', "must request 'openid' scope"],
    [{ scope: 'openid bogus' }, 'invalid_scope', 'specified scope is not allowed: bogus'],
    [{ code_challenge: null, code_challenge_method: null }, 'invalid_request', 'PKCE code challenge is required for public clients'],
    [{ code_challenge_method: 'plain' }, 'invalid_request', "only 'S256' PKCE transform is supported"],
    [{ login_hint: 'alice' }, 'invalid_request', 'invalid login_hint: alice'],
    [{ response_type: 'token' }, 'unsupported_response_type', null],
    [{ prompt: 'none' }, 'login_required', null],
    [{ id_token_hint: 'a.b.c' }, 'invalid_request', null],
  ];
  for (const [extra, error, desc] of cases) {
    const a = await authorize(idp, extra);
    assert.equal(a.res.status, 303, JSON.stringify(extra));
    const loc = new URL(a.res.headers.location);
    assert.equal(loc.origin + loc.pathname, REDIRECT);
    assert.equal(loc.searchParams.get('error'), error, JSON.stringify(extra));
    if (desc) assert.equal(loc.searchParams.get('error_description'), desc);
    assert.equal(loc.searchParams.get('state'), a.state);
    assert.equal(loc.searchParams.get('iss'), null);
  }
  // a well-formed login_hint and a single registered redirect_uri may be omitted
  const ok = await authorize(idp, { login_hint: 'https://authgear.com/login_hint?type=login_id&username=alice', redirect_uri: null });
  assert.equal(ok.res.status, 302);
});

test('token: code replay, redirect_uri, verifier, unknown client, grant types; Pragma/no-store', async () => {
  const l = await login(idp, 'carol');
  assert.equal(l.token.headers['cache-control'], 'no-store');
  assert.equal(l.token.headers.pragma, 'no-cache');
  const replay = await token({ grant_type: 'authorization_code', code: l.code, redirect_uri: REDIRECT, client_id: CLIENT, code_verifier: l.a.pk.verifier });
  assert.equal(replay.status, 400);
  assert.deepEqual(replay.json, { error: 'invalid_grant', error_description: 'invalid authorization code' });
  assert.equal((await refresh(l.tokens.refresh_token)).status, 200, 'a replay does not kill the session');

  const l2 = await login(idp, 'carol').catch((e) => e);
  assert.ok(l2.tokens);
  const unk = await token({ grant_type: 'refresh_token', refresh_token: l2.tokens.refresh_token, client_id: 'nope' });
  assert.equal(unk.status, 400);
  assert.deepEqual(unk.json, { error: 'invalid_client', error_description: 'invalid client ID' });
  const mism = await refresh(l2.tokens.refresh_token, 'pam_authgear_jwt');
  assert.deepEqual(mism.json, { error: 'invalid_request', error_description: "client id doesn't match the refresh token" });
  const pw = await token({ grant_type: 'password', username: 'alice', password: 'x', client_id: CLIENT });
  assert.equal(pw.json.error, 'unsupported_grant_type');
  const dev = await token({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x', client_id: CLIENT });
  assert.equal(dev.json.error, 'unsupported_grant_type');
  assert.deepEqual((await refresh('not-a-token')).json, { error: 'invalid_grant', error_description: 'invalid refresh token' });
});

test('token: wrong redirect_uri and wrong code_verifier', async () => {
  const { flow, finish } = await import('./helpers.js');
  const a = await authorize(idp);
  const r = await flow(idp, '', { type: 'login', name: 'default', url_query: a.query, batch_input: [{ identification: 'username', login_id: 'carol' }, { authentication: 'primary_password', password: USER.carol.password }] });
  const c = await idp.req('GET', r.json.result.action.data.finish_redirect_uri);
  const code = new URL(c.headers.location).searchParams.get('code');
  const badRedirect = await token({ grant_type: 'authorization_code', code, redirect_uri: `${REDIRECT}x`, client_id: CLIENT, code_verifier: a.pk.verifier });
  assert.deepEqual(badRedirect.json, { error: 'invalid_request', error_description: 'invalid redirect URI' });
  const badVerifier = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT, code_verifier: 'x'.repeat(43) });
  assert.deepEqual(badVerifier.json, { error: 'invalid_grant', error_description: 'invalid authorization code' });
  assert.ok(finish);
});

test('token response shape, ID token claims, opaque access token', async () => {
  const l = await login(idp, 'alice');
  const t = l.tokens;
  assert.match(t.access_token, /^[A-Za-z0-9]{32}$/);
  assert.equal(t.token_type, 'Bearer');
  assert.equal(t.expires_in, 1800);
  assert.match(t.refresh_token, /^[0-9a-f-]{36}\.[A-Za-z0-9]{32}$/);
  assert.equal(t.scope, undefined);
  const { header, payload } = decodeJwt(t.id_token);
  assert.deepEqual(Object.keys(header), ['alg', 'kid', 'typ']);
  assert.equal(header.typ, 'JWT');
  assert.equal(payload.iss, idp.issuer);
  assert.deepEqual(payload.aud, [CLIENT]);
  assert.equal(payload.exp - payload.iat, 300);
  assert.equal(payload.sub, USER.alice.sub);
  assert.equal(Buffer.from(payload.sid, 'base64url').toString().split(':')[0], 'offline_grant');
  assert.equal(Buffer.from(payload.sid, 'base64url').toString().split(':')[1], t.refresh_token.split('.')[0]);
  assert.deepEqual(payload['https://authgear.com/claims/user/roles'], ['unix-admin', 'unix-user']);
  assert.equal(payload['https://authgear.com/claims/user/is_anonymous'], false);
  assert.equal(payload['https://authgear.com/claims/user/is_verified'], true);
  assert.equal(payload['https://authgear.com/claims/user/can_reauthenticate'], true);
  assert.equal(payload.email, undefined, 'no PII for public clients');
  // refresh without rotation: no refresh_token, old one keeps working, no nonce
  for (let i = 0; i < 2; i += 1) {
    const r = await refresh(t.refresh_token);
    assert.deepEqual(Object.keys(r.json), ['access_token', 'token_type', 'expires_in', 'id_token']);
    assert.equal(decodeJwt(r.json.id_token).payload.nonce, undefined);
  }
  // without offline_access: an access token but no refresh token
  const n = await login(idp, 'carol', { extra: { scope: 'openid' } });
  assert.equal(n.tokens.refresh_token, undefined);
  assert.ok(n.tokens.access_token);
  assert.equal(Buffer.from(decodeJwt(n.tokens.id_token).payload.sid, 'base64url').toString().split(':')[0], 'idp');
});

test('rotation client: new refresh token each time, the old one dies at once', async () => {
  const l = await login(idp, 'carol', { client: 'pam_authgear_rotating' });
  const r1 = await refresh(l.tokens.refresh_token, 'pam_authgear_rotating');
  assert.ok(r1.json.refresh_token);
  assert.notEqual(r1.json.refresh_token, l.tokens.refresh_token);
  assert.equal(r1.json.refresh_token.split('.')[0], l.tokens.refresh_token.split('.')[0], 'same grant id');
  assert.deepEqual((await refresh(l.tokens.refresh_token, 'pam_authgear_rotating')).json, { error: 'invalid_grant', error_description: 'invalid refresh token' });
  const r2 = await refresh(r1.json.refresh_token, 'pam_authgear_rotating');
  assert.equal(r2.status, 200, 'reusing the old token did not kill the new one');
});

test('JWT access tokens: at+jwt, aud = issuer, jti, usable at userinfo/resolver; revoke kills them', async () => {
  const l = await login(idp, 'alice', { client: 'pam_authgear_jwt' });
  const { header, payload } = decodeJwt(l.tokens.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(header.alg, 'RS256');
  assert.ok(header.kid);
  assert.deepEqual(payload.aud, [idp.issuer]);
  assert.equal(payload.iss, idp.issuer);
  assert.equal(payload.client_id, 'pam_authgear_jwt');
  assert.match(payload.jti, /^[0-9a-f]{64}$/);
  assert.equal(payload.sid, undefined);
  assert.equal(payload.nonce, undefined);
  assert.deepEqual(payload.scope.split(' ').sort(), ['offline_access', 'openid']);
  assert.equal(payload.exp - payload.iat, 1800);
  assert.deepEqual(payload.amr, ['mfa', 'otp', 'pwd', 'x_primary_password', 'x_secondary_totp']);
  const ui = await idp.req('GET', '/oauth2/userinfo', { headers: bearer(l.tokens.access_token) });
  assert.equal(ui.json.sub, USER.alice.sub);
  assert.equal((await resolveHeaders(bearer(l.tokens.access_token)))['x-authgear-session-valid'], 'true');
  // revoking the JWT itself is a no-op (Authgear parses it as a refresh token)
  assert.equal((await idp.req('POST', '/oauth2/revoke', { form: { token: l.tokens.access_token } })).status, 200);
  assert.equal((await resolveHeaders(bearer(l.tokens.access_token)))['x-authgear-session-valid'], 'true');
  await idp.req('POST', '/oauth2/revoke', { form: { token: l.tokens.refresh_token } });
  assert.deepEqual(await resolveHeaders(bearer(l.tokens.access_token)), { 'x-authgear-session-valid': 'false' });
});

test('resolver: POST /resolver/as answers valid sessions as another user, until cleared', async () => {
  const l = await login(idp, 'alice');
  await idp.hook('POST', '/resolver/as', { username: 'bob' });
  const h = await resolveHeaders(bearer(l.tokens.access_token));
  assert.equal(h['x-authgear-session-valid'], 'true');
  assert.equal(h['x-authgear-user-id'], USER.bob.sub);
  assert.equal(h['x-authgear-user-roles'], 'unix-user');
  assert.deepEqual(await resolveHeaders(bearer('nope')), { 'x-authgear-session-valid': 'false' });
  await idp.hook('POST', '/resolver/as', { username: null });
  assert.equal((await resolveHeaders(bearer(l.tokens.access_token)))['x-authgear-user-id'], USER.alice.sub);
});

test('userinfo and resolver: shapes, invalid tokens, no credentials', async () => {
  const l = await login(idp, 'alice');
  const ui = await idp.req('GET', '/oauth2/userinfo', { headers: bearer(l.tokens.access_token) });
  assert.equal(ui.status, 200);
  assert.deepEqual(Object.keys(ui.json), ['sub', 'https://authgear.com/claims/user/is_anonymous', 'https://authgear.com/claims/user/is_verified',
    'https://authgear.com/claims/user/can_reauthenticate', 'https://authgear.com/claims/user/roles', 'email', 'email_verified',
    'phone_number', 'phone_number_verified', 'preferred_username', 'custom_attributes', 'x_web3']);
  assert.equal(ui.json.preferred_username, 'alice');
  const bad = await idp.req('GET', '/oauth2/userinfo', { headers: bearer('nope') });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers['www-authenticate'], 'Bearer error="invalid_grant", error_description="invalid session"');
  assert.deepEqual(bad.json, { error: 'invalid_grant', error_description: 'invalid session' });
  const h = await resolveHeaders(bearer(l.tokens.access_token));
  const authAt = String(decodeJwt(l.tokens.id_token).payload.auth_time);
  assert.deepEqual(h, {
    'x-authgear-session-valid': 'true', 'x-authgear-user-id': USER.alice.sub, 'x-authgear-user-anonymous': 'false',
    'x-authgear-user-verified': 'true', 'x-authgear-user-can-reauthenticate': 'true', 'x-authgear-user-roles': 'unix-admin,unix-user',
    'x-authgear-session-amr': 'mfa otp pwd x_primary_password x_secondary_totp', 'x-authgear-session-authenticated-at': authAt,
  });
  assert.deepEqual(await resolveHeaders({}), {});
  assert.deepEqual(await resolveHeaders(bearer('nope')), { 'x-authgear-session-valid': 'false' });
  const an = await login(idp, 'anon');
  const ha = await resolveHeaders(bearer(an.tokens.access_token));
  assert.equal(ha['x-authgear-user-anonymous'], 'true');
  assert.equal(ha['x-authgear-user-roles'], undefined, 'no roles header without roles');
  assert.deepEqual(decodeJwt(an.tokens.id_token).payload['https://authgear.com/claims/user/roles'], []);
  // revoking an access token kills only it
  await idp.req('POST', '/oauth2/revoke', { form: { token: l.tokens.access_token } });
  assert.equal((await idp.req('GET', '/oauth2/userinfo', { headers: bearer(l.tokens.access_token) })).status, 401);
  assert.equal((await refresh(l.tokens.refresh_token)).status, 200);
  const rv = await idp.req('POST', '/oauth2/revoke', { form: { token: 'unknown' } });
  assert.equal(rv.status, 200);
  assert.equal(rv.text, '');
});

test('hooks: disable (kills sessions), enable, roles, revoke-sessions', async () => {
  const l = await login(idp, 'bob');
  await idp.hook('POST', '/users/bob/roles', { roles: ['unix-admin'] });
  const r = await refresh(l.tokens.refresh_token);
  assert.deepEqual(decodeJwt(r.json.id_token).payload['https://authgear.com/claims/user/roles'], ['unix-admin']);
  assert.equal((await resolveHeaders(bearer(r.json.access_token)))['x-authgear-user-roles'], 'unix-admin');
  await idp.hook('POST', '/users/bob/roles', { roles: ['unix-user'] });
  const u = await idp.hook('POST', '/users/bob/disable', {});
  assert.equal(u.disabled, true);
  assert.deepEqual((await refresh(l.tokens.refresh_token)).json, { error: 'invalid_grant', error_description: 'invalid refresh token' });
  assert.deepEqual(await resolveHeaders(bearer(r.json.access_token)), { 'x-authgear-session-valid': 'false' });
  await idp.hook('POST', '/users/bob/enable');
  assert.equal((await refresh(l.tokens.refresh_token)).status, 400, 'disable terminated the session for good');
  const l2 = await login(idp, 'bob');
  const rs = await idp.hook('POST', '/users/bob/revoke-sessions');
  assert.ok(rs.revoked_grants >= 1);
  assert.equal((await refresh(l2.tokens.refresh_token)).json.error, 'invalid_grant');
});

test('crafted tokens: next-id-token (alg none, HS256, fresh key, tamper, merge) and /tokens/sign', async () => {
  const l = await login(idp, 'carol');
  const cases = [
    [{ key: 'none' }, (h) => assert.equal(h.header.alg, 'none')],
    [{ key: 'hs256', secret: 'pam' }, (h, t) => {
      assert.equal(h.header.alg, 'HS256');
      const [a, b, s] = t.split('.');
      assert.equal(crypto.createHmac('sha256', 'pam').update(`${a}.${b}`).digest('base64url'), s);
    }],
    [{ key: 'fresh', header: { kid: 'unknown-kid' } }, (h) => assert.equal(h.header.kid, 'unknown-kid')],
    [{ payload: { exp: 1000, aud: ['someone-else'], nonce: 'x' } }, (h) => {
      assert.equal(h.payload.exp, 1000);
      assert.deepEqual(h.payload.aud, ['someone-else']);
      assert.equal(h.payload.sub, USER.carol.sub, 'merged onto the real claims');
    }],
    [{ payload: { sub: null } }, (h) => assert.equal(h.payload.sub, undefined)],
    [{ tamper: 'truncate' }, (h, t) => assert.ok(t.split('.')[2].length < 340)],
  ];
  for (const [spec, check] of cases) {
    await idp.hook('POST', '/tokens/next-id-token', spec);
    const r = await refresh(l.tokens.refresh_token);
    assert.equal(r.status, 200);
    check(decodeJwt(r.json.id_token), r.json.id_token);
  }
  const normal = await refresh(l.tokens.refresh_token);
  assert.equal(decodeJwt(normal.json.id_token).header.alg, 'RS256');
  await idp.hook('POST', '/tokens/next-id-token', { jwt: 'a.b.c', grant_type: 'authorization_code' });
  assert.equal(decodeJwt((await refresh(l.tokens.refresh_token)).json.id_token).header.alg, 'RS256', 'only for code exchanges');
  const l2 = await login(idp, 'carol');
  assert.equal(l2.tokens.id_token, 'a.b.c');
  const s = await idp.hook('POST', '/tokens/sign', { username: 'alice', payload: { exp: 1 }, tamper: 'signature' });
  const d = decodeJwt(s.jwt);
  assert.equal(d.payload.sub, USER.alice.sub);
  assert.equal(d.payload.exp, 1);
  assert.equal(d.payload.iss, idp.issuer);
  const raw = await idp.hook('POST', '/tokens/sign', { merge: false, header: { alg: 'RS256', typ: 'JWT', extra: 1 }, payload: { hello: 'world' } });
  assert.deepEqual(decodeJwt(raw.jwt).payload, { hello: 'world' });
  assert.equal(decodeJwt(raw.jwt).header.extra, 1);
});

test('token endpoint rate limit: x_rate_limited 429', async () => {
  const l = await login(idp, 'carol');
  await idp.hook('POST', '/limits', { token_per_user: 2 });
  await idp.hook('POST', '/limits/reset');
  const codes = [];
  for (let i = 0; i < 3; i += 1) codes.push(await refresh(l.tokens.refresh_token));
  assert.deepEqual(codes.map((c) => c.status), [200, 200, 429]);
  assert.equal(codes[2].json.error, 'x_rate_limited');
  await idp.hook('POST', '/limits', { token_per_user: 60 });
  await idp.hook('POST', '/limits/reset');
});

test('end_session: redirect to a registered post_logout_redirect_uri with state, else a page', async () => {
  const l = await login(idp, 'carol');
  const q = new URLSearchParams({ id_token_hint: l.tokens.id_token, post_logout_redirect_uri: REDIRECT, state: 's1' });
  const r = await idp.req('GET', `/oauth2/end_session?${q}`);
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, `${REDIRECT}?state=s1`);
  const p = await idp.req('GET', '/oauth2/end_session');
  assert.equal(p.status, 200);
  assert.match(p.headers['content-type'], /text\/html/);
});

test('no device flow by default: the endpoint does not exist', async () => {
  const r = await idp.req('POST', '/oauth2/device_authorization', { form: { client_id: 'pam_authgear_device', scope: 'openid' } });
  assert.equal(r.status, 404);
});

test('resolver (§7): /resolve too, HEAD, scheme case-insensitive, revoked session and live roles', async () => {
  const l = await login(idp, 'carol');
  const at = l.tokens.access_token;
  const head = await idp.req('HEAD', '/_resolver/resolve', { headers: bearer(at) });
  assert.equal(head.status, 200);
  assert.equal(head.headers['x-authgear-session-valid'], 'true');
  const alias = await idp.req('GET', '/resolve', { headers: { authorization: `bearer ${at}` } });
  assert.equal(alias.status, 200);
  assert.equal(alias.headers['x-authgear-user-id'], USER.carol.sub);
  assert.equal(alias.headers['x-authgear-user-roles'], 'unix-user');
  await idp.hook('POST', '/users/carol/roles', { roles: ['unix-user', 'unix-admin'] });
  assert.equal((await resolveHeaders(bearer(at)))['x-authgear-user-roles'], 'unix-user,unix-admin', 'roles are read at each call');
  await idp.hook('POST', '/users/carol/roles', { roles: [] });
  assert.equal((await resolveHeaders(bearer(at)))['x-authgear-user-roles'], undefined, 'no roles: no header');
  await idp.hook('POST', '/users/carol/roles', { roles: ['unix-user'] });
  await idp.hook('POST', '/users/carol/revoke-sessions');
  assert.deepEqual(await resolveHeaders(bearer(at)), { 'x-authgear-session-valid': 'false' }, 'a revoked session is invalid at once');
});
