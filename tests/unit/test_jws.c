/* cmocka tests for JWK Sets and JWS verification: every algorithm end to
 * end with keys made here, then the attack table. Each refusal is checked by
 * its return code and by the reason it logged. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/pem.h>

#include "jose/b64url.h"
#include "capture.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "jws_sign.h"

static EVP_PKEY *rsa, *rsa_small, *p256, *p384, *ed;
static struct ag_jwks *jwks; /* kids rsa, p256, p384, ed; no JWK alg */

#define PAYLOAD "{\"sub\":\"alice\",\"iss\":\"https://auth.example.com\"}"

static int setup(void **state)
{
	json_t *keys[4];
	char *text;

	rsa = test_keygen("RSA-2048");
	rsa_small = test_keygen("RSA-1024");
	p256 = test_keygen("P-256");
	p384 = test_keygen("P-384");
	ed = test_keygen("Ed25519");
	keys[0] = test_jwk(rsa, "rsa", NULL);
	keys[1] = test_jwk(p256, "p256", NULL);
	keys[2] = test_jwk(p384, "p384", NULL);
	keys[3] = test_jwk(ed, "ed", NULL);
	text = test_jwks_text(keys, 4);
	if (ag_jwks_parse(text, strlen(text), &capture_log, &jwks) != AG_OK)
		return -1;
	free(text);
	for (size_t i = 0; i < 4; i++)
		json_decref(keys[i]);
	return 0;
}

static int teardown(void **state)
{
	ag_jwks_free(jwks);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa_small);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(ed);
	return 0;
}

static int reset_log(void **state)
{
	capture_reset();
	return 0;
}

/* Verify token against set with mask; the payload is dropped. */
static enum ag_err verify_with(const char *token, const struct ag_jwks *set, unsigned mask)
{
	struct ag_jws_result res;
	enum ag_err err = ag_jws_verify(token, strlen(token), set, mask, &capture_log, &res);

	if (err != AG_OK)
		assert_null(res.payload);
	json_decref(res.payload);
	return err;
}

static enum ag_err verify(const char *token)
{
	return verify_with(token, jwks, AG_JWS_ALL);
}

/* Sign header and payload, verify, expect err and a log line with reason. */
static void expect_refused(const char *header, const char *payload, EVP_PKEY *key, const char *sign_alg,
			   enum ag_err want, const char *reason)
{
	char *token = test_jws_sign(header, payload, key, sign_alg, 0);

	capture_reset();
	assert_int_equal(verify(token), want);
	assert_logged(reason);
	free(token);
}

static char *b64_text(const char *s)
{
	char *out;

	assert_int_equal(ag_b64url_encode((const unsigned char *)s, strlen(s), &out), AG_OK);
	return out;
}

static char *join3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "%s.%s.%s", a, b, c);
	return s;
}

/* --- every algorithm, end to end ------------------------------------------ */

static void test_every_alg_verifies(void **state)
{
	static const struct {
		const char *alg;
		const char *kid;
		EVP_PKEY **key;
		unsigned bit;
	} cases[] = {
		{ "RS256", "rsa", &rsa, AG_JWS_RS256 }, { "RS384", "rsa", &rsa, AG_JWS_RS384 },
		{ "RS512", "rsa", &rsa, AG_JWS_RS512 }, { "PS256", "rsa", &rsa, AG_JWS_PS256 },
		{ "PS384", "rsa", &rsa, AG_JWS_PS384 }, { "PS512", "rsa", &rsa, AG_JWS_PS512 },
		{ "ES256", "p256", &p256, AG_JWS_ES256 }, { "ES384", "p384", &p384, AG_JWS_ES384 },
		{ "EdDSA", "ed", &ed, AG_JWS_EDDSA },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char header[128], *token;
		struct ag_jws_result res;

		snprintf(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", cases[i].alg,
			 cases[i].kid);
		token = test_jws_sign(header, PAYLOAD, *cases[i].key, cases[i].alg, 0);
		capture_reset();
		if (ag_jws_verify(token, strlen(token), jwks, AG_JWS_ALL, &capture_log, &res) != AG_OK)
			print_error("%s: %s", cases[i].alg, capture_text());
		assert_non_null(res.payload);
		assert_string_equal(json_string_value(json_object_get(res.payload, "sub")), "alice");
		assert_int_equal(res.alg, cases[i].bit);
		assert_string_equal(res.typ, "JWT");
		assert_string_equal(capture_text(), "");
		json_decref(res.payload);

		/* the same token with only its own alg allowed */
		assert_int_equal(verify_with(token, jwks, cases[i].bit), AG_OK);
		free(token);
	}
}

static void test_typ_exposed(void **state)
{
	char *token = test_jws_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"typ\":\"at+jwt\"}", PAYLOAD, rsa, "RS256", 0);
	struct ag_jws_result res;

	assert_int_equal(ag_jws_verify(token, strlen(token), jwks, AG_JWS_ALL, &capture_log, &res), AG_OK);
	assert_string_equal(res.typ, "at+jwt");
	json_decref(res.payload);
	free(token);

	token = test_jws_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", 0);
	assert_int_equal(ag_jws_verify(token, strlen(token), jwks, AG_JWS_ALL, &capture_log, &res), AG_OK);
	assert_string_equal(res.typ, "");
	json_decref(res.payload);
	free(token);

	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"typ\":7}", PAYLOAD, rsa, "RS256", AG_ERR_PARSE,
		       "jws: header typ is not a string");
}

