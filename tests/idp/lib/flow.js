// Authentication Flow API (authgear-protocol.md §3): login and reauth flows, cookie-less.
import crypto from 'node:crypto';
import { APIError, E } from './errors.js';
import { verifyTotp } from './totp.js';
import {
  accountUsable, collectAMR, hasOobOtpEmail, hasSecondary, hasTotp, normaliseRecoveryCode,
} from './users.js';
import {
  epoch, randomAlnum, randomBase32, readRaw, sortedQuery,
} from './util.js';

const BASE = '/api/v1/authentication_flows';
const FLOW_TTL_MS = 20 * 60 * 1000;
const ALL_FLOW_TYPES = ['signup', 'promote', 'login', 'signup_login', 'reauth', 'account_recovery'];
// Every login-ID type the IdP knows; a project offers only its configured
// keys (identity.login_id.keys, app.loginIdKeys, POST /login-id-keys).
export const LOGIN_IDS = ['email', 'phone', 'username'];
const ORDER = {
  login: ['identify', 'authenticate_primary', 'authenticate_secondary', 'change_password', 'check_account_status',
    'terminate_other_sessions', 'prompt_create_passkey', 'finished'],
  reauth: ['identify', 'reauthenticate', 'check_account_status', 'finished'],
};
const MIN_PASSWORD = 8;
const BOT_PROTECTION = { enabled: true, provider: { type: 'cloudflare' } };
// The bot-protection response the test IdP's "provider" accepts; anything else fails.
export const BOT_PASS = 'test-bot-protection-pass';

// ali***@example.com, as Authgear masks a claim value
function maskEmail(e) {
  const [local, domain] = e.split('@');
  return `${local.slice(0, 3)}***@${domain}`;
}

const cause = (location, kind, details = {}) => ({ location, kind, details });

