/* cmocka tests for ID token and JWT access token claims, on a fixed clock:
 * each rule passes and fails, with the leeway edges. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "jose/claims.h"

#define NOW 1755770400LL
#define ISS "https://auth.example.com"
#define CLIENT "pam-client"
#define NONCE "n-0S6_WzA2Mj"
#define SUB "e3079029-f123-4c56-80c1-c2cd63a5b6af"

static struct ag_claims_expect expect_default(void)
{
	struct ag_claims_expect e = {
		.issuer = ISS,
		.client_id = CLIENT,
		.nonce = NONCE,
		.max_age = -1,
		.leeway = 60,
		.now = (time_t)NOW,
	};
	return e;
}

/* An ID token as Authgear issues it (authgear-protocol.md §6.2). */
static json_t *id_token(void)
{
	json_t *p = json_pack("{s:s, s:[s], s:I, s:I, s:I, s:s, s:[s,s], s:s, s:s, s:b, s:b, s:b, s:[s,s]}",
			      "iss", ISS, "aud", CLIENT, "iat", (json_int_t)(NOW - 10),
			      "exp", (json_int_t)(NOW + 290), "auth_time", (json_int_t)(NOW - 20),
			      "sid", "b2ZmbGluZV9ncmFudDp4", "amr", "pwd", "x_primary_password",
			      "nonce", NONCE, "sub", SUB,
			      AG_CLAIM_IS_ANONYMOUS, 0, AG_CLAIM_IS_VERIFIED, 1, AG_CLAIM_CAN_REAUTHENTICATE, 1,
			      AG_CLAIM_ROLES, "unix-admin", "unix-user");

	assert_non_null(p);
	return p;
}

/* A JWT access token (authgear-protocol.md §6.1). */
static json_t *access_token(void)
{
	json_t *p = json_pack("{s:s, s:[s], s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:[s], s:b, s:[s]}",
			      "iss", ISS, "aud", ISS, "iat", (json_int_t)(NOW - 10), "exp", (json_int_t)(NOW + 1790),
			      "auth_time", (json_int_t)(NOW - 20), "client_id", CLIENT, "scope", "openid offline_access",
			      "jti", "5d1b3c0e", "sub", SUB, "amr", "pwd", AG_CLAIM_IS_VERIFIED, 1,
			      AG_CLAIM_ROLES, "unix-user");

	assert_non_null(p);
	return p;
}

static enum ag_err check_id(json_t *p, const struct ag_claims_expect *e)
{
	struct ag_claims c;
	enum ag_err err;

	capture_reset();
	err = ag_claims_check_id_token(p, "JWT", e, &capture_log, &c);
	if (err != AG_OK)
		assert_null(c.sub); /* cleared on failure */
	ag_claims_clear(&c);
	return err;
}

/* Check p (consumed) as an ID token with e; expect err and reason. */
static void expect_id(json_t *p, const struct ag_claims_expect *e, enum ag_err want, const char *reason)
{
	enum ag_err err = check_id(p, e);

	if (err != want)
		print_error("got %d, log:\n%s", err, capture_text());
	assert_int_equal(err, want);
	if (reason)
		assert_logged(reason);
	json_decref(p);
}

/* Token p with member key set to value (consumed; NULL deletes). */
static json_t *with(json_t *p, const char *key, json_t *value)
{
	if (value)
		json_object_set_new(p, key, value);
	else
		json_object_del(p, key);
	return p;
}

static json_t *id_with(const char *key, json_t *value)
{
	return with(id_token(), key, value);
}

