/* The token endpoint (RFC 6749 §4.1.3, §6; PKCE RFC 7636), revocation
 * (RFC 7009) and userinfo (OIDC Core §5.3). Every token is a secret: the
 * structures are cleared with wiping. */
#ifndef AG_TOKEN_H
#define AG_TOKEN_H

#include <jansson.h>

#include "base/error.h"
#include "jose/claims.h"
#include "oidc/oidc.h"

#define AG_TOKEN_MAX (16 * 1024)   /* bytes of one token */
#define AG_OAUTH_ERROR_MAX 64

struct ag_tokens {
	char *access_token;
	char *refresh_token;   /* NULL when the response has none (Authgear rotates only when enabled) */
	char *id_token;        /* NULL when the response has none */
	long long expires_in;  /* 0 when absent */
};

void ag_tokens_clear(struct ag_tokens *t);

/* POST name/value pairs (NULL-terminated; a NULL value skips the pair) plus
 * the client's credentials as a form to url. The body is wiped after use. */
enum ag_err ag_oidc_post_form(struct ag_oidc *o, const char *url, const char *const *fields,
			      struct ag_http_response *resp);

/* Exchange an authorization code with its PKCE verifier. */
enum ag_err ag_token_exchange_code(struct ag_oidc *o, const char *code, const char *verifier,
				   struct ag_tokens *out);
/* Use a refresh token; out->refresh_token is the rotated token or NULL. */
enum ag_err ag_token_refresh(struct ag_oidc *o, const char *refresh_token, struct ag_tokens *out);
/* Any grant, given its form fields (without client credentials). On an OAuth
 * error response the result is AG_ERR_INVALID_GRANT for invalid_grant and
 * AG_ERR_OAUTH otherwise, and oauth_error (AG_OAUTH_ERROR_MAX bytes, may be
 * NULL) receives the error code, e.g. "authorization_pending". */
enum ag_err ag_token_request(struct ag_oidc *o, const char *const *fields, struct ag_tokens *out,
			     char *oauth_error);

/* Parsers of the token endpoint's answers (exposed for fuzzing): a 200
 * token response, and an error response (RFC 6749 §5.2). */
enum ag_err ag_tokens_parse(const struct ag_http_response *resp, const struct ag_log *log,
			    struct ag_tokens *out);
enum ag_err ag_oauth_error_parse(const struct ag_http_response *resp, const struct ag_log *log,
				 const char *what, char *code_out);

/* Revoke a token (RFC 7009); hint is "refresh_token", "access_token" or NULL. */
enum ag_err ag_token_revoke(struct ag_oidc *o, const char *token, const char *hint);

/* The userinfo claims for an access token; sub is checked to be present. */
enum ag_err ag_userinfo(struct ag_oidc *o, const char *access_token, json_t **out);

/* Authgear's resolver (authgear-protocol.md §7) for an access token: GET url
 * with the bearer; the X-Authgear-* headers into out: sub (User-Id),
 * is_anonymous, roles (User-Roles, ","), amr (Session-Amr, " "), auth_time
 * (Session-Authenticated-At). Session-Valid false: AG_ERR_INVALID_GRANT; a
 * missing, repeated or malformed header: AG_ERR_PROTOCOL; 5xx: AG_ERR_SERVER. */
enum ag_err ag_resolve(struct ag_oidc *o, const char *url, const char *access_token, struct ag_claims *out);

#endif
