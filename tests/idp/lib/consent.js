// GET /oauth2/consent: turns the flow's authentication-info code into the OAuth code (§3.10),
// cookie-less: the interaction result is saved and oidc-provider's resume route is re-entered
// with a forged resume cookie (oidc-provider-notes.md §4).
import { fatal, redirectError, redirectTo } from './authorize.js';
import { epoch } from './util.js';

export function consentMiddleware(app) {
  return async (ctx, next) => {
    if (ctx.path !== '/oauth2/consent' || !['GET', 'POST'].includes(ctx.method)) return next();
    const q = ctx.query;
    const client = app.clients.get(q.client_id);
    const canRedirect = client && typeof q.redirect_uri === 'string' && client.redirect_uris.includes(q.redirect_uri);
    const fail = (desc) => (canRedirect
      ? redirectError(ctx, q.redirect_uri, 'invalid_request', desc, q.state, client)
      : fatal(ctx, 'invalid_request', desc));

    const info = app.authInfos.get(q.code);
    if (!info || info.exp < epoch()) return fail('authentication expired');
    app.authInfos.delete(q.code); // single use
    const provider = app.provider;
    const i = await provider.Interaction.find(info.uid);
    if (!i) return fail('oauth session expired');
    i.result = {
      login: { accountId: info.sub, amr: info.amr, ts: info.authTime, remember: false },
      consent: info.reuseGrantId ? { grantId: info.reuseGrantId } : {},
    };
    await i.save(Math.max(1, i.exp - epoch()));
    ctx.req.headers.cookie = `${provider.cookieName('resume')}=${i.uid}`;
    ctx.method = 'GET';
    ctx.url = new URL(i.returnTo).pathname;
    await next();

    ctx.remove('Set-Cookie');
    const loc = ctx.response.get('Location');
    if (!loc) return undefined; // device flow resume answers 200 HTML
    const url = new URL(loc, app.issuer);
    if (url.searchParams.has('x_ref')) {
      app.log(`consent: interaction ${i.uid} did not resolve: ${loc}`);
      return fatal(ctx, 'server_error', 'the test IdP could not complete the authorization');
    }
    url.searchParams.delete('iss');
    if (info.reuseGrantId && url.searchParams.has('code')) {
      // Reauth write-back: the existing offline grant's refresh tokens get the new auth_time.
      for (const e of app.store.model('RefreshToken').values()) {
        if (e.payload.grantId === info.reuseGrantId) e.payload.authTime = info.authTime;
      }
    }
    switch (info.consentQuirk) {
      case 'tampered_state': url.searchParams.set('state', `${url.searchParams.get('state') || ''}tampered`); break;
      case 'missing_state': url.searchParams.delete('state'); break;
      case 'missing_code': url.searchParams.delete('code'); break;
      case 'error': url.searchParams.delete('code'); url.searchParams.set('error', 'access_denied'); url.searchParams.set('error_description', 'injected by the test IdP'); break;
      default: break;
    }
    redirectTo(ctx, url.toString(), 303, client);
    return undefined;
  };
}