static void test_single_key_without_kid(void **state)
{
	json_t *k = test_jwk(p256, NULL, "ES256");
	struct ag_jwks *one;
	char *text = test_jwks_text(&k, 1);
	char *token = test_jws_sign("{\"alg\":\"ES256\"}", PAYLOAD, p256, "ES256", 0);

	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &one), AG_OK);
	assert_int_equal(verify_with(token, one, AG_JWS_ALL), AG_OK);
	/* a kid in the token that the set does not know is still unknown */
	free(token);
	token = test_jws_sign("{\"alg\":\"ES256\",\"kid\":\"p256\"}", PAYLOAD, p256, "ES256", 0);
	capture_reset();
	assert_int_equal(verify_with(token, one, AG_JWS_ALL), AG_ERR_KEY_NOT_FOUND);
	assert_logged("jws: kid p256 not in JWKS");
	free(token);
	free(text);
	json_decref(k);
	ag_jwks_free(one);
}

/* --- the attack table ------------------------------------------------------ */

static void test_alg_none(void **state)
{
	static const char *const headers[] = {
		"{\"alg\":\"none\",\"kid\":\"rsa\"}",
		"{\"alg\":\"None\",\"kid\":\"rsa\"}",
		"{\"alg\":\"NONE\"}",
	};

	for (size_t i = 0; i < 3; i++) {
		char *h = b64_text(headers[i]), *p = b64_text(PAYLOAD);
		char *token = join3(h, p, "");

		capture_reset();
		assert_int_equal(verify(token), AG_ERR_SIGNATURE);
		assert_logged("jws: alg none refused");
		free(token);
		/* with a signature attached as well */
		token = join3(h, p, "c2lnbmF0dXJl");
		capture_reset();
		assert_int_equal(verify(token), AG_ERR_SIGNATURE);
		assert_logged("jws: alg none refused");
		free(token);
		free(h);
		free(p);
	}
}

static void test_hs256_with_public_key_as_secret(void **state)
{
	const char *header = "{\"alg\":\"HS256\",\"kid\":\"rsa\"}";
	char *h = b64_text(header), *p = b64_text(PAYLOAD), *input, *token;
	unsigned char mac[64];
	size_t mac_len = 0;
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long pem_len;

	/* The classic confusion: HMAC keyed with the verifier's public key. */
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa), 1);
	pem_len = BIO_get_mem_data(bio, &pem);
	input = join3(h, p, "");
	input[strlen(input) - 1] = '\0'; /* "h.p" */
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem, (size_t)pem_len,
				  (unsigned char *)input, strlen(input), mac, sizeof mac, &mac_len));
	token = test_jws_compact(header, PAYLOAD, mac, mac_len);
	capture_reset();
	assert_int_equal(verify(token), AG_ERR_SIGNATURE);
	assert_logged("jws: alg HS256 refused");
	free(token);
	free(input);
	free(h);
	free(p);
	BIO_free(bio);

	expect_refused("{\"alg\":\"HS512\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS512", AG_ERR_SIGNATURE,
		       "jws: alg HS512 refused");
}

static void test_unknown_alg(void **state)
{
	expect_refused("{\"alg\":\"ES512\",\"kid\":\"p256\"}", PAYLOAD, p256, "ES256", AG_ERR_SIGNATURE,
		       "jws: alg ES512 not supported");
	expect_refused("{\"alg\":\"rs256\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", AG_ERR_SIGNATURE,
		       "jws: alg rs256 not supported");
	expect_refused("{\"alg\":\"RSA-OAEP\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", AG_ERR_SIGNATURE,
		       "jws: alg RSA-OAEP not supported");
	expect_refused("{\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", AG_ERR_PARSE, "jws: header alg missing");
	expect_refused("{\"alg\":256,\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", AG_ERR_PARSE,
		       "jws: header alg missing");
}

static void test_wrong_kid(void **state)
{
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rotated-away\"}", PAYLOAD, rsa, "RS256", AG_ERR_KEY_NOT_FOUND,
		       "jws: kid rotated-away not in JWKS");
	expect_refused("{\"alg\":\"RS256\",\"kid\":42}", PAYLOAD, rsa, "RS256", AG_ERR_PARSE,
		       "jws: header kid is not a string");
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"\"}", PAYLOAD, rsa, "RS256", AG_ERR_PARSE,
		       "jws: header kid is not a string");
}

