/* Per-login secrets of an authorization request: the PKCE verifier and its
 * S256 challenge (RFC 7636), state and nonce, all from the CSPRNG. */
#ifndef AG_PKCE_H
#define AG_PKCE_H

#include "base/error.h"

struct ag_pkce {
	char *verifier;   /* 64 base64url characters (48 random bytes) */
	char *challenge;  /* base64url(SHA-256(verifier)) */
	char *state;      /* 22 characters (16 random bytes) */
	char *nonce;      /* 22 characters (16 random bytes) */
};

enum ag_err ag_pkce_new(struct ag_pkce *p);
/* Wipe and free. */
void ag_pkce_clear(struct ag_pkce *p);

/* n random bytes from the CSPRNG as base64url text. */
enum ag_err ag_random_b64url(size_t n, char **out);

#endif
