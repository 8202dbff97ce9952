/* JSON Web Key Sets as OpenSSL 3 public keys (see jwk.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "base/json.h"
#include "base/secret.h"
#include "jose/b64url.h"
#include "jose/jwk.h"
#include "base/ossl.h" /* after the OpenSSL headers: libcrypto through its table */

struct ag_jwks {
	struct ag_jwk keys[AG_JWKS_MAX];
	size_t n;
};

/* Members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL };

/* Why one key was skipped; the caller logs it with the key's label. */
struct skip {
	char why[160];
};

static enum ag_err skip(struct skip *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static enum ag_err skip(struct skip *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->why, sizeof s->why, fmt, ap);
	va_end(ap);
	return AG_ERR_PARSE;
}

/* Decode the base64url member name of jk into at most max_bytes bytes. */
static enum ag_err decode_member(const json_t *jk, const char *name, size_t max_bytes, struct skip *s,
				 unsigned char **out, size_t *out_len)
{
	const char *v = ag_json_string(jk, name, (max_bytes * 4 + 2) / 3);
	enum ag_err err;

	*out = NULL;
	if (!v)
		return skip(s, "%s missing, not a string or too long", name);
	err = ag_b64url_decode(v, strlen(v), out, out_len);
	if (err == AG_ERR_NOMEM)
		return err;
	if (err != AG_OK)
		return skip(s, "%s is not base64url", name);
	return AG_OK;
}

/* Build a public key of type from params and run OpenSSL's full public key
 * check (RSA: n odd, no small factors, e in range; EC: point on the curve,
 * not at infinity, of the group's order). */
static enum ag_err pkey_from_params(const char *type, const OSSL_PARAM *params, struct skip *s, EVP_PKEY **out)
{
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pkey = NULL;
	enum ag_err err = AG_ERR_PARSE;

	*out = NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!ctx) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) != 1) {
		err = skip(s, "OpenSSL refused the %s public key", type);
		goto out;
	}
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_public_check(check) != 1) {
		err = skip(s, "%s public key failed validation", type);
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	err = AG_OK;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	return err;
}

static enum ag_err import_rsa(const json_t *jk, struct skip *s, struct ag_jwk *key)
{
	unsigned char *n_bytes = NULL, *e_bytes = NULL;
	size_t n_len = 0, e_len = 0;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	enum ag_err err;

	err = decode_member(jk, "n", AG_JWK_RSA_MAX_BITS / 8 + 1, s, &n_bytes, &n_len);
	if (err != AG_OK)
		goto out;
	err = decode_member(jk, "e", 8, s, &e_bytes, &e_len);
	if (err != AG_OK)
		goto out;
	n = BN_bin2bn(n_bytes, (int)n_len, NULL);
	e = BN_bin2bn(e_bytes, (int)e_len, NULL);
	if (!n || !e) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	key->bits = BN_num_bits(n);
	if (key->bits < AG_JWK_RSA_MIN_BITS || key->bits > AG_JWK_RSA_MAX_BITS) {
		err = skip(s, "RSA modulus of %d bits, want %d to %d", key->bits, AG_JWK_RSA_MIN_BITS,
			   AG_JWK_RSA_MAX_BITS);
		goto out;
	}
	if (!BN_is_odd(n) || !BN_is_odd(e) || BN_num_bits(e) > 32 || BN_is_one(e)) {
		err = skip(s, "RSA n must be odd and e odd, from 3 to 2^32-1");
		goto out;
	}
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) || !(params = OSSL_PARAM_BLD_to_param(bld))) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	err = pkey_from_params("RSA", params, s, &key->pkey);
	if (err != AG_OK)
		goto out;
	key->kind = AG_JWK_RSA;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(n_bytes);
	free(e_bytes);
	return err;
}

static enum ag_err import_ec(const json_t *jk, const char *crv, struct skip *s, struct ag_jwk *key)
{
	unsigned char *x = NULL, *y = NULL, point[1 + 2 * 48];
	size_t x_len = 0, y_len = 0, size;
	const char *group;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	enum ag_jwk_kind kind;
	enum ag_err err;