static void test_kty_mismatch(void **state)
{
	/* RS256 header naming the EC key: refused before any RSA math. */
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"p256\"}", PAYLOAD, rsa, "RS256", AG_ERR_SIGNATURE,
		       "jws: key p256 (EC P-256) does not fit alg RS256 (kty/crv mismatch)");
	/* ES256 header naming the RSA key */
	expect_refused("{\"alg\":\"ES256\",\"kid\":\"rsa\"}", PAYLOAD, p256, "ES256", AG_ERR_SIGNATURE,
		       "does not fit alg ES256");
	/* right kty, wrong curve */
	expect_refused("{\"alg\":\"ES384\",\"kid\":\"p256\"}", PAYLOAD, p384, "ES384", AG_ERR_SIGNATURE,
		       "jws: key p256 (EC P-256) does not fit alg ES384");
	expect_refused("{\"alg\":\"EdDSA\",\"kid\":\"p256\"}", PAYLOAD, ed, "EdDSA", AG_ERR_SIGNATURE,
		       "does not fit alg EdDSA");
	expect_refused("{\"alg\":\"ES256\",\"kid\":\"ed\"}", PAYLOAD, p256, "ES256", AG_ERR_SIGNATURE,
		       "jws: key ed (OKP Ed25519) does not fit alg ES256");
}

static void test_jwk_alg_must_match_header(void **state)
{
	json_t *k = test_jwk(rsa, "rsa", "RS256");
	struct ag_jwks *set;
	char *text = test_jwks_text(&k, 1), *token;

	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_OK);
	token = test_jws_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", 0);
	assert_int_equal(verify_with(token, set, AG_JWS_ALL), AG_OK);
	free(token);
	/* a valid PS256 signature by the same key, but the JWK says RS256 */
	token = test_jws_sign("{\"alg\":\"PS256\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "PS256", 0);
	capture_reset();
	assert_int_equal(verify_with(token, set, AG_JWS_ALL), AG_ERR_SIGNATURE);
	assert_logged("jws: key rsa is for alg RS256, token uses PS256");
	free(token);
	free(text);
	json_decref(k);
	ag_jwks_free(set);
}

/* token with its signature cut to its first keep bytes, canonically encoded. */
static char *cut_signature(const char *token, size_t keep)
{
	const char *sig = strrchr(token, '.') + 1;
	unsigned char *bytes;
	size_t len, head = (size_t)(sig - token);
	char *text, *out;

	assert_int_equal(ag_b64url_decode(sig, strlen(sig), &bytes, &len), AG_OK);
	assert_true(keep <= len);
	assert_int_equal(ag_b64url_encode(bytes, keep, &text), AG_OK);
	out = malloc(head + strlen(text) + 1);
	assert_non_null(out);
	memcpy(out, token, head);
	strcpy(out + head, text);
	free(bytes);
	free(text);
	return out;
}

