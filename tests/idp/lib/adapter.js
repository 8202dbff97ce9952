// Map-based adapter for oidc-provider (no LRU eviction, per-grant lookups for tests).
import { epoch } from './util.js';

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export class Store {
  constructor() { this.models = new Map(); }

  model(name) {
    if (!this.models.has(name)) this.models.set(name, new Map());
    return this.models.get(name);
  }

  revokeGrant(grantId) {
    for (const name of GRANTABLE) {
      const m = this.model(name);
      for (const [id, e] of m) if (e.payload.grantId === grantId) m.delete(id);
    }
    this.model('Grant').delete(grantId);
  }

  grantsOf(accountId, clientId) {
    const out = [];
    for (const [id, e] of this.model('Grant')) {
      if (!expired(e) && e.payload.accountId === accountId && (!clientId || e.payload.clientId === clientId)) out.push(id);
    }
    return out;
  }

  sweep() {
    for (const m of this.models.values()) for (const [id, e] of m) if (expired(e)) m.delete(id);
  }

  adapterFactory() {
    const store = this;
    return class MapAdapter {
      constructor(name) { this.name = name; this.m = store.model(name); }

      async upsert(id, payload, expiresIn) {
        // Kept 300 s past expiry so oidc-provider can still answer expired_token for device codes;
        // the models check payload.exp themselves.
        this.m.set(id, { payload: { ...payload }, exp: expiresIn ? epoch() + expiresIn + 300 : undefined });
      }

      async find(id) { const e = this.m.get(id); return e && !expired(e) ? { ...e.payload } : undefined; }

      async findByUid(uid) {
        for (const e of this.m.values()) if (e.payload.uid === uid && !expired(e)) return { ...e.payload };
        return undefined;
      }

      async findByUserCode(userCode) {
        for (const e of this.m.values()) if (e.payload.userCode === userCode && !expired(e)) return { ...e.payload };
        return undefined;
      }

      async consume(id) { const e = this.m.get(id); if (e) e.payload.consumed = epoch(); }

      async destroy(id) { this.m.delete(id); }

      async revokeByGrantId(grantId) { for (const [id, e] of this.m) if (e.payload.grantId === grantId) this.m.delete(id); }
    };
  }
}

function expired(e) { return e.exp !== undefined && e.exp < epoch(); }
