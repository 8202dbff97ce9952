// Discovery document and JWKS exactly as Authgear builds them (authgear-protocol.md §1).
export const DEVICE_GT = 'urn:ietf:params:oauth:grant-type:device_code';

export const SCOPES_SUPPORTED = ['offline_access', 'device_sso', 'openid', 'profile', 'email', 'address', 'phone',
  'https://authgear.com/scopes/full-access', 'https://authgear.com/scopes/full-userinfo',
  'https://authgear.com/scopes/pre-authenticated-url'];

export function discoveryBody(app, issuer = app.issuer) {
  const body = {
    authorization_endpoint: `${issuer}/oauth2/authorize`,
    token_endpoint: `${issuer}/oauth2/token`,
    response_types_supported: ['code', 'urn:authgear:params:oauth:response-type:settings-action', 'none'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    code_challenge_methods_supported: ['S256'],
    revocation_endpoint: `${issuer}/oauth2/revoke`,
    token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
    dpop_signing_alg_values_supported: ['ES256', 'RS256'],
    issuer,
    scopes_supported: SCOPES_SUPPORTED,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: app.keys.advertisedAlgs(),
    claims_supported: ['iss', 'aud', 'iat', 'exp', 'sub', 'email', 'email_verified', 'phone_number',
      'phone_number_verified', 'preferred_username', 'family_name', 'given_name', 'middle_name', 'name',
      'nickname', 'picture', 'profile', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'address', 'updated_at'],
    jwks_uri: `${issuer}/oauth2/jwks`,
    userinfo_endpoint: `${issuer}/oauth2/userinfo`,
    end_session_endpoint: `${issuer}/oauth2/end_session`,
  };
  if (app.opts.device) {
    // Not Authgear: RFC 8628 test switch.
    body.device_authorization_endpoint = `${issuer}/oauth2/device_authorization`;
    body.grant_types_supported = [...body.grant_types_supported, DEVICE_GT];
  }
  return body;
}

export function discoveryMiddleware(app) {
  const paths = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/oauth2/jwks']);
  return async (ctx, next) => {
    if (!paths.has(ctx.path)) return next();
    ctx.set('Access-Control-Allow-Origin', '*');
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'GET, OPTIONS');
      ctx.status = 204;
      return undefined;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') { ctx.status = 405; return undefined; }
    ctx.type = 'application/json';
    ctx.body = ctx.path === '/oauth2/jwks' ? app.keys.jwks() : discoveryBody(app);
    return undefined;
  };
}