static void test_truncated_signature(void **state)
{
	static const struct {
		const char *header;
		EVP_PKEY **key;
		const char *alg;
		size_t keep;
		const char *reason;
	} cases[] = {
		{ "{\"alg\":\"RS256\",\"kid\":\"rsa\"}", &rsa, "RS256", 253, "jws: RS256 signature of 253 bytes, want 256" },
		{ "{\"alg\":\"PS512\",\"kid\":\"rsa\"}", &rsa, "PS512", 255, "jws: PS512 signature of 255 bytes, want 256" },
		{ "{\"alg\":\"ES256\",\"kid\":\"p256\"}", &p256, "ES256", 62, "jws: ES256 signature of 62 bytes, want 64" },
		{ "{\"alg\":\"ES384\",\"kid\":\"p384\"}", &p384, "ES384", 48, "jws: ES384 signature of 48 bytes, want 96" },
		{ "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", &ed, "EdDSA", 63, "jws: EdDSA signature of 63 bytes, want 64" },
		{ "{\"alg\":\"EdDSA\",\"kid\":\"ed\"}", &ed, "EdDSA", 0, "jws: EdDSA signature of 0 bytes, want 64" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *token = test_jws_sign(cases[i].header, PAYLOAD, *cases[i].key, cases[i].alg, 0);
		char *cut = cut_signature(token, cases[i].keep);

		capture_reset();
		assert_int_equal(verify(cut), AG_ERR_SIGNATURE);
		assert_logged(cases[i].reason);
		free(cut);
		/* cut mid-character: 1 mod 4 characters is no whole number of bytes */
		token[strlen(token) - 1] = '\0';
		if ((strlen(strrchr(token, '.') + 1) % 4) == 1) {
			capture_reset();
			assert_int_equal(verify(token), AG_ERR_PARSE);
			assert_logged("jws: signature is not base64url");
		}
		free(token);
	}
}

static void test_tampered(void **state)
{
	static const char *const algs[][2] = {
		{ "RS256", "rsa" }, { "PS384", "rsa" }, { "ES256", "p256" }, { "ES384", "p384" }, { "EdDSA", "ed" },
	};
	EVP_PKEY *keys[] = { rsa, rsa, p256, p384, ed };

	for (size_t i = 0; i < 5; i++) {
		char header[96], *token, *evil, *dot1, *dot2, *p;

		snprintf(header, sizeof header, "{\"alg\":\"%s\",\"kid\":\"%s\"}", algs[i][0], algs[i][1]);
		token = test_jws_sign(header, PAYLOAD, keys[i], algs[i][0], 0);

		/* payload swapped for another with the signature kept */
		dot1 = strchr(token, '.');
		dot2 = strchr(dot1 + 1, '.');
		*dot1 = *dot2 = '\0';
		p = b64_text("{\"sub\":\"root\",\"iss\":\"https://auth.example.com\"}");
		evil = join3(token, p, dot2 + 1);
		capture_reset();
		assert_int_equal(verify(evil), AG_ERR_SIGNATURE);
		assert_logged("jws: signature invalid");
		free(evil);
		free(p);
		*dot1 = *dot2 = '.';

		/* one bit of the signature flipped (its first character: all 6 bits used) */
		dot2[1] = dot2[1] == 'A' ? 'B' : 'A';
		capture_reset();
		assert_int_equal(verify(token), AG_ERR_SIGNATURE);
		assert_logged("jws: signature invalid");
		free(token);
	}
}

static void test_non_base64url(void **state)
{
	char *good = test_jws_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", 0);
	static const struct {
		int part;     /* 0 header, 1 payload, 2 signature */
		char c;
		const char *reason;
	} cases[] = {
		{ 0, '+', "jws: header is not base64url" }, { 0, '=', "jws: header is not base64url" },
		{ 1, '/', "jws: payload is not base64url" }, { 1, ' ', "jws: payload is not base64url" },
		{ 2, '!', "jws: signature is not base64url" }, { 2, '\n', "jws: signature is not base64url" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *token = strdup(good), *at = token;

		for (int k = 0; k < cases[i].part; k++)
			at = strchr(at, '.') + 1;
		at[2] = cases[i].c;
		capture_reset();
		assert_int_equal(verify(token), AG_ERR_PARSE);
		assert_logged(cases[i].reason);
		free(token);
	}
	/* base64 padding on the signature */
	{
		size_t n = strlen(good);
		char *token = malloc(n + 3);

		memcpy(token, good, n);
		memcpy(token + n, "==", 3);
		capture_reset();
		assert_int_equal(verify(token), AG_ERR_PARSE);
		assert_logged("jws: signature is not base64url");
		free(token);
	}
	/* a NUL byte inside the given length */
	{
		size_t n = strlen(good);
		struct ag_jws_result res;

		good[5] = '\0';
		capture_reset();
		assert_int_equal(ag_jws_verify(good, n, jwks, AG_JWS_ALL, &capture_log, &res), AG_ERR_PARSE);
		assert_logged("jws: header is not base64url");
	}
	free(good);
}

static void test_huge_token_refused_before_decoding(void **state)
{
	size_t n = 2 * 1024 * 1024;
	char *token = malloc(n);
	struct ag_jws_result res;

	assert_non_null(token);
	memset(token, 'A', n);
	token[100] = token[200] = '.';
	capture_reset();
	assert_int_equal(ag_jws_verify(token, n, jwks, AG_JWS_ALL, &capture_log, &res), AG_ERR_TOO_LARGE);
	assert_logged("jws: token of 2097152 bytes, over the 16384 byte limit");
	assert_int_equal(strchr(capture_text(), '\n') - capture_text() + 1, strlen(capture_text())); /* one line */
	/* one byte over the limit, and exactly at it */
	capture_reset();
	assert_int_equal(ag_jws_verify(token, AG_JWS_MAX + 1, jwks, AG_JWS_ALL, &capture_log, &res),
			 AG_ERR_TOO_LARGE);
	capture_reset();
	assert_int_equal(ag_jws_verify(token, AG_JWS_MAX, jwks, AG_JWS_ALL, &capture_log, &res), AG_ERR_PARSE);
	assert_false(capture_has("over the"));
	free(token);
}

static void test_duplicate_json_keys(void **state)
{
	/* header: a second alg that a lax parser might take */
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"alg\":\"none\"}", PAYLOAD, rsa, "RS256", AG_ERR_PARSE,
		       "duplicate object key");
	assert_logged("jws: header: invalid JSON");
	/* payload: validly signed, but two subjects */
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", "{\"sub\":\"alice\",\"sub\":\"root\"}", rsa, "RS256",
		       AG_ERR_PARSE, "duplicate object key");
	assert_logged("jws: payload: invalid JSON");
}

static void test_not_json_objects(void **state)
{
	expect_refused("[\"RS256\"]", PAYLOAD, rsa, "RS256", AG_ERR_PARSE, "jws: header: not a JSON object");
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", "[\"alice\"]", rsa, "RS256", AG_ERR_PARSE,
		       "jws: payload: not a JSON object");
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", "\"alice\"", rsa, "RS256", AG_ERR_PARSE,
		       "jws: payload: invalid JSON");
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", "{\"sub\":", rsa, "RS256", AG_ERR_PARSE,
		       "jws: payload: invalid JSON");
}

static void test_crit_header(void **state)
{
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"crit\":[\"exp\"],\"exp\":1}", PAYLOAD, rsa, "RS256",
		       AG_ERR_SIGNATURE, "jws: header has crit");
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"crit\":[\"b64\"],\"b64\":false}", PAYLOAD, rsa, "RS256",
		       AG_ERR_SIGNATURE, "jws: header has crit");
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"b64\":false}", PAYLOAD, rsa, "RS256", AG_ERR_SIGNATURE,
		       "jws: header has b64");
}