static void test_valid_id_token(void **state)
{
	struct ag_claims_expect e = expect_default();
	json_t *p = id_token();
	struct ag_claims c;

	capture_reset();
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, &c), AG_OK);
	assert_string_equal(capture_text(), "");
	assert_string_equal(c.sub, SUB);
	assert_int_equal(c.exp, NOW + 290);
	assert_int_equal(c.iat, NOW - 10);
	assert_int_equal(c.auth_time, NOW - 20);
	assert_string_equal(c.sid, "b2ZmbGluZV9ncmFudDp4");
	assert_int_equal(c.n_amr, 2);
	assert_string_equal(c.amr[0], "pwd");
	assert_string_equal(c.amr[1], "x_primary_password");
	assert_int_equal(c.n_roles, 2);
	assert_string_equal(c.roles[0], "unix-admin");
	assert_string_equal(c.roles[1], "unix-user");
	assert_false(c.is_anonymous);
	assert_true(c.is_verified);
	assert_true(c.can_reauthenticate);
	ag_claims_clear(&c);
	assert_null(c.sub);
	ag_claims_clear(&c); /* twice is fine */

	/* the minimum: no sid, amr, roles, booleans, nbf, auth_time; no typ */
	json_decref(p);
	p = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "iss", ISS, "aud", CLIENT, "iat", (json_int_t)NOW,
		      "exp", (json_int_t)(NOW + 300), "sub", "u", "nonce", NONCE);
	assert_int_equal(ag_claims_check_id_token(p, NULL, &e, &capture_log, &c), AG_OK);
	assert_null(c.sid);
	assert_int_equal(c.n_amr, 0);
	assert_null(c.amr);
	assert_int_equal(c.n_roles, 0);
	assert_int_equal(c.auth_time, 0);
	assert_false(c.is_anonymous);
	assert_false(c.is_verified);
	assert_false(c.can_reauthenticate);
	ag_claims_clear(&c);
	json_decref(p);
}

static void test_iss(void **state)
{
	struct ag_claims_expect e = expect_default();

	expect_id(id_with("iss", json_string(ISS "/")), &e, AG_ERR_CLAIMS, "claims: iss mismatch");
	expect_id(id_with("iss", json_string("https://AUTH.example.com")), &e, AG_ERR_CLAIMS, "claims: iss mismatch");
	expect_id(id_with("iss", json_string("https://auth.example.co")), &e, AG_ERR_CLAIMS, "claims: iss mismatch");
	expect_id(id_with("iss", NULL), &e, AG_ERR_CLAIMS, "claims: iss missing");
	expect_id(id_with("iss", json_integer(1)), &e, AG_ERR_CLAIMS, "claims: iss is not a string");
	expect_id(id_with("iss", json_stringn(ISS "\0x", strlen(ISS) + 2)), &e, AG_ERR_CLAIMS,
		  "claims: iss is not a string");
	/* the configured issuer with a trailing slash does not match either */
	e.issuer = ISS "/";
	expect_id(id_token(), &e, AG_ERR_CLAIMS, "claims: iss mismatch");
}

