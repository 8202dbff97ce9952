// Rate limits and account lockout (authgear-protocol.md §3.15), switchable off for load tests.
import { E } from './errors.js';

export const DEFAULT_LIMITS = {
  rate_limits: true,
  lockout: true,
  window_seconds: 60,
  // false: per-method limits count failed attempts (the IdP's default, kept so
  // tests can sign in often); true: every attempt, as Authgear does (§3.15)
  count_all_attempts: false,
  flow_per_ip: 1200, // whole Flow API, per IP -> TooManyRequest
  password_per_ip: 60, // failed password attempts -> RateLimited
  password_per_user_per_ip: 10,
  totp_per_ip: 60,
  totp_per_user_per_ip: 10,
  recovery_code_per_ip: 60,
  recovery_code_per_user_per_ip: 10,
  oob_otp_email_per_ip: 60, // failed email OTP codes
  oob_otp_email_per_user_per_ip: 10,
  account_enumeration_per_ip: 10, // failed login-ID lookups -> RateLimited
  token_per_ip: 120, // token endpoint -> x_rate_limited
  token_per_user: 60,
  lockout_max_attempts: 6, // failed password/TOTP/recovery attempts, counted together per user
  lockout_duration_seconds: 300,
};

const BUCKETS = {
  password: ['authentication.password', 'VerifyPassword'],
  totp: ['authentication.totp', 'VerifyTOTP'],
  recovery_code: ['authentication.recovery_code', 'VerifyRecoveryCode'],
  oob_otp_email: ['authentication.oob_otp.email', 'TrackFailedOTPAttempt'],
};

export class Limits {
  constructor(enabled) {
    this.cfg = { ...DEFAULT_LIMITS, rate_limits: enabled, lockout: enabled };
    this.events = new Map(); // key -> [t_ms]
    this.failures = new Map(); // username -> [t_ms]
  }

  set(patch) {
    for (const [k, v] of Object.entries(patch || {})) {
      if (!(k in DEFAULT_LIMITS)) throw new Error(`unknown limit ${k}`);
      if (typeof v !== typeof DEFAULT_LIMITS[k]) throw new Error(`limit ${k} must be a ${typeof DEFAULT_LIMITS[k]}`);
      this.cfg[k] = v;
    }
    return this.cfg;
  }

  reset() { this.events.clear(); this.failures.clear(); }

  #recent(key) {
    const cut = Date.now() - this.cfg.window_seconds * 1000;
    const list = (this.events.get(key) || []).filter((t) => t > cut);
    this.events.set(key, list);
    return list;
  }

  count(key) { return this.#recent(key).length; }

  record(key) { this.#recent(key).push(Date.now()); }

  // Counts every call; true when the limit is exceeded.
  take(key, limit) {
    if (!this.cfg.rate_limits) return false;
    const l = this.#recent(key);
    if (l.length >= limit) return true;
    l.push(Date.now());
    return false;
  }

  flowRequest(ip) { if (this.take(`flow:${ip}`, this.cfg.flow_per_ip)) throw E.tooManyRequest(); }

  tokenRequest(ip) { return this.take(`token:${ip}`, this.cfg.token_per_ip); }

  tokenUser(sub) { return this.take(`token_user:${sub}`, this.cfg.token_per_user); }

  // Before verifying a secret: lockout, then per-method rate limits on failed attempts.
  beforeVerify(user, kind, ip, flowType) {
    // A lock set by the /users/:name/lock hook applies even when automatic lockout is off.
    if (user.lockedUntil > Date.now()) throw E.lockout(user.lockedUntil, flowType);
    if (!this.cfg.rate_limits) return;
    const [group, bucket] = BUCKETS[kind];
    if (this.count(`fail:${kind}:${ip}:${user.username}`) >= this.cfg[`${kind}_per_user_per_ip`]) {
      throw E.rateLimited(`${group}.per_user_per_ip`, group, `${bucket}PerUserPerIP`);
    }
    if (this.count(`fail:${kind}:${ip}`) >= this.cfg[`${kind}_per_ip`]) {
      throw E.rateLimited(`${group}.per_ip`, group, `${bucket}PerIP`);
    }
    if (this.cfg.count_all_attempts) {
      this.record(`fail:${kind}:${ip}:${user.username}`);
      this.record(`fail:${kind}:${ip}`);
    }
  }

  // After a failed secret: count it; returns an AccountLockout error when this attempt locks.
  failed(user, kind, ip, flowType) {
    if (!this.cfg.count_all_attempts) { // (counted in beforeVerify otherwise)
      this.record(`fail:${kind}:${ip}:${user.username}`);
      this.record(`fail:${kind}:${ip}`);
    }
    if (!this.cfg.lockout || this.cfg.lockout_max_attempts <= 0) return null;
    const cut = Date.now() - this.cfg.lockout_duration_seconds * 1000;
    const l = (this.failures.get(user.username) || []).filter((t) => t > cut);
    l.push(Date.now());
    this.failures.set(user.username, l);
    if (l.length >= this.cfg.lockout_max_attempts) {
      user.lockedUntil = Date.now() + this.cfg.lockout_duration_seconds * 1000;
      this.failures.set(user.username, []);
      return E.lockout(user.lockedUntil, flowType);
    }
    return null;
  }

  succeeded(user) { this.failures.set(user.username, []); }

  enumeration(ip) {
    if (this.cfg.rate_limits && this.count(`enum:${ip}`) >= this.cfg.account_enumeration_per_ip) {
      throw E.rateLimited('authentication.account_enumeration.per_ip', 'authentication.account_enumeration', 'AccountEnumerationPerIP');
    }
  }

  enumerationFailed(ip) { this.record(`enum:${ip}`); }
}
