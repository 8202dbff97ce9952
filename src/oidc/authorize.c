/* Authorization request and consent hop (see authorize.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"
#include "base/secret.h"
#include "oidc/authorize.h"

const char *ag_flow_type_name(enum ag_flow_type flow)
{
	return flow == AG_FLOW_REAUTH ? "reauth" : "login";
}

/* endpoint?name=value&... with the values escaped; NULL names end the list. */
#define AUTHORIZE_URL_MAX (16 * 1024) /* an id_token_hint makes it long */

static enum ag_err build_url(struct ag_http *http, const char *endpoint, const char *const *params, char **out)
{
	struct ag_buf url = AG_BUF_INIT(AUTHORIZE_URL_MAX);

	ag_buf_add(&url, endpoint);
	for (size_t i = 0; params[i]; i += 2)
		ag_http_add_param(http, &url, i == 0 ? (strchr(endpoint, '?') ? "&" : "?") : "&", params[i],
				  params[i + 1]);
	*out = ag_buf_steal(&url, NULL);
	ag_buf_free(&url);
	return *out ? AG_OK : AG_ERR_NOMEM;
}

enum ag_err ag_authorize(struct ag_oidc *o, const struct ag_authorize_opts *opts, const struct ag_pkce *pk,
			 char **url_query)
{
	const struct ag_discovery *d;
	struct ag_http_response resp = { 0 };
	char *url = NULL, *x_ref = NULL, *error = NULL, max_age[24] = "";
	const char *target;
	/* Optional parameters last: a NULL name ends the list where one is absent. */
	const char *params[] = {
		"client_id", o->cfg->client_id,
		"redirect_uri", o->cfg->redirect_uri,
		"response_type", "code",
		"scope", opts->scopes ? opts->scopes : o->cfg->scopes,
		"code_challenge", pk->challenge,
		"code_challenge_method", "S256",
		"state", pk->state,
		"nonce", pk->nonce,
		"x_sso_enabled", "false",
		NULL, NULL, NULL, NULL, NULL, NULL,
		NULL,
	};
	size_t n = 18;
	enum ag_err err;

	*url_query = NULL;
	if (opts->flow == AG_FLOW_REAUTH && !opts->id_token_hint) {
		/* §3.11: only id_token_hint names the user a reauth flow is for */
		ag_log(o->log, LOG_ERR, "authorize: reauthentication without an id_token_hint");
		return AG_ERR_INVALID_ARG;
	}
	if (opts->max_age >= 0) {
		snprintf(max_age, sizeof max_age, "%ld", opts->max_age);
		params[n++] = "max_age";
		params[n++] = max_age;
	}
	if (opts->prompt) {
		params[n++] = "prompt";
		params[n++] = opts->prompt;
	}
	if (opts->id_token_hint) {
		params[n++] = "id_token_hint";
		params[n++] = opts->id_token_hint;
	}
	err = ag_oidc_discovery(o, &d);
	if (err == AG_OK)
		err = build_url(o->http, d->authorization_endpoint, params, &url);
	if (err == AG_OK)
		err = ag_http_get(o->http, url, NULL, &resp);
	if (err != AG_OK)
		goto out;
	/* An OAuth error comes back to redirect_uri (§2.5); the sign-in page,
	 * never fetched, must still be https: a downgrade is a sign of trouble. */
	err = ag_http_redirect_target(o->http, &resp, o->cfg->redirect_uri, &target);
	if (err != AG_OK) {
		ag_log(o->log, LOG_ERR, "authorize: status %ld, expected a redirect with a usable Location",
		       resp.status);
		goto out;
	}
	err = ag_http_query_param(target, "error", &error);
	if (err == AG_OK && error) {
		ag_log(o->log, LOG_ERR, "authorize: refused with %.64s (check client_id, redirect_uri and scopes)",
		       error);
		err = AG_ERR_OAUTH;
	}
	if (err == AG_OK)
		err = ag_http_query_param(target, "x_ref", &x_ref);
	if (err == AG_OK && !x_ref) {
		ag_log(o->log, LOG_ERR, "authorize: Location has no x_ref");
		err = AG_ERR_PROTOCOL;
	}
	if (err == AG_OK && !(*url_query = ag_http_query(target)))
		err = AG_ERR_NOMEM;
out:
	ag_free_secret(url); /* id_token_hint */
	free(x_ref);
	free(error);
	ag_http_response_clear(&resp);
	return err;
}

enum ag_err ag_authorize_consent(struct ag_oidc *o, const char *finish_uri, const char *state, char **code)
{
	struct ag_http_response resp = { 0 };
	const char *redirect_uri = o->cfg->redirect_uri, *target;
	char *got_state = NULL, *error = NULL;
	enum ag_err err;

	*code = NULL;
	err = ag_http_get(o->http, finish_uri, NULL, &resp);
	if (err != AG_OK)
		return err;
	err = ag_http_redirect_target(o->http, &resp, redirect_uri, &target);
	if (err == AG_OK && !ag_http_url_is_client(target, redirect_uri))
		err = AG_ERR_PROTOCOL;
	if (err != AG_OK) {
		ag_log(o->log, LOG_ERR, "consent: status %ld without a redirect to redirect_uri", resp.status);
		goto out;
	}
	err = ag_http_query_param(target, "error", &error);
	if (err == AG_OK && error) {
		ag_log(o->log, LOG_ERR, "consent: refused with %.64s", error);
		err = AG_ERR_OAUTH;
	}
	if (err == AG_OK)
		err = ag_http_query_param(target, "state", &got_state);
	if (err == AG_OK && (!got_state || strcmp(got_state, state) != 0)) {
		ag_log(o->log, LOG_ERR, "consent: state mismatch in the redirect; denying");
		err = AG_ERR_PROTOCOL;
	}
	if (err == AG_OK)
		err = ag_http_query_param(target, "code", code);
	if (err == AG_OK && (!*code || !**code)) {
		ag_log(o->log, LOG_ERR, "consent: redirect without a code");
		err = AG_ERR_PROTOCOL;
	}
	if (err != AG_OK) {
		ag_free_secret(*code);
		*code = NULL;
	}
out:
	free(got_state);
	free(error);
	ag_http_response_clear(&resp);
	return err;
}