static void test_aud_and_azp(void **state)
{
	struct ag_claims_expect e = expect_default();
	json_t *p;

	expect_id(id_with("aud", json_string(CLIENT)), &e, AG_OK, NULL);
	expect_id(id_with("aud", json_pack("[s]", "other")), &e, AG_ERR_CLAIMS,
		  "claims: aud does not contain client_id");
	expect_id(id_with("aud", json_string(CLIENT "-evil")), &e, AG_ERR_CLAIMS,
		  "claims: aud does not contain client_id");
	expect_id(id_with("aud", json_stringn(CLIENT "\0x", strlen(CLIENT) + 2)), &e, AG_ERR_CLAIMS,
		  "claims: aud does not contain client_id");
	expect_id(id_with("aud", NULL), &e, AG_ERR_CLAIMS, "claims: aud missing");
	expect_id(id_with("aud", json_array()), &e, AG_ERR_CLAIMS, "claims: aud missing");
	expect_id(id_with("aud", json_integer(3)), &e, AG_ERR_CLAIMS, "claims: aud missing");
	expect_id(id_with("aud", json_pack("[i,s]", 1, CLIENT)), &e, AG_ERR_CLAIMS, "claims: aud[0] is not a string");

	/* several audiences: azp must be there and be us */
	expect_id(id_with("aud", json_pack("[s,s]", "other", CLIENT)), &e, AG_ERR_CLAIMS,
		  "claims: azp missing while aud has 2 values");
	p = id_with("aud", json_pack("[s,s]", "other", CLIENT));
	json_object_set_new(p, "azp", json_string(CLIENT));
	expect_id(p, &e, AG_OK, NULL);
	p = id_with("aud", json_pack("[s,s]", CLIENT, "other"));
	json_object_set_new(p, "azp", json_string("other"));
	expect_id(p, &e, AG_ERR_CLAIMS, "claims: azp mismatch");
	/* one audience: azp optional, but when present it must be us */
	expect_id(id_with("azp", json_string(CLIENT)), &e, AG_OK, NULL);
	expect_id(id_with("azp", json_string("other")), &e, AG_ERR_CLAIMS, "claims: azp mismatch");
	expect_id(id_with("azp", json_true()), &e, AG_ERR_CLAIMS, "claims: azp mismatch");

	/* at most AG_CLAIMS_AUD_MAX values */
	p = json_array();
	for (int i = 0; i < AG_CLAIMS_AUD_MAX; i++)
		json_array_append_new(p, json_string(i ? "x" : CLIENT));
	{
		json_t *tok = id_with("aud", json_deep_copy(p));

		json_object_set_new(tok, "azp", json_string(CLIENT));
		expect_id(tok, &e, AG_OK, NULL);
	}
	json_array_append_new(p, json_string("x"));
	expect_id(id_with("aud", p), &e, AG_ERR_CLAIMS, "claims: aud missing or not a string or an array of 1 to 16");
}

static void test_exp(void **state)
{
	struct ag_claims_expect e = expect_default();

	expect_id(id_with("exp", NULL), &e, AG_ERR_CLAIMS, "claims: exp missing");
	/* valid while now < exp + leeway */
	expect_id(id_with("exp", json_integer(NOW - 59)), &e, AG_OK, NULL);
	expect_id(id_with("exp", json_integer(NOW - 60)), &e, AG_ERR_CLAIMS, "claims: expired");
	expect_id(id_with("exp", json_integer(NOW - 61)), &e, AG_ERR_CLAIMS, "claims: expired");
	e.leeway = 0;
	expect_id(id_with("exp", json_integer(NOW + 1)), &e, AG_OK, NULL);
	expect_id(id_with("exp", json_integer(NOW)), &e, AG_ERR_CLAIMS,
		  "claims: expired (exp 1755770400, now 1755770400, leeway 0 s)");
	e.leeway = 60;
	expect_id(id_with("exp", json_string("1755770700")), &e, AG_ERR_CLAIMS, "claims: exp is not an integer time");
	expect_id(id_with("exp", json_real(1755770700.5)), &e, AG_ERR_CLAIMS, "claims: exp is not an integer time");
	expect_id(id_with("exp", json_integer(-1)), &e, AG_ERR_CLAIMS, "claims: exp out of range");
	expect_id(id_with("exp", json_integer(INT64_MAX)), &e, AG_ERR_CLAIMS, "claims: exp out of range");
	expect_id(id_with("exp", json_integer(AG_CLAIMS_TIME_MAX)), &e, AG_OK, NULL);
}

static void test_nbf(void **state)
{
	struct ag_claims_expect e = expect_default();

	/* valid once now >= nbf - leeway */
	expect_id(id_with("nbf", json_integer(NOW + 60)), &e, AG_OK, NULL);
	expect_id(id_with("nbf", json_integer(NOW + 61)), &e, AG_ERR_CLAIMS, "claims: nbf in the future");
	expect_id(id_with("nbf", json_integer(NOW - 1000)), &e, AG_OK, NULL);
	expect_id(id_with("nbf", json_true()), &e, AG_ERR_CLAIMS, "claims: nbf is not an integer time");
	e.leeway = 0;
	expect_id(id_with("nbf", json_integer(NOW)), &e, AG_OK, NULL);
	expect_id(id_with("nbf", json_integer(NOW + 1)), &e, AG_ERR_CLAIMS, "claims: nbf in the future");
}

