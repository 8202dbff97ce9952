/* JSON Web Key Sets (RFC 7517) as OpenSSL 3 public keys.
 *
 * Supported: RSA (n, e; modulus 2048..8192 bits, e odd and below 2^32),
 * EC P-256 and P-384 (crv, x, y; the point is checked to lie on the curve)
 * and OKP Ed25519 (crv, x) (RFC 7518 §6, RFC 8037 §2). A key that cannot be
 * used is skipped with a log line and the rest of the set stays usable: an
 * unsupported kty or crv, use other than "sig", key_ops without "verify",
 * private members (d, p, q, ...: the IdP published a private key, so the key
 * is not trusted), a repeated kid (the first key with that kid wins), or any
 * malformed member. A set with no usable key is an error, as is a set of more
 * than AG_JWKS_MAX keys.
 */
#ifndef AG_JWK_H
#define AG_JWK_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "base/error.h"
#include "base/log.h"

#define AG_JWKS_MAX 64         /* keys in one set */
#define AG_JWK_KID_MAX 256     /* bytes of one kid */
#define AG_JWK_ALG_MAX 32      /* bytes of a JWK's alg member */
#define AG_JWK_RSA_MIN_BITS 2048
#define AG_JWK_RSA_MAX_BITS 8192

enum ag_jwk_kind {
	AG_JWK_RSA = 1,
	AG_JWK_EC_P256,
	AG_JWK_EC_P384,
	AG_JWK_ED25519,
};

/* One usable public key; owned by its set. */
struct ag_jwk {
	bool has_kid;
	char kid[AG_JWK_KID_MAX + 1];  /* "" when the JWK has none */
	enum ag_jwk_kind kind;
	char kty[4];                   /* "RSA", "EC", "OKP" */
	char crv[16];                  /* "P-256", "P-384", "Ed25519"; "" for RSA */
	char alg[AG_JWK_ALG_MAX + 1];  /* the JWK's alg, "" when absent */
	char use[4];                   /* "sig" or "" when absent */
	int bits;                      /* key size in bits */
	char desc[64];                 /* "RS256, RSA 2048" for people */
	EVP_PKEY *pkey;
};

struct ag_jwks;

/* Parse a JWK Set document {"keys":[...]} of len bytes (not NUL-terminated).
 * Errors: AG_ERR_PARSE (not a JSON object, no "keys" array), AG_ERR_TOO_LARGE
 * (document or key count over the limits), AG_ERR_PROTOCOL (no usable key),
 * AG_ERR_NOMEM. On failure *out is NULL. */
enum ag_err ag_jwks_parse(const char *json, size_t len, const struct ag_log *log, struct ag_jwks **out);

/* Number of usable keys (at least 1 in a parsed set). */
size_t ag_jwks_count(const struct ag_jwks *set);

/* The i-th usable key, NULL when i is out of range. */
const struct ag_jwk *ag_jwks_key(const struct ag_jwks *set, size_t i);

/* The key with this kid, NULL when there is none. */
const struct ag_jwk *ag_jwks_find(const struct ag_jwks *set, const char *kid);

/* The i-th key's kid (NULL when it has none or i is out of range). */
const char *ag_jwks_kid(const struct ag_jwks *set, size_t i);

/* A short description for people, "RS256, RSA 2048" or "EC P-256" when the
 * JWK names no alg; NULL when i is out of range. */
const char *ag_jwks_alg_desc(const struct ag_jwks *set, size_t i);

void ag_jwks_free(struct ag_jwks *set);

#endif
