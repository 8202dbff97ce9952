// RFC 8628 switch: device authorization with interval, slow_down, approve/deny/expire hooks.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';
import { decodeJwt, USER, startIdp } from './helpers.js';

const GT = 'urn:ietf:params:oauth:grant-type:device_code';
const CLIENT = 'pam_authgear_device';
let idp;
before(() => { idp = startIdp(['--device']); });
after(() => idp.cleanup());

const authorizeDevice = () => idp.req('POST', '/oauth2/device_authorization', { form: { client_id: CLIENT, scope: 'openid offline_access' } });
const poll = (dc) => idp.req('POST', '/oauth2/token', { form: { grant_type: GT, device_code: dc, client_id: CLIENT } });
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

test('discovery advertises the device endpoint only with --device', async () => {
  const d = (await idp.req('GET', '/.well-known/openid-configuration')).json;
  assert.equal(d.device_authorization_endpoint, `${idp.issuer}/oauth2/device_authorization`);
  assert.ok(d.grant_types_supported.includes(GT));
});

test('device authorization response has interval; pending, slow_down when early, approve -> tokens', async () => {
  const r = await authorizeDevice();
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.json), ['device_code', 'user_code', 'verification_uri', 'verification_uri_complete', 'expires_in', 'interval']);
  assert.equal(r.json.interval, 5);
  assert.equal(r.json.expires_in, 600);
  assert.match(r.json.user_code, /^[A-Z]{4}-[A-Z]{4}$/);
  await idp.hook('POST', '/device/config', { interval: 1, slow_down_increment: 1 });
  const r2 = await authorizeDevice();
  assert.equal(r2.json.interval, 1);
  const dc = r2.json.device_code;
  await idp.hook('POST', '/counters/reset');
  assert.equal((await poll(dc)).json.error, 'authorization_pending');
  const early = await poll(dc);
  assert.equal(early.status, 400);
  assert.equal(early.json.error, 'slow_down');
  await sleep(1100);
  assert.equal((await poll(dc)).json.error, 'slow_down', 'interval grew to 2 s after slow_down');
  await sleep(3100); // and to 3 s after the second one
  assert.equal((await poll(dc)).json.error, 'authorization_pending');
  const ap = await idp.hook('POST', '/device/approve', { user_code: r2.json.user_code.toLowerCase(), username: 'bob', amr: ['pwd', 'x_primary_password'] });
  assert.equal(ap.sub, USER.bob.sub);
  await sleep(3100);
  const t = await poll(dc);
  assert.equal(t.status, 200, t.text);
  assert.deepEqual(Object.keys(t.json), ['access_token', 'token_type', 'expires_in', 'refresh_token', 'id_token']);
  const p = decodeJwt(t.json.id_token).payload;
  assert.equal(p.sub, USER.bob.sub);
  assert.deepEqual(p.amr, ['pwd', 'x_primary_password']);
  assert.deepEqual(p.aud, [CLIENT]);
  const reqs = await idp.hook('GET', '/requests?path=/oauth2/token');
  assert.equal(reqs.length, 5);
  const hash = crypto.createHash('sha256').update(dc).digest('hex');
  assert.ok(reqs.every((q) => q.grant_type === GT && q.device_code_sha256 === hash));
  assert.ok(reqs[2].t_ms - reqs[1].t_ms >= 1000);
  assert.ok(reqs[3].t_ms - reqs[2].t_ms >= 3000);
  await sleep(3100);
  assert.equal((await poll(dc)).json.error, 'invalid_grant', 'a used device code is spent');
});

test('forced slow_down for the next N polls; deny; expire now; pinned user code and URL', async () => {
  await idp.hook('POST', '/device/config', { interval: 0, slow_down_increment: 0, slow_down_polls: 2 });
  const r = await authorizeDevice();
  const dc = r.json.device_code;
  assert.deepEqual([(await poll(dc)).json.error, (await poll(dc)).json.error, (await poll(dc)).json.error], ['slow_down', 'slow_down', 'authorization_pending']);
  await idp.hook('POST', '/device/deny', { user_code: r.json.user_code });
  assert.equal((await poll(dc)).json.error, 'access_denied');

  const e = await authorizeDevice();
  assert.deepEqual(await idp.hook('POST', '/device/expire', { user_code: e.json.user_code }), { expired: 1 });
  assert.equal((await poll(e.json.device_code)).json.error, 'expired_token');

  await idp.hook('POST', '/device/config', { user_code: 'WDJB-MJHT', verification_uri: 'https://example.com/device', expires_in: 120 });
  const p = await authorizeDevice();
  assert.equal(p.json.user_code, 'WDJB-MJHT');
  assert.equal(p.json.verification_uri, 'https://example.com/device');
  assert.equal(p.json.verification_uri_complete, 'https://example.com/device?user_code=WDJB-MJHT');
  assert.equal(p.json.expires_in, 120);
  await idp.hook('POST', '/device/approve', { user_code: 'WDJB-MJHT', username: 'alice' });
  const t = await poll(p.json.device_code);
  assert.equal(t.status, 200);
  assert.deepEqual(decodeJwt(t.json.id_token).payload.amr, ['mfa', 'otp', 'pwd', 'x_primary_password', 'x_secondary_totp']);
  const list = await idp.hook('GET', '/device');
  assert.ok(list.codes.length >= 3);
});

test('a third-party issuer mode: device config amr sets non-RFC 8176 values for every approval', async () => {
  await idp.hook('POST', '/device/config', { interval: 0, user_code: null, verification_uri: null, amr: ['password', 'otp'] });
  try {
    const r = await authorizeDevice();
    await idp.hook('POST', '/device/approve', { user_code: r.json.user_code, username: 'alice' });
    const t = await poll(r.json.device_code);
    assert.equal(t.status, 200);
    assert.deepEqual(decodeJwt(t.json.id_token).payload.amr, ['password', 'otp']);
  } finally {
    await idp.hook('POST', '/device/config', { amr: null });
  }
});

test('replay_device_code: the next authorization answers the previous device_code, once', async () => {
  await idp.hook('POST', '/device/config', { interval: 1 });
  const first = (await authorizeDevice()).json;
  await idp.hook('POST', '/device/config', { replay_device_code: true });
  const replayed = (await authorizeDevice()).json;
  assert.equal(replayed.device_code, first.device_code);
  assert.notEqual(replayed.user_code, first.user_code);
  assert.equal((await idp.hook('GET', '/device')).config.replay_device_code, false, 'switched itself off');
  assert.notEqual((await authorizeDevice()).json.device_code, first.device_code);
});
