// Counters, request log, TLS connection counting, every fault mode and the certificate faults.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, test } from 'node:test';
import { login, request, startIdp } from './helpers.js';

let idp;
before(() => { idp = startIdp(); });
after(() => idp.cleanup());

const DISC = '/.well-known/openid-configuration';
const fault = (spec) => idp.hook('POST', '/faults', spec);
const clear = () => idp.hook('POST', '/faults/clear', {});

test('counters, request log and reset', async () => {
  await idp.hook('POST', '/counters/reset');
  const l = await login(idp, 'carol');
  await idp.req('POST', '/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: l.tokens.refresh_token, client_id: 'pam_authgear' } });
  const c = await idp.hook('GET', '/counters');
  assert.deepEqual(c, {
    '/oauth2/authorize': 1, '/api/v1/authentication_flows': 1, '/api/v1/authentication_flows/states/input': 2,
    '/oauth2/consent': 1, '/oauth2/token': 2,
  });
  const reqs = await idp.hook('GET', '/requests?path=/oauth2/token');
  assert.equal(reqs.length, 2);
  assert.deepEqual(reqs.map((r) => r.grant_type), ['authorization_code', 'refresh_token']);
  assert.equal(reqs[0].method, 'POST');
  assert.equal(reqs[0].status, 200);
  assert.ok(reqs[1].t_ms >= reqs[0].t_ms && reqs[0].t_ms > 1.7e12);
  assert.ok(reqs[0].done_ms >= reqs[0].t_ms && reqs[1].t_ms >= reqs[0].done_ms, 'done_ms: when the answer was sent');
  await idp.hook('POST', '/counters/reset');
  assert.deepEqual(await idp.hook('GET', '/counters'), {});
  assert.deepEqual(await idp.hook('GET', '/requests'), []);
});

test('TLS connections are counted (keep-alive reuse is visible)', async () => {
  await idp.hook('POST', '/counters/reset');
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: idp.ca });
  for (let i = 0; i < 3; i += 1) assert.equal((await idp.req('GET', DISC, { agent })).status, 200);
  agent.destroy();
  assert.equal((await idp.hook('GET', '/connections')).connections, 1);
  for (let i = 0; i < 2; i += 1) await idp.req('GET', DISC);
  assert.equal((await idp.hook('GET', '/connections')).connections, 3);
});

test('early faults: http500, status, html200, garbage_json, oversized, delay (counted too)', async () => {
  await idp.hook('POST', '/counters/reset');
  await fault({ path: '/oauth2/token', type: 'http500' });
  const r500 = await idp.req('POST', '/oauth2/token', { form: { grant_type: 'refresh_token' } });
  assert.equal(r500.status, 500);
  assert.equal((await idp.req('GET', DISC)).status, 200, 'other paths unaffected');
  await fault({ path: DISC, type: 'status', status: 503, body: 'busy', content_type: 'text/plain' });
  const s = await idp.req('GET', DISC);
  assert.equal(s.status, 503);
  assert.equal(s.text, 'busy');
  await fault({ path: DISC, type: 'html200' });
  const h = await idp.req('GET', DISC);
  assert.equal(h.status, 200);
  assert.match(h.headers['content-type'], /text\/html/);
  await fault({ path: DISC, type: 'garbage_json' });
  const g = await idp.req('GET', DISC);
  assert.equal(g.status, 200);
  assert.equal(g.json, undefined);
  await fault({ path: DISC, type: 'oversized' });
  const o = await idp.req('GET', DISC);
  assert.equal(Buffer.byteLength(o.text), 2 * 1024 * 1024);
  await fault({ path: '*', type: 'delay', seconds: 0.5 });
  const t0 = Date.now();
  assert.equal((await idp.req('GET', '/oauth2/jwks')).status, 200);
  assert.ok(Date.now() - t0 >= 450);
  await fault({ path: DISC, type: 'date_skew', seconds: -600 });
  const d = await idp.req('GET', DISC);
  assert.equal(d.status, 200);
  assert.equal(d.json.issuer, idp.issuer);
  const skew = (Date.parse(d.headers.date) - Date.now()) / 1000;
  assert.ok(skew > -603 && skew < -597, `Date header ${d.headers.date}: skew ${skew} s`);
  await clear();
  const c = await idp.hook('GET', '/counters');
  assert.equal(c['/oauth2/token'], 1);
  assert.equal(c[DISC], 6);
  const reqs = await idp.hook('GET', '/requests');
  assert.equal(reqs[0].fault, 'http500');
  assert.equal(reqs[0].grant_type, 'refresh_token', 'logged even when a fault answered');
});