function parseCookies(header) {
  const out = {};
  for (const part of (header || '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export class FlowAPI {
  constructor(app) {
    this.app = app;
    this.states = new Map(); // state_token -> { flowId, state, exp }
    this.flows = new Map(); // flowId -> Set(state_token)
  }

  middleware() {
    return async (ctx, next) => {
      if (!ctx.path.startsWith(BASE)) return next();
      const route = ctx.path.replace(/\/$/, '');
      const handlers = { [BASE]: 'create', [`${BASE}/states/input`]: 'input', [`${BASE}/states`]: 'get' };
      ctx.set('Access-Control-Allow-Origin', ctx.get('Origin') || '*');
      ctx.set('Cache-Control', 'no-store');
      if (!handlers[route]) { ctx.status = 404; ctx.type = 'text/plain'; ctx.body = '404 page not found\n'; return undefined; }
      if (ctx.method === 'OPTIONS') {
        ctx.set('Access-Control-Allow-Methods', 'POST, OPTIONS');
        ctx.set('Access-Control-Allow-Headers', 'Content-Type');
        ctx.status = 204;
        return undefined;
      }
      if (ctx.method !== 'POST') { ctx.status = 405; ctx.type = 'text/plain'; ctx.body = 'Method Not Allowed\n'; return undefined; }
      const out = { cookies: [] };
      try {
        this.app.limits.flowRequest(ctx.ip);
        const body = await this.parseBody(ctx);
        const result = await this[handlers[route]](ctx, body, out);
        ctx.status = 200;
        ctx.body = { result };
      } catch (e) {
        if (!(e instanceof APIError)) {
          this.app.log(`flow API error: ${e.stack}`);
          e.apiError = E.unexpected();
        }
        const err = e instanceof APIError ? e : e.apiError;
        ctx.status = err.code;
        ctx.body = { error: err.toJSON(), ...(e.result ? { result: e.result } : {}) };
      }
      for (const c of out.cookies) ctx.append('Set-Cookie', c);
      ctx.type = 'application/json';
      return undefined;
    };
  }

  async parseBody(ctx) {
    const ct = (ctx.get('Content-Type') || '').toLowerCase().replace(/\s/g, '');
    if (ct !== 'application/json' && ct !== 'application/json;charset=utf-8') throw E.badRequest();
    let raw;
    try { raw = await readRaw(ctx.req, 1024 * 1024); } catch (e) {
      if (e.tooLarge) throw new APIError('RequestEntityTooLarge', 'RequestEntityTooLarge', 'request entity too large');
      throw e;
    }
    try { return JSON.parse(raw.toString('utf8')); } catch { throw E.invalidJSON(); }
  }

  // ---- state storage ------------------------------------------------------------------------

  save(s) {
    const token = `authflowstate_${randomBase32(32)}`;
    const now = Date.now();
    this.states.set(token, { flowId: s.flowId, state: JSON.stringify(s), exp: now + FLOW_TTL_MS });
    if (!this.flows.has(s.flowId)) this.flows.set(s.flowId, new Set());
    this.flows.get(s.flowId).add(token);
    if (this.states.size % 500 === 0) this.sweep();
    return token;
  }

  load(token) {
    if (typeof token !== 'string' || token === '') throw E.flowNotFound();
    const e = this.states.get(token);
    if (!e || e.exp < Date.now()) throw E.flowNotFound();
    return JSON.parse(e.state);
  }

  deleteFlow(flowId) {
    for (const t of this.flows.get(flowId) || []) this.states.delete(t);
    this.flows.delete(flowId);
  }

  sweep() {
    const now = Date.now();
    for (const [t, e] of this.states) {
      if (e.exp < now) { this.states.delete(t); this.flows.get(e.flowId)?.delete(t); }
    }
  }

  // ---- endpoints ----------------------------------------------------------------------------

  async create(ctx, body, out) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw E.validation([cause('', 'type', { actual: [typeof body], expected: ['object'] })]);
    const missing = ['name', 'type'].filter((k) => body[k] === undefined);
    if (missing.length) throw E.validation([cause('', 'required', { actual: Object.keys(body), expected: ['name', 'type'], missing })]);
    if (!ALL_FLOW_TYPES.includes(body.type)) throw E.validation([cause('/type', 'enum', { actual: body.type, expected: ALL_FLOW_TYPES })]);
    if (typeof body.name !== 'string') throw E.validation([cause('/name', 'type', { actual: [typeof body.name], expected: ['string'] })]);
    if (body.url_query !== undefined && typeof body.url_query !== 'string') throw E.validation([cause('/url_query', 'type', { actual: [typeof body.url_query], expected: ['string'] })]);
    if (body.batch_input !== undefined && (!Array.isArray(body.batch_input) || body.batch_input.length === 0)) {
      throw E.validation([cause('/batch_input', Array.isArray(body.batch_input) ? 'minItems' : 'type', {})]);
    }
    // signup_login finds existing users like login; other flow types are not emulated.
    const type = body.type === 'signup_login' ? 'login' : body.type;
    if (!ORDER[type] || !(this.app.flows[body.type] || []).includes(body.name)) throw E.flowFlowNotFound(body.type);

    const q = new URLSearchParams(body.url_query || '');
    const xref = q.get('x_ref') || ctx.query.x_ref;
    let oauth = null;
    const i = xref ? await this.app.provider.Interaction.find(xref) : undefined;
    if (i) {
      const p = i.params;
      oauth = {
        uid: i.uid,
        client_id: q.get('client_id') || p.client_id,
        redirect_uri: p.redirect_uri,
        state: q.has('state') ? q.get('state') : p.state,
        scope: p.scope || '',
        x_sso_enabled: p.x_sso_enabled,
        id_token_hint: p.x_id_token_hint,
        login_hint: q.get('login_hint') || p.x_login_hint,
      };
    }
    const quirks = this.app.quirks.take();
    const s = {
      flowId: `authflow_${randomBase32(32)}`, type, name: body.name, oauth, quirks,
      step: null, username: null, authns: [], requestDeviceToken: false, unknownShown: false,
    };
    if (quirks.unknown_step && (quirks.unknown_step.at || 'after_primary') === 'start') {
      s.step = 'x_unknown';
      s.unknownShown = true;
    } else if (type === 'reauth' && oauth && oauth.id_token_hint) {
      // Auto-filled identify step from the authorize request's id_token_hint.
      this.identifyByIdToken(s, oauth.id_token_hint);
      s.step = this.next(s, 'identify', ctx, out);
    } else {
      s.step = 'identify';
    }
    return this.run(ctx, s, body.batch_input, out);
  }

  async input(ctx, body, out) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw E.validation([cause('', 'type', { actual: [typeof body], expected: ['object'] })]);
    if (body.state_token === undefined) throw E.validation([cause('', 'required', { actual: Object.keys(body), expected: ['state_token'], missing: ['state_token'] })]);
    const hasInput = body.input !== undefined; const hasBatch = body.batch_input !== undefined;
    if (hasInput === hasBatch) throw E.validation([cause('', 'oneOf', { expected: ['input', 'batch_input'] })]);
    if (hasInput && (typeof body.input !== 'object' || body.input === null || Array.isArray(body.input))) throw E.validation([cause('/input', 'type', { actual: [typeof body.input], expected: ['object'] })]);
    if (hasBatch && (!Array.isArray(body.batch_input) || body.batch_input.length === 0)) throw E.validation([cause('/batch_input', 'minItems', {})]);
    const s = this.load(body.state_token);
    return this.run(ctx, s, hasInput ? [body.input] : body.batch_input, out, body.state_token);
  }

  async get(ctx, body) {
    if (!body || typeof body !== 'object' || body.state_token === undefined) throw E.validation([cause('', 'required', { expected: ['state_token'], missing: ['state_token'] })]);
    const s = this.load(body.state_token);
    return this.response(s, body.state_token);
  }

  // Apply inputs one by one; on failure answer the error with the newest unchanged state.
  async run(ctx, s0, inputs, out, token0) {
    let s = s0;
    let token = token0 || (s.step === 'finished' ? null : this.save(s));
    for (const input of inputs || []) {
      // An input after the flow finished (a batch longer than the flow):
      // the flow is gone, and AuthenticationFlowNotFound carries no state
      // (authgear-protocol.md §3.3).
      if (s.step === 'finished') { this.deleteFlow(s.flowId); throw E.flowNotFound(); }
      const next = JSON.parse(JSON.stringify(s));
      try {
        this.apply(ctx, next, input, out);
      } catch (e) {
        if (e instanceof APIError) e.result = this.response(s, token);
        throw e;
      }
      s = next;
      token = s.step === 'finished' ? `authflowstate_${randomBase32(32)}` : this.save(s);
    }
    if (s.step === 'finished') {
      const resp = this.response(s, token);
      this.deleteFlow(s.flowId);
      return resp;
    }
    return this.response(s, token);
  }

  user(s) { return s.username ? this.app.users.byName(s.username) : undefined; }

  // ---- actions ------------------------------------------------------------------------------

  response(s, token) {
    return { state_token: token, type: s.type, name: s.name, action: this.action(s) };
  }

  action(s) {
    const u = this.user(s);
    switch (s.step) {
      case 'identify': {
        const bot = this.botProtected(s) ? { bot_protection: BOT_PROTECTION } : {};
        return {
          type: 'identify',
          data: { type: 'identification_data', options: (s.type === 'reauth' ? ['id_token'] : this.app.loginIdKeys).map((identification) => ({ identification, ...bot })) },
        };
      }
      case 'authenticate_primary':
      case 'authenticate_secondary':
      case 'reauthenticate':
        if (s.oob) {
          // §3.7: the OOB OTP sub-state after choosing an *_oob_otp_* option
          return {
            type: 'authenticate',
            authentication: s.oob.authentication,
            data: {
              type: 'verify_oob_otp_data', channel: 'email', otp_form: 'code', masked_claim_value: maskEmail(u.email),
              code_length: 6, can_resend_at: new Date((s.oob.sentAt + 60) * 1000).toISOString().replace('.000Z', 'Z'),
              can_check: false, failed_attempt_rate_limit_exceeded: false, delivery_status: 'sent',
            },
          };
        }
        return {
          type: 'authenticate',
          data: {
            type: 'authentication_data',
            options: this.options(s, u),
            device_token_enabled: s.step !== 'reauthenticate' && hasSecondary(u),
          },
        };
      case 'change_password':
        return {
          type: 'change_password',
          data: {
            type: 'new_password_data',
            password_policy: {
              minimum_length: MIN_PASSWORD, uppercase_required: false, lowercase_required: false,
              alphabet_required: false, digit_required: false, symbol_required: false,
              minimum_zxcvbn_score: 0, history: { enabled: false },
            },
            force_change_reason: 'expiry',
          },
        };
      case 'terminate_other_sessions':
        return { type: 'terminate_other_sessions', data: {} };
      case 'prompt_create_passkey':
        return {
          type: 'prompt_create_passkey',
          data: {
            type: 'create_passkey_data',
            creation_options: {
              publicKey: {
                challenge: randomAlnum(43), rp: { id: '127.0.0.1', name: 'pam_authgear test IdP' },
                user: { id: Buffer.from(u.sub).toString('base64url'), name: u.username, displayName: u.username },
                pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -257 }],
                timeout: 300000, attestation: 'direct',
              },
            },
            allow_do_not_ask_again: true,
          },
        };
      case 'x_unknown':
        return { type: s.quirks.unknown_step.type || 'x_unknown_step', data: {} };
      case 'finished':
        return { type: 'finished', data: s.finishRedirectUri ? { finish_redirect_uri: s.finishRedirectUri } : {} };
      default:
        throw new Error(`bad step ${s.step}`);
    }
  }

  // The options of an authenticate step (§3.6): only what the user has, primary_password always.
  options(s, u) {
    const oob = hasOobOtpEmail(u) ? [{
      authentication: 'secondary_oob_otp_email', otp_form: 'code', masked_display_name: maskEmail(u.email), channels: ['email'],
    }] : [];
    const totp = hasTotp(u) ? [{ authentication: 'secondary_totp' }] : [];
    if (s.step === 'authenticate_primary') return [{ authentication: 'primary_password' }];
    if (s.step === 'authenticate_secondary') {
      return [...totp, ...oob, ...(u.recovery_codes.length ? [{ authentication: 'recovery_code' }] : [])];
    }
    return [...(u.password ? [{ authentication: 'primary_password' }] : []), ...totp, ...oob];
  }

  optionNames(s, u) { return this.options(s, u).map((o) => o.authentication); }

  botProtected(s) { return s.type === 'login' && this.app.flows.bot_protection.includes(s.name) && !s.botVerified; }

  // A new email OTP code for u ("sent": GET /otp/NAME reads it).
  sendOtp(s, u, authentication) {
    const code = String(crypto.randomInt(0, 1000000)).padStart(6, '0');
    this.app.otpCodes.set(u.username, code);
    s.oob = { authentication, sentAt: epoch() };
  }

  // Move from step `from` to the next step that applies; invisible steps run here.
  next(s, from, ctx, out) {
    const u = this.user(s);
    const uq = s.quirks.unknown_step;
    if (uq && !s.unknownShown && from === (uq.at === 'after_identify' ? 'identify' : 'authenticate_primary')) {
      s.unknownShown = true;
      return 'x_unknown';
    }
    const order = ORDER[s.type];
    for (let i = order.indexOf(from) + 1; i < order.length; i += 1) {
      const step = order[i];
      switch (step) {
        case 'authenticate_secondary':
          if (!hasSecondary(u) || s.quirks.skip_second_factor) break;
          if (this.deviceTokenValid(ctx, u)) { s.authns.push('device_token'); break; }
          return step;
        case 'change_password':
          if (u.password_expired && s.authns.includes('primary_password')) return step;
          break;
        case 'check_account_status':
          if (!accountUsable(u)) throw E.disabled(u.disabled_reason, s.type);
          break;
        case 'terminate_other_sessions': {
          const c = s.oauth && this.app.clients.get(s.oauth.client_id);
          if (c && c.x_max_concurrent_session === 1 && this.app.store.grantsOf(u.sub, c.client_id).length > 0) return step;
          break;
        }
        case 'prompt_create_passkey':
          if (u.prompt_create_passkey || s.quirks.prompt_create_passkey) return step;
          break;
        case 'finished':
          this.finish(s, ctx, out);
          return step;
        default:
          return step;
      }
    }
    throw new Error('flow ran off its end');
  }

  deviceTokenValid(ctx, u) {
    const t = parseCookies(ctx.get('Cookie')).mfa_device_token;
    const e = t && this.app.deviceTokens.get(t);
    return !!(e && e.sub === u.sub && e.exp > epoch());
  }

  finish(s, ctx, out) {
    const u = this.user(s);
    const amr = collectAMR(s.authns);
    const authTime = epoch();
    this.app.limits.succeeded(u);
    if (s.oauth) {
      const code = randomAlnum(32);
      let reuseGrantId;
      if (s.type === 'reauth' && s.hintSid && !s.oauth.scope.split(' ').includes('offline_access')) {
        const grantId = this.app.grantIdFromSid(s.hintSid);
        const g = grantId && this.app.store.model('Grant').get(grantId);
        if (g && g.payload.accountId === u.sub && g.payload.clientId === s.oauth.client_id) reuseGrantId = grantId;
      }
      this.app.authInfos.set(code, {
        uid: s.oauth.uid, sub: u.sub, amr, authTime, exp: epoch() + 300, reuseGrantId, consentQuirk: s.quirks.consent_location,
      });
      s.finishRedirectUri = `${this.app.issuer}/oauth2/consent?${sortedQuery({
        client_id: s.oauth.client_id, code, redirect_uri: s.oauth.redirect_uri, state: s.oauth.state,
      })}`;
    }
    if (s.type === 'login') {
      const suppressed = s.oauth && s.oauth.x_sso_enabled !== undefined && s.oauth.x_sso_enabled !== 'true';
      if (!suppressed) {
        const token = randomAlnum(32);
        this.app.idpSessions.set(token, { sub: u.sub, amr, authTime });
        out.cookies.push(`session=${token}; Path=/; Max-Age=31449600; HttpOnly; Secure; SameSite=Lax`);
        out.cookies.push('same_site_strict=true; Path=/; HttpOnly; Secure; SameSite=Strict');
      }
      if (s.requestDeviceToken) {
        const token = randomAlnum(32);
        this.app.deviceTokens.set(token, { sub: u.sub, exp: epoch() + 30 * 86400 });
        out.cookies.push(`mfa_device_token=${token}; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Strict`);
      }
    }
  }

  identifyByIdToken(s, idToken) {
    const v = typeof idToken === 'string' ? this.app.keys.verify(idToken) : null;
    if (!v || v.payload.iss !== this.app.issuer) throw E.invalidIdToken();
    const u = this.app.users.bySub(v.payload.sub);
    if (!u) throw E.userNotFound('id_token', s.type);
    s.username = u.username;
    s.hintSid = v.payload.sid;
  }

  // ---- inputs -------------------------------------------------------------------------------

  apply(ctx, s, input, out) {
    if (!input || typeof input !== 'object' || Array.isArray(input)) throw E.validation([cause('', 'type', { actual: [typeof input], expected: ['object'] })], s.type);
    const ip = ctx.ip;
    const u = this.user(s);
    const need = (...keys) => {
      const missing = keys.filter((k) => input[k] === undefined);
      if (missing.length) throw E.validation([cause('', 'required', { actual: Object.keys(input), expected: keys, missing })], s.type);
      for (const k of keys) {
        if (typeof input[k] !== 'string') throw E.validation([cause(`/${k}`, 'type', { actual: [typeof input[k]], expected: ['string'] })], s.type);
      }
    };
    const choose = (key, offered) => {
      if (input[key] === undefined) throw E.validation([cause('', 'required', { actual: Object.keys(input), expected: [key], missing: [key] })], s.type);
      if (!offered.includes(input[key])) throw E.validation([cause(`/${key}`, 'enum', { actual: input[key], expected: offered })], s.type);
      return input[key];
    };
    const deviceTokenFlag = () => {
      if (input.request_device_token === undefined) return;
      if (typeof input.request_device_token !== 'boolean') throw E.validation([cause('/request_device_token', 'type', { actual: [typeof input.request_device_token], expected: ['boolean'] })], s.type);
      if (input.request_device_token && (s.step === 'reauthenticate' || !hasSecondary(u))) {
        throw E.validation([cause('/request_device_token', 'const', { expected: false })], s.type);
      }
      if (input.request_device_token) s.requestDeviceToken = true;
    };
    const verify = (kind, ok) => {
      this.app.limits.beforeVerify(u, kind, ip, s.type);
      if (!ok()) {
        const locked = this.app.limits.failed(u, kind, ip, s.type);
        throw locked || E.invalidCredentials(kind, s.type);
      }
    };

    // §3.13: an option that requires bot protection needs its response in the input
    if (s.step === 'identify' && this.botProtected(s)) {
      if (input.bot_protection === undefined) {
        throw E.validation([cause('', 'required', { actual: Object.keys(input), expected: ['bot_protection'], missing: ['bot_protection'] })], s.type);
      }
      const bp = input.bot_protection;
      if (!bp || typeof bp !== 'object' || bp.type !== 'cloudflare' || typeof bp.response !== 'string') {
        throw E.validation([cause('/bot_protection', 'type', { expected: ['{"type":"cloudflare","response":string}'] })], s.type);
      }
      if (bp.response !== BOT_PASS) throw E.botProtectionFailed(s.type);
      s.botVerified = true;
    }
    if ((s.step === 'authenticate_secondary' || s.step === 'reauthenticate') && s.oob) {
      // §3.7 inputs: {"code"} or {"resend": true}
      if (input.resend === true) { this.sendOtp(s, u, s.oob.authentication); return; }
      need('code');
      if (s.step === 'authenticate_secondary') deviceTokenFlag();
      verify('oob_otp_email', () => this.app.otpCodes.get(u.username) === input.code);
      this.app.otpCodes.delete(u.username);
      s.authns.push(s.oob.authentication);
      s.oob = null;
      s.step = this.next(s, s.step, ctx, out);
      return;
    }
    switch (s.step) {
      case 'identify': {
        if (s.type === 'reauth') {
          choose('identification', ['id_token']);
          need('id_token');
          this.identifyByIdToken(s, input.id_token);
        } else {
          const idf = choose('identification', this.app.loginIdKeys);
          need('login_id');
          const v = input.login_id;
          if (idf === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) throw invalidLoginId('email', s.type);
          if (idf === 'phone' && !/^\+[1-9]\d{6,14}$/.test(v)) throw invalidLoginId('phone', s.type);
          this.app.limits.enumeration(ip);
          const found = this.app.users.byLoginId(idf, v);
          if (!found) { this.app.limits.enumerationFailed(ip); throw E.userNotFound(idf, s.type); }
          const hint = parseLoginHint(s.oauth && s.oauth.login_hint);
          if (hint && hint.enforce && hint.value && this.app.users.byLoginId(hint.kind, hint.value) !== found) throw E.differentUser(s.type);
          s.username = found.username;
        }
        s.step = this.next(s, 'identify', ctx, out);
        return;
      }
      case 'authenticate_primary': {
        choose('authentication', this.optionNames(s, u));
        need('password');
        deviceTokenFlag();
        verify('password', () => !!u.password && input.password === u.password);
        s.authns.push('primary_password');
        s.step = this.next(s, 'authenticate_primary', ctx, out);
        return;
      }
      case 'authenticate_secondary':
      case 'reauthenticate': {
        const a = choose('authentication', this.optionNames(s, u));
        if (s.step === 'reauthenticate' && input.request_device_token !== undefined) {
          throw E.validation([cause('/request_device_token', 'additionalProperties', {})], s.type);
        }
        if (a === 'secondary_oob_otp_email') {
          // §3.6: index = the option's position (one channel, so no "channel")
          const at = this.optionNames(s, u).indexOf(a);
          if (input.index !== at) throw E.validation([cause('/index', input.index === undefined ? 'required' : 'const', { expected: at })], s.type);
          this.sendOtp(s, u, a);
          return;
        }
        if (a === 'primary_password') {
          need('password');
          verify('password', () => input.password === u.password);
        } else if (a === 'secondary_totp') {
          need('code');
          if (s.step === 'authenticate_secondary') deviceTokenFlag();
          verify('totp', () => verifyTotp(u.totp_secret, input.code));
        } else {
          need('recovery_code');
          deviceTokenFlag();
          const rc = normaliseRecoveryCode(input.recovery_code);
          verify('recovery_code', () => u.recovery_codes.includes(rc));
          u.recovery_codes = u.recovery_codes.filter((c) => c !== rc);
        }
        s.authns.push(a);
        s.step = this.next(s, s.step, ctx, out);
        return;
      }
      case 'change_password': {
        need('new_password');
        if ([...input.new_password].length < MIN_PASSWORD) {
          throw E.passwordPolicy([{ Name: 'PasswordTooShort', Info: { min_length: MIN_PASSWORD, pw_length: [...input.new_password].length } }], s.type);
        }
        u.password = input.new_password;
        u.password_expired = false;
        s.step = this.next(s, 'change_password', ctx, out);
        return;
      }
      case 'terminate_other_sessions': {
        if (input.confirm_terminate_other_sessions !== true) throw E.validation([cause('/confirm_terminate_other_sessions', 'const', { expected: true })], s.type);
        for (const g of this.app.store.grantsOf(u.sub, s.oauth.client_id)) this.app.store.revokeGrant(g);
        s.step = this.next(s, 'terminate_other_sessions', ctx, out);
        return;
      }
      case 'prompt_create_passkey': {
        if (input.skip !== true) {
          throw E.validation([cause('', 'oneOf', { note: 'the test IdP accepts only {"skip": true} here' })], s.type);
        }
        if (input.do_not_ask_again === true) u.prompt_create_passkey = false;
        s.step = this.next(s, 'prompt_create_passkey', ctx, out);
        return;
      }
      case 'x_unknown':
        throw E.validation([cause('', 'oneOf', {})], s.type);
      default:
        throw E.flowNotFound();
    }
  }
}

function invalidLoginId(format, flowType) {
  const e = E.validation([cause('/login_id', 'format', { format })], flowType);
  e.message = 'invalid login ID';
  return e;
}

// https://authgear.com/login_hint?type=login_id&username=alice&enforce=true
function parseLoginHint(h) {
  if (!h) return null;
  try {
    const q = new URL(h).searchParams;
    if (q.get('type') !== 'login_id') return null;
    const kind = ['email', 'phone', 'username'].find((k) => q.has(k));
    return kind ? { kind, value: q.get(kind), enforce: q.get('enforce') === 'true' } : null;
  } catch { return null; }
}