static void test_iat(void **state)
{
	struct ag_claims_expect e = expect_default();

	expect_id(id_with("iat", NULL), &e, AG_ERR_CLAIMS, "claims: iat missing");
	expect_id(id_with("iat", json_integer(NOW + 60)), &e, AG_OK, NULL);
	expect_id(id_with("iat", json_integer(NOW + 61)), &e, AG_ERR_CLAIMS, "claims: iat in the future");
	expect_id(id_with("iat", json_null()), &e, AG_ERR_CLAIMS, "claims: iat is not an integer time");
}

static void test_nonce(void **state)
{
	struct ag_claims_expect e = expect_default();

	expect_id(id_with("nonce", NULL), &e, AG_ERR_CLAIMS, "claims: nonce missing");
	expect_id(id_with("nonce", json_integer(1)), &e, AG_ERR_CLAIMS, "claims: nonce missing");
	expect_id(id_with("nonce", json_string("other")), &e, AG_ERR_CLAIMS, "claims: nonce mismatch");
	expect_id(id_with("nonce", json_string(NONCE "x")), &e, AG_ERR_CLAIMS, "claims: nonce mismatch");
	expect_id(id_with("nonce", json_string("n-0S6_WzA2M")), &e, AG_ERR_CLAIMS, "claims: nonce mismatch");
	expect_id(id_with("nonce", json_stringn(NONCE "\0", strlen(NONCE) + 1)), &e, AG_ERR_CLAIMS,
		  "claims: nonce mismatch");
	assert_false(capture_has(NONCE)); /* the nonce itself never reaches the log */
	/* refresh: no nonce expected, none or any accepted */
	e.nonce = NULL;
	expect_id(id_with("nonce", NULL), &e, AG_OK, NULL);
	expect_id(id_with("nonce", json_string("stale")), &e, AG_OK, NULL);
}

static void test_max_age(void **state)
{
	struct ag_claims_expect e = expect_default();

	e.max_age = 300;
	/* now - auth_time <= max_age + leeway */
	expect_id(id_with("auth_time", json_integer(NOW - 360)), &e, AG_OK, NULL);
	expect_id(id_with("auth_time", json_integer(NOW - 361)), &e, AG_ERR_CLAIMS,
		  "claims: auth_time too old for max_age");
	expect_id(id_with("auth_time", NULL), &e, AG_ERR_CLAIMS, "claims: auth_time missing while max_age is 300");
	expect_id(id_with("auth_time", json_string("x")), &e, AG_ERR_CLAIMS, "claims: auth_time is not an integer time");
	e.max_age = 0;
	expect_id(id_with("auth_time", json_integer(NOW - 60)), &e, AG_OK, NULL);
	expect_id(id_with("auth_time", json_integer(NOW - 61)), &e, AG_ERR_CLAIMS, "claims: auth_time too old");
	/* no max_age: auth_time optional and not aged */
	e.max_age = -1;
	expect_id(id_with("auth_time", NULL), &e, AG_OK, NULL);
	expect_id(id_with("auth_time", json_integer(1)), &e, AG_OK, NULL);
	/* never in the future beyond the leeway */
	expect_id(id_with("auth_time", json_integer(NOW + 61)), &e, AG_ERR_CLAIMS, "claims: auth_time in the future");
	expect_id(id_with("auth_time", json_integer(NOW + 60)), &e, AG_OK, NULL);
}

