/* The issuer's signing keys: fetched from jwks_uri, cached under state_dir,
 * refetched when the cache is older than cache_ttl, and on a token whose kid
 * is unknown (a key rotation) at most once a minute, counted across
 * processes through the cache file's fetch time. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/cache.h"
#include "jose/jwk.h"
#include "oidc/oidc.h"

#define JWKS_CACHE "jwks.json"
#define JWKS_REFETCH_INTERVAL 60 /* seconds */

static enum ag_err parse_document(struct ag_oidc *o, const json_t *doc, time_t fetched_at)
{
	struct ag_jwks *set = NULL;
	enum ag_err err;
	char *text = json_dumps(doc, JSON_COMPACT);

	if (!text)
		return AG_ERR_NOMEM;
	err = ag_jwks_parse(text, strlen(text), o->log, &set);
	free(text);
	if (err != AG_OK)
		return err;
	ag_jwks_free(o->jwks);
	o->jwks = set;
	o->jwks_fetched_at = fetched_at;
	return AG_OK;
}

static enum ag_err fetch(struct ag_oidc *o, const char *uri)
{
	struct ag_http_response resp;
	time_t now = ag_clock_wall(o->clock);
	json_t *doc = NULL;
	enum ag_err err;

	err = ag_http_get(o->http, uri, NULL, &resp);
	if (err == AG_OK)
		err = ag_http_json(&resp, o->log, "jwks", &doc);
	ag_http_response_clear(&resp);
	if (err == AG_OK)
		err = parse_document(o, doc, now);
	if (err == AG_OK && ag_cache_store(o->private_dir, JWKS_CACHE, uri, doc, now, o->log) != AG_OK)
		ag_log(o->log, LOG_WARNING, "jwks: cannot write the cache; continuing without it");
	json_decref(doc);
	return err;
}

enum ag_err ag_oidc_jwks(struct ag_oidc *o, const struct ag_jwks **out)
{
	const struct ag_discovery *d;
	time_t now = ag_clock_wall(o->clock), fetched_at;
	json_t *doc = NULL;
	enum ag_err err;

	*out = NULL;
	if (!o->jwks) {
		err = ag_oidc_discovery(o, &d);
		if (err != AG_OK)
			return err;
		err = ag_cache_load(o->private_dir, JWKS_CACHE, d->jwks_uri, o->log, &doc, &fetched_at);
		if (err == AG_OK && fetched_at <= now + o->cfg->leeway && now - fetched_at < o->cfg->cache_ttl)
			err = parse_document(o, doc, fetched_at);
		else if (err == AG_OK)
			err = AG_ERR_STALE; /* fetch below */
		json_decref(doc);
		if (err == AG_ERR_NOMEM)
			return err;
		if (err != AG_OK) {
			err = fetch(o, d->jwks_uri);
			if (err != AG_OK)
				return err;
		}
	}
	*out = o->jwks;
	return AG_OK;
}

enum ag_err ag_oidc_jwks_refetch(struct ag_oidc *o, const struct ag_jwks **out)
{
	const struct ag_discovery *d;
	time_t now = ag_clock_wall(o->clock);
	long age;
	enum ag_err err;

	*out = NULL;
	err = ag_oidc_jwks(o, out);
	if (err != AG_OK)
		return err;
	age = (long)(now - o->jwks_fetched_at);
	if (age >= 0 && age < JWKS_REFETCH_INTERVAL) {
		ag_log(o->log, LOG_ERR, "jwks: unknown kid, and the keys were fetched %ld s ago: refetch rate limited", age);
		*out = NULL;
		return AG_ERR_KEY_NOT_FOUND;
	}
	err = ag_oidc_discovery(o, &d);
	if (err == AG_OK)
		err = fetch(o, d->jwks_uri);
	if (err == AG_OK)
		ag_log(o->log, LOG_NOTICE, "jwks: refetched after an unknown kid (%zu keys)", ag_jwks_count(o->jwks));
	*out = err == AG_OK ? o->jwks : NULL;
	return err;
}
