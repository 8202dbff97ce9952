// Crafted tokens for client attack tests: arbitrary header/payload, key choice and tampering.
import { b64url, b64urlJSON } from './util.js';
import { generateKeyFor, signBytes } from './jws.js';

// spec: { header?, payload?, merge? (default true), key?: current|old|fresh|hs256|none,
//         alg?, secret?, kid?, tamper?: signature|truncate|empty_signature|payload }
// base: the claims the IdP would really have issued (merged unless merge === false).
export function craftJwt(app, spec = {}, base = {}) {
  const keyChoice = spec.key || 'current';
  let alg; let signKey; let kid;
  switch (keyChoice) {
    case 'current': ({ alg } = app.keys.current); signKey = app.keys.current.privateKey; kid = app.keys.current.kid; break;
    case 'old': {
      const k = app.keys.keys[1];
      if (!k) throw new Error('no old key in the key set; rotate first');
      ({ alg } = k); signKey = k.privateKey; ({ kid } = k); break;
    }
    case 'fresh': alg = spec.alg || app.keys.current.alg; signKey = generateKeyFor(alg); kid = spec.kid || app.keys.current.kid; break;
    case 'hs256': alg = spec.alg || 'HS256'; signKey = spec.secret ?? 'secret'; kid = app.keys.current.kid; break;
    case 'none': alg = 'none'; signKey = null; kid = undefined; break;
    default: throw new Error(`unknown key choice ${keyChoice}; one of current old fresh hs256 none`);
  }
  const header = merge({ alg, ...(kid ? { kid } : {}), typ: 'JWT' }, spec.header);
  const payload = spec.merge === false ? { ...(spec.payload || {}) } : merge(base, spec.payload);
  const input = `${b64urlJSON(header)}.${b64urlJSON(payload)}`;
  let sig = signBytes(alg, signKey, input);
  let out = `${input}.${b64url(sig)}`;
  switch (spec.tamper) {
    case undefined: case null: case 'none': break;
    case 'signature':
      sig = Buffer.from(sig); if (sig.length) sig[Math.floor(sig.length / 2)] ^= 0x01;
      out = `${input}.${b64url(sig)}`; break;
    case 'truncate': out = `${input}.${b64url(sig.subarray(0, Math.max(0, sig.length - 8)))}`; break;
    case 'empty_signature': out = `${input}.`; break;
    case 'payload': {
      const p2 = { ...payload, sub: `${payload.sub || ''}x` };
      out = `${b64urlJSON(header)}.${b64urlJSON(p2)}.${b64url(sig)}`; break;
    }
    default: throw new Error(`unknown tamper ${spec.tamper}; one of signature truncate empty_signature payload`);
  }
  return out;
}

// Shallow merge; a null value deletes the key.
function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b || {})) { if (v === null) delete out[k]; else out[k] = v; }
  return out;
}