static void test_key_carrying_headers(void **state)
{
	char header[2048];
	json_t *jwk = test_jwk(rsa, "rsa", NULL);
	char *jwk_text = json_dumps(jwk, JSON_COMPACT);

	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"jku\":\"https://evil.example/jwks\"}", PAYLOAD, rsa,
		       "RS256", AG_ERR_SIGNATURE, "jws: header has jku");
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"x5u\":\"https://evil.example/cert\"}", PAYLOAD, rsa,
		       "RS256", AG_ERR_SIGNATURE, "jws: header has x5u");
	expect_refused("{\"alg\":\"RS256\",\"kid\":\"rsa\",\"x5c\":[\"MIIB\"]}", PAYLOAD, rsa, "RS256",
		       AG_ERR_SIGNATURE, "jws: header has x5c");
	/* an embedded jwk that really is the signer's key is still refused */
	snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"kid\":\"rsa\",\"jwk\":%s}", jwk_text);
	expect_refused(header, PAYLOAD, rsa, "RS256", AG_ERR_SIGNATURE, "jws: header has jwk");
	free(jwk_text);
	json_decref(jwk);
}

static void test_es256_der_signature(void **state)
{
	char *token = test_jws_sign("{\"alg\":\"ES256\",\"kid\":\"p256\"}", PAYLOAD, p256, "ES256", TEST_SIGN_ES_DER);

	capture_reset();
	assert_int_equal(verify(token), AG_ERR_SIGNATURE);
	assert_logged("jws: ES256 signature of 7"); /* DER: 70 to 72 bytes */
	assert_logged("want 64");
	free(token);

	token = test_jws_sign("{\"alg\":\"ES384\",\"kid\":\"p384\"}", PAYLOAD, p384, "ES384", TEST_SIGN_ES_DER);
	capture_reset();
	assert_int_equal(verify(token), AG_ERR_SIGNATURE);
	assert_logged("want 96");
	free(token);
}

static void test_small_rsa_key(void **state)
{
	json_t *keys[2] = { test_jwk(rsa_small, "small", "RS256"), test_jwk(rsa, "rsa", "RS256") };
	struct ag_jwks *set;
	char *text = test_jwks_text(keys, 2), *token;

	capture_reset();
	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_OK);
	assert_logged("jwk: key 0 (kid small) skipped: RSA modulus of 1024 bits, want 2048 to 8192");
	assert_int_equal(ag_jwks_count(set), 1);
	token = test_jws_sign("{\"alg\":\"RS256\",\"kid\":\"small\"}", PAYLOAD, rsa_small, "RS256", 0);
	capture_reset();
	assert_int_equal(verify_with(token, set, AG_JWS_ALL), AG_ERR_KEY_NOT_FOUND);
	assert_logged("jws: kid small not in JWKS");
	free(token);
	free(text);
	ag_jwks_free(set);

	/* alone, the small key leaves nothing usable */
	text = test_jwks_text(keys, 1);
	capture_reset();
	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_ERR_PROTOCOL);
	assert_null(set);
	assert_logged("jwk: JWKS has no usable key (1 listed)");
	free(text);
	json_decref(keys[0]);
	json_decref(keys[1]);
}

static void test_alg_not_allowed(void **state)
{
	char *token = test_jws_sign("{\"alg\":\"ES256\",\"kid\":\"p256\"}", PAYLOAD, p256, "ES256", 0);

	capture_reset();
	assert_int_equal(verify_with(token, jwks, AG_JWS_RS256), AG_ERR_SIGNATURE);
	assert_logged("jws: alg ES256 not allowed");
	capture_reset();
	assert_int_equal(verify_with(token, jwks, 0), AG_ERR_SIGNATURE);
	assert_logged("jws: alg ES256 not allowed");
	assert_int_equal(verify_with(token, jwks, AG_JWS_RS256 | AG_JWS_ES256), AG_OK);
	free(token);

	/* PS256 allowed does not allow RS256 with the same key */
	token = test_jws_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", 0);
	capture_reset();
	assert_int_equal(verify_with(token, jwks, AG_JWS_PS256), AG_ERR_SIGNATURE);
	assert_logged("jws: alg RS256 not allowed");
	free(token);
}

static void test_missing_kid_with_two_keys(void **state)
{
	json_t *keys[2] = { test_jwk(rsa, "a", NULL), test_jwk(p256, "b", NULL) };
	struct ag_jwks *set;
	char *text = test_jwks_text(keys, 2);

	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_OK);
	capture_reset();
	{
		char *token = test_jws_sign("{\"alg\":\"RS256\"}", PAYLOAD, rsa, "RS256", 0);

		assert_int_equal(verify_with(token, set, AG_JWS_ALL), AG_ERR_SIGNATURE);
		assert_logged("jws: header has no kid and the JWKS has 2 keys");
		free(token);
	}
	free(text);
	ag_jwks_free(set);
	json_decref(keys[0]);
	json_decref(keys[1]);
}