	if (strcmp(crv, "P-256") == 0) {
		kind = AG_JWK_EC_P256;
		group = "prime256v1";
		size = 32;
	} else if (strcmp(crv, "P-384") == 0) {
		kind = AG_JWK_EC_P384;
		group = "secp384r1";
		size = 48;
	} else {
		return skip(s, "EC crv %s not supported", crv);
	}
	err = decode_member(jk, "x", size, s, &x, &x_len);
	if (err != AG_OK)
		goto out;
	err = decode_member(jk, "y", size, s, &y, &y_len);
	if (err != AG_OK)
		goto out;
	/* RFC 7518 §6.2.1.2: x and y are the full coordinate size. */
	if (x_len != size || y_len != size) {
		err = skip(s, "EC %s coordinates must be %zu bytes each", crv, size);
		goto out;
	}
	point[0] = 0x04; /* uncompressed point, SEC 1 §2.3.3 */
	memcpy(point + 1, x, size);
	memcpy(point + 1 + size, y, size);
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld))) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	err = pkey_from_params("EC", params, s, &key->pkey);
	if (err != AG_OK)
		goto out;
	key->kind = kind;
	key->bits = (int)size * 8;
out:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return err;
}

static enum ag_err import_okp(const json_t *jk, const char *crv, struct skip *s, struct ag_jwk *key)
{
	unsigned char *x = NULL;
	size_t x_len = 0;
	OSSL_PARAM params[2];
	enum ag_err err;

	if (strcmp(crv, "Ed25519") != 0)
		return skip(s, "OKP crv %s not supported", crv);
	err = decode_member(jk, "x", 32, s, &x, &x_len);
	if (err != AG_OK)
		goto out;
	if (x_len != 32) {
		err = skip(s, "Ed25519 x must be 32 bytes");
		goto out;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, x, x_len);
	params[1] = OSSL_PARAM_construct_end();
	err = pkey_from_params("ED25519", params, s, &key->pkey);
	if (err != AG_OK)
		goto out;
	key->kind = AG_JWK_ED25519;
	key->bits = 256;
out:
	free(x);
	return err;
}

/* Copy the optional string member name (1..max bytes) into buf; false when
 * present but not such a string. */
static bool optional_string(const json_t *jk, const char *name, char *buf, size_t max)
{
	const char *v;

	buf[0] = '\0';
	if (!json_object_get(jk, name))
		return true;
	v = ag_json_string(jk, name, max);
	if (!v)
		return false;
	memcpy(buf, v, strlen(v) + 1);
	return true;
}

static bool key_ops_allow_verify(const json_t *jk)
{
	const json_t *ops = json_object_get(jk, "key_ops"), *op;
	size_t i;

	if (!ops)
		return true;
	if (!json_is_array(ops))
		return false;
	json_array_foreach(ops, i, op)
		if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
			return true;
	return false;
}

/* Fill key from the JWK object jk, or explain in s why it is skipped.
 * AG_ERR_NOMEM is the only error that is not a skip. */
static enum ag_err parse_key(const json_t *jk, struct skip *s, struct ag_jwk *key)
{
	if (!json_is_object(jk))
		return skip(s, "not a JSON object");
	if (!optional_string(jk, "kid", key->kid, AG_JWK_KID_MAX))
		return skip(s, "kid is not a string of 1 to %d bytes", AG_JWK_KID_MAX);
	key->has_kid = key->kid[0] != '\0';
	for (size_t i = 0; private_members[i]; i++)
		if (json_object_get(jk, private_members[i]))
			return skip(s, "private key member \"%s\" published; key not trusted", private_members[i]);
	if (!optional_string(jk, "kty", key->kty, sizeof key->kty - 1) || !key->kty[0])
		return skip(s, "kty missing or not supported");
	if (!optional_string(jk, "alg", key->alg, AG_JWK_ALG_MAX))
		return skip(s, "alg is not a string of 1 to %d bytes", AG_JWK_ALG_MAX);
	if (!optional_string(jk, "use", key->use, sizeof key->use - 1) ||
	    (key->use[0] && strcmp(key->use, "sig") != 0))
		return skip(s, "use is not \"sig\"");
	if (!key_ops_allow_verify(jk))
		return skip(s, "key_ops does not allow verify");
	if (!optional_string(jk, "crv", key->crv, sizeof key->crv - 1))
		return skip(s, "crv is not a short string");

