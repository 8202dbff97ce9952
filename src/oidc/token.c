/* Token endpoint, revocation and userinfo (see token.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/secret.h"
#include "base/strv.h"
#include "oidc/token.h"

/* A form body built from name/value pairs, escaped, in a wiping buffer (it
 * holds secrets). */
#define FORM_MAX (64 * 1024)

static void form_add(struct ag_buf *f, struct ag_http *http, const char *name, const char *value)
{
	ag_http_add_param(http, f, f->len ? "&" : "", name, value);
}

/* Client authentication: client_id always (public clients), and the secret
 * with client_secret_post when one is configured. */
static void form_add_client(struct ag_buf *f, struct ag_oidc *o)
{
	form_add(f, o->http, "client_id", o->cfg->client_id);
	if (o->client_secret)
		form_add(f, o->http, "client_secret", o->client_secret);
}

void ag_tokens_clear(struct ag_tokens *t)
{
	if (!t)
		return;
	ag_free_secret(t->access_token);
	ag_free_secret(t->refresh_token);
	ag_free_secret(t->id_token);
	memset(t, 0, sizeof *t);
}

static enum ag_err copy_token(const json_t *body, const char *key, bool required, const struct ag_log *log,
			      char **slot)
{
	const json_t *v = json_object_get(body, key);
	const char *s = ag_json_string(body, key, AG_TOKEN_MAX);

	if (!s) {
		if (!v && !required)
			return AG_OK;
		ag_log(log, LOG_ERR, "token: response %s %s", key, v ? "malformed or too long" : "missing");
		return AG_ERR_PROTOCOL;
	}
	*slot = strdup(s);
	return *slot ? AG_OK : AG_ERR_NOMEM;
}

/* RFC 6749 §5.2: {"error": ..., "error_description": ...} with 400 or 401. */
enum ag_err ag_oauth_error_parse(const struct ag_http_response *resp, const struct ag_log *log,
				 const char *what, char *code_out)
{
	enum ag_err err = ag_http_status_error(resp, log, what);
	const char *code, *desc;
	json_t *body = NULL;

	if (err != AG_OK)
		return err;
	if (ag_json_parse_object(resp->body, resp->body_len, log, what, &body) != AG_OK ||
	    !(code = ag_json_string(body, "error", AG_OAUTH_ERROR_MAX - 1))) {
		json_decref(body);
		ag_log(log, LOG_ERR, "%s: status %ld without an OAuth error", what, resp->status);
		return AG_ERR_PROTOCOL;
	}
	desc = ag_json_string(body, "error_description", 1024);
	/* RFC 8628 §3.5: the answers of a pending device login come every few seconds */
	ag_log(log, strcmp(code, "authorization_pending") == 0 || strcmp(code, "slow_down") == 0 ? LOG_DEBUG : LOG_NOTICE,
	       "%s: %s%s%.200s", what, code, desc ? ": " : "", desc ? desc : "");
	if (code_out)
		snprintf(code_out, AG_OAUTH_ERROR_MAX, "%s", code);
	err = strcmp(code, "invalid_grant") == 0 ? AG_ERR_INVALID_GRANT : AG_ERR_OAUTH;
	json_decref(body);
	return err;
}

enum ag_err ag_tokens_parse(const struct ag_http_response *resp, const struct ag_log *log,
			    struct ag_tokens *out)
{
	const char *type;
	json_t *body;
	enum ag_err err;

	err = ag_http_json(resp, log, "token", &body);
	if (err != AG_OK)
		return err;
	type = ag_json_string(body, "token_type", 32);
	if (!type || strcasecmp(type, "Bearer") != 0) {
		ag_log(log, LOG_ERR, "token: token_type is not Bearer");
		err = AG_ERR_PROTOCOL;
	}
	if (err == AG_OK)
		err = copy_token(body, "access_token", true, log, &out->access_token);
	if (err == AG_OK)
		err = copy_token(body, "refresh_token", false, log, &out->refresh_token);
	if (err == AG_OK)
		err = copy_token(body, "id_token", false, log, &out->id_token);
	if (err == AG_OK && json_object_get(body, "expires_in") &&
	    (!ag_json_integer(body, "expires_in", &out->expires_in) || out->expires_in < 0)) {
		ag_log(log, LOG_ERR, "token: expires_in malformed");
		err = AG_ERR_PROTOCOL;
	}
	ag_json_wipe(body); /* jansson's copies of the tokens */
	json_decref(body);
	if (err != AG_OK)
		ag_tokens_clear(out);
	return err;
}

