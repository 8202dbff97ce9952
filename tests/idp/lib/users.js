// Users and clients from the JSON fixture, plus their mutable test state (disabled, roles, lock).
import fs from 'node:fs';
import { base32Decode } from './totp.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function normaliseRecoveryCode(s) {
  return typeof s === 'string' ? s.toUpperCase().replace(/[\s-]/g, '') : '';
}

export function loadFixture(file) {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const users = new Map();
  for (const u of j.users || []) {
    if (!u.username || !UUID_RE.test(u.sub || '')) throw new Error(`fixture user needs username and a UUID sub: ${JSON.stringify(u)}`);
    if (u.totp_secret) base32Decode(u.totp_secret);
    users.set(u.username, {
      username: u.username,
      sub: u.sub,
      email: u.email ? u.email.toLowerCase() : undefined,
      // Authgear verifies each email / phone claim on its own (userinfo email_verified).
      email_verified: u.email_verified !== undefined ? !!u.email_verified : true,
      phone: u.phone,
      phone_verified: u.phone_verified !== undefined ? !!u.phone_verified : true,
      // false: no username login ID (an email-only project): no username login,
      // no preferred_username at userinfo; `username` stays the IdP's handle.
      username_identity: u.username_identity !== undefined ? !!u.username_identity : true,
      password: u.password,
      password_expired: !!u.password_expired,
      totp_secret: u.totp_secret,
      // a secondary_oob_otp_email authenticator (codes "sent" to the email, GET /otp/NAME)
      oob_otp_email: !!u.oob_otp_email,
      recovery_codes: (u.recovery_codes || []).map(normaliseRecoveryCode),
      roles: [...(u.roles || [])],
      disabled: !!u.disabled,
      disabled_reason: u.disabled_reason,
      anonymous: !!u.anonymous,
      verified: u.verified !== undefined ? !!u.verified : true,
      prompt_create_passkey: !!u.prompt_create_passkey,
      custom_attributes: u.custom_attributes || {},
      lockedUntil: 0,
    });
  }
  const clients = new Map();
  for (const c of j.clients || []) {
    if (!c.client_id || !Array.isArray(c.redirect_uris)) throw new Error(`fixture client needs client_id and redirect_uris: ${JSON.stringify(c)}`);
    clients.set(c.client_id, {
      client_id: c.client_id,
      redirect_uris: c.redirect_uris,
      refresh_token_rotation_enabled: !!c.refresh_token_rotation_enabled,
      issue_jwt_access_token: !!c.issue_jwt_access_token,
      device_grant: !!c.device_grant,
      x_max_concurrent_session: c.x_max_concurrent_session || 0,
      x_custom_ui_uri: c.x_custom_ui_uri || '',
      client_secret: c.client_secret,
    });
  }
  return { users, clients };
}

export class Users {
  constructor(map) { this.map = map; }

  byName(name) { return this.map.get(name); }

  bySub(sub) { for (const u of this.map.values()) if (u.sub === sub) return u; return undefined; }

  // Login-ID lookup as Authgear normalises: email case-insensitive, username case-insensitive.
  byLoginId(type, value) {
    if (typeof value !== 'string') return undefined;
    for (const u of this.map.values()) {
      if (type === 'username' && u.username_identity && u.username.toLowerCase() === value.toLowerCase()) return u;
      if (type === 'email' && u.email && u.email === value.toLowerCase()) return u;
      if (type === 'phone' && u.phone && u.phone === value) return u;
    }
    return undefined;
  }

  all() { return [...this.map.values()]; }
}

export const hasTotp = (u) => !!u.totp_secret;
export const hasOobOtpEmail = (u) => !!(u.oob_otp_email && u.email);
export const hasSecondary = (u) => hasTotp(u) || hasOobOtpEmail(u);
export const canReauthenticate = (u) => !!(u.password || hasSecondary(u));

// The account-status check of Authgear (check_account_status step, refresh, resolver).
export function accountUsable(u) { return !!u && !u.disabled; }

// Authgear's user claims shared by the ID token, JWT access token, userinfo and resolver.
export function userClaims(u) {
  return {
    sub: u.sub,
    'https://authgear.com/claims/user/is_anonymous': u.anonymous,
    'https://authgear.com/claims/user/is_verified': u.verified,
    'https://authgear.com/claims/user/can_reauthenticate': canReauthenticate(u),
    'https://authgear.com/claims/user/roles': [...u.roles],
  };
}

// AMR aggregation (Authgear CollectAMR): union, sorted, "mfa" when >=2 distinct authenticators
// or 1 authenticator + a recovery code. authns: list of authentication names used.
const AMR_OF = {
  primary_password: ['pwd', 'x_primary_password'],
  secondary_totp: ['otp', 'x_secondary_totp'],
  secondary_oob_otp_email: ['otp', 'x_secondary_oob_otp_email'],
  recovery_code: ['x_recovery_code'],
  device_token: ['x_device_token'],
};
export function collectAMR(authns) {
  const set = new Set();
  for (const a of authns) for (const v of AMR_OF[a] || []) set.add(v);
  const authenticators = new Set(authns.filter((a) => a !== 'recovery_code' && a !== 'device_token'));
  if (authenticators.size >= 2 || (authenticators.size >= 1 && authns.includes('recovery_code'))) set.add('mfa');
  return [...set].sort();
}
