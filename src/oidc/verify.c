/* Verifying the issuer's tokens: ID tokens and JWT access tokens. The
 * signature is checked with the issuer's keys (one refetch on an unknown
 * kid), with only the algorithms both allowed_algs and the issuer's discovery
 * document allow; then the claims. */
#include "config.h"

#include <string.h>

#include "jose/claims.h"
#include "jose/jws.h"
#include "oidc/oidc.h"

enum ag_err ag_oidc_allowed_algs(struct ag_oidc *o, unsigned *mask)
{
	const struct ag_discovery *d;
	unsigned configured = 0, advertised = 0;
	enum ag_err err;
	size_t i;
	json_t *v;

	*mask = 0;
	err = ag_jws_alg_list_parse(o->cfg->allowed_algs, o->log, &configured);
	if (err != AG_OK)
		return AG_ERR_CONFIG;
	err = ag_oidc_discovery(o, &d);
	if (err != AG_OK)
		return err;
	json_array_foreach(d->id_token_algs, i, v)
		advertised |= ag_jws_alg_from_name(json_string_value(v));
	*mask = configured & advertised;
	if (!*mask) {
		ag_log(o->log, LOG_ERR, "verify: no signing algorithm is allowed both by allowed_algs and by the issuer");
		return AG_ERR_CONFIG;
	}
	return AG_OK;
}

static enum ag_err verify_signature(struct ag_oidc *o, const char *token, struct ag_jws_result *res)
{
	const struct ag_jwks *keys;
	unsigned mask;
	enum ag_err err;

	err = ag_oidc_allowed_algs(o, &mask);
	if (err == AG_OK)
		err = ag_oidc_jwks(o, &keys);
	if (err == AG_OK)
		err = ag_jws_verify(token, strlen(token), keys, mask, o->log, res);
	if (err == AG_ERR_KEY_NOT_FOUND && ag_oidc_jwks_refetch(o, &keys) == AG_OK)
		err = ag_jws_verify(token, strlen(token), keys, mask, o->log, res);
	return err;
}

static enum ag_err verify(struct ag_oidc *o, const char *token, const char *nonce, long long max_age,
			  bool access_token, struct ag_claims *out)
{
	struct ag_claims_expect expect = {
		.issuer = o->cfg->issuer,
		.client_id = o->cfg->client_id,
		.nonce = nonce,
		.max_age = max_age,
		.leeway = o->cfg->leeway,
		.now = ag_clock_wall(o->clock),
	};
	struct ag_jws_result res = { 0 };
	enum ag_err err;

	memset(out, 0, sizeof *out);
	err = verify_signature(o, token, &res);
	if (err == AG_OK && access_token)
		err = ag_claims_check_access_token(res.payload, res.typ, &expect, o->log, out);
	else if (err == AG_OK)
		err = ag_claims_check_id_token(res.payload, res.typ, &expect, o->log, out);
	json_decref(res.payload);
	return err;
}

enum ag_err ag_oidc_verify_id_token(struct ag_oidc *o, const char *token, const char *nonce, long long max_age,
				    struct ag_claims *out)
{
	return verify(o, token, nonce, max_age, false, out);
}

enum ag_err ag_oidc_verify_access_token(struct ag_oidc *o, const char *token, struct ag_claims *out)
{
	const char *dot = strchr(token, '.');

	memset(out, 0, sizeof *out);
	/* Authgear's access tokens are opaque unless the client enables JWT
	 * access tokens; an opaque one is checked by the IdP, not here. */
	if (!dot || !strchr(dot + 1, '.')) {
		ag_log(o->log, LOG_DEBUG, "verify: opaque access token, nothing to verify locally");
		return AG_ERR_UNSUPPORTED;
	}
	return verify(o, token, NULL, -1, true, out);
}
