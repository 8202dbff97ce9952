// Discovery, JWKS, key rotation, signing algs, restart persistence (authgear-protocol.md §1, §6).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import {
  decodeJwt, login, startIdp,
} from './helpers.js';

const AUTHGEAR_KEYS = ['authorization_endpoint', 'token_endpoint', 'response_types_supported', 'response_modes_supported',
  'grant_types_supported', 'code_challenge_methods_supported', 'revocation_endpoint',
  'token_endpoint_auth_methods_supported', 'dpop_signing_alg_values_supported', 'issuer', 'scopes_supported',
  'subject_types_supported', 'id_token_signing_alg_values_supported', 'claims_supported', 'jwks_uri',
  'userinfo_endpoint', 'end_session_endpoint'];

let idp;
before(() => { idp = startIdp(); });
after(() => idp.cleanup());

function verifyWithJwks(jwt, jwks) {
  const [h, p, s] = jwt.split('.');
  const { header } = decodeJwt(jwt);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} in JWKS`);
  assert.equal(jwk.alg, header.alg);
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const hash = header.alg === 'EdDSA' ? null : `sha${header.alg.slice(2)}`;
  let opts = key;
  if (header.alg.startsWith('PS')) opts = { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST };
  if (header.alg.startsWith('ES')) opts = { key, dsaEncoding: 'ieee-p1363' };
  return crypto.verify(hash, data, opts, sig);
}

test('discovery: Authgear keys, both well-known paths, CORS, no device endpoint', async () => {
  const r = await idp.req('GET', '/.well-known/openid-configuration');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.equal(r.headers['access-control-allow-origin'], '*');
  assert.deepEqual(Object.keys(r.json).sort(), [...AUTHGEAR_KEYS].sort());
  const d = r.json;
  assert.equal(d.issuer, idp.issuer);
  assert.equal(d.authorization_endpoint, `${idp.issuer}/oauth2/authorize`);
  assert.equal(d.token_endpoint, `${idp.issuer}/oauth2/token`);
  assert.equal(d.revocation_endpoint, `${idp.issuer}/oauth2/revoke`);
  assert.equal(d.userinfo_endpoint, `${idp.issuer}/oauth2/userinfo`);
  assert.equal(d.jwks_uri, `${idp.issuer}/oauth2/jwks`);
  assert.equal(d.end_session_endpoint, `${idp.issuer}/oauth2/end_session`);
  assert.deepEqual(d.grant_types_supported, ['authorization_code', 'refresh_token', 'client_credentials']);
  assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(d.id_token_signing_alg_values_supported, ['RS256']);
  assert.deepEqual(d.response_types_supported, ['code', 'urn:authgear:params:oauth:response-type:settings-action', 'none']);
  assert.ok(d.scopes_supported.includes('offline_access') && d.scopes_supported.includes('openid'));
  for (const k of ['device_authorization_endpoint', 'introspection_endpoint', 'registration_endpoint', 'acr_values_supported']) {
    assert.equal(k in d, false, k);
  }
  const r2 = await idp.req('GET', '/.well-known/oauth-authorization-server');
  assert.deepEqual(r2.json, d);
});

test('jwks: RS256 key with kid, use, alg and created_at', async () => {
  const r = await idp.req('GET', '/oauth2/jwks');
  assert.equal(r.status, 200);
  assert.equal(r.json.keys.length, 1);
  const k = r.json.keys[0];
  assert.equal(k.kty, 'RSA');
  assert.equal(k.alg, 'RS256');
  assert.equal(k.use, 'sig');
  assert.match(k.kid, /^[0-9a-f-]{36}$/);
  assert.equal(typeof k.created_at, 'number');
  assert.equal(k.d, undefined, 'no private parts');
});

test('key rotation: new key first, old kept; tokens carry the new kid', async () => {
  const before1 = (await idp.req('GET', '/oauth2/jwks')).json.keys;
  const l = await login(idp, 'carol');
  assert.equal(decodeJwt(l.tokens.id_token).header.kid, before1[0].kid);
  const k = await idp.hook('POST', '/keys/rotate', {});
  const jwks = (await idp.req('GET', '/oauth2/jwks')).json;
  assert.equal(jwks.keys.length, before1.length + 1);
  assert.equal(jwks.keys[0].kid, k.signing_kid);
  assert.equal(jwks.keys[1].kid, before1[0].kid);
  const r = await idp.req('POST', '/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: l.tokens.refresh_token, client_id: 'pam_authgear' } });
  assert.equal(r.status, 200);
  assert.equal(decodeJwt(r.json.id_token).header.kid, k.signing_kid);
  assert.ok(verifyWithJwks(r.json.id_token, jwks));
  assert.ok(verifyWithJwks(l.tokens.id_token, jwks), 'old token still verifies with the kept key');
});

test('every signing alg: real signatures, discovery follows the active alg', async () => {
  const l = await login(idp, 'carol');
  for (const alg of ['PS256', 'PS384', 'PS512', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'RS256']) {
    const k = await idp.hook('POST', '/keys/alg', { alg });
    assert.equal(k.signing_alg, alg);
    const d = (await idp.req('GET', '/.well-known/openid-configuration')).json;
    assert.equal(d.id_token_signing_alg_values_supported[0], alg);
    const r = await idp.req('POST', '/oauth2/token', { form: { grant_type: 'refresh_token', refresh_token: l.tokens.refresh_token, client_id: 'pam_authgear' } });
    assert.equal(r.status, 200, r.text);
    const { header } = decodeJwt(r.json.id_token);
    assert.equal(header.alg, alg);
    assert.equal(header.typ, 'JWT');
    const jwks = (await idp.req('GET', '/oauth2/jwks')).json;
    assert.ok(verifyWithJwks(r.json.id_token, jwks), `${alg} verifies`);
    if (alg === 'EdDSA') assert.equal(jwks.keys.find((x) => x.kid === header.kid).crv, 'Ed25519');
  }
  const bad = await fetchHook(idp, '/keys/alg', { alg: 'HS256' });
  assert.equal(bad.status, 400);
});

async function fetchHook(i, p, body) {
  const { request } = await import('./helpers.js');
  return request('POST', i.hookUrl + p, { json: body });
}

test('restart on the same state dir keeps port, keys and CA; --alg at start', async () => {
  const jwks1 = (await idp.req('GET', '/oauth2/jwks')).json;
  const ca1 = fs.readFileSync(idp.env.CA_FILE, 'utf8');
  const issuer1 = idp.issuer;
  idp.stop();
  const again = startIdp([], idp.state);
  try {
    assert.equal(again.issuer, issuer1);
    assert.equal(fs.readFileSync(again.env.CA_FILE, 'utf8'), ca1);
    const jwks2 = (await again.req('GET', '/oauth2/jwks')).json;
    assert.deepEqual(jwks2.keys.map((k) => k.kid), jwks1.keys.map((k) => k.kid));
  } finally { again.stop(); }
  const es = startIdp(['--alg', 'ES256'], idp.state);
  try {
    const d = (await es.req('GET', '/.well-known/openid-configuration')).json;
    assert.equal(d.id_token_signing_alg_values_supported[0], 'ES256');
    const l = await login(es, 'carol');
    assert.equal(decodeJwt(l.tokens.id_token).header.alg, 'ES256');
  } finally { es.stop(); }
  idp = startIdp([], idp.state);
});