enum ag_err ag_oidc_post_form(struct ag_oidc *o, const char *url, const char *const *fields,
			      struct ag_http_response *resp)
{
	struct ag_buf f = AG_BUF_INIT(FORM_MAX);
	enum ag_err err;

	for (size_t i = 0; fields[i]; i += 2)
		if (fields[i + 1])
			form_add(&f, o->http, fields[i], fields[i + 1]);
	form_add_client(&f, o);
	if (f.failed) {
		ag_buf_free(&f);
		ag_log(o->log, LOG_ERR, "token: form body over %d bytes or out of memory", FORM_MAX);
		return AG_ERR_NOMEM;
	}
	err = ag_http_post_form(o->http, url, ag_buf_str(&f), resp);
	ag_buf_free(&f);
	return err;
}

enum ag_err ag_token_request(struct ag_oidc *o, const char *const *fields, struct ag_tokens *out,
			     char *oauth_error_code)
{
	const struct ag_discovery *d;
	struct ag_http_response resp;
	enum ag_err err;

	memset(out, 0, sizeof *out);
	if (oauth_error_code)
		oauth_error_code[0] = '\0';
	err = ag_oidc_discovery(o, &d);
	if (err == AG_OK)
		err = ag_oidc_post_form(o, d->token_endpoint, fields, &resp);
	if (err != AG_OK)
		return err;
	if (resp.status == 200)
		err = ag_tokens_parse(&resp, o->log, out);
	else
		err = ag_oauth_error_parse(&resp, o->log, "token", oauth_error_code);
	ag_http_response_clear(&resp);
	return err;
}

enum ag_err ag_token_exchange_code(struct ag_oidc *o, const char *code, const char *verifier,
				   struct ag_tokens *out)
{
	const char *fields[] = {
		"grant_type", "authorization_code",
		"code", code,
		"redirect_uri", o->cfg->redirect_uri,
		"code_verifier", verifier,
		NULL,
	};
	enum ag_err err = ag_token_request(o, fields, out, NULL);

	if (err == AG_OK && !out->id_token) {
		ag_log(o->log, LOG_ERR, "token: code exchange returned no id_token");
		ag_tokens_clear(out);
		err = AG_ERR_PROTOCOL;
	}
	return err;
}

enum ag_err ag_token_refresh(struct ag_oidc *o, const char *refresh_token, struct ag_tokens *out)
{
	const char *fields[] = {
		"grant_type", "refresh_token",
		"refresh_token", refresh_token,
		NULL,
	};

	return ag_token_request(o, fields, out, NULL);
}

/* The URL of an endpoint discovery may leave out (userinfo, revocation). */
static enum ag_err optional_endpoint(struct ag_oidc *o, const char *what, bool revocation, const char **url)
{
	const struct ag_discovery *d;
	enum ag_err err = ag_oidc_discovery(o, &d);

	if (err != AG_OK)
		return err;
	*url = revocation ? d->revocation_endpoint : d->userinfo_endpoint;
	if (!*url) {
		ag_log(o->log, LOG_ERR, "%s: the issuer advertises no %s_endpoint", what, what);
		return AG_ERR_UNSUPPORTED;
	}
	return AG_OK;
}

enum ag_err ag_token_revoke(struct ag_oidc *o, const char *token, const char *hint)
{
	const char *fields[] = { "token", token, "token_type_hint", hint, NULL };
	struct ag_http_response resp;
	const char *url;
	enum ag_err err;

	err = optional_endpoint(o, "revocation", true, &url);
	if (err == AG_OK)
		err = ag_oidc_post_form(o, url, fields, &resp);
	if (err != AG_OK)
		return err;
	/* RFC 7009 §2.2: 200 whether or not the token was valid. */
	if (resp.status != 200)
		err = ag_oauth_error_parse(&resp, o->log, "revoke", NULL);
	ag_http_response_clear(&resp);
	return err;
}

enum ag_err ag_userinfo(struct ag_oidc *o, const char *access_token, json_t **out)
{
	struct ag_http_response resp;
	const char *url;
	enum ag_err err;

	*out = NULL;
	err = optional_endpoint(o, "userinfo", false, &url);
	if (err == AG_OK)
		err = ag_http_get(o->http, url, access_token, &resp);
	if (err != AG_OK)
		return err;
	if (resp.status == 401) {
		/* RFC 6750 §3.1: invalid_token, the grant behind it is gone */
		ag_log(o->log, LOG_NOTICE, "userinfo: access token refused (401)");
		err = AG_ERR_INVALID_GRANT;
	} else {
		err = ag_http_json(&resp, o->log, "userinfo", out);
	}
	if (err == AG_OK && !ag_json_string(*out, "sub", 255)) {
		ag_log(o->log, LOG_ERR, "userinfo: sub missing");
		json_decref(*out);
		*out = NULL;
		err = AG_ERR_PROTOCOL;
	}
	ag_http_response_clear(&resp);
	return err;
}

