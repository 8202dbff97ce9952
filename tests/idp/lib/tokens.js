// Token endpoint shaping (authgear-protocol.md §5, §6): Authgear's token formats, ID token claims
// re-signed with the IdP's own key set, opaque or at+jwt access tokens, no refresh_token on
// refresh without rotation; plus /oauth2/revoke, /oauth2/userinfo, /_resolver/resolve and
// /oauth2/end_session, which are answered here without oidc-provider.
import crypto from 'node:crypto';
import { craftJwt } from './craft.js';
import { DEVICE_GT } from './discovery.js';
import { accountUsable, userClaims } from './users.js';
import {
  b64url, epoch, randomAlnum, readForm, sha256hex,
} from './util.js';

const AG = 'https://authgear.com/claims/user/';

function oauthError(ctx, status, error, description) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  ctx.body = { error, error_description: description };
}

export class Tokens {
  constructor(app) {
    this.app = app;
    this.at = new Map(); // opaque alias -> { raw, sub, clientId, grantId, authTime, amr }
    this.jti = new Map(); // sha256hex(alias) -> alias
    this.rt = new Map(); // "<grant uuid>.<secret>" -> { raw, grantId, sub }, in issue order
    this.crafted = []; // queued crafted id_token specs
  }

  // ---- /oauth2/token -----------------------------------------------------------------------

