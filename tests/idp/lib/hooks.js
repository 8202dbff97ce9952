// Test hooks: plain HTTP on 127.0.0.1 (separate port), JSON in/out. Documented in README.md.
import crypto from 'node:crypto';
import http from 'node:http';
import { CERT_KINDS } from './certs.js';
import { craftJwt } from './craft.js';
import { LOGIN_IDS } from './flow.js';
import { totp } from './totp.js';
import { hasTotp, userClaims } from './users.js';
import { b64url, epoch, readRaw } from './util.js';

class HookError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export function createHookServer(app) {
  const routes = [];
  const route = (method, pattern, fn) => routes.push({ method, re: new RegExp(`^${pattern}$`), fn });
  const user = (name) => {
    const u = app.users.byName(name);
    if (!u) throw new HookError(404, `unknown user ${name}`);
    return u;
  };
  const userView = (u) => ({
    username: u.username, sub: u.sub, email: u.email, phone: u.phone, roles: u.roles, disabled: u.disabled,
    anonymous: u.anonymous, verified: u.verified, password_expired: u.password_expired, has_totp: hasTotp(u),
    recovery_codes_left: u.recovery_codes.length,
    email_verified: u.email_verified, username_identity: u.username_identity, oob_otp_email: u.oob_otp_email, locked_until: u.lockedUntil > Date.now() ? new Date(u.lockedUntil).toISOString() : null,
  });

  route('GET', '/health', () => ({ ok: true, issuer: app.issuer }));

  // counters
  route('GET', '/counters', () => app.counters.paths);
  route('GET', '/requests', (b, q) => (q.get('path') ? app.counters.requests.filter((r) => r.path === q.get('path')) : app.counters.requests));
  route('GET', '/connections', () => ({ connections: app.counters.tls, tcp_connections: app.counters.tcp }));
  route('POST', '/counters/reset', () => { app.counters.reset(); return { ok: true }; });

  // users
  route('GET', '/users', () => app.users.all().map(userView));
  route('GET', '/users/([^/]+)', (b, q, [n]) => userView(user(n)));
  route('POST', '/users/([^/]+)/disable', (b, q, [n]) => {
    const u = user(n);
    u.disabled = true;
    if (b.reason) u.disabled_reason = b.reason;
    app.revokeUserSessions(u); // Authgear: disabling terminates all sessions
    return userView(u);
  });
  route('POST', '/users/([^/]+)/enable', (b, q, [n]) => { const u = user(n); u.disabled = false; return userView(u); });
  route('POST', '/users/([^/]+)/roles', (b, q, [n]) => {
    if (!Array.isArray(b.roles) || !b.roles.every((r) => typeof r === 'string')) throw new HookError(400, 'body must be {"roles": [string]}');
    const u = user(n); u.roles = [...b.roles]; return userView(u);
  });
  // Every refresh token issued to the user, oldest first: tests grep files for them
  route('GET', '/users/([^/]+)/refresh-tokens', (b, q, [n]) => {
    const { sub } = user(n);
    return { refresh_tokens: [...app.tokens.rt].filter(([, e]) => e.sub === sub).map(([t]) => t) };
  });
  route('POST', '/users/([^/]+)/revoke-sessions', (b, q, [n]) => ({ revoked_grants: app.revokeUserSessions(user(n)) }));
  route('POST', '/users/([^/]+)/lock', (b, q, [n]) => {
    const u = user(n); u.lockedUntil = Date.now() + (b.seconds ?? 300) * 1000; return userView(u);
  });
  route('POST', '/users/([^/]+)/unlock', (b, q, [n]) => {
    const u = user(n); u.lockedUntil = 0; app.limits.succeeded(u); return userView(u);
  });
  route('POST', '/users/([^/]+)/set', (b, q, [n]) => {
    const u = user(n);
    const allowed = ['password', 'password_expired', 'verified', 'anonymous', 'email', 'email_verified', 'phone_verified',
      'username_identity', 'totp_secret', 'oob_otp_email', 'recovery_codes', 'prompt_create_passkey'];
    for (const [k, v] of Object.entries(b)) {
      if (!allowed.includes(k)) throw new HookError(400, `cannot set ${k}; one of ${allowed.join(' ')}`);
      u[k] = v;
    }
    return userView(u);
  });
  route('GET', '/totp/([^/]+)', (b, q, [n]) => {
    const u = user(n);
    if (!u.totp_secret) throw new HookError(404, `${n} has no TOTP`);
    const offset = Number(q.get('offset') || 0);
    const now = Date.now() + offset * 30000;
    return { code: totp(u.totp_secret, now), period_remaining: 30 - (Math.floor(now / 1000) % 30) };
  });

