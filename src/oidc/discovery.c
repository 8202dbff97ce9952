/* The issuer's discovery document (OpenID Connect Discovery 1.0 §3, §4;
 * Authgear: authgear-protocol.md §1). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/cache.h"
#include "base/json.h"
#include "oidc/oidc.h"

#define DISCOVERY_PATH "/.well-known/openid-configuration"
#define DISCOVERY_CACHE "discovery.json"
#define URL_MAX 2048

void ag_discovery_free(struct ag_discovery *d)
{
	if (!d)
		return;
	free(d->issuer);
	free(d->authorization_endpoint);
	free(d->token_endpoint);
	free(d->jwks_uri);
	free(d->userinfo_endpoint);
	free(d->revocation_endpoint);
	free(d->end_session_endpoint);
	free(d->device_authorization_endpoint);
	json_decref(d->id_token_algs);
	free(d);
}

/* Copy the endpoint key of doc into *slot after checking it is an https URL
 * (or loopback http when allowed). A missing optional endpoint is fine. */
static enum ag_err endpoint(const json_t *doc, const char *key, bool required, const struct ag_http *http,
			    const struct ag_log *log, char **slot)
{
	const char *v = ag_json_string(doc, key, URL_MAX);

	if (!v) {
		if (!json_object_get(doc, key) && !required)
			return AG_OK;
		ag_log(log, LOG_ERR, "discovery: %s %s", key, json_object_get(doc, key) ? "is not a URL" : "missing");
		return AG_ERR_PROTOCOL;
	}
	if (ag_http_check_url(http, v) != AG_OK) {
		ag_log(log, LOG_ERR, "discovery: %s refused", key);
		return AG_ERR_PROTOCOL;
	}
	*slot = strdup(v);
	return *slot ? AG_OK : AG_ERR_NOMEM;
}

static bool array_has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

enum ag_err ag_discovery_from_json(const json_t *doc, const char *issuer, const struct ag_http *http,
				   const struct ag_log *log, struct ag_discovery **out)
{
	struct ag_discovery *d;
	const char *iss = ag_json_string(doc, "issuer", URL_MAX);
	const json_t *algs = json_object_get(doc, "id_token_signing_alg_values_supported");
	const json_t *pkce = json_object_get(doc, "code_challenge_methods_supported");
	enum ag_err err;
	size_t i;
	json_t *v;

	*out = NULL;
	if (!iss || strcmp(iss, issuer) != 0) {
		/* OIDC Discovery §4.3: the issuer must be identical, trailing slash included. */
		ag_log(log, LOG_ERR, "discovery: issuer '%.200s' differs from the configured issuer '%s'",
		       iss ? iss : "(missing)", issuer);
		return AG_ERR_PROTOCOL;
	}
	if (pkce && (!json_is_array(pkce) || !array_has_string(pkce, "S256"))) {
		ag_log(log, LOG_ERR, "discovery: issuer does not support PKCE S256");
		return AG_ERR_PROTOCOL;
	}
	if (algs) {
		if (!json_is_array(algs) || json_array_size(algs) == 0 || json_array_size(algs) > 32) {
			ag_log(log, LOG_ERR, "discovery: id_token_signing_alg_values_supported is not a list of algs");
			return AG_ERR_PROTOCOL;
		}
		json_array_foreach(algs, i, v)
			if (!json_is_string(v)) {
				ag_log(log, LOG_ERR, "discovery: id_token_signing_alg_values_supported is not a list of algs");
				return AG_ERR_PROTOCOL;
			}
	}
	d = calloc(1, sizeof *d);
	if (!d)
		return AG_ERR_NOMEM;
	/* OIDC Discovery §3: RS256 when the issuer does not say. */
	d->id_token_algs = algs ? json_deep_copy(algs) : json_pack("[s]", "RS256");
	d->issuer = strdup(iss);
	err = (!d->id_token_algs || !d->issuer) ? AG_ERR_NOMEM : AG_OK;
	if (err == AG_OK)
		err = endpoint(doc, "authorization_endpoint", true, http, log, &d->authorization_endpoint);
	if (err == AG_OK)
		err = endpoint(doc, "token_endpoint", true, http, log, &d->token_endpoint);
	if (err == AG_OK)
		err = endpoint(doc, "jwks_uri", true, http, log, &d->jwks_uri);
	if (err == AG_OK)
		err = endpoint(doc, "userinfo_endpoint", false, http, log, &d->userinfo_endpoint);
	if (err == AG_OK)
		err = endpoint(doc, "revocation_endpoint", false, http, log, &d->revocation_endpoint);
	if (err == AG_OK)
		err = endpoint(doc, "end_session_endpoint", false, http, log, &d->end_session_endpoint);
	if (err == AG_OK)
		err = endpoint(doc, "device_authorization_endpoint", false, http, log,
			       &d->device_authorization_endpoint);
	if (err != AG_OK) {
		ag_discovery_free(d);
		return err;
	}
	*out = d;
	return AG_OK;
}