static void test_wrong_number_of_parts(void **state)
{
	char *good = test_jws_sign("{\"alg\":\"RS256\",\"kid\":\"rsa\"}", PAYLOAD, rsa, "RS256", 0);
	size_t n = strlen(good);
	char *four = malloc(n + 6);

	memcpy(four, good, n);
	memcpy(four + n, ".AAAA", 6);
	capture_reset();
	assert_int_equal(verify(four), AG_ERR_PARSE);
	assert_logged("jws: token has 4 parts, want 3");
	four[n] = '.';
	four[n + 1] = '\0'; /* trailing empty fourth part */
	capture_reset();
	assert_int_equal(verify(four), AG_ERR_PARSE);
	assert_logged("jws: token has 4 parts, want 3");
	free(four);

	*strrchr(good, '.') = '\0';
	capture_reset();
	assert_int_equal(verify(good), AG_ERR_PARSE);
	assert_logged("jws: token has 2 parts, want 3");
	free(good);

	capture_reset();
	assert_int_equal(verify(""), AG_ERR_PARSE);
	assert_logged("jws: token has 1 parts, want 3");
	capture_reset();
	assert_int_equal(verify(".."), AG_ERR_PARSE);
	assert_logged("jws: header: invalid JSON");
}

/* --- JWK Set parsing --------------------------------------------------------- */

static void expect_jwks(const char *text, enum ag_err want, const char *reason)
{
	struct ag_jwks *set = (struct ag_jwks *)1;

	capture_reset();
	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), want);
	if (want != AG_OK)
		assert_null(set);
	assert_logged(reason);
	ag_jwks_free(want == AG_OK ? set : NULL);
}

/* A set of jwk followed by a good RSA key, so the set itself parses. */
static void expect_key_skipped(json_t *jwk, const char *reason)
{
	json_t *keys[2] = { jwk, test_jwk(rsa, "good", NULL) };
	char *text = test_jwks_text(keys, 2);
	struct ag_jwks *set;

	capture_reset();
	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_OK);
	assert_int_equal(ag_jwks_count(set), 1);
	assert_string_equal(ag_jwks_kid(set, 0), "good");
	assert_logged(reason);
	ag_jwks_free(set);
	free(text);
	json_decref(keys[0]);
	json_decref(keys[1]);
}

static void test_jwks_description(void **state)
{
	json_t *keys[4] = { test_jwk(rsa, "r", "RS256"), test_jwk(p256, "e", NULL), test_jwk(ed, NULL, "EdDSA"),
			    test_jwk(p384, "f", "ES384") };
	char *text = test_jwks_text(keys, 4);
	struct ag_jwks *set;

	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_OK);
	assert_int_equal(ag_jwks_count(set), 4);
	assert_string_equal(ag_jwks_kid(set, 0), "r");
	assert_string_equal(ag_jwks_alg_desc(set, 0), "RS256, RSA 2048");
	assert_string_equal(ag_jwks_alg_desc(set, 1), "EC P-256");
	assert_null(ag_jwks_kid(set, 2));
	assert_string_equal(ag_jwks_alg_desc(set, 2), "EdDSA, OKP Ed25519");
	assert_string_equal(ag_jwks_alg_desc(set, 3), "ES384, EC P-384");
	assert_null(ag_jwks_kid(set, 4));
	assert_null(ag_jwks_alg_desc(set, 4));
	assert_null(ag_jwks_find(set, "nope"));
	assert_ptr_equal(ag_jwks_find(set, "e"), ag_jwks_key(set, 1));
	ag_jwks_free(set);
	free(text);
	for (size_t i = 0; i < 4; i++)
		json_decref(keys[i]);

	/* Authgear's shape: RS256, use sig, a UUID kid and a numeric created_at */
	keys[0] = test_jwk(rsa, "9a0c2e5f-6b1d-4c3e-8f7a-1b2c3d4e5f60", "RS256");
	json_object_set_new(keys[0], "created_at", json_integer(1755770400));
	text = test_jwks_text(keys, 1);
	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_OK);
	assert_string_equal(ag_jwks_kid(set, 0), "9a0c2e5f-6b1d-4c3e-8f7a-1b2c3d4e5f60");
	ag_jwks_free(set);
	free(text);
	json_decref(keys[0]);
}

