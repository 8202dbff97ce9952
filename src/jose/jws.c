/* Verification of compact JWS tokens (see jws.h). */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "base/json.h"
#include "base/secret.h"
#include "jose/b64url.h"
#include "jose/jws.h"
#include "base/ossl.h" /* after the OpenSSL headers: libcrypto through its table */

enum sig_scheme {
	SIG_PKCS1,
	SIG_PSS,
	SIG_ECDSA,
	SIG_EDDSA
};

struct alg_spec {
	unsigned bit;
	const char *name;
	const char *md;	       /* digest, NULL for EdDSA (no pre-hash) */
	enum ag_jwk_kind kind; /* the only key type this alg may use */
	enum sig_scheme scheme;
	size_t sig_len; /* exact signature bytes; 0 = the RSA modulus size */
};

/* RFC 7518 §3.1 and RFC 8037 §3.1. */
static const struct alg_spec alg_specs[] = {
	{ AG_JWS_RS256, "RS256", "SHA256", AG_JWK_RSA, SIG_PKCS1, 0 },
	{ AG_JWS_RS384, "RS384", "SHA384", AG_JWK_RSA, SIG_PKCS1, 0 },
	{ AG_JWS_RS512, "RS512", "SHA512", AG_JWK_RSA, SIG_PKCS1, 0 },
	{ AG_JWS_PS256, "PS256", "SHA256", AG_JWK_RSA, SIG_PSS, 0 },
	{ AG_JWS_PS384, "PS384", "SHA384", AG_JWK_RSA, SIG_PSS, 0 },
	{ AG_JWS_PS512, "PS512", "SHA512", AG_JWK_RSA, SIG_PSS, 0 },
	/* RFC 7518 §3.4: R and S as fixed-size big-endian integers, concatenated. */
	{ AG_JWS_ES256, "ES256", "SHA256", AG_JWK_EC_P256, SIG_ECDSA, 64 },
	{ AG_JWS_ES384, "ES384", "SHA384", AG_JWK_EC_P384, SIG_ECDSA, 96 },
	{ AG_JWS_EDDSA, "EdDSA", NULL, AG_JWK_ED25519, SIG_EDDSA, 64 },
};

#define N_ALGS (sizeof alg_specs / sizeof alg_specs[0])

/* Header members that are refused whatever their value: crit names
 * extensions we do not implement (RFC 7515 §4.1.11), b64 changes what is
 * signed (RFC 7797), and the others would let the token pick its own key. */
static const char *const refused_headers[] = { "crit", "b64", "jku", "x5u", "jwk", "x5c", NULL };

static const struct alg_spec *spec_by_name(const char *name)
{
	for (size_t i = 0; i < N_ALGS; i++)
		if (strcmp(alg_specs[i].name, name) == 0)
			return &alg_specs[i];
	return NULL;
}

unsigned ag_jws_alg_from_name(const char *name)
{
	const struct alg_spec *spec = name ? spec_by_name(name) : NULL;

	return spec ? spec->bit : 0;
}

const char *ag_jws_alg_name(unsigned alg)
{
	for (size_t i = 0; i < N_ALGS; i++)
		if (alg_specs[i].bit == alg)
			return alg_specs[i].name;
	return NULL;
}

enum ag_err ag_jws_alg_list_parse(const char *list, const struct ag_log *log, unsigned *mask)
{
	static const char separators[] = " \t,";
	const char *p = list;
	unsigned m = 0;

	if (!mask)
		return AG_ERR_INVALID_ARG;
	*mask = 0;
	if (!list)
		return AG_ERR_INVALID_ARG;
	p += strspn(p, separators);
	while (*p) {
		size_t n = strcspn(p, separators);
		char name[16];
		unsigned bit = 0;

		if (n < sizeof name) {
			memcpy(name, p, n);
			name[n] = '\0';
			bit = ag_jws_alg_from_name(name);
		}
		if (!bit) {
			ag_log(log, LOG_ERR, "jws: allowed_algs: '%.*s' is not a supported signature alg",
			       (int)(n < 32 ? n : 32), p);
			return AG_ERR_CONFIG;
		}
		m |= bit;
		p += n;
		p += strspn(p, separators);
	}
	if (!m) {
		ag_log(log, LOG_ERR, "jws: allowed_algs is empty");
		return AG_ERR_CONFIG;
	}
	*mask = m;
	return AG_OK;
}

