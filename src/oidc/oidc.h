/* The OIDC client context of one transaction: configuration, log, one HTTPS
 * handle, the issuer's discovery document and signing keys (cached under
 * state_dir), and the client's credentials. */
#ifndef AG_OIDC_H
#define AG_OIDC_H

#include <time.h>

#include <jansson.h>

#include "base/conf.h"
#include "base/error.h"
#include "base/http.h"
#include "base/log.h"
#include "oidc/clock.h"

struct ag_jwks;
struct ag_claims;

struct ag_discovery {
	char *issuer;
	char *authorization_endpoint;
	char *token_endpoint;
	char *jwks_uri;
	char *userinfo_endpoint;            /* NULL when not advertised */
	char *revocation_endpoint;          /* NULL when not advertised */
	char *end_session_endpoint;         /* NULL when not advertised */
	char *device_authorization_endpoint; /* NULL when not advertised (Authgear today) */
	json_t *id_token_algs;              /* array of alg names */
};

struct ag_oidc {
	const struct ag_config *cfg;
	const struct ag_log *log;
	struct ag_http *http;
	char *private_dir;                  /* state_dir/private, 0700 root */
	char *client_secret;                /* NULL for a public client */
	struct ag_discovery *disc;          /* NULL until ag_oidc_discovery() */
	struct ag_jwks *jwks;               /* NULL until ag_oidc_jwks() */
	time_t jwks_fetched_at;
	const struct ag_clock *clock;       /* ag_clock_system; tests may set their own */
};

/* Open a context; creates state_dir (0755) and its private part (0700) when
 * missing and refuses them when another user could write them. */
enum ag_err ag_oidc_open(const struct ag_config *cfg, const struct ag_log *log, struct ag_oidc **out);
/* The same, its requests bounded by deadline (CLOCK_MONOTONIC; ag_http_opts)
 * instead of login_timeout from now: a login's one deadline (NULL: from now). */
enum ag_err ag_oidc_open_until(const struct ag_config *cfg, const struct ag_log *log, const struct timespec *deadline,
			       struct ag_oidc **out);
void ag_oidc_close(struct ag_oidc *o);

/* The issuer's discovery document: from the cache while younger than
 * cache_ttl, else fetched, checked and cached. */
enum ag_err ag_oidc_discovery(struct ag_oidc *o, const struct ag_discovery **out);

/* The issuer's signing keys, from the cache while younger than cache_ttl. */
enum ag_err ag_oidc_jwks(struct ag_oidc *o, const struct ag_jwks **out);
/* Refetch the keys after a token named an unknown kid; refused (with
 * AG_ERR_KEY_NOT_FOUND) when they were fetched less than a minute ago. */
enum ag_err ag_oidc_jwks_refetch(struct ag_oidc *o, const struct ag_jwks **out);

/* The JWS algorithms both allowed_algs and the issuer's discovery allow. */
enum ag_err ag_oidc_allowed_algs(struct ag_oidc *o, unsigned *mask);

/* Verify an ID token: signature (alg allowed, key by kid), then iss, aud,
 * exp/nbf/iat with leeway, nonce when not NULL (never on refresh), auth_time
 * when max_age >= 0, sub. */
enum ag_err ag_oidc_verify_id_token(struct ag_oidc *o, const char *token, const char *nonce, long long max_age,
				    struct ag_claims *out);
/* Verify a JWT access token (typ at+jwt, aud = issuer); an opaque one is
 * AG_ERR_UNSUPPORTED: only the issuer can check it. */
enum ag_err ag_oidc_verify_access_token(struct ag_oidc *o, const char *token, struct ag_claims *out);

/* Fetch the discovery document from the issuer, bypassing the cache; the
 * server's Date header goes to *server_date (0 when absent) if not NULL. */
enum ag_err ag_discovery_fetch(struct ag_oidc *o, json_t **doc, time_t *server_date);

/* Check a discovery document against the configured issuer (exact match) and
 * the client's URL rules; no I/O. */
enum ag_err ag_discovery_from_json(const json_t *doc, const char *issuer, const struct ag_http *http,
				   const struct ag_log *log, struct ag_discovery **out);
void ag_discovery_free(struct ag_discovery *d);

#endif