static void test_sub(void **state)
{
	struct ag_claims_expect e = expect_default();
	char big[AG_CLAIMS_SUB_MAX + 2];

	expect_id(id_with("sub", NULL), &e, AG_ERR_CLAIMS, "claims: sub missing");
	expect_id(id_with("sub", json_string("")), &e, AG_ERR_CLAIMS, "claims: sub missing");
	expect_id(id_with("sub", json_integer(1000)), &e, AG_ERR_CLAIMS, "claims: sub invalid");
	expect_id(id_with("sub", json_string("ali\nce")), &e, AG_ERR_CLAIMS, "claims: sub invalid");
	expect_id(id_with("sub", json_string("alice\x7f")), &e, AG_ERR_CLAIMS, "claims: sub invalid");
	expect_id(id_with("sub", json_stringn("alice\0root", 10)), &e, AG_ERR_CLAIMS, "claims: sub invalid");
	expect_id(id_with("sub", json_string("\xc3\xa9lise")), &e, AG_OK, NULL);
	memset(big, 's', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	expect_id(id_with("sub", json_string(big)), &e, AG_ERR_CLAIMS, "claims: sub invalid");
	big[AG_CLAIMS_SUB_MAX] = '\0';
	expect_id(id_with("sub", json_string(big)), &e, AG_OK, NULL);
	expect_id(id_with("sid", json_string("a\tb")), &e, AG_ERR_CLAIMS, "claims: sid invalid");
	expect_id(id_with("sid", json_integer(1)), &e, AG_ERR_CLAIMS, "claims: sid invalid");
}

static json_t *string_array(size_t n, const char *value)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(value));
	return a;
}

static void test_amr_and_roles(void **state)
{
	struct ag_claims_expect e = expect_default();
	char big[AG_CLAIMS_VALUE_MAX + 2];
	struct ag_claims c;
	json_t *p;

	expect_id(id_with("amr", json_string("pwd")), &e, AG_ERR_CLAIMS, "claims: amr is not an array of at most 32");
	expect_id(id_with("amr", json_pack("[s,i]", "pwd", 1)), &e, AG_ERR_CLAIMS, "claims: amr[1] is not a string");
	expect_id(id_with("amr", json_pack("[s]", "")), &e, AG_ERR_CLAIMS, "claims: amr[0] is not a string");
	expect_id(id_with("amr", string_array(AG_CLAIMS_AMR_MAX, "otp")), &e, AG_OK, NULL);
	expect_id(id_with("amr", string_array(AG_CLAIMS_AMR_MAX + 1, "otp")), &e, AG_ERR_CLAIMS,
		  "claims: amr is not an array");

	expect_id(id_with(AG_CLAIM_ROLES, json_string("admin")), &e, AG_ERR_CLAIMS,
		  "claims: " AG_CLAIM_ROLES " is not an array of at most 256");
	expect_id(id_with(AG_CLAIM_ROLES, json_pack("[s]", "unix\nadmin")), &e, AG_ERR_CLAIMS,
		  "claims: " AG_CLAIM_ROLES "[0] is not a string");
	expect_id(id_with(AG_CLAIM_ROLES, string_array(AG_CLAIMS_ROLES_MAX, "r")), &e, AG_OK, NULL);
	expect_id(id_with(AG_CLAIM_ROLES, string_array(AG_CLAIMS_ROLES_MAX + 1, "r")), &e, AG_ERR_CLAIMS,
		  AG_CLAIM_ROLES " is not an array");
	memset(big, 'r', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	expect_id(id_with(AG_CLAIM_ROLES, string_array(1, big)), &e, AG_ERR_CLAIMS, "[0] is not a string of 1 to 255");
	big[AG_CLAIMS_VALUE_MAX] = '\0';
	expect_id(id_with(AG_CLAIM_ROLES, string_array(1, big)), &e, AG_OK, NULL);

	/* roles absent and roles [] both mean none */
	p = id_with(AG_CLAIM_ROLES, NULL);
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, &c), AG_OK);
	assert_int_equal(c.n_roles, 0);
	ag_claims_clear(&c);
	json_decref(p);
	p = id_with(AG_CLAIM_ROLES, json_array());
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, &c), AG_OK);
	assert_int_equal(c.n_roles, 0);
	assert_null(c.roles);
	ag_claims_clear(&c);
	json_decref(p);
}

