/* Checks of ID token and JWT access token claims (see claims.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "base/json.h"
#include "base/strv.h"
#include "jose/claims.h"
#include "base/ossl.h" /* after the OpenSSL headers: libcrypto through its table */

#define ISSUER_MAX 2048 /* bytes of iss and client_id we compare */

static enum ag_err fail(const struct ag_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum ag_err fail(const struct ag_log *log, const char *fmt, ...)
{
	char msg[AG_LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ag_log(log, LOG_ERR, "claims: %s", msg);
	return AG_ERR_CLAIMS;
}

/* A string of 1..max bytes, no NUL, no control characters (it may reach a
 * log line, a file or a Unix name later). */
static bool valid_text(const json_t *v, size_t max)
{
	const char *s = ag_json_string_value(v, max);

	if (!s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Whether v is exactly the string want (an embedded NUL is not a match). */
static bool string_is(const json_t *v, const char *want)
{
	return json_is_string(v) && json_string_length(v) == strlen(want) && strcmp(json_string_value(v), want) == 0;
}

static bool valid_expect(const struct ag_claims_expect *e)
{
	return e && e->issuer && e->client_id && e->leeway >= 0 && e->leeway <= AG_CLAIMS_LEEWAY_MAX && e->now >= 0 &&
	       (long long)e->now <= AG_CLAIMS_TIME_MAX && e->max_age <= AG_CLAIMS_TIME_MAX;
}

/* The NumericDate member name: *present says whether it is there. */
static enum ag_err get_time(const json_t *p, const char *name, const struct ag_log *log, bool *present, long long *out)
{
	const json_t *v = json_object_get(p, name);
	long long t;

	*present = v != NULL;
	*out = 0;
	if (!v)
		return AG_OK;
	if (!json_is_integer(v))
		return fail(log, "%s is not an integer time", name);
	t = (long long)json_integer_value(v);
	if (t < 0 || t > AG_CLAIMS_TIME_MAX)
		return fail(log, "%s out of range", name);
	*out = t;
	return AG_OK;
}

/* Whether aud (a string or an array of strings) contains want; *n_aud is its
 * number of values. */
static enum ag_err aud_contains(const json_t *p, const char *want, const struct ag_log *log, bool *found, size_t *n_aud)
{
	const json_t *aud = json_object_get(p, "aud"), *v;
	size_t i;

	*found = false;
	*n_aud = 0;
	if (json_is_string(aud)) {
		*n_aud = 1;
		*found = string_is(aud, want);
		return AG_OK;
	}
	if (!json_is_array(aud) || json_array_size(aud) == 0 || json_array_size(aud) > AG_CLAIMS_AUD_MAX)
		return fail(log, "aud missing or not a string or an array of 1 to %d strings", AG_CLAIMS_AUD_MAX);
	json_array_foreach(aud, i, v) {
		if (!json_is_string(v))
			return fail(log, "aud[%zu] is not a string", i);
		if (string_is(v, want))
			*found = true;
	}
	*n_aud = json_array_size(aud);
	return AG_OK;
}

static enum ag_err check_iss(const json_t *p, const char *issuer, const struct ag_log *log)
{
	const char *iss;

	if (!json_object_get(p, "iss"))
		return fail(log, "iss missing");
	iss = ag_json_string(p, "iss", ISSUER_MAX);
	if (!iss)
		return fail(log, "iss is not a string of 1 to %d bytes", ISSUER_MAX);
	if (strcmp(iss, issuer) != 0)
		return fail(log, "iss mismatch (token has %.256s, want %.256s)", iss, issuer);
	return AG_OK;
}

/* iss is issuer and aud contains want (named what in the log); *n_aud is
 * the number of aud's values. */
static enum ag_err check_iss_aud(const json_t *p, const char *issuer, const char *want, const char *what,
				 const struct ag_log *log, size_t *n_aud)
{
	bool found;
	enum ag_err err = check_iss(p, issuer, log);

	if (err == AG_OK)
		err = aud_contains(p, want, log, &found, n_aud);
	if (err == AG_OK && !found)
		err = fail(log, "aud does not contain %s %.256s", what, want);
	return err;
}

/* The optional array of strings name, at most max_n values. */
static enum ag_err string_list(const json_t *p, const char *name, size_t max_n, const struct ag_log *log, char ***out,
			       size_t *n_out)
{
	const json_t *arr = json_object_get(p, name), *v;
	char **list = NULL;
	size_t i, n;
	enum ag_err err = AG_OK;

	if (!arr)
		return AG_OK;
	if (!json_is_array(arr) || json_array_size(arr) > max_n)
		return fail(log, "%s is not an array of at most %zu strings", name, max_n);
	n = json_array_size(arr);
	if (n == 0)
		return AG_OK;
	list = calloc(n, sizeof *list);
	if (!list)
		return AG_ERR_NOMEM;
	json_array_foreach(arr, i, v) {
		if (!valid_text(v, AG_CLAIMS_VALUE_MAX)) {
			err = fail(log, "%s[%zu] is not a string of 1 to %d bytes without control characters", name, i,
				   AG_CLAIMS_VALUE_MAX);
			goto out;
		}
		list[i] = strdup(json_string_value(v));
		if (!list[i]) {
			err = AG_ERR_NOMEM;
			goto out;
		}
	}
	*out = list;
	*n_out = n;
	list = NULL;
out:
	ag_strv_free(list, n);
	return err;
}

static enum ag_err optional_bool(const json_t *p, const char *name, const struct ag_log *log, bool *out)
{
	const json_t *v = json_object_get(p, name);

	*out = false;
	if (!v)
		return AG_OK;
	if (!json_is_boolean(v))
		return fail(log, "%s is not a boolean", name);
	*out = json_is_true(v);
	return AG_OK;
}

/* The checks and extraction both kinds of token share: exp, nbf, iat,
 * auth_time, sub, sid, amr, roles and the Authgear booleans. */
static enum ag_err check_common(const json_t *p, const struct ag_claims_expect *e, const struct ag_log *log,
				struct ag_claims *out)
{
	long long now = (long long)e->now, nbf;
	const json_t *v;
	bool present;
	enum ag_err err;

	/* exp: valid while now < exp + leeway (written so nothing overflows). */
	err = get_time(p, "exp", log, &present, &out->exp);
	if (err != AG_OK)
		return err;
	if (!present)
		return fail(log, "exp missing");
	if (now - e->leeway >= out->exp)
		return fail(log, "expired (exp %lld, now %lld, leeway %ld s)", out->exp, now, e->leeway);

	err = get_time(p, "nbf", log, &present, &nbf);
	if (err != AG_OK)
		return err;
	if (present && now + e->leeway < nbf)
		return fail(log, "nbf in the future (nbf %lld, now %lld, leeway %ld s)", nbf, now, e->leeway);

	err = get_time(p, "iat", log, &present, &out->iat);
	if (err != AG_OK)
		return err;
	if (!present)
		return fail(log, "iat missing");
	if (out->iat > now + e->leeway)
		return fail(log, "iat in the future (iat %lld, now %lld, leeway %ld s)", out->iat, now, e->leeway);

	err = get_time(p, "auth_time", log, &present, &out->auth_time);
	if (err != AG_OK)
		return err;
	if (present && out->auth_time > now + e->leeway)
		return fail(log, "auth_time in the future (auth_time %lld, now %lld)", out->auth_time, now);

	v = json_object_get(p, "sub");
	if (!v || (json_is_string(v) && json_string_length(v) == 0))
		return fail(log, "sub missing");
	if (!valid_text(v, AG_CLAIMS_SUB_MAX))
		return fail(log, "sub invalid: not a string of 1 to %d bytes without control characters",
			    AG_CLAIMS_SUB_MAX);
	out->sub = strdup(json_string_value(v));
	if (!out->sub)
		return AG_ERR_NOMEM;

	v = json_object_get(p, "sid");
	if (v) {
		if (!valid_text(v, AG_CLAIMS_VALUE_MAX))
			return fail(log, "sid invalid");
		out->sid = strdup(json_string_value(v));
		if (!out->sid)
			return AG_ERR_NOMEM;
	}

	err = string_list(p, "amr", AG_CLAIMS_AMR_MAX, log, &out->amr, &out->n_amr);
	if (err == AG_OK)
		err = string_list(p, AG_CLAIM_ROLES, AG_CLAIMS_ROLES_MAX, log, &out->roles, &out->n_roles);
	if (err == AG_OK)
		err = optional_bool(p, AG_CLAIM_IS_ANONYMOUS, log, &out->is_anonymous);
	if (err == AG_OK)
		err = optional_bool(p, AG_CLAIM_IS_VERIFIED, log, &out->is_verified);
	if (err == AG_OK)
		err = optional_bool(p, AG_CLAIM_CAN_REAUTHENTICATE, log, &out->can_reauthenticate);
	return err;
}

/* RFC 9068 §4: "at+jwt" or its full media type; media types ignore case. */
static bool typ_is_at_jwt(const char *typ)
{
	return typ && (strcasecmp(typ, "at+jwt") == 0 || strcasecmp(typ, "application/at+jwt") == 0);
}

static enum ag_err check_id_token(const json_t *p, const char *typ, const struct ag_claims_expect *e,
				  const struct ag_log *log, struct ag_claims *out)
{
	const json_t *azp, *nonce;
	size_t n_aud;
	enum ag_err err;

	if (typ_is_at_jwt(typ))
		return fail(log, "ID token has typ %s (an access token)", typ);
	err = check_iss_aud(p, e->issuer, e->client_id, "client_id", log, &n_aud);
	if (err != AG_OK)
		return err;
	/* OIDC Core §3.1.3.7 (4, 5): with several audiences azp names us. */
	azp = json_object_get(p, "azp");
	if (n_aud > 1 && !azp)
		return fail(log, "azp missing while aud has %zu values", n_aud);
	if (azp && !string_is(azp, e->client_id))
		return fail(log, "azp mismatch (want %.256s)", e->client_id);

	err = check_common(p, e, log, out);
	if (err != AG_OK)
		return err;

	if (e->nonce) {
		nonce = json_object_get(p, "nonce");
		if (!json_is_string(nonce))
			return fail(log, "nonce missing");
		if (json_string_length(nonce) != strlen(e->nonce) ||
		    CRYPTO_memcmp(json_string_value(nonce), e->nonce, strlen(e->nonce)) != 0)
			return fail(log, "nonce mismatch");
	}
	if (e->max_age >= 0) {
		if (!json_object_get(p, "auth_time"))
			return fail(log, "auth_time missing while max_age is %lld", e->max_age);
		if ((long long)e->now - out->auth_time > e->max_age + e->leeway)
			return fail(
				log,
				"auth_time too old for max_age (auth_time %lld, now %lld, max_age %lld, leeway %ld s)",
				out->auth_time, (long long)e->now, e->max_age, e->leeway);
	}
	return AG_OK;
}

static enum ag_err check_access_token(const json_t *p, const char *typ, const struct ag_claims_expect *e,
				      const struct ag_log *log, struct ag_claims *out)
{
	const char *client_id;
	size_t n_aud;
	enum ag_err err;

	if (!typ_is_at_jwt(typ))
		return fail(log, "typ is not at+jwt (%.64s)", typ && *typ ? typ : "absent");
	err = check_iss_aud(p, e->issuer, e->issuer, "the issuer", log, &n_aud);
	if (err != AG_OK)
		return err;
	if (!json_object_get(p, "client_id"))
		return fail(log, "client_id missing");
	client_id = ag_json_string(p, "client_id", ISSUER_MAX);
	if (!client_id || strcmp(client_id, e->client_id) != 0)
		return fail(log, "client_id mismatch (want %.256s)", e->client_id);
	return check_common(p, e, log, out);
}

typedef enum ag_err (*check_fn)(const json_t *p, const char *typ, const struct ag_claims_expect *e,
				const struct ag_log *log, struct ag_claims *out);

/* Argument checks and cleanup shared by both public checks. */
static enum ag_err run_check(check_fn check, const json_t *payload, const char *typ,
			     const struct ag_claims_expect *expect, const struct ag_log *log, struct ag_claims *out)
{
	enum ag_err err;

	if (!out)
		return AG_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	if (!json_is_object(payload) || !valid_expect(expect)) {
		ag_log(log, LOG_ERR, "claims: invalid arguments");
		return AG_ERR_INVALID_ARG;
	}
	err = check(payload, typ, expect, log, out);
	if (err != AG_OK)
		ag_claims_clear(out);
	return err;
}

enum ag_err ag_claims_check_id_token(const json_t *payload, const char *typ, const struct ag_claims_expect *expect,
				     const struct ag_log *log, struct ag_claims *out)
{
	return run_check(check_id_token, payload, typ, expect, log, out);
}

enum ag_err ag_claims_check_access_token(const json_t *payload, const char *typ, const struct ag_claims_expect *expect,
					 const struct ag_log *log, struct ag_claims *out)
{
	return run_check(check_access_token, payload, typ, expect, log, out);
}

void ag_claims_clear(struct ag_claims *c)
{
	if (!c)
		return;
	free(c->sub);
	free(c->sid);
	ag_strv_free(c->amr, c->n_amr);
	ag_strv_free(c->roles, c->n_roles);
	memset(c, 0, sizeof *c);
}
