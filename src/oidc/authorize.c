/* Authorization request and consent hop (see authorize.h). */
#include "config.h"

#include <stdbool.h>
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

#define OAUTH_TEXT_MAX 200 /* bytes of error / error_description quoted in a log line */

/* text (n bytes) as printable ASCII, at most OAUTH_TEXT_MAX: the server's
 * words go into a log line, never its control characters. */
static void printable(char *out, size_t len, const char *text, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < len && j < OAUTH_TEXT_MAX; i++)
		out[j++] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
	out[j] = '\0';
}

/* The value of "name: value" on a line of Authgear's plain-text 400 body
 * ("Invalid OAuth authorization request:\nerror: ...\nerror_description: ..."). */
static void body_field(const struct ag_http_response *resp, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *p = resp->body; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t line = eol ? (size_t)(eol - p) : strlen(p);

		if (line > n + 1 && strncmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1 + (p[n + 1] == ' ');
			printable(out, len, v, line - (size_t)(v - p));
			return;
		}
		p += line + (eol ? 1 : 0);
	}
}

/* Log the server's OAuth error and error_description verbatim (they are not
 * secret, and name the setting to fix): from redirect_uri?error=... or from
 * a 400 page when the client or redirect_uri itself is refused (§2.5). */
static void log_oauth_error(struct ag_oidc *o, const char *step, const struct ag_http_response *resp,
			    const char *target)
{
	char error[OAUTH_TEXT_MAX + 1] = "", desc[OAUTH_TEXT_MAX + 1] = "";
	char *e = NULL, *d = NULL;

	if (target) {
		if (ag_http_query_param(target, "error", &e) == AG_OK && e)
			printable(error, sizeof error, e, strlen(e));
		if (ag_http_query_param(target, "error_description", &d) == AG_OK && d)
			printable(desc, sizeof desc, d, strlen(d));
		free(e);
		free(d);
	} else {
		body_field(resp, "error", error, sizeof error);
		body_field(resp, "error_description", desc, sizeof desc);
	}
	if (error[0])
		ag_log(o->log, LOG_ERR, "%s: the server refused the request: %s: %s (check client_id %s, redirect_uri %s "
		       "and scopes against the application in the Authgear portal)", step, error, desc[0] ? desc : "-",
		       o->cfg->client_id, o->cfg->redirect_uri);
	else
		ag_log(o->log, LOG_ERR, "%s: status %ld, expected a redirect with a usable Location", step, resp->status);
}

/* Whether url is on the issuer (its origin and a path below it). */
static bool on_issuer(const char *url, const char *issuer)
{
	size_t n = strlen(issuer);

	return strncmp(url, issuer, n) == 0 && (url[n] == '/' || url[n] == '?' || url[n] == '\0');
}

/* The authorization request's URL: the endpoint with the client's, pk's
 * and opts' parameters. */
static enum ag_err request_url(struct ag_oidc *o, const struct ag_authorize_opts *opts, const struct ag_pkce *pk,
			       char **url)
{
	const struct ag_discovery *d;
	char max_age[24] = "";
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
		err = build_url(o->http, d->authorization_endpoint, params, url);
	return err;
}

/* An error in the query of the redirect target (the server's OAuth error,
 * logged): AG_ERR_OAUTH; AG_OK when there is none. */
static enum ag_err redirect_error(struct ag_oidc *o, const char *step, const struct ag_http_response *resp,
				  const char *target)
{
	char *error = NULL;
	enum ag_err err = ag_http_query_param(target, "error", &error);

	if (err == AG_OK && error) {
		log_oauth_error(o, step, resp, target);
		err = AG_ERR_OAUTH;
	}
	free(error);
	return err;
}

/* The answer to the authorization request: a redirect to the sign-in page,
 * on the issuer and with the x_ref of the OAuth session; its query into
 * *url_query. */
static enum ag_err sign_in_page(struct ag_oidc *o, const struct ag_http_response *resp, char **url_query)
{
	const char *target;
	char *x_ref = NULL;
	enum ag_err err;