static void test_booleans(void **state)
{
	struct ag_claims_expect e = expect_default();
	struct ag_claims c;
	json_t *p;

	expect_id(id_with(AG_CLAIM_IS_ANONYMOUS, json_string("false")), &e, AG_ERR_CLAIMS,
		  "claims: " AG_CLAIM_IS_ANONYMOUS " is not a boolean");
	expect_id(id_with(AG_CLAIM_IS_VERIFIED, json_integer(1)), &e, AG_ERR_CLAIMS,
		  "claims: " AG_CLAIM_IS_VERIFIED " is not a boolean");
	expect_id(id_with(AG_CLAIM_CAN_REAUTHENTICATE, json_null()), &e, AG_ERR_CLAIMS,
		  AG_CLAIM_CAN_REAUTHENTICATE " is not a boolean");
	p = id_with(AG_CLAIM_IS_ANONYMOUS, json_true());
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, &c), AG_OK);
	assert_true(c.is_anonymous);
	ag_claims_clear(&c);
	json_decref(p);
}

static void test_id_token_refuses_access_token_typ(void **state)
{
	struct ag_claims_expect e = expect_default();
	json_t *p = id_token();
	struct ag_claims c;

	capture_reset();
	assert_int_equal(ag_claims_check_id_token(p, "at+jwt", &e, &capture_log, &c), AG_ERR_CLAIMS);
	assert_logged("claims: ID token has typ at+jwt");
	assert_int_equal(ag_claims_check_id_token(p, "application/AT+JWT", &e, &capture_log, &c), AG_ERR_CLAIMS);
	json_decref(p);
}

static void test_failure_clears_output(void **state)
{
	struct ag_claims_expect e = expect_default();
	json_t *p = id_with("nonce", json_string("other"));
	struct ag_claims c;

	/* nonce is checked after sub, amr and roles were copied */
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, &c), AG_ERR_CLAIMS);
	assert_null(c.sub);
	assert_null(c.amr);
	assert_null(c.roles);
	assert_int_equal(c.n_roles, 0);
	assert_int_equal(c.exp, 0);
	json_decref(p);
}

static void test_invalid_arguments(void **state)
{
	struct ag_claims_expect e = expect_default();
	json_t *p = id_token(), *s = json_string("x");
	struct ag_claims c;

	e.leeway = -1;
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, &c), AG_ERR_INVALID_ARG);
	e.leeway = AG_CLAIMS_LEEWAY_MAX + 1;
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, &c), AG_ERR_INVALID_ARG);
	e = expect_default();
	e.issuer = NULL;
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, &c), AG_ERR_INVALID_ARG);
	e = expect_default();
	e.client_id = NULL;
	assert_int_equal(ag_claims_check_access_token(p, "at+jwt", &e, &capture_log, &c), AG_ERR_INVALID_ARG);
	e = expect_default();
	assert_int_equal(ag_claims_check_id_token(s, "JWT", &e, &capture_log, &c), AG_ERR_INVALID_ARG);
	assert_int_equal(ag_claims_check_id_token(NULL, "JWT", &e, &capture_log, &c), AG_ERR_INVALID_ARG);
	assert_int_equal(ag_claims_check_id_token(p, "JWT", NULL, &capture_log, &c), AG_ERR_INVALID_ARG);
	assert_int_equal(ag_claims_check_id_token(p, "JWT", &e, &capture_log, NULL), AG_ERR_INVALID_ARG);
	json_decref(p);
	json_decref(s);
}

/* --- JWT access tokens ------------------------------------------------------ */

