// RFC 8628 test switch (Authgear has no device flow): oidc-provider's device flow plus the
// `interval` and `slow_down` it lacks, pinned user codes / verification URIs and approval hooks.
import { collectAMR, hasTotp } from './users.js';
import { epoch, sha256hex } from './util.js';

const normalise = (c) => String(c || '').toUpperCase().replace(/\W/g, '');

export const DEFAULT_DEVICE = {
  interval: 5, // seconds, returned in the device authorization response and enforced
  expires_in: 600, // lifetime of new device codes
  // the expires_in the response shows when set (the code still lives
  // expires_in): a client's own stop is then not raced by the code's expiry
  expires_in_shown: null,
  slow_down_increment: 5, // RFC 8628: +5 s after each slow_down
  slow_down_tolerance_ms: 0, // a poll this much early still counts as on time
  slow_down_polls: 0, // the next N polls answer slow_down whatever their timing
  user_code: null, // pinned user code shown to clients (e.g. "WDJB-MJHT")
  verification_uri: null, // pinned verification_uri
  verification_uri_complete: null, // pinned verification_uri_complete (default: uri?user_code=…)
  // A third-party issuer's amr for every approval (e.g. ["password","otp"]):
  // non-RFC 8176 values, as some issuers send; null: Authgear's values.
  amr: null,
  // true: the next device authorization answers the device_code of the one
  // before it (a replayed device code: redeemed already, when that login
  // finished), then this switches itself off
  replay_device_code: false,
};

export class Device {
  constructor(app) {
    this.app = app;
    this.cfg = { ...DEFAULT_DEVICE };
    this.polls = new Map(); // sha256(device_code) -> { last, interval }
    this.pins = new Map(); // pinned normalised user code -> real normalised user code
    this.lastDeviceCode = null; // the last device_code answered (replay_device_code)
  }

  set(patch) {
    for (const [k, v] of Object.entries(patch || {})) {
      if (!(k in DEFAULT_DEVICE)) throw new Error(`unknown device setting ${k}`);
      this.cfg[k] = v;
    }
    return this.cfg;
  }

  middleware() {
    return async (ctx, next) => {
      if (ctx.path !== '/oauth2/device_authorization' || ctx.method !== 'POST') return next();
      await next();
      const b = ctx.body;
      if (ctx.status !== 200 || !b || !b.device_code) return undefined;
      if (this.cfg.replay_device_code && this.lastDeviceCode) {
        b.device_code = this.lastDeviceCode;
        this.cfg.replay_device_code = false;
      }
      this.lastDeviceCode = b.device_code;
      b.interval = this.cfg.interval;
      this.polls.set(sha256hex(b.device_code), { last: null, interval: this.cfg.interval });
      if (this.cfg.user_code) {
        this.pins.set(normalise(this.cfg.user_code), normalise(b.user_code));
        b.user_code = this.cfg.user_code;
      }
      if (this.cfg.verification_uri) b.verification_uri = this.cfg.verification_uri;
      if (this.cfg.expires_in_shown !== null) b.expires_in = this.cfg.expires_in_shown;
      if (this.cfg.verification_uri || this.cfg.user_code || this.cfg.verification_uri_complete) {
        b.verification_uri_complete = this.cfg.verification_uri_complete
          || `${b.verification_uri}?user_code=${encodeURIComponent(b.user_code)}`;
      }
      const order = ['device_code', 'user_code', 'verification_uri', 'verification_uri_complete', 'expires_in', 'interval'];
      ctx.body = Object.fromEntries(order.filter((k) => b[k] !== undefined).map((k) => [k, b[k]]));
      return undefined;
    };
  }

  // Called by the token endpoint for device_code polls; true when answered here (slow_down).
  async beforePoll(ctx, form) {
    const h = sha256hex(String(form.device_code || ''));
    const now = Date.now();
    let p = this.polls.get(h);
    if (!p) { p = { last: null, interval: this.cfg.interval }; this.polls.set(h, p); }
    const early = p.last !== null && now - p.last < p.interval * 1000 - this.cfg.slow_down_tolerance_ms;
    p.last = now;
    if (this.cfg.slow_down_polls > 0 || early) {
      if (this.cfg.slow_down_polls > 0) this.cfg.slow_down_polls -= 1;
      p.interval += this.cfg.slow_down_increment;
      ctx.status = 400;
      ctx.type = 'application/json';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'slow_down', error_description: `polling too fast; interval is now ${p.interval} s` };
      return true;
    }
    return false;
  }

  async find(userCode) {
    const n = normalise(userCode);
    const real = this.pins.get(n) || n;
    const dc = await this.app.provider.DeviceCode.findByUserCode(real, { ignoreExpiration: true });
    if (!dc) throw Object.assign(new Error(`no device code with user code ${userCode}`), { status: 404 });
    return dc;
  }

  async approve(userCode, username, amr) {
    const u = this.app.users.byName(username);
    if (!u) throw new Error(`unknown user ${username}`);
    const dc = await this.find(userCode);
    const P = this.app.provider;
    const g = new P.Grant({ clientId: dc.clientId, accountId: u.sub });
    g.addOIDCScope(dc.params.scope);
    const grantId = await g.save();
    const useAmr = amr || this.cfg.amr || collectAMR(hasTotp(u) ? ['primary_password', 'secondary_totp'] : ['primary_password']);
    Object.assign(dc, { accountId: u.sub, grantId, scope: dc.params.scope, authTime: epoch(), amr: useAmr });
    await dc.save();
    return { user_code: userCode, sub: u.sub, amr: useAmr };
  }

  async deny(userCode) {
    const dc = await this.find(userCode);
    Object.assign(dc, { error: 'access_denied', errorDescription: 'the user denied the request' });
    await dc.save();
    return { user_code: userCode, denied: true };
  }

  // Make one (or every) device code expire now: the next poll answers expired_token.
  expire(userCode) {
    const m = this.app.store.model('DeviceCode');
    let n = 0;
    const real = userCode ? (this.pins.get(normalise(userCode)) || normalise(userCode)) : null;
    for (const e of m.values()) {
      if (!real || e.payload.userCode === real) {
        e.payload.exp = epoch() - 1;
        e.exp = epoch() + 600;
        n += 1;
      }
    }
    return { expired: n };
  }

  list() {
    const out = [];
    for (const e of this.app.store.model('DeviceCode').values()) {
      const p = e.payload;
      out.push({ user_code: p.userCode, client_id: p.clientId, scope: p.params?.scope ?? null, exp: p.exp, approved: !!p.accountId, error: p.error || null, consumed: !!p.consumed });
    }
    return out;
  }
}