	/* An OAuth error comes back to redirect_uri (§2.5); the sign-in page,
	 * never fetched, must still be https: a downgrade is a sign of trouble. */
	err = ag_http_redirect_target(o->http, resp, o->cfg->redirect_uri, &target);
	if (err != AG_OK) {
		log_oauth_error(o, "authorize", resp, NULL);
		return resp->status == 400 ? AG_ERR_OAUTH : err;
	}
	err = redirect_error(o, "authorize", resp, target);
	/* A client with a Custom UI URI sends the sign-in to that page and then
	 * answers the consent step with HTML instead of a redirect: refuse now,
	 * before any credential is sent (§2.5). */
	if (err == AG_OK && !ag_http_url_is_client(target, o->cfg->redirect_uri) && !on_issuer(target, o->cfg->issuer)) {
		ag_log(o->log, LOG_ERR, "authorize: the sign-in page is not on the issuer but %.200s: this application "
		       "has a Custom UI URI, and Authgear then answers the consent step with an HTML page instead of the "
		       "redirect this module reads; leave Custom UI URI empty for client %s in the Authgear portal",
		       target, o->cfg->client_id);
		err = AG_ERR_CONFIG;
	}
	if (err == AG_OK)
		err = ag_http_query_param(target, "x_ref", &x_ref);
	if (err == AG_OK && !x_ref) {
		ag_log(o->log, LOG_ERR, "authorize: Location has no x_ref");
		err = AG_ERR_PROTOCOL;
	}
	if (err == AG_OK && !(*url_query = ag_http_query(target)))
		err = AG_ERR_NOMEM;
	free(x_ref);
	return err;
}

enum ag_err ag_authorize(struct ag_oidc *o, const struct ag_authorize_opts *opts, const struct ag_pkce *pk,
			 char **url_query)
{
	struct ag_http_response resp = { 0 };
	char *url = NULL;
	enum ag_err err;

	*url_query = NULL;
	if (opts->flow == AG_FLOW_REAUTH && !opts->id_token_hint) {
		/* §3.11: only id_token_hint names the user a reauth flow is for */
		ag_log(o->log, LOG_ERR, "authorize: reauthentication without an id_token_hint");
		return AG_ERR_INVALID_ARG;
	}
	if (!o->cfg->redirect_uri) { /* optional with methods = device; the password method requires it */
		ag_log(o->log, LOG_ERR, "authorize: no redirect_uri configured");
		return AG_ERR_CONFIG;
	}
	err = request_url(o, opts, pk, &url);
	if (err == AG_OK)
		err = ag_http_get(o->http, url, NULL, &resp);
	if (err == AG_OK)
		err = sign_in_page(o, &resp, url_query);
	ag_free_secret(url); /* id_token_hint */
	ag_http_response_clear(&resp);
	return err;
}

enum ag_err ag_authorize_consent(struct ag_oidc *o, const char *finish_uri, const char *state, char **code)
{
	struct ag_http_response resp = { 0 };
	const char *redirect_uri = o->cfg->redirect_uri, *target;
	char *got_state = NULL;
	enum ag_err err;

	*code = NULL;
	err = ag_http_get(o->http, finish_uri, NULL, &resp);
	if (err != AG_OK)
		return err;
	err = ag_http_redirect_target(o->http, &resp, redirect_uri, &target);
	if (err == AG_OK && !ag_http_url_is_client(target, redirect_uri))
		err = AG_ERR_PROTOCOL;
	if (err != AG_OK && resp.status == 200) {
		ag_log(o->log, LOG_ERR, "consent: status 200 with a page instead of a redirect to redirect_uri: the "
		       "application has a Custom UI URI; leave Custom UI URI empty for client %s in the Authgear portal",
		       o->cfg->client_id);
		goto out;
	}
	if (err != AG_OK) {
		log_oauth_error(o, "consent", &resp, NULL);
		goto out;
	}
	err = redirect_error(o, "consent", &resp, target);
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
	ag_http_response_clear(&resp);
	return err;
}
