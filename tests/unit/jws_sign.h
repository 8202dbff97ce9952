/* Test-only JWS signer and JWK writer. The product never signs; this lets
 * the tests make real tokens with keys they generate. */
#ifndef TEST_JWS_SIGN_H
#define TEST_JWS_SIGN_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#define TEST_SIGN_ES_DER 1 /* ES*: keep OpenSSL's DER signature instead of raw r||s */

/* A fresh key: "RSA-2048", "RSA-1024", "P-256", "P-384" or "Ed25519". */
EVP_PKEY *test_keygen(const char *what);

/* Sign header_json and payload_json (used byte for byte) with key for alg
 * (RS*, PS*, ES*, EdDSA) and return the malloc'd compact JWS. */
char *test_jws_sign(const char *header_json, const char *payload_json, EVP_PKEY *key, const char *alg,
		    int flags);

/* A compact JWS from its parts: the two JSON texts and raw signature bytes. */
char *test_jws_compact(const char *header_json, const char *payload_json, const unsigned char *sig,
		       size_t sig_len);

/* The public JWK of key as a JSON object, with kid and alg when not NULL. */
json_t *test_jwk(EVP_PKEY *key, const char *kid, const char *alg);

/* {"keys":[...]} of the given JWKs as text (the JWKs are not consumed). */
char *test_jwks_text(json_t *const *jwks, size_t n);

#endif
