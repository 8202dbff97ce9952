/* PKCE, state and nonce (see pkce.h). */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/secret.h"
#include "jose/b64url.h"
#include "oidc/pkce.h"
#include "base/ossl.h" /* after the OpenSSL headers: libcrypto through its table */

enum ag_err ag_random_b64url(size_t n, char **out)
{
	unsigned char buf[64];
	enum ag_err err;

	*out = NULL;
	if (n > sizeof buf)
		return AG_ERR_INVALID_ARG;
	if (RAND_bytes(buf, (int)n) != 1)
		return AG_ERR_NOMEM;
	err = ag_b64url_encode(buf, n, out);
	ag_wipe(buf, sizeof buf);
	return err;
}

enum ag_err ag_pkce_new(struct ag_pkce *p)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	enum ag_err err;

	memset(p, 0, sizeof *p);
	err = ag_random_b64url(48, &p->verifier);
	if (err == AG_OK)
		err = ag_random_b64url(16, &p->state);
	if (err == AG_OK)
		err = ag_random_b64url(16, &p->nonce);
	if (err == AG_OK && EVP_Digest(p->verifier, strlen(p->verifier), digest, &dlen, EVP_sha256(), NULL) != 1)
		err = AG_ERR_NOMEM;
	if (err == AG_OK)
		err = ag_b64url_encode(digest, dlen, &p->challenge);
	if (err != AG_OK)
		ag_pkce_clear(p);
	return err;
}

void ag_pkce_clear(struct ag_pkce *p)
{
	ag_free_secret(p->verifier);
	ag_free_secret(p->challenge);
	ag_free_secret(p->state);
	ag_free_secret(p->nonce);
	memset(p, 0, sizeof *p);
}