/* --- the resolver (authgear-protocol.md §7) ----------------------------------- */

/* Split s at sep into a fresh vector of non-empty values, each at most
 * AG_CLAIMS_VALUE_MAX bytes, at most max of them. */
static enum ag_err split_values(const char *s, char sep, size_t max, char ***v, size_t *n)
{
	const char *p = s;

	*v = NULL;
	*n = 0;
	if (!*s)
		return AG_OK;
	for (;;) {
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char value[AG_CLAIMS_VALUE_MAX + 1];

		if (len == 0 || len > AG_CLAIMS_VALUE_MAX || *n == max)
			return AG_ERR_PROTOCOL;
		memcpy(value, p, len);
		value[len] = '\0';
		if (!ag_strv_push(v, n, value))
			return AG_ERR_NOMEM;
		if (!end)
			return AG_OK;
		p = end + 1;
	}
}

/* The values of header name split at sep (none: an empty list). */
static enum ag_err header_list(const struct ag_http_response *resp, const char *name, char sep, size_t max,
			       char ***v, size_t *n)
{
	char *value = NULL;
	enum ag_err err = ag_http_authgear_header(resp, name, &value);

	if (err == AG_OK && value)
		err = split_values(value, sep, max, v, n);
	free(value);
	return err;
}

static enum ag_err header_bool(const struct ag_http_response *resp, const char *name, bool *out)
{
	char *v = NULL;
	enum ag_err err = ag_http_authgear_header(resp, name, &v);

	if (err == AG_OK && v && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0))
		*out = strcmp(v, "true") == 0;
	else if (err == AG_OK)
		err = AG_ERR_PROTOCOL;
	free(v);
	return err;
}

enum ag_err ag_resolve(struct ag_oidc *o, const char *url, const char *access_token, struct ag_claims *out)
{
	struct ag_http_response resp;
	char *v = NULL;
	bool valid = false;
	enum ag_err err;

	memset(out, 0, sizeof *out);
	err = ag_http_get(o->http, url, access_token, &resp);
	if (err != AG_OK)
		return err;
	if (resp.status != 200) {
		ag_log(o->log, LOG_ERR, "resolver: HTTP %ld", resp.status);
		err = ag_http_unexpected(resp.status);
		goto out;
	}
	/* A bearer was sent, so Session-Valid must be there; then the user's
	 * headers, which Authgear sets only for a valid session. */
	err = header_bool(&resp, "X-Authgear-Session-Valid", &valid);
	if (err != AG_OK) {
		ag_log(o->log, LOG_ERR, "resolver: no single X-Authgear-Session-Valid true/false");
		goto out;
	}
	if (!valid) {
		ag_log(o->log, LOG_NOTICE, "resolver: X-Authgear-Session-Valid: false");
		err = AG_ERR_INVALID_GRANT;
		goto out;
	}
	err = ag_http_authgear_header(&resp, "X-Authgear-User-Id", &out->sub);
	if (err == AG_OK && (!out->sub || !*out->sub || strlen(out->sub) > AG_CLAIMS_SUB_MAX))
		err = AG_ERR_PROTOCOL;
	if (err == AG_OK)
		err = header_bool(&resp, "X-Authgear-User-Anonymous", &out->is_anonymous);
	if (err == AG_OK)
		err = header_list(&resp, "X-Authgear-User-Roles", ',', AG_CLAIMS_ROLES_MAX, &out->roles, &out->n_roles);
	if (err == AG_OK)
		err = header_list(&resp, "X-Authgear-Session-Amr", ' ', AG_CLAIMS_AMR_MAX, &out->amr, &out->n_amr);
	if (err == AG_OK)
		err = ag_http_authgear_header(&resp, "X-Authgear-Session-Authenticated-At", &v);
	if (err == AG_OK && v) {
		char *end;
		long long t = strtoll(v, &end, 10);

		if (*end || end == v || t < 0 || t > AG_CLAIMS_TIME_MAX)
			err = AG_ERR_PROTOCOL;
		out->auth_time = t;
	}
	free(v);
	if (err == AG_ERR_PROTOCOL)
		ag_log(o->log, LOG_ERR, "resolver: a malformed X-Authgear-* header");
out:
	if (err != AG_OK)
		ag_claims_clear(out);
	ag_http_response_clear(&resp);
	return err;
}