test('late faults: truncated_json, duplicate_keys, wrong_issuer, http_location, cut_connection', async () => {
  await fault({ path: DISC, type: 'truncated_json' });
  const t = await idp.req('GET', DISC);
  assert.equal(t.status, 200);
  assert.equal(t.json, undefined);
  assert.ok(t.text.startsWith('{"authorization_endpoint"'));
  await fault({ path: DISC, type: 'duplicate_keys', key: 'issuer', value: 'https://evil.example' });
  const d = await idp.req('GET', DISC);
  assert.equal((d.text.match(/"issuer":/g) || []).length, 2);
  assert.ok(d.text.endsWith(',"issuer":"https://evil.example"}'));
  await fault({ path: DISC, type: 'wrong_issuer' });
  assert.equal((await idp.req('GET', DISC)).json.issuer, 'https://wrong-issuer.example.invalid');
  await fault({ path: '/oauth2/authorize', type: 'http_location' });
  const { authorize } = await import('./helpers.js');
  const a = await authorize(idp);
  assert.equal(a.res.status, 302);
  assert.ok(a.res.headers.location.startsWith('http://127.0.0.1:'));
  await fault({ path: DISC, type: 'cut_connection' });
  await assert.rejects(idp.req('GET', DISC));
  await clear();
  assert.equal((await idp.req('GET', DISC)).json.issuer, idp.issuer);
});

test('drip: the real body, one byte per interval', async () => {
  await fault({ path: DISC, type: 'drip', interval: 0.002 });
  const t0 = Date.now();
  const d = await idp.req('GET', DISC);
  const ms = Date.now() - t0;
  assert.equal(d.json.issuer, idp.issuer);
  // one byte every 2 ms: the whole document takes (length - 1) intervals at least
  assert.ok(ms >= (d.text.length - 1) * 2, `${d.text.length} bytes in ${ms} ms`);
  await clear();
});

test('connection faults: reset, hang; counted faults clear themselves', async () => {
  await fault({ path: DISC, type: 'reset' });
  await assert.rejects(idp.req('GET', DISC), (e) => e.code === 'ECONNRESET');
  await fault({ path: DISC, type: 'hang' });
  await assert.rejects(idp.req('GET', DISC, { timeout: 500 }), (e) => e.code === 'ETIMEDOUT');
  await fault({ path: DISC, type: 'http500', count: 2 });
  const codes = [];
  for (let i = 0; i < 3; i += 1) codes.push((await idp.req('GET', DISC)).status);
  assert.deepEqual(codes, [500, 500, 200]);
  const bad = await request('POST', `${idp.hookUrl}/faults`, { json: { type: 'nope' } });
  assert.equal(bad.status, 400);
  await clear();
});

test('certificate faults: wrong CA, wrong host, expired, self-signed, then normal again', async () => {
  const expect = { wrong_ca: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/, wrong_host: /ERR_TLS_CERT_ALTNAME_INVALID/, expired: /CERT_HAS_EXPIRED/, self_signed: /DEPTH_ZERO_SELF_SIGNED_CERT/ };
  for (const [kind, re] of Object.entries(expect)) {
    await idp.hook('POST', '/faults/tls', { cert: kind });
    await assert.rejects(idp.req('GET', DISC), (e) => re.test(e.code), kind);
  }
  await idp.hook('POST', '/faults/tls', { cert: 'normal' });
  assert.equal((await idp.req('GET', DISC)).status, 200);
  await idp.hook('POST', '/faults/tls', { cert: 'wrong_host' });
  await clear(); // clearing all faults restores the normal certificate
  assert.equal((await idp.req('GET', DISC)).status, 200);
});