	if (strcmp(key->kty, "RSA") == 0)
		return import_rsa(jk, s, key);
	if (strcmp(key->kty, "EC") != 0 && strcmp(key->kty, "OKP") != 0)
		return skip(s, "kty %s not supported", key->kty);
	if (!key->crv[0])
		return skip(s, "kty %s needs crv", key->kty);
	if (strcmp(key->kty, "EC") == 0)
		return import_ec(jk, key->crv, s, key);
	return import_okp(jk, key->crv, s, key);
}

static void describe(struct ag_jwk *key)
{
	char what[32], desc[sizeof key->desc];

	if (key->kind == AG_JWK_RSA)
		snprintf(what, sizeof what, "RSA %d", key->bits);
	else if (key->kind == AG_JWK_ED25519)
		snprintf(what, sizeof what, "OKP Ed25519");
	else
		snprintf(what, sizeof what, "EC %s", key->crv);
	if (key->alg[0])
		snprintf(desc, sizeof desc, "%s, %s", key->alg, what);
	else
		snprintf(desc, sizeof desc, "%s", what);
	memcpy(key->desc, desc, sizeof desc);
}

enum ag_err ag_jwks_parse(const char *json, size_t len, const struct ag_log *log, struct ag_jwks **out)
{
	struct ag_jwks *set = NULL;
	json_t *root = NULL, *keys, *jk;
	enum ag_err err;
	size_t i;

	if (!out)
		return AG_ERR_INVALID_ARG;
	*out = NULL;
	if (!json)
		return AG_ERR_INVALID_ARG;
	err = ag_json_parse_object(json, len, log, "JWKS", &root);
	if (err != AG_OK)
		goto out;
	keys = json_object_get(root, "keys");
	if (!json_is_array(keys)) {
		ag_log(log, LOG_ERR, "jwk: JWKS has no \"keys\" array");
		err = AG_ERR_PARSE;
		goto out;
	}
	if (json_array_size(keys) > AG_JWKS_MAX) {
		ag_log(log, LOG_ERR, "jwk: JWKS has %zu keys, limit %d", json_array_size(keys), AG_JWKS_MAX);
		err = AG_ERR_TOO_LARGE;
		goto out;
	}
	set = calloc(1, sizeof *set);
	if (!set) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(keys, i, jk) {
		struct ag_jwk *key = &set->keys[set->n];
		struct skip s = { "" };

		memset(key, 0, sizeof *key);
		err = parse_key(jk, &s, key);
		if (err == AG_OK && key->has_kid && ag_jwks_find(set, key->kid))
			err = skip(&s, "kid repeated; the first key with this kid is used");
		if (err == AG_ERR_NOMEM)
			goto out;
		if (err != AG_OK) {
			ag_log(log, LOG_WARNING, "jwk: key %zu (kid %s) skipped: %s", i,
			       key->has_kid ? key->kid : "none", s.why);
			EVP_PKEY_free(key->pkey);
			memset(key, 0, sizeof *key);
			continue;
		}
		describe(key);
		set->n++;
	}
	if (set->n == 0) {
		ag_log(log, LOG_ERR, "jwk: JWKS has no usable key (%zu listed)", json_array_size(keys));
		err = AG_ERR_PROTOCOL;
		goto out;
	}
	*out = set;
	set = NULL;
	err = AG_OK;
out:
	ERR_clear_error(); /* OpenSSL's queue is shared with libcurl: leave it clean */
	ag_jwks_free(set);
	json_decref(root);
	return err;
}

size_t ag_jwks_count(const struct ag_jwks *set)
{
	return set ? set->n : 0;
}

const struct ag_jwk *ag_jwks_key(const struct ag_jwks *set, size_t i)
{
	return set && i < set->n ? &set->keys[i] : NULL;
}

const struct ag_jwk *ag_jwks_find(const struct ag_jwks *set, const char *kid)
{
	if (!set || !kid)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (set->keys[i].has_kid && strcmp(set->keys[i].kid, kid) == 0)
			return &set->keys[i];
	return NULL;
}

const char *ag_jwks_kid(const struct ag_jwks *set, size_t i)
{
	const struct ag_jwk *key = ag_jwks_key(set, i);

	return key && key->has_kid ? key->kid : NULL;
}

const char *ag_jwks_alg_desc(const struct ag_jwks *set, size_t i)
{
	const struct ag_jwk *key = ag_jwks_key(set, i);

	return key ? key->desc : NULL;
}

void ag_jwks_free(struct ag_jwks *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		EVP_PKEY_free(set->keys[i].pkey);
	free(set);
}
