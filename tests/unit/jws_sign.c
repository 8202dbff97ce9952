/* Test-only JWS signer and JWK writer (see jws_sign.h). Failures abort: a
 * test helper that cannot do its job must not make a test pass. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include "jose/b64url.h"
#include "jws_sign.h"

static void die(const char *what)
{
	fprintf(stderr, "jws_sign: %s failed\n", what);
	abort();
}

EVP_PKEY *test_keygen(const char *what)
{
	EVP_PKEY *key = NULL;

	if (strcmp(what, "RSA-2048") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(what, "RSA-1024") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	else if (strcmp(what, "P-256") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(what, "P-384") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(what, "Ed25519") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!key)
		die(what);
	return key;
}

static char *b64(const void *p, size_t n)
{
	char *s;

	if (ag_b64url_encode(p, n, &s) != AG_OK)
		die("base64url");
	return s;
}

char *test_jws_compact(const char *header_json, const char *payload_json, const unsigned char *sig,
		       size_t sig_len)
{
	char *h = b64(header_json, strlen(header_json));
	char *p = b64(payload_json, strlen(payload_json));
	char *s = b64(sig, sig_len);
	size_t n = strlen(h) + strlen(p) + strlen(s) + 3;
	char *token = malloc(n);

	if (!token)
		die("malloc");
	snprintf(token, n, "%s.%s.%s", h, p, s);
	free(h);
	free(p);
	free(s);
	return token;
}

/* DER ECDSA-Sig-Value to raw r||s of 2 * half bytes (RFC 7518 §3.4). */
static void der_to_raw(const unsigned char *der, size_t der_len, size_t half, unsigned char *raw)
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;

	if (!es)
		die("d2i_ECDSA_SIG");
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, raw, (int)half) < 0 || BN_bn2binpad(s, raw + half, (int)half) < 0)
		die("BN_bn2binpad");
	ECDSA_SIG_free(es);
}

char *test_jws_sign(const char *header_json, const char *payload_json, EVP_PKEY *key, const char *alg,
		    int flags)
{
	char *h = b64(header_json, strlen(header_json));
	char *p = b64(payload_json, strlen(payload_json));
	size_t in_len = strlen(h) + 1 + strlen(p), sig_len = 0;
	char *input = malloc(in_len + 1), *token;
	const char *md = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig, raw[96];

	if (!input || !ctx)
		die("malloc");
	snprintf(input, in_len + 1, "%s.%s", h, p);
	if (strcmp(alg + 2, "256") == 0)
		md = "SHA256";
	else if (strcmp(alg + 2, "384") == 0)
		md = "SHA384";
	else if (strcmp(alg + 2, "512") == 0)
		md = "SHA512";
	if (EVP_DigestSignInit_ex(ctx, &pctx, strcmp(alg, "EdDSA") == 0 ? NULL : md, NULL, NULL, key, NULL) != 1)
		die("EVP_DigestSignInit_ex");
	if (alg[0] == 'R' && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		die("PKCS1 padding");
	if (alg[0] == 'P' && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
			      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
			      EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL) != 1))
		die("PSS padding");
	if (EVP_DigestSign(ctx, NULL, &sig_len, (unsigned char *)input, in_len) != 1)
		die("EVP_DigestSign size");
	sig = malloc(sig_len);
	if (!sig || EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)input, in_len) != 1)
		die("EVP_DigestSign");
	if (alg[0] == 'E' && alg[1] == 'S' && !(flags & TEST_SIGN_ES_DER)) {
		size_t half = strcmp(alg, "ES256") == 0 ? 32 : 48;

		der_to_raw(sig, sig_len, half, raw);
		token = test_jws_compact(header_json, payload_json, raw, 2 * half);
	} else {
		token = test_jws_compact(header_json, payload_json, sig, sig_len);
	}
	free(sig);
	free(input);
	free(h);
	free(p);
	EVP_MD_CTX_free(ctx);
	return token;
}

static json_t *b64_bn_param(EVP_PKEY *key, const char *name, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;
	char *s;
	json_t *v;

	if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
		die(name);
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	if (n <= 0)
		die("BN_bn2bin");
	s = b64(buf, (size_t)n);
	v = json_string(s);
	free(s);
	BN_free(bn);
	return v;
}

json_t *test_jwk(EVP_PKEY *key, const char *kid, const char *alg)
{
	json_t *jwk = json_object();
	char group[32];
	unsigned char raw[32];
	size_t raw_len = sizeof raw;
	char *s;

	if (!jwk)
		die("json_object");
	if (EVP_PKEY_is_a(key, "RSA")) {
		json_object_set_new(jwk, "kty", json_string("RSA"));
		json_object_set_new(jwk, "n", b64_bn_param(key, OSSL_PKEY_PARAM_RSA_N, 0));
		json_object_set_new(jwk, "e", b64_bn_param(key, OSSL_PKEY_PARAM_RSA_E, 0));
	} else if (EVP_PKEY_is_a(key, "EC")) {
		int size;

		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL) != 1)
			die("group name");
		size = strcmp(group, "prime256v1") == 0 ? 32 : 48;
		json_object_set_new(jwk, "kty", json_string("EC"));
		json_object_set_new(jwk, "crv", json_string(size == 32 ? "P-256" : "P-384"));
		json_object_set_new(jwk, "x", b64_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, size));
		json_object_set_new(jwk, "y", b64_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, size));
	} else {
		if (EVP_PKEY_get_raw_public_key(key, raw, &raw_len) != 1)
			die("raw public key");
		s = b64(raw, raw_len);
		json_object_set_new(jwk, "kty", json_string("OKP"));
		json_object_set_new(jwk, "crv", json_string("Ed25519"));
		json_object_set_new(jwk, "x", json_string(s));
		free(s);
	}
	if (kid)
		json_object_set_new(jwk, "kid", json_string(kid));
	if (alg)
		json_object_set_new(jwk, "alg", json_string(alg));
	json_object_set_new(jwk, "use", json_string("sig"));
	return jwk;
}

char *test_jwks_text(json_t *const *jwks, size_t n)
{
	json_t *root = json_object(), *keys = json_array();
	char *text;

	for (size_t i = 0; i < n; i++)
		json_array_append(keys, jwks[i]);
	json_object_set_new(root, "keys", keys);
	text = json_dumps(root, JSON_COMPACT);
	if (!text)
		die("json_dumps");
	json_decref(root);
	return text;
}