/* The header's alg: present, not none, not HMAC, supported and allowed. */
static enum ag_err header_alg(const json_t *header, unsigned allowed_algs, const struct ag_log *log,
			      const struct alg_spec **spec_out)
{
	const struct alg_spec *spec;
	const char *alg = ag_json_string(header, "alg", 16);

	if (!alg) {
		ag_log(log, LOG_ERR, "jws: header alg missing, not a string or too long");
		return AG_ERR_PARSE;
	}
	if (strcasecmp(alg, "none") == 0) {
		ag_log(log, LOG_ERR, "jws: alg none refused");
		return AG_ERR_SIGNATURE;
	}
	if (strncasecmp(alg, "HS", 2) == 0) {
		ag_log(log, LOG_ERR, "jws: alg %s refused (HMAC: a public key is not a shared secret)", alg);
		return AG_ERR_SIGNATURE;
	}
	spec = spec_by_name(alg);
	if (!spec) {
		ag_log(log, LOG_ERR, "jws: alg %s not supported", alg);
		return AG_ERR_SIGNATURE;
	}
	if (!(allowed_algs & spec->bit)) {
		ag_log(log, LOG_ERR, "jws: alg %s not allowed", alg);
		return AG_ERR_SIGNATURE;
	}
	*spec_out = spec;
	return AG_OK;
}

/* The key the header's kid names (without a kid: the JWKS's only key),
 * which must fit the alg. */
static enum ag_err header_key(const json_t *header, const struct ag_jwks *jwks, const struct alg_spec *spec,
			      const struct ag_log *log, const struct ag_jwk **key_out)
{
	const struct ag_jwk *key;
	const char *kid;

	if (json_object_get(header, "kid")) {
		kid = ag_json_string(header, "kid", AG_JWK_KID_MAX);
		if (!kid) {
			ag_log(log, LOG_ERR, "jws: header kid is not a string of 1 to %d bytes", AG_JWK_KID_MAX);
			return AG_ERR_PARSE;
		}
		key = ag_jwks_find(jwks, kid);
		if (!key) {
			ag_log(log, LOG_ERR, "jws: kid %s not in JWKS", kid);
			return AG_ERR_KEY_NOT_FOUND;
		}
	} else {
		if (ag_jwks_count(jwks) != 1) {
			ag_log(log, LOG_ERR, "jws: header has no kid and the JWKS has %zu keys", ag_jwks_count(jwks));
			return AG_ERR_SIGNATURE;
		}
		key = ag_jwks_key(jwks, 0);
	}
	if (key->kind != spec->kind) {
		ag_log(log, LOG_ERR, "jws: key %s (%s) does not fit alg %s (kty/crv mismatch)",
		       key->has_kid ? key->kid : "without kid", key->desc, spec->name);
		return AG_ERR_SIGNATURE;
	}
	if (key->alg[0] && strcmp(key->alg, spec->name) != 0) {
		ag_log(log, LOG_ERR, "jws: key %s is for alg %s, token uses %s",
		       key->has_kid ? key->kid : "without kid", key->alg, spec->name);
		return AG_ERR_SIGNATURE;
	}
	*key_out = key;
	return AG_OK;
}

/* Check the header's members, pick the alg and the key. */
static enum ag_err check_header(const json_t *header, const struct ag_jwks *jwks, unsigned allowed_algs,
				const struct ag_log *log, const struct alg_spec **spec_out,
				const struct ag_jwk **key_out, char *typ)
{
	const struct alg_spec *spec;
	const char *v;
	enum ag_err err;

	for (size_t i = 0; refused_headers[i]; i++)
		if (json_object_get(header, refused_headers[i])) {
			ag_log(log, LOG_ERR, "jws: header has %s, refused", refused_headers[i]);
			return AG_ERR_SIGNATURE;
		}
	err = header_alg(header, allowed_algs, log, &spec);
	if (err != AG_OK)
		return err;
	if (json_object_get(header, "typ")) {
		v = ag_json_string(header, "typ", AG_JWS_TYP_MAX);
		if (!v) {
			ag_log(log, LOG_ERR, "jws: header typ is not a string of 1 to %d bytes", AG_JWS_TYP_MAX);
			return AG_ERR_PARSE;
		}
		memcpy(typ, v, strlen(v) + 1);
	}
	err = header_key(header, jwks, spec, log, key_out);
	if (err == AG_OK)
		*spec_out = spec;
	return err;
}

/* RFC 7518 §3.4 raw r||s (two halves of len bytes) to the DER
 * ECDSA-Sig-Value OpenSSL verifies. */
static enum ag_err ecdsa_raw_to_der(const unsigned char *sig, size_t len, unsigned char **der, size_t *der_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL);
	BIGNUM *s = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
	enum ag_err err = AG_ERR_NOMEM;
	int n;

	*der = NULL;
	if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by es now */
	n = i2d_ECDSA_SIG(es, der);
	if (n <= 0)
		goto out;
	*der_len = (size_t)n;
	err = AG_OK;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return err;
}