/* OIDC Discovery §4.1: issuer + "/.well-known/openid-configuration", without
 * doubling a trailing slash (an issuer with one then fails the exact match,
 * with a message that says so, instead of a 404). */
static enum ag_err discovery_url(const struct ag_oidc *o, char *url, size_t len)
{
	const char *iss = o->cfg->issuer;
	int n = (int)strlen(iss);

	if (n && iss[n - 1] == '/')
		n--;
	if (snprintf(url, len, "%.*s%s", n, iss, DISCOVERY_PATH) >= (int)len)
		return AG_ERR_CONFIG;
	return AG_OK;
}

enum ag_err ag_discovery_fetch(struct ag_oidc *o, json_t **doc, time_t *server_date)
{
	char url[URL_MAX + sizeof DISCOVERY_PATH];
	struct ag_http_response resp;
	enum ag_err err;

	*doc = NULL;
	err = discovery_url(o, url, sizeof url);
	if (err == AG_OK)
		err = ag_http_get(o->http, url, NULL, &resp);
	if (err != AG_OK)
		return err;
	if (server_date)
		*server_date = resp.date;
	err = ag_http_json(&resp, o->log, "discovery", doc);
	ag_http_response_clear(&resp);
	return err;
}

enum ag_err ag_oidc_discovery(struct ag_oidc *o, const struct ag_discovery **out)
{
	char url[URL_MAX + sizeof DISCOVERY_PATH];
	time_t now = ag_clock_wall(o->clock), fetched_at;
	json_t *doc = NULL;
	enum ag_err err;

	*out = NULL;
	if (o->disc) {
		*out = o->disc;
		return AG_OK;
	}
	err = discovery_url(o, url, sizeof url);
	if (err != AG_OK)
		return err;

	err = ag_cache_load(o->private_dir, DISCOVERY_CACHE, url, o->log, &doc, &fetched_at);
	if (err == AG_OK && fetched_at <= now + o->cfg->leeway && now - fetched_at < o->cfg->cache_ttl &&
	    ag_discovery_from_json(doc, o->cfg->issuer, o->http, o->log, &o->disc) == AG_OK) {
		json_decref(doc);
		ag_log(o->log, LOG_DEBUG, "discovery: from cache (%ld s old)", (long)(now - fetched_at));
		*out = o->disc;
		return AG_OK;
	}
	json_decref(doc);
	doc = NULL;

	err = ag_discovery_fetch(o, &doc, NULL);
	if (err == AG_OK)
		err = ag_discovery_from_json(doc, o->cfg->issuer, o->http, o->log, &o->disc);
	if (err == AG_OK && ag_cache_store(o->private_dir, DISCOVERY_CACHE, url, doc, now, o->log) != AG_OK)
		ag_log(o->log, LOG_WARNING, "discovery: cannot write the cache; continuing without it");
	json_decref(doc);
	if (err == AG_OK)
		*out = o->disc;
	return err;
}
