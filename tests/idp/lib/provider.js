// The oidc-provider 8.8.1 instance and its configuration (oidc-provider-notes.md).
import crypto from 'node:crypto';
import Provider from 'oidc-provider';
import { interactionUrl } from './authorize.js';
import { DEVICE_GT } from './discovery.js';
import { accountUsable, userClaims } from './users.js';

export function createProvider(app) {
  // oidc-provider signs with an internal throw-away key; every token a client sees is re-signed
  // with the IdP's persistent key set (lib/keys.js), so only that one is published.
  const internal = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const AGC = 'https://authgear.com/claims/user/';
  const clients = [...app.clients.values()].map((c) => ({
    client_id: c.client_id,
    application_type: 'web', // exact redirect_uri matching, as Authgear (no RFC 8252 port wildcard)
    token_endpoint_auth_method: c.client_secret ? 'client_secret_post' : 'none',
    ...(c.client_secret ? { client_secret: c.client_secret } : {}),
    grant_types: ['authorization_code', 'refresh_token', ...(c.device_grant && app.opts.device ? [DEVICE_GT] : [])],
    response_types: ['code'],
    redirect_uris: c.redirect_uris,
  }));

  const provider = new Provider(app.issuer, {
    adapter: app.store.adapterFactory(),
    clients,
    jwks: { keys: [{ ...internal, kid: 'internal', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [] },
    features: {
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      resourceIndicators: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      dPoP: { enabled: false },
      deviceFlow: { enabled: !!app.opts.device, charset: 'base-20', mask: '****-****' },
    },
    routes: {
      authorization: '/oauth2/authorize',
      token: '/oauth2/token',
      revocation: '/oauth2/revoke',
      userinfo: '/oauth2/userinfo',
      jwks: '/oauth2/jwks',
      device_authorization: '/oauth2/device_authorization',
      code_verification: '/oauth2/device',
    },
    scopes: ['openid', 'offline_access'],
    claims: {
      openid: ['sub', 'auth_time', 'amr', `${AGC}roles`, `${AGC}is_anonymous`, `${AGC}is_verified`, `${AGC}can_reauthenticate`],
    },
    extraParams: ['x_sso_enabled', 'x_suppress_idp_session_cookie', 'x_state', 'x_page', 'x_id_token_hint', 'x_login_hint',
      'x_authentication_flow_group', 'x_color_scheme', 'x_platform'],
    pkce: { required: () => true },
    findAccount: async (ctx, sub) => {
      const u = app.users.bySub(sub);
      if (!accountUsable(u)) return undefined; // refresh of a disabled user -> invalid_grant
      return { accountId: sub, claims: async () => userClaims(u) };
    },
    interactions: { url: interactionUrl },
    loadExistingGrant: async (ctx) => {
      const { Grant } = ctx.oidc.provider;
      const clientId = ctx.oidc.client.clientId;
      const { accountId } = ctx.oidc.session;
      const reuse = ctx.oidc.result?.consent?.grantId; // reauth keeps the offline grant (same sid)
      let grant = reuse ? await Grant.find(reuse) : undefined;
      if (!grant || grant.accountId !== accountId || grant.clientId !== clientId) grant = new Grant({ clientId, accountId });
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      await grant.save();
      return grant;
    },
    rotateRefreshToken: (ctx) => app.clients.get(ctx.oidc.client.clientId)?.refresh_token_rotation_enabled === true,
    renderError: async (ctx, out) => {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = `Invalid OAuth authorization request:\nerror: ${out.error}\nerror_description: ${out.error_description}`;
    },
    ttl: {
      AccessToken: 1800,
      AuthorizationCode: 300,
      IdToken: 300,
      RefreshToken: 364 * 86400,
      Grant: 364 * 86400,
      Interaction: 1500, // x_ref: 20 min interaction + 5 min consent
      Session: 86400,
      DeviceCode: () => app.device.cfg.expires_in,
    },
  });
  provider.on('server_error', (ctx, err) => app.log(`oidc-provider server_error: ${err.stack}`));
  return provider;
}
