/* libFuzzer target for JWT handling: compact JWS verification against a
 * fixed JWKS (one RSA, one EC P-256 key), then the ID token and access token
 * claim checks on a fixed clock.
 *
 * The input is also read as three raw parts "HEADER\nPAYLOAD\nSIGNATURE"
 * that are base64url-encoded into a token, so mutations reach the header
 * checks and the signature conversions without having to keep base64url
 * intact. Mutations cannot forge a signature, so the claim checks also get
 * the unverified payload (the middle part, base64url-decoded) and the input
 * itself when it is a JSON object; and the input is parsed as a JWK Set too.
 * Any result that breaks an API promise traps.
 *
 * The seed tokens in corpus/jwt/ (id-*, at-*, parts-*, ...) were signed once
 * by the private halves of the keys below, which were then thrown away;
 * claims.json and jwks*.json seed the JSON paths. Built with clang -fsanitize=fuzzer by
 * --enable-fuzzing; replay_main.c replays the corpus in make check.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/secret.h"
#include "jose/b64url.h"
#include "jose/claims.h"
#include "jose/jwk.h"
#include "jose/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1755770400 /* the seed tokens' iat + 10 s */

static const char jwks_json[] =
	"{\"keys\":[{\"kty\":\"RSA\",\"n\":\"jJDE4PLngLOPaWKXwLLJFUabEYosoE3xx-TDmPGZQCGc5_yCoSD_"
	"QmJqSWOMWG_-hcK0tUGw9c8C7i-YNp_APxNbNI81ylulNtQl6vM8kvRfdG6vy8ozz-T2EdOu4N1ilmD7u3ExLqWX"
	"OCuwxA7M60ZniVey8lYrS6sibxhiekABquRaCa8pOxwStAb8oy95ZTNeVrpb9rsrzSazNB9GkLxAs6fb2leBAKeD"
	"8bpdKdj3yZk0OTKV_bfkb3hRMRVD-rDHFMV1t_QMWJz_gZvGtfhK-2PYpDKChdZIfUHV0kA4gmXtl3Akl4YEk1uk"
	"qyFpTlYZKlDENfz-vbt-6NkpLw\",\"e\":\"AQAB\",\"kid\":\"fuzz-rsa\",\"alg\":\"RS256\",\"use"
	"\":\"sig\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"WpI-O18mJ80XnyZvTWI9iAMOEvBF3_1hBb"
	"sQw3cZQZI\",\"y\":\"n-BNRN57LZ405IWk_vkeWEib520PxA6vI2fTzx3GGwg\",\"kid\":\"fuzz-ec\",\""
	"use\":\"sig\"}]}";

static void discard(void *ctx, int priority, const char *line)
{
}

static const struct ag_log quiet = { .sink = discard };

static void check_result(enum ag_err err, const struct ag_claims *c)
{
	if (err != AG_OK) {
		if (c->sub || c->sid || c->amr || c->roles)
			__builtin_trap(); /* a failed check must leave nothing behind */
		return;
	}
	if (!c->sub || !*c->sub || strlen(c->sub) > AG_CLAIMS_SUB_MAX || c->n_amr > AG_CLAIMS_AMR_MAX ||
	    c->n_roles > AG_CLAIMS_ROLES_MAX || c->exp <= NOW - 60)
		__builtin_trap();
	for (size_t i = 0; i < c->n_roles; i++)
		if (!c->roles[i][0] || strlen(c->roles[i]) > AG_CLAIMS_VALUE_MAX)
			__builtin_trap();
}

