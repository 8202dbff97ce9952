// /oauth2/authorize with Authgear's validation and its 302 + x_ref redirect (authgear-protocol.md §2).
import { SCOPES_SUPPORTED } from './discovery.js';
import { readForm, sortedQuery } from './util.js';

export function htmlRedirectBody(url) {
  const u = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>\n<html><head><meta http-equiv="refresh" content="0;url=${u}"></head>`
    + `<body><script nonce="">window.location.href = ${JSON.stringify(url).replace(/</g, '\\u003c')}</script></body></html>`;
}

// Authgear oauth.WriteResponse for query mode: 303 + Location + tiny HTML;
// a client with a Custom UI URI (x_custom_ui_uri) gets 200 and the HTML only
// (UseHTTP200, authgear-protocol.md §2.5).
export function redirectTo(ctx, url, status = 303, client = undefined) {
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = htmlRedirectBody(url);
  if (client && client.x_custom_ui_uri && status === 303) {
    ctx.status = 200;
    ctx.remove('Location');
    return;
  }
  ctx.status = status;
  ctx.set('Location', url);
}

export function redirectError(ctx, redirectUri, error, description, state, client = undefined) {
  const u = new URL(redirectUri);
  const q = new URLSearchParams(u.search);
  q.set('error', error);
  if (description) q.set('error_description', description);
  if (state) q.set('state', state);
  q.sort();
  u.search = q.toString();
  redirectTo(ctx, u.toString(), 303, client);
}

export function fatal(ctx, error, description) {
  ctx.status = 400;
  ctx.type = 'text/plain; charset=utf-8';
  ctx.body = `Invalid OAuth authorization request:\nerror: ${error}\nerror_description: ${description}`;
}

export function interactionUrl(ctx, interaction) {
  const p = interaction.params;
  return `/_internals/oauth_entrypoint?${sortedQuery({
    client_id: p.client_id, redirect_uri: p.redirect_uri, state: p.state, x_state: p.x_state,
    ui_locales: p.ui_locales, x_ref: interaction.uid, x_settings_action_id: '',
  })}`;
}

export function authorizeMiddleware(app) {
  return async (ctx, next) => {
    if (ctx.path !== '/oauth2/authorize' || !['GET', 'POST'].includes(ctx.method)) return next();
    const q = new URLSearchParams(ctx.querystring);
    if (ctx.method === 'POST') {
      const form = await readForm(ctx);
      for (const [k, v] of Object.entries(form)) if (!q.has(k)) q.set(k, v);
      ctx.method = 'GET';
    }
    const get = (k) => q.get(k) ?? undefined; // first value only
    for (const k of new Set(q.keys())) q.set(k, q.get(k));

    const client = app.clients.get(get('client_id'));
    if (!client) return fatal(ctx, 'unauthorized_client', 'invalid client ID');
    let redirectUri = get('redirect_uri');
    if (redirectUri === undefined) {
      if (client.redirect_uris.length !== 1) return fatal(ctx, 'invalid_request', 'redirect URI is required');
      redirectUri = client.redirect_uris[0];
      q.set('redirect_uri', redirectUri);
    }
    if (!client.redirect_uris.includes(redirectUri)) return fatal(ctx, 'invalid_request', 'redirect URI is not allowed');
    const state = get('state');
    const fail = (e, d) => redirectError(ctx, redirectUri, e, d, state, client);

    if (get('response_type') !== 'code') return fail('unsupported_response_type', 'only "code" response type is supported by the test IdP');
    const scope = get('scope');
    if (!scope) return fail('invalid_request', 'scope is required');
    const scopes = scope.split(' ').filter(Boolean);
    for (const s of scopes) if (!SCOPES_SUPPORTED.includes(s)) return fail('invalid_scope', `specified scope is not allowed: ${s}`);
    if (!scopes.includes('openid')) return fail('invalid_scope', "must request 'openid' scope");
    if (!get('code_challenge')) return fail('invalid_request', 'PKCE code challenge is required for public clients');
    if (get('code_challenge_method') !== 'S256') return fail('invalid_request', "only 'S256' PKCE transform is supported");
    const prompt = new Set((get('prompt') || '').split(' ').filter(Boolean));
    if (prompt.has('none')) {
      if (prompt.size > 1 || get('max_age') !== undefined) return fail('invalid_request', 'prompt=none cannot be used with other prompt values or max_age');
      return fail('login_required', 'authentication required');
    }
    if (get('max_age') !== undefined && !/^\d+$/.test(get('max_age'))) return fail('invalid_request', 'invalid max_age');
    const loginHint = get('login_hint');
    if (loginHint !== undefined) {
      if (!loginHint.startsWith('https://authgear.com/login_hint?')) return fail('invalid_request', `invalid login_hint: ${loginHint}`);
      q.delete('login_hint');
      q.set('x_login_hint', loginHint);
    }
    const hint = get('id_token_hint');
    if (hint !== undefined) {
      // Authgear checks the signature only (not exp, not aud). oidc-provider never sees the hint.
      if (!app.keys.verify(hint)) return fail('invalid_request', 'invalid id_token_hint');
      q.delete('id_token_hint');
      q.set('x_id_token_hint', hint);
    }
    if (get('x_sso_enabled') === 'true' && client.x_max_concurrent_session === 1) {
      return fail('invalid_request', 'x_sso_enabled is not allowed when x_max_concurrent_session is 1');
    }
    // oidc-provider drops offline_access unless prompt contains consent; Authgear has no such rule.
    if (scopes.includes('offline_access') && !prompt.has('consent')) {
      prompt.add('consent');
      q.set('prompt', [...prompt].join(' '));
    }
    ctx.querystring = q.toString();
    await next();

    const loc = ctx.response.get('Location');
    if (!loc) return undefined;
    const url = new URL(loc, app.issuer);
    if (url.searchParams.has('x_ref')) {
      // A Custom UI URI replaces the built-in UI's address, same query.
      const ui = client.x_custom_ui_uri ? new URL(client.x_custom_ui_uri) : url;
      if (ui !== url) url.searchParams.forEach((v, k) => ui.searchParams.set(k, v));
      const abs = ui.toString();
      ctx.remove('Set-Cookie');
      ctx.append('Set-Cookie', `oauth_ui=${url.searchParams.get('x_ref')}; Path=/; Secure; HttpOnly; SameSite=None`);
      redirectTo(ctx, abs, 302);
    } else {
      url.searchParams.delete('iss');
      redirectTo(ctx, url.toString(), 303, client);
      ctx.remove('Set-Cookie');
    }
    return undefined;
  };
}
