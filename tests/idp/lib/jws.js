// Compact JWS signing/verification on node:crypto, for every alg the test IdP can sign with.
import crypto from 'node:crypto';
import { b64url, b64urlJSON, decodeJwtPart } from './util.js';

export const ALGS = {
  RS256: { kty: 'RSA', hash: 'sha256' },
  RS384: { kty: 'RSA', hash: 'sha384' },
  RS512: { kty: 'RSA', hash: 'sha512' },
  PS256: { kty: 'RSA', hash: 'sha256', pss: true },
  PS384: { kty: 'RSA', hash: 'sha384', pss: true },
  PS512: { kty: 'RSA', hash: 'sha512', pss: true },
  ES256: { kty: 'EC', hash: 'sha256', crv: 'P-256' },
  ES384: { kty: 'EC', hash: 'sha384', crv: 'P-384' },
  ES512: { kty: 'EC', hash: 'sha512', crv: 'P-521' },
  EdDSA: { kty: 'OKP', hash: null, crv: 'Ed25519' },
};

export function generateKeyFor(alg) {
  const a = ALGS[alg];
  if (!a) throw new Error(`unsupported alg ${alg}`);
  if (a.kty === 'RSA') return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  if (a.kty === 'EC') return crypto.generateKeyPairSync('ec', { namedCurve: a.crv }).privateKey;
  return crypto.generateKeyPairSync('ed25519').privateKey;
}

function signOpts(alg, key) {
  const a = ALGS[alg];
  if (a.pss) return { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST };
  if (a.kty === 'EC') return { key, dsaEncoding: 'ieee-p1363' };
  return key;
}

// Sign raw bytes of "header.payload" with alg. key: KeyObject (private) or, for HS*, a string/Buffer.
export function signBytes(alg, key, data) {
  if (/^HS(256|384|512)$/.test(alg)) return crypto.createHmac(`sha${alg.slice(2)}`, key).update(data).digest();
  if (alg === 'none') return Buffer.alloc(0);
  const a = ALGS[alg];
  if (!a) throw new Error(`unsupported alg ${alg}`);
  return crypto.sign(a.hash, Buffer.from(data), signOpts(alg, key));
}

export function sign(alg, key, header, payload) {
  const input = `${b64urlJSON(header)}.${b64urlJSON(payload)}`;
  return `${input}.${b64url(signBytes(alg, key, input))}`;
}

export function decode(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const header = decodeJwtPart(parts[0]);
  const payload = decodeJwtPart(parts[1]);
  if (!header || !payload || typeof payload !== 'object') return null;
  return { header, payload, parts };
}

// Verify the signature of token against a list of public key records {kid, alg, publicKey}.
// Returns {header, payload} or null. Time claims are NOT checked here.
export function verify(token, keyRecords) {
  const d = decode(token);
  if (!d) return null;
  const { header } = d;
  const a = ALGS[header.alg];
  if (!a) return null;
  const candidates = keyRecords.filter((k) => k.alg === header.alg && (!header.kid || k.kid === header.kid));
  const data = Buffer.from(`${d.parts[0]}.${d.parts[1]}`);
  const sig = Buffer.from(d.parts[2], 'base64url');
  for (const k of candidates) {
    try {
      if (crypto.verify(a.hash, data, signOpts(header.alg, k.publicKey), sig)) return { header: d.header, payload: d.payload };
    } catch { /* try next */ }
  }
  return null;
}