static void check_claims(const json_t *payload, const char *typ)
{
	struct ag_claims_expect e = {
		.issuer = "https://auth.example.com",
		.client_id = "pam-client",
		.nonce = "n-0S6_WzA2Mj",
		.max_age = 300,
		.leeway = 60,
		.now = NOW,
	};
	struct ag_claims c;

	check_result(ag_claims_check_id_token(payload, typ, &e, &quiet, &c), &c);
	ag_claims_clear(&c);
	e.nonce = NULL;
	e.max_age = -1;
	check_result(ag_claims_check_id_token(payload, typ, &e, &quiet, &c), &c);
	ag_claims_clear(&c);
	check_result(ag_claims_check_access_token(payload, typ, &e, &quiet, &c), &c);
	ag_claims_clear(&c);
}

/* The unverified middle part of a token-shaped input, as JSON. */
static void check_unverified_payload(const char *in, size_t size)
{
	const char *dot1 = memchr(in, '.', size), *dot2;
	unsigned char *body = NULL;
	size_t body_len = 0;
	json_t *payload = NULL;

	if (!dot1)
		return;
	dot2 = memchr(dot1 + 1, '.', size - (size_t)(dot1 + 1 - in));
	if (!dot2)
		return;
	if (ag_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &body, &body_len) != AG_OK)
		return;
	if (ag_json_parse_object((const char *)body, body_len, &quiet, "payload", &payload) == AG_OK) {
		check_claims(payload, "JWT");
		check_claims(payload, "at+jwt");
	}
	json_decref(payload);
	ag_free_secret_n(body, body_len);
}

static void verify_token(const char *token, size_t len, const struct ag_jwks *jwks)
{
	struct ag_jws_result res;
	enum ag_err err = ag_jws_verify(token, len, jwks, AG_JWS_ALL, &quiet, &res);

	if ((err == AG_OK) != (res.payload != NULL) || strlen(res.typ) > AG_JWS_TYP_MAX)
		__builtin_trap();
	if (err == AG_OK) {
		if (!ag_jws_alg_name(res.alg))
			__builtin_trap();
		check_claims(res.payload, res.typ);
	}
	json_decref(res.payload);
}

/* "HEADER\nPAYLOAD\nSIGNATURE" (raw bytes) made into a compact token. */
static void verify_raw_parts(const char *in, size_t size, const struct ag_jwks *jwks)
{
	const char *nl1 = memchr(in, '\n', size), *nl2;
	char *h = NULL, *p = NULL, *s = NULL, *token = NULL;
	size_t n;

	if (!nl1)
		return;
	nl2 = memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - in));
	if (!nl2)
		return;
	if (ag_b64url_encode((const unsigned char *)in, (size_t)(nl1 - in), &h) != AG_OK ||
	    ag_b64url_encode((const unsigned char *)nl1 + 1, (size_t)(nl2 - nl1 - 1), &p) != AG_OK ||
	    ag_b64url_encode((const unsigned char *)nl2 + 1, size - (size_t)(nl2 + 1 - in), &s) != AG_OK)
		goto out;
	n = strlen(h) + strlen(p) + strlen(s) + 3;
	token = malloc(n);
	if (!token)
		goto out;
	snprintf(token, n, "%s.%s.%s", h, p, s);
	verify_token(token, n - 1, jwks);
out:
	free(token);
	free(h);
	free(p);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ag_jwks *jwks;
	const char *in = (const char *)data;
	struct ag_jwks *set = NULL;
	json_t *obj = NULL;
	enum ag_err err;

	if (!jwks && ag_jwks_parse(jwks_json, sizeof jwks_json - 1, &quiet, &jwks) != AG_OK)
		abort();

	verify_token(in, size, jwks);
	verify_raw_parts(in, size, jwks);
	check_unverified_payload(in, size);

	if (ag_json_parse_object(in, size, &quiet, "input", &obj) == AG_OK)
		check_claims(obj, "JWT");
	json_decref(obj);

	err = ag_jwks_parse(in, size, &quiet, &set);
	if ((err == AG_OK) != (set != NULL) || (set && (ag_jwks_count(set) == 0 || ag_jwks_count(set) > AG_JWKS_MAX)))
		__builtin_trap();
	ag_jwks_free(set);
	return 0;
}