static void test_jwks_skips_bad_keys(void **state)
{
	json_t *k;
	char big_kid[AG_JWK_KID_MAX + 2];

	k = test_jwk(rsa, "priv", NULL);
	json_object_set_new(k, "d", json_string("AQAB"));
	expect_key_skipped(k, "jwk: key 0 (kid priv) skipped: private key member \"d\" published");

	k = test_jwk(p256, "priv-ec", NULL);
	json_object_set_new(k, "d", json_string("AQAB"));
	expect_key_skipped(k, "private key member \"d\"");

	k = test_jwk(rsa, "enc", NULL);
	json_object_set_new(k, "use", json_string("enc"));
	expect_key_skipped(k, "jwk: key 0 (kid enc) skipped: use is not \"sig\"");

	k = test_jwk(rsa, "ops", NULL);
	json_object_set_new(k, "key_ops", json_pack("[s]", "encrypt"));
	expect_key_skipped(k, "key_ops does not allow verify");

	k = json_pack("{s:s, s:s, s:s}", "kty", "oct", "kid", "hmac", "k", "c2VjcmV0");
	expect_key_skipped(k, "skipped: private key member \"k\"");

	k = json_pack("{s:s, s:s}", "kty", "oct", "kid", "sym");
	expect_key_skipped(k, "kty oct not supported");

	k = test_jwk(ed, "x448", NULL);
	json_object_set_new(k, "crv", json_string("Ed448"));
	expect_key_skipped(k, "OKP crv Ed448 not supported");

	k = test_jwk(p256, "k1", NULL);
	json_object_set_new(k, "crv", json_string("secp256k1"));
	expect_key_skipped(k, "EC crv secp256k1 not supported");

	/* a point off the curve: last byte of y changed */
	{
		const char *y;
		char *bad;

		k = test_jwk(p256, "offcurve", NULL);
		y = json_string_value(json_object_get(k, "y"));
		bad = strdup(y);
		bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
		json_object_set_new(k, "y", json_string(bad));
		free(bad);
		expect_key_skipped(k, "jwk: key 0 (kid offcurve) skipped");
		assert_true(capture_has("OpenSSL refused the EC public key") ||
			    capture_has("EC public key failed validation"));
	}

	k = test_jwk(p256, "short", NULL);
	json_object_set_new(k, "x", json_string("AQAB"));
	expect_key_skipped(k, "EC P-256 coordinates must be 32 bytes each");

	k = test_jwk(ed, "shorted", NULL);
	json_object_set_new(k, "x", json_string("AQAB"));
	expect_key_skipped(k, "Ed25519 x must be 32 bytes");

	k = test_jwk(rsa, "e1", NULL);
	json_object_set_new(k, "e", json_string("AQ"));
	expect_key_skipped(k, "e odd, from 3");

	k = test_jwk(rsa, "even", NULL);
	json_object_set_new(k, "e", json_string("AQAA"));
	expect_key_skipped(k, "e odd, from 3");

	k = test_jwk(rsa, "pad", NULL);
	json_object_set_new(k, "n", json_string("AQAB="));
	expect_key_skipped(k, "n is not base64url");

	k = test_jwk(rsa, "num", NULL);
	json_object_set_new(k, "n", json_integer(65537));
	expect_key_skipped(k, "n missing, not a string or too long");

	memset(big_kid, 'k', sizeof big_kid - 1);
	big_kid[sizeof big_kid - 1] = '\0';
	k = test_jwk(rsa, big_kid, NULL);
	expect_key_skipped(k, "kid is not a string of 1 to 256 bytes");

	k = json_string("not a key");
	expect_key_skipped(k, "jwk: key 0 (kid none) skipped: not a JSON object");

	/* the same kid twice: the first key stays */
	k = test_jwk(p256, "good", NULL);
	{
		json_t *keys[2] = { test_jwk(rsa, "good", NULL), k };
		char *text = test_jwks_text(keys, 2);
		struct ag_jwks *set;

		capture_reset();
		assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_OK);
		assert_int_equal(ag_jwks_count(set), 1);
		assert_int_equal(ag_jwks_key(set, 0)->kind, AG_JWK_RSA);
		assert_logged("jwk: key 1 (kid good) skipped: kid repeated");
		ag_jwks_free(set);
		free(text);
		json_decref(keys[0]);
		json_decref(keys[1]);
	}
}

static void test_jwks_documents(void **state)
{
	json_t *k = test_jwk(p256, NULL, NULL), *keys = json_array(), *root;
	struct ag_jwks *set;
	char *text;

	expect_jwks("not json", AG_ERR_PARSE, "JWKS: invalid JSON");
	expect_jwks("[]", AG_ERR_PARSE, "JWKS: not a JSON object");
	expect_jwks("{}", AG_ERR_PARSE, "jwk: JWKS has no \"keys\" array");
	expect_jwks("{\"keys\":{}}", AG_ERR_PARSE, "jwk: JWKS has no \"keys\" array");
	expect_jwks("{\"keys\":[]}", AG_ERR_PROTOCOL, "jwk: JWKS has no usable key (0 listed)");
	expect_jwks("{\"keys\":[],\"keys\":[]}", AG_ERR_PARSE, "duplicate object key");

	/* 64 keys are fine, 65 are not */
	for (int i = 0; i < AG_JWKS_MAX; i++)
		json_array_append(keys, k);
	root = json_pack("{s:O}", "keys", keys);
	text = json_dumps(root, JSON_COMPACT);
	assert_int_equal(ag_jwks_parse(text, strlen(text), &capture_log, &set), AG_OK);
	assert_int_equal(ag_jwks_count(set), AG_JWKS_MAX); /* keys without kid are never repeats */
	ag_jwks_free(set);
	free(text);
	json_decref(root);
	json_array_append(keys, k);
	root = json_pack("{s:O}", "keys", keys);
	text = json_dumps(root, JSON_COMPACT);
	expect_jwks(text, AG_ERR_TOO_LARGE, "jwk: JWKS has 65 keys, limit 64");
	free(text);
	json_decref(root);
	json_decref(keys);
	json_decref(k);
}

