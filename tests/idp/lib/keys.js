// Signing keys: Authgear's "key set" (key 0 signs), persisted in the state dir so a restarted
// instance keeps its kids; runtime rotation and alg switching for tests.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ALGS, generateKeyFor, sign as jwsSign, verify as jwsVerify } from './jws.js';
import { epoch } from './util.js';

export class KeyStore {
  constructor(stateDir) {
    this.file = path.join(stateDir, 'keys.json');
    this.keys = []; // {kid, alg, created_at, privateKey, publicKey}
  }

  load(initialAlg) {
    if (fs.existsSync(this.file)) {
      const j = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      this.keys = j.keys.map((k) => {
        const privateKey = crypto.createPrivateKey({ key: k.jwk, format: 'jwk' });
        return { kid: k.kid, alg: k.alg, created_at: k.created_at, privateKey, publicKey: crypto.createPublicKey(privateKey) };
      });
    }
    if (this.keys.length === 0) this.keys.push(this.newKey(initialAlg || 'RS256'));
    if (initialAlg && this.keys[0].alg !== initialAlg) this.setAlg(initialAlg); else this.save();
  }

  save() {
    const j = { keys: this.keys.map((k) => ({ kid: k.kid, alg: k.alg, created_at: k.created_at, jwk: k.privateKey.export({ format: 'jwk' }) })) };
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(j), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  newKey(alg) {
    if (!ALGS[alg]) throw new Error(`unsupported alg ${alg}; one of ${Object.keys(ALGS).join(' ')}`);
    const privateKey = generateKeyFor(alg);
    return { kid: crypto.randomUUID(), alg, created_at: epoch(), privateKey, publicKey: crypto.createPublicKey(privateKey) };
  }

  get current() { return this.keys[0]; }

  // New key first, old ones kept (Authgear rotation), unless keepOld is false.
  rotate(alg, keepOld = true) {
    const k = this.newKey(alg || this.current.alg);
    this.keys = keepOld ? [k, ...this.keys] : [k];
    this.save();
    return k;
  }

  // Make alg the signing alg: reuse the newest key of that alg (moved to front) or create one.
  setAlg(alg) {
    if (!ALGS[alg]) throw new Error(`unsupported alg ${alg}; one of ${Object.keys(ALGS).join(' ')}`);
    const i = this.keys.findIndex((k) => k.alg === alg);
    if (i === 0) return this.keys[0];
    if (i > 0) { const [k] = this.keys.splice(i, 1); this.keys.unshift(k); } else this.keys.unshift(this.newKey(alg));
    this.save();
    return this.keys[0];
  }

  // Algs advertised in discovery: the signing alg first, then other algs still in the set.
  advertisedAlgs() { return [...new Set(this.keys.map((k) => k.alg))]; }

  jwks() {
    return {
      keys: this.keys.map((k) => {
        const { d, p, q, dp, dq, qi, ...pub } = k.privateKey.export({ format: 'jwk' });
        return { ...pub, kid: k.kid, use: 'sig', alg: k.alg, created_at: k.created_at };
      }),
    };
  }

  sign(payload, typ = 'JWT', key = this.current) {
    return jwsSign(key.alg, key.privateKey, { alg: key.alg, kid: key.kid, typ }, payload);
  }

  verify(token) { return jwsVerify(token, this.keys); }
}