static void expect_at(json_t *p, const char *typ, enum ag_err want, const char *reason)
{
	struct ag_claims_expect e = expect_default();
	struct ag_claims c;
	enum ag_err err;

	capture_reset();
	err = ag_claims_check_access_token(p, typ, &e, &capture_log, &c);
	if (err != want)
		print_error("got %d, log:\n%s", err, capture_text());
	assert_int_equal(err, want);
	if (reason)
		assert_logged(reason);
	ag_claims_clear(&c);
	json_decref(p);
}

static json_t *at_with(const char *key, json_t *value)
{
	return with(access_token(), key, value);
}

static void test_access_token(void **state)
{
	struct ag_claims_expect e = expect_default();
	json_t *p = access_token();
	struct ag_claims c;

	e.nonce = NULL;
	assert_int_equal(ag_claims_check_access_token(p, "at+jwt", &e, &capture_log, &c), AG_OK);
	assert_string_equal(c.sub, SUB);
	assert_int_equal(c.exp, NOW + 1790);
	assert_int_equal(c.auth_time, NOW - 20);
	assert_int_equal(c.n_roles, 1);
	assert_string_equal(c.roles[0], "unix-user");
	assert_true(c.is_verified);
	ag_claims_clear(&c);
	json_decref(p);

	/* the expected nonce of an ID token check has no say here */
	expect_at(access_token(), "at+jwt", AG_OK, NULL);
	expect_at(access_token(), "application/at+jwt", AG_OK, NULL);
	expect_at(access_token(), "AT+JWT", AG_OK, NULL);
	expect_at(access_token(), "JWT", AG_ERR_CLAIMS, "claims: typ is not at+jwt (JWT)");
	expect_at(access_token(), "", AG_ERR_CLAIMS, "claims: typ is not at+jwt (absent)");
	expect_at(access_token(), NULL, AG_ERR_CLAIMS, "claims: typ is not at+jwt (absent)");
	expect_at(at_with("iss", json_string(ISS "/")), "at+jwt", AG_ERR_CLAIMS, "claims: iss mismatch");
	/* aud is the issuer, not the client (§6.1) */
	expect_at(at_with("aud", json_pack("[s]", CLIENT)), "at+jwt", AG_ERR_CLAIMS,
		  "claims: aud does not contain the issuer");
	expect_at(at_with("aud", json_string(ISS)), "at+jwt", AG_OK, NULL);
	expect_at(at_with("aud", NULL), "at+jwt", AG_ERR_CLAIMS, "claims: aud missing");
	expect_at(at_with("client_id", NULL), "at+jwt", AG_ERR_CLAIMS, "claims: client_id missing");
	expect_at(at_with("client_id", json_string("other")), "at+jwt", AG_ERR_CLAIMS, "claims: client_id mismatch");
	expect_at(at_with("client_id", json_integer(1)), "at+jwt", AG_ERR_CLAIMS, "claims: client_id mismatch");
	expect_at(at_with("exp", json_integer(NOW - 60)), "at+jwt", AG_ERR_CLAIMS, "claims: expired");
	expect_at(at_with("exp", json_integer(NOW - 59)), "at+jwt", AG_OK, NULL);
	expect_at(at_with("iat", json_integer(NOW + 61)), "at+jwt", AG_ERR_CLAIMS, "claims: iat in the future");
	expect_at(at_with("nbf", json_integer(NOW + 61)), "at+jwt", AG_ERR_CLAIMS, "claims: nbf in the future");
	expect_at(at_with("sub", NULL), "at+jwt", AG_ERR_CLAIMS, "claims: sub missing");

	/* an ID token offered as an access token: wrong typ and aud */
	expect_at(id_token(), "at+jwt", AG_ERR_CLAIMS, "claims: aud does not contain the issuer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_id_token),
		cmocka_unit_test(test_iss),
		cmocka_unit_test(test_aud_and_azp),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_nbf),
		cmocka_unit_test(test_iat),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_max_age),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_amr_and_roles),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_id_token_refuses_access_token_typ),
		cmocka_unit_test(test_failure_clears_output),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_access_token),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
