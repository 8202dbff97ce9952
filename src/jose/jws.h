/* Verification of compact JWS tokens (RFC 7515 §7.1) with the algorithms of
 * RFC 7518 §3 and RFC 8037 §3.1, on OpenSSL 3 EVP.
 *
 * A token is refused before any decoding when it is over AG_JWS_MAX bytes; it
 * must be exactly three base64url parts. The header and the payload must be
 * JSON objects without duplicate keys. Refused outright: alg "none", the HMAC
 * algorithms HS* (a public key must never be taken as a shared secret),
 * unknown algs, algs outside the caller's mask, and the headers crit (we
 * understand no extension), b64 (RFC 7797), jku, x5u, jwk and x5c (the key
 * must come from our JWKS, never from the token). The key is chosen by kid; a
 * token without kid is accepted only when the set holds one key. The key's
 * kty/crv must fit the alg and, when the JWK names an alg, it must be the
 * header's alg. The signature is checked before the payload is parsed.
 */
#ifndef AG_JWS_H
#define AG_JWS_H

#include <stddef.h>

#include <jansson.h>

#include "base/error.h"
#include "base/log.h"
#include "jose/jwk.h"

#define AG_JWS_MAX (16 * 1024) /* bytes of one compact token */
#define AG_JWS_TYP_MAX 64      /* bytes of the typ header */

/* One bit per supported algorithm. */
#define AG_JWS_RS256 (1u << 0)
#define AG_JWS_RS384 (1u << 1)
#define AG_JWS_RS512 (1u << 2)
#define AG_JWS_PS256 (1u << 3)
#define AG_JWS_PS384 (1u << 4)
#define AG_JWS_PS512 (1u << 5)
#define AG_JWS_ES256 (1u << 6)
#define AG_JWS_ES384 (1u << 7)
#define AG_JWS_EDDSA (1u << 8)
#define AG_JWS_ALL   ((1u << 9) - 1)

/* The bit of a supported alg name ("RS256"; names are case-sensitive), 0 for
 * anything else, "none" and HS* included. */
unsigned ag_jws_alg_from_name(const char *name);

/* The name of a single alg bit, NULL for anything else. */
const char *ag_jws_alg_name(unsigned alg);

/* Parse a list of alg names separated by spaces, tabs or commas (the
 * allowed_algs setting) into a mask. An empty list, an unknown name, "none"
 * or HS* is AG_ERR_CONFIG, logged with the offending name. */
enum ag_err ag_jws_alg_list_parse(const char *list, const struct ag_log *log, unsigned *mask);

struct ag_jws_result {
	json_t *payload;                /* the verified claims; the caller json_decref()s it */
	unsigned alg;                   /* the alg bit that verified */
	char typ[AG_JWS_TYP_MAX + 1];   /* the typ header, "" when absent */
};

/* Verify the compact JWS token (len bytes, not NUL-terminated) with a key of
 * jwks and an alg in allowed_algs.
 * Errors, each with its own log line starting "jws: ":
 *   AG_ERR_TOO_LARGE      over AG_JWS_MAX bytes
 *   AG_ERR_PARSE          malformed: parts, base64url, JSON, header members
 *   AG_ERR_KEY_NOT_FOUND  the kid is not in jwks (refetch the JWKS once, retry)
 *   AG_ERR_SIGNATURE      bad signature, refused or disallowed alg, refused
 *                         header, key that does not fit the alg, no kid with
 *                         several keys
 * On failure out->payload is NULL. */
enum ag_err ag_jws_verify(const char *token, size_t len, const struct ag_jwks *jwks, unsigned allowed_algs,
			  const struct ag_log *log, struct ag_jws_result *out);

#endif