  // clients
  route('POST', '/clients/([^/]+)', (b, q, [id]) => {
    const c = app.clients.get(id);
    if (!c) throw new HookError(404, `unknown client ${id}`);
    for (const k of ['refresh_token_rotation_enabled', 'issue_jwt_access_token']) if (typeof b[k] === 'boolean') c[k] = b[k];
    return c;
  });

  // keys
  const keyView = () => ({ signing_kid: app.keys.current.kid, signing_alg: app.keys.current.alg, keys: app.keys.keys.map((k) => ({ kid: k.kid, alg: k.alg, created_at: k.created_at })) });
  route('GET', '/keys', keyView);
  route('POST', '/keys/rotate', (b) => { app.keys.rotate(b.alg, b.keep_old !== false); return keyView(); });
  route('POST', '/keys/alg', (b) => { app.keys.setAlg(b.alg); return keyView(); });

  // crafted tokens
  const template = (b) => {
    if (!b.username) return {};
    const u = user(b.username);
    const now = epoch();
    return {
      iss: app.issuer, aud: [b.client_id || 'pam_authgear'], iat: now, exp: now + 300, auth_time: now,
      sid: b64url(`offline_grant:${crypto.randomUUID()}`), amr: ['pwd', 'x_primary_password'], ...userClaims(u),
    };
  };
  route('POST', '/tokens/sign', (b) => ({ jwt: craftJwt(app, b, template(b)) }));
  route('POST', '/tokens/next-id-token', (b) => {
    if (b.jwt !== undefined && typeof b.jwt !== 'string') throw new HookError(400, 'jwt must be a string');
    if (!b.jwt) craftJwt(app, b, {}); // validate the spec now
    app.tokens.crafted.push(b);
    return { queued: app.tokens.crafted.length };
  });
  route('POST', '/tokens/clear', () => { app.tokens.crafted = []; return { ok: true }; });

  // device flow
  const needDevice = () => { if (!app.opts.device) throw new HookError(409, 'device flow is off; start with --device'); };
  route('GET', '/device', () => { needDevice(); return { config: app.device.cfg, codes: app.device.list() }; });
  route('POST', '/device/config', (b) => { needDevice(); return app.device.set(b); });
  route('POST', '/device/approve', async (b) => { needDevice(); return app.device.approve(b.user_code, b.username, b.amr); });
  route('POST', '/device/deny', async (b) => { needDevice(); return app.device.deny(b.user_code); });
  route('POST', '/device/expire', (b) => { needDevice(); return app.device.expire(b.user_code); });