static enum ag_err verify_signature(const struct alg_spec *spec, const struct ag_jwk *key, const char *input,
				    size_t input_len, const unsigned char *sig, size_t sig_len,
				    const struct ag_log *log)
{
	size_t want = spec->sig_len ? spec->sig_len : (size_t)EVP_PKEY_get_size(key->pkey);
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	enum ag_err err = AG_ERR_SIGNATURE;
	int rc;

	if (sig_len != want) {
		ag_log(log, LOG_ERR, "jws: %s signature of %zu bytes, want %zu", spec->name, sig_len, want);
		goto out;
	}
	if (spec->scheme == SIG_ECDSA) {
		err = ecdsa_raw_to_der(sig, sig_len, &der, &der_len);
		if (err != AG_OK)
			goto out;
		err = AG_ERR_SIGNATURE;
		sig = der;
		sig_len = der_len;
	}
	md = EVP_MD_CTX_new();
	if (!md) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit_ex(md, &pctx, spec->md, NULL, NULL, key->pkey, NULL) != 1) {
		ag_log(log, LOG_ERR, "jws: cannot start %s verification", spec->name);
		goto out;
	}
	if (spec->scheme == SIG_PKCS1 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto setup_failed;
	/* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
	if (spec->scheme == SIG_PSS && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
					EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
					EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, spec->md, NULL) != 1))
		goto setup_failed;
	rc = EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)input, input_len);
	if (rc != 1) {
		ag_log(log, LOG_ERR, "jws: signature invalid (%s, key %s)", spec->name,
		       key->has_kid ? key->kid : "without kid");
		goto out;
	}
	err = AG_OK;
	goto out;
setup_failed:
	ag_log(log, LOG_ERR, "jws: cannot set up %s padding", spec->name);
out:
	if (der) {
		ag_wipe(der, der_len);
		OPENSSL_free(der);
	}
	EVP_MD_CTX_free(md);
	ERR_clear_error(); /* OpenSSL's queue is shared with libcurl: leave it clean */
	return err;
}

/* Decode one part of the token; what names it in the log. */
static enum ag_err decode_part(const char *what, const char *start, const char *end, const struct ag_log *log,
			       unsigned char **out, size_t *out_len)
{
	enum ag_err err = ag_b64url_decode(start, (size_t)(end - start), out, out_len);

	if (err == AG_ERR_PARSE)
		ag_log(log, LOG_ERR, "jws: %s is not base64url", what);
	return err;
}

enum ag_err ag_jws_verify(const char *token, size_t len, const struct ag_jwks *jwks, unsigned allowed_algs,
			  const struct ag_log *log, struct ag_jws_result *out)
{
	const char *dot1, *dot2, *end = token + len;
	unsigned char *hdr = NULL, *body = NULL, *sig = NULL;
	size_t hdr_len = 0, body_len = 0, sig_len = 0, parts = 1;
	json_t *header = NULL, *payload = NULL;
	const struct alg_spec *spec = NULL;
	const struct ag_jwk *key = NULL;
	enum ag_err err;

	if (!out)
		return AG_ERR_INVALID_ARG;
	memset(out, 0, sizeof *out);
	if (!token || !jwks)
		return AG_ERR_INVALID_ARG;
	if (len > AG_JWS_MAX) {
		ag_log(log, LOG_ERR, "jws: token of %zu bytes, over the %d byte limit", len, AG_JWS_MAX);
		return AG_ERR_TOO_LARGE;
	}
	for (size_t i = 0; i < len; i++)
		if (token[i] == '.')
			parts++;
	if (parts != 3) {
		ag_log(log, LOG_ERR, "jws: token has %zu parts, want 3", parts);
		return AG_ERR_PARSE;
	}
	dot1 = memchr(token, '.', len);
	dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));

	err = decode_part("header", token, dot1, log, &hdr, &hdr_len);
	if (err == AG_OK)
		err = decode_part("payload", dot1 + 1, dot2, log, &body, &body_len);
	if (err == AG_OK)
		err = decode_part("signature", dot2 + 1, end, log, &sig, &sig_len);
	if (err != AG_OK)
		goto out;
	err = ag_json_parse_object((const char *)hdr, hdr_len, log, "jws: header", &header);
	if (err != AG_OK)
		goto out;
	err = check_header(header, jwks, allowed_algs, log, &spec, &key, out->typ);
	if (err != AG_OK)
		goto out;
	/* The signing input is the first two parts as they were sent. */
	err = verify_signature(spec, key, token, (size_t)(dot2 - token), sig, sig_len, log);
	if (err != AG_OK)
		goto out;
	/* Only a signed payload is parsed. */
	err = ag_json_parse_object((const char *)body, body_len, log, "jws: payload", &payload);
	if (err != AG_OK)
		goto out;
	out->payload = payload;
	out->alg = spec->bit;
	payload = NULL;
out:
	if (err != AG_OK)
		out->typ[0] = '\0';
	json_decref(payload);
	json_decref(header);
	ag_free_secret_n(hdr, hdr_len);
	ag_free_secret_n(body, body_len);
	ag_free_secret_n(sig, sig_len);
	return err;
}