  tokenMiddleware() {
    return async (ctx, next) => {
      if (ctx.path !== '/oauth2/token' || ctx.method !== 'POST') return next();
      const { app } = this;
      const form = await readForm(ctx);
      if (app.limits.tokenRequest(ctx.ip)) return oauthError(ctx, 429, 'x_rate_limited', 'rate limited');
      let clientId = form.client_id;
      let secret = form.client_secret;
      if (!clientId && !form.client_secret) {
        // both absent from the body: HTTP Basic (RFC 6749 App. B url-decoding), as Authgear
        const m = /^Basic\s+(.+)$/i.exec(ctx.get('Authorization') || '');
        if (m) {
          const [id, ...rest] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
          const dec = (v) => { try { return decodeURIComponent(v.replace(/\+/g, ' ')); } catch { return v; } };
          clientId = dec(id);
          secret = rest.length ? dec(rest.join(':')) : undefined;
        }
      }
      if (!app.clients.has(clientId)) return oauthError(ctx, 400, 'invalid_client', 'invalid client ID');
      // §5.1: a confidential client must send its secret (a public client's is ignored)
      const want = app.clients.get(clientId).client_secret;
      if (want) {
        if (typeof secret !== 'string' || secret === '') return oauthError(ctx, 400, 'invalid_client', 'client secret is required');
        const a = Buffer.from(secret); const b = Buffer.from(want);
        if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) return oauthError(ctx, 400, 'invalid_request', 'invalid client secret');
        // oidc-provider reads the client's credentials from the body (client_secret_post)
        form.client_id = clientId;
        form.client_secret = secret;
        delete ctx.req.headers.authorization;
      }
      const P = app.provider;
      let sub;
      if (form.grant_type === 'refresh_token') {
        const e = typeof form.refresh_token === 'string' ? this.rt.get(form.refresh_token) : undefined;
        const m = e && await P.RefreshToken.find(e.raw, { ignoreExpiration: true });
        if (!m || m.consumed || m.isExpired) return oauthError(ctx, 400, 'invalid_grant', 'invalid refresh token');
        if (m.clientId !== clientId) return oauthError(ctx, 400, 'invalid_request', "client id doesn't match the refresh token");
        if (!accountUsable(app.users.bySub(m.accountId)) || !await P.Grant.find(m.grantId)) {
          return oauthError(ctx, 400, 'invalid_grant', 'invalid refresh token');
        }
        sub = m.accountId;
        form.refresh_token = e.raw;
      } else if (form.grant_type === 'authorization_code') {
        const c = typeof form.code === 'string' ? await P.AuthorizationCode.find(form.code, { ignoreExpiration: true }) : undefined;
        if (!c || c.consumed || c.isExpired || c.clientId !== clientId) return oauthError(ctx, 400, 'invalid_grant', 'invalid authorization code');
        if (c.redirectUri !== form.redirect_uri) return oauthError(ctx, 400, 'invalid_request', 'invalid redirect URI');
        sub = c.accountId;
      } else if (form.grant_type === DEVICE_GT && app.opts.device) {
        if (await app.device.beforePoll(ctx, form)) return undefined;
      } else if (form.grant_type !== DEVICE_GT || !app.opts.device) {
        return oauthError(ctx, 400, 'unsupported_grant_type', `unsupported grant type: ${form.grant_type || ''}`);
      }
      if (sub && app.limits.tokenUser(sub)) return oauthError(ctx, 429, 'x_rate_limited', 'rate limited');

      await next();

      ctx.set('Cache-Control', 'no-store');
      ctx.set('Pragma', 'no-cache');
      if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
        ctx.body = this.shapeTokenResponse(ctx, form);
      } else if (ctx.body && typeof ctx.body === 'object' && ctx.body.error) {
        const b = ctx.body;
        if (b.error === 'invalid_client') { ctx.status = 400; b.error_description = 'invalid client ID'; }
        if (b.error === 'invalid_grant') {
          b.error_description = { refresh_token: 'invalid refresh token', authorization_code: 'invalid authorization code' }[form.grant_type] || b.error_description;
        }
        ctx.body = { error: b.error, error_description: b.error_description };
      }
      return undefined;
    };
  }

  grantUuid(grantId) {
    const { app } = this;
    if (!app.grantUuids.has(grantId)) {
      const u = crypto.randomUUID();
      app.grantUuids.set(grantId, u);
      app.uuidGrants.set(u, grantId);
    }
    return app.grantUuids.get(grantId);
  }

  shapeTokenResponse(ctx, form) {
    const { app } = this;
    const ent = ctx.oidc.entities;
    const src = ent.AuthorizationCode || ent.RefreshToken || ent.DeviceCode;
    const raw = ctx.body;
    const clientId = ent.Client.clientId;
    const client = app.clients.get(clientId);
    const u = app.users.bySub(src.accountId);
    const { grantId } = src;
    const gid = this.grantUuid(grantId);
    const scopes = String(src.scope || '').split(' ');
    const authTime = src.authTime;
    const amr = src.amr && src.amr.length ? [...src.amr] : undefined;
    const now = epoch();
    const out = {};

    // access token: 32-char opaque alias, or an at+jwt wrapping it
    const alias = randomAlnum(32);
    this.at.set(alias, { raw: raw.access_token, sub: u.sub, clientId, grantId, authTime, amr });
    out.access_token = alias;
    if (client.issue_jwt_access_token) {
      const jti = sha256hex(alias);
      this.jti.set(jti, alias);
      out.access_token = app.keys.sign({
        iss: app.issuer, aud: [app.issuer], iat: now, exp: now + raw.expires_in,
        client_id: clientId, scope: scopes.filter(Boolean).join(' '), auth_time: authTime,
        ...(amr ? { amr } : {}), jti, ...userClaims(u),
      }, 'at+jwt');
    }
    out.token_type = 'Bearer';
    out.expires_in = raw.expires_in;

    // refresh token: "<grant uuid>.<secret>"; omitted on refresh unless the client rotates
    if (raw.refresh_token && !(form.grant_type === 'refresh_token' && !ent.RotatedRefreshToken)) {
      const rtAlias = `${gid}.${randomAlnum(32)}`;
      this.rt.set(rtAlias, { raw: raw.refresh_token, grantId, sub: u.sub });
      out.refresh_token = rtAlias;
    }

    if (raw.id_token) {
      const orig = JSON.parse(Buffer.from(raw.id_token.split('.')[1], 'base64url').toString('utf8'));
      // The sid names the offline grant when the grant has one (also for a reauth on it).
      const grantScopes = ent.Grant && typeof ent.Grant.getOIDCScope === 'function' ? ent.Grant.getOIDCScope().split(' ') : scopes;
      const sidKind = grantScopes.includes('offline_access') ? 'offline_grant' : 'idp';
      const claims = {
        iss: app.issuer, aud: [clientId], iat: now, exp: now + 300, auth_time: authTime,
        sid: b64url(`${sidKind}:${gid}`),
        ...(amr ? { amr } : {}),
        ...(form.grant_type !== 'refresh_token' && orig.nonce !== undefined ? { nonce: orig.nonce } : {}),
        ...userClaims(u),
      };
      const i = this.crafted.findIndex((c) => !c.grant_type || c.grant_type === form.grant_type);
      if (i >= 0) {
        const [spec] = this.crafted.splice(i, 1);
        out.id_token = spec.jwt || craftJwt(app, spec, claims);
      } else {
        out.id_token = app.keys.sign(claims);
      }
    }
    return out;
  }

  // ---- access-token resolution (userinfo, resolver) ------------------------------------------

  async resolveAccessToken(token) {
    const { app } = this;
    let alias = token;
    if (token.split('.').length === 3) {
      const v = app.keys.verify(token);
      if (!v || v.header.typ !== 'at+jwt' || !(v.payload.exp > epoch())) return null;
      const aud = Array.isArray(v.payload.aud) ? v.payload.aud : [v.payload.aud];
      if (!aud.includes(app.issuer)) return null;
      alias = this.jti.get(v.payload.jti);
      if (!alias) return null;
    }
    const e = this.at.get(alias);
    if (!e) return null;
    const at = await app.provider.AccessToken.find(e.raw);
    if (!at || !await app.provider.Grant.find(at.grantId)) return null;
    const user = app.users.bySub(at.accountId);
    if (!accountUsable(user)) return null;
    return { user, amr: e.amr || [], authTime: e.authTime };
  }

  // ---- /oauth2/revoke, /oauth2/userinfo, /_resolver/resolve, /oauth2/end_session ---------------

  otherMiddleware() {
    return async (ctx, next) => {
      switch (ctx.path) {
        case '/oauth2/revoke': return this.revoke(ctx);
        case '/oauth2/userinfo': return this.userinfo(ctx);
        case '/_resolver/resolve': case '/resolve': return this.resolve(ctx); // §7: both paths
        case '/oauth2/end_session': return this.endSession(ctx);
        case '/_internals/oauth_entrypoint':
          ctx.type = 'text/html; charset=utf-8';
          ctx.body = '<!DOCTYPE html><html><body><p>The pam_authgear test IdP has no login UI. '
            + 'Drive the Authentication Flow API with this page\'s query string as url_query.</p></body></html>';
          return undefined;
        default: return next();
      }
    };
  }

  async revoke(ctx) {
    if (ctx.method !== 'POST') { ctx.status = 405; return; }
    const { app } = this;
    const form = await readForm(ctx);
    const t = form.token;
    const r = typeof t === 'string' ? this.rt.get(t) : undefined;
    if (r) {
      const m = await app.provider.RefreshToken.find(r.raw, { ignoreExpiration: true });
      // Authgear matches only the grant's current token; a rotated-away token revokes nothing.
      if (m && !m.consumed) app.store.revokeGrant(m.grantId);
    } else if (typeof t === 'string' && this.at.has(t)) {
      const e = this.at.get(t);
      const at = await app.provider.AccessToken.find(e.raw);
      if (at) await at.destroy();
      this.at.delete(t);
    }
    // A JWT access token is parsed as "<grant>.<token>", found nowhere: a no-op, like Authgear.
    ctx.status = 200;
    ctx.body = '';
  }

  bearer(ctx) {
    const m = /^Bearer\s+(\S+)$/i.exec(ctx.get('Authorization') || '');
    return m ? m[1] : null;
  }

  async userinfo(ctx) {
    if (!['GET', 'POST'].includes(ctx.method)) { ctx.status = 405; return; }
    const t = this.bearer(ctx);
    const r = t ? await this.resolveAccessToken(t) : null;
    if (!r) {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_grant", error_description="invalid session"');
      ctx.type = 'application/json';
      ctx.body = { error: 'invalid_grant', error_description: 'invalid session' };
      return;
    }
    const u = r.user;
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/json';
    ctx.body = {
      ...userClaims(u),
      // standard attributes from the user's identities (§5.5): each claim's own verification,
      // preferred_username only for a username login ID
      ...(u.email ? { email: u.email, email_verified: u.email_verified } : {}),
      ...(u.phone ? { phone_number: u.phone, phone_number_verified: u.phone_verified } : {}),
      ...(u.username_identity ? { preferred_username: u.username } : {}),
      custom_attributes: u.custom_attributes,
      x_web3: {},
    };
  }

  async resolve(ctx) {
    if (!['GET', 'HEAD'].includes(ctx.method)) { ctx.status = 405; return; }
    const { app } = this;
    const t = this.bearer(ctx);
    const cookie = /(?:^|;\s*)session=([^;]+)/.exec(ctx.get('Cookie') || '');
    let r = null;
    if (t) r = await this.resolveAccessToken(t);
    if (!r && cookie) {
      const s = app.idpSessions.get(cookie[1]);
      const user = s && app.users.bySub(s.sub);
      if (accountUsable(user)) r = { user, amr: s.amr, authTime: s.authTime };
    }
    ctx.body = null; // Koa: null body means 204 unless the status is set afterwards
    ctx.status = 200;
    if (!t && !cookie) return;
    ctx.set('X-Authgear-Session-Valid', r ? 'true' : 'false');
    if (!r) return;
    // hook POST /resolver/as: a valid session answered as another user (a resolver that mixed up sessions)
    if (app.resolverAs) r = { ...r, user: app.users.byName(app.resolverAs) || r.user };
    const c = userClaims(r.user);
    ctx.set('X-Authgear-User-Id', r.user.sub);
    ctx.set('X-Authgear-User-Anonymous', String(c[`${AG}is_anonymous`]));
    ctx.set('X-Authgear-User-Verified', String(c[`${AG}is_verified`]));
    ctx.set('X-Authgear-User-Can-Reauthenticate', String(c[`${AG}can_reauthenticate`]));
    if (r.user.roles.length) ctx.set('X-Authgear-User-Roles', r.user.roles.join(','));
    ctx.set('X-Authgear-Session-Amr', (r.amr || []).join(' '));
    if (r.authTime) ctx.set('X-Authgear-Session-Authenticated-At', String(r.authTime));
  }

  // Simplified RP-initiated logout: no confirmation page; ends the IdP cookie session if any and
  // redirects to a registered post_logout_redirect_uri (with state) or shows a plain page.
  async endSession(ctx) {
    if (!['GET', 'POST'].includes(ctx.method)) { ctx.status = 405; return; }
    const { app } = this;
    const p = { ...ctx.query, ...(ctx.method === 'POST' ? await readForm(ctx) : {}) };
    const cookie = /(?:^|;\s*)session=([^;]+)/.exec(ctx.get('Cookie') || '');
    if (cookie) {
      app.idpSessions.delete(cookie[1]);
      ctx.append('Set-Cookie', 'session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax');
    }
    let clientId = p.client_id;
    if (!clientId && p.id_token_hint) {
      const v = app.keys.verify(p.id_token_hint);
      if (v) clientId = Array.isArray(v.payload.aud) ? v.payload.aud[0] : v.payload.aud;
    }
    const client = app.clients.get(clientId);
    const target = p.post_logout_redirect_uri;
    if (target && client && client.redirect_uris.includes(target)) {
      const u = new URL(target);
      if (p.state) u.searchParams.set('state', p.state);
      ctx.status = 302;
      ctx.set('Location', u.toString());
      return;
    }
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = '<!DOCTYPE html><html><body><p>You have been logged out.</p></body></html>';
  }
}