  // the project's login-ID keys: identify offers only these; any other identification is ValidationFailed
  route('GET', '/login-id-keys', () => ({ keys: app.loginIdKeys }));
  route('POST', '/login-id-keys', (b) => {
    const keys = b.keys;
    if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => !LOGIN_IDS.includes(k)) || new Set(keys).size !== keys.length) {
      throw new HookError(400, `keys must be a non-empty list of distinct ${LOGIN_IDS.join(' ')}`);
    }
    app.loginIdKeys = keys;
    return { keys };
  });

  // the project's flows: create answers AuthenticationFlowFlowNotFound for a name not listed for
  // its type; login flows in bot_protection require a bot-protection response at identify
  const flowsView = () => ({ login: app.flows.login, reauth: app.flows.reauth, bot_protection: app.flows.bot_protection });
  route('GET', '/flows', flowsView);
  route('POST', '/flows', (b) => {
    const names = (k) => {
      const v = b[k];
      if (v === undefined) return app.flows[k];
      if (!Array.isArray(v) || v.some((n) => typeof n !== 'string' || !/^[a-z0-9_-]{1,64}$/.test(n))) {
        throw new HookError(400, `${k} must be a list of flow names ([a-z0-9_-])`);
      }
      return [...v];
    };
    const next = { login: names('login'), reauth: names('reauth'), bot_protection: names('bot_protection') };
    Object.assign(app.flows, next);
    return flowsView();
  });

  // the email OTP code last sent to a user (secondary_oob_otp_email)
  route('GET', '/otp/([^/]+)', (b, q, [n]) => {
    user(n);
    const code = app.otpCodes.get(n);
    if (!code) throw new HookError(404, `no code sent to ${n}`);
    return { code, channel: 'email' };
  });

  // faults
  route('GET', '/faults', () => ({ faults: app.faults.list(), tls: app.tlsKind }));
  route('POST', '/faults', (b) => app.faults.add(b));
  route('POST', '/faults/clear', (b) => {
    app.faults.clear(b.path);
    if (!b.path && b.tls !== false) app.setTls('normal');
    return { ok: true };
  });
  route('POST', '/faults/tls', (b) => {
    if (!CERT_KINDS.includes(b.cert)) throw new HookError(400, `cert must be one of ${CERT_KINDS.join(' ')}`);
    app.setTls(b.cert);
    return { tls: app.tlsKind };
  });

  // the resolver answers valid sessions as another user (§7 headers of that user), until cleared
  route('GET', '/resolver/as', () => ({ username: app.resolverAs || null }));
  route('POST', '/resolver/as', (b) => {
    if (b.username !== null && typeof b.username !== 'string') throw new HookError(400, 'username must be a string or null');
    if (b.username) user(b.username);
    app.resolverAs = b.username || null;
    return { username: app.resolverAs };
  });

  // flow quirks (apply to the next flow created)
  route('GET', '/quirks', () => app.quirks.next);
  route('POST', '/quirks', (b) => {
    const allowed = ['unknown_step', 'skip_second_factor', 'consent_location', 'prompt_create_passkey'];
    for (const k of Object.keys(b)) if (!allowed.includes(k)) throw new HookError(400, `unknown quirk ${k}; one of ${allowed.join(' ')}`);
    if (b.unknown_step === true) b.unknown_step = {};
    Object.assign(app.quirks.next, b);
    return app.quirks.next;
  });
  route('POST', '/quirks/clear', () => { app.quirks.next = {}; return {}; });

  // rate limits and lockout
  route('GET', '/limits', () => app.limits.cfg);
  route('POST', '/limits', (b) => app.limits.set(b));
  route('POST', '/limits/reset', () => { app.limits.reset(); for (const u of app.users.all()) u.lockedUntil = 0; return { ok: true }; });

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let status = 200; let out;
    try {
      const raw = await readRaw(req);
      let body = {};
      if (raw.length) {
        try { body = JSON.parse(raw.toString('utf8')); } catch { throw new HookError(400, 'body is not JSON'); }
        if (!body || typeof body !== 'object') throw new HookError(400, 'body must be a JSON object');
      }
      let matched = false;
      for (const r of routes) {
        const m = r.re.exec(url.pathname);
        if (m && r.method === req.method) {
          matched = true;
          out = await r.fn(body, url.searchParams, m.slice(1).map(decodeURIComponent));
          break;
        }
      }
      if (!matched) throw new HookError(404, `no hook ${req.method} ${url.pathname}`);
    } catch (e) {
      status = e.status || 400;
      out = { error: e.message };
    }
    const text = `${JSON.stringify(out)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  return server;
}