/* --- alg names and lists ------------------------------------------------------ */

static void test_alg_names(void **state)
{
	unsigned mask;

	assert_int_equal(ag_jws_alg_from_name("RS256"), AG_JWS_RS256);
	assert_int_equal(ag_jws_alg_from_name("PS512"), AG_JWS_PS512);
	assert_int_equal(ag_jws_alg_from_name("ES384"), AG_JWS_ES384);
	assert_int_equal(ag_jws_alg_from_name("EdDSA"), AG_JWS_EDDSA);
	assert_int_equal(ag_jws_alg_from_name("none"), 0);
	assert_int_equal(ag_jws_alg_from_name("HS256"), 0);
	assert_int_equal(ag_jws_alg_from_name("rs256"), 0);
	assert_int_equal(ag_jws_alg_from_name(""), 0);
	assert_int_equal(ag_jws_alg_from_name(NULL), 0);
	assert_string_equal(ag_jws_alg_name(AG_JWS_ES256), "ES256");
	assert_null(ag_jws_alg_name(AG_JWS_ES256 | AG_JWS_RS256));
	for (unsigned bit = 1; bit & AG_JWS_ALL; bit <<= 1)
		assert_int_equal(ag_jws_alg_from_name(ag_jws_alg_name(bit)), bit);

	assert_int_equal(ag_jws_alg_list_parse("RS256", &capture_log, &mask), AG_OK);
	assert_int_equal(mask, AG_JWS_RS256);
	assert_int_equal(ag_jws_alg_list_parse(" RS256, ES256,,PS256\tEdDSA ", &capture_log, &mask), AG_OK);
	assert_int_equal(mask, AG_JWS_RS256 | AG_JWS_ES256 | AG_JWS_PS256 | AG_JWS_EDDSA);

	capture_reset();
	assert_int_equal(ag_jws_alg_list_parse("RS256 none", &capture_log, &mask), AG_ERR_CONFIG);
	assert_int_equal(mask, 0);
	assert_logged("jws: allowed_algs: 'none' is not a supported signature alg");
	capture_reset();
	assert_int_equal(ag_jws_alg_list_parse("HS256", &capture_log, &mask), AG_ERR_CONFIG);
	assert_logged("'HS256' is not a supported");
	capture_reset();
	assert_int_equal(ag_jws_alg_list_parse("RS256,AVeryLongAlgorithmNameIndeed", &capture_log, &mask),
			 AG_ERR_CONFIG);
	assert_logged("'AVeryLongAlgorithmNameIndeed' is not");
	capture_reset();
	assert_int_equal(ag_jws_alg_list_parse(" , ", &capture_log, &mask), AG_ERR_CONFIG);
	assert_logged("jws: allowed_algs is empty");
	assert_int_equal(ag_jws_alg_list_parse("", &capture_log, &mask), AG_ERR_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_every_alg_verifies, reset_log),
		cmocka_unit_test_setup(test_typ_exposed, reset_log),
		cmocka_unit_test_setup(test_single_key_without_kid, reset_log),
		cmocka_unit_test_setup(test_alg_none, reset_log),
		cmocka_unit_test_setup(test_hs256_with_public_key_as_secret, reset_log),
		cmocka_unit_test_setup(test_unknown_alg, reset_log),
		cmocka_unit_test_setup(test_wrong_kid, reset_log),
		cmocka_unit_test_setup(test_kty_mismatch, reset_log),
		cmocka_unit_test_setup(test_jwk_alg_must_match_header, reset_log),
		cmocka_unit_test_setup(test_truncated_signature, reset_log),
		cmocka_unit_test_setup(test_tampered, reset_log),
		cmocka_unit_test_setup(test_non_base64url, reset_log),
		cmocka_unit_test_setup(test_huge_token_refused_before_decoding, reset_log),
		cmocka_unit_test_setup(test_duplicate_json_keys, reset_log),
		cmocka_unit_test_setup(test_not_json_objects, reset_log),
		cmocka_unit_test_setup(test_crit_header, reset_log),
		cmocka_unit_test_setup(test_key_carrying_headers, reset_log),
		cmocka_unit_test_setup(test_es256_der_signature, reset_log),
		cmocka_unit_test_setup(test_small_rsa_key, reset_log),
		cmocka_unit_test_setup(test_alg_not_allowed, reset_log),
		cmocka_unit_test_setup(test_missing_kid_with_two_keys, reset_log),
		cmocka_unit_test_setup(test_wrong_number_of_parts, reset_log),
		cmocka_unit_test_setup(test_jwks_description, reset_log),
		cmocka_unit_test_setup(test_jwks_skips_bad_keys, reset_log),
		cmocka_unit_test_setup(test_jwks_documents, reset_log),
		cmocka_unit_test_setup(test_alg_names, reset_log),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
