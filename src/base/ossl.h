/* libcrypto loaded when first used (dl.h), not linked: sudo's account
 * check within account_check_cache (every sudo) reads one row of the store
 * and uses no cryptography, and libcrypto is the largest object the module
 * would otherwise map and relocate at every dlopen (about 4,000 symbol
 * relocations: most of the module's load time).
 *
 * Include this after every OpenSSL header a file uses (it includes those
 * the core uses): each OpenSSL function the core calls becomes a macro that
 * goes through the table, loaded once per process. A function not in
 * AG_OSSL_SYMS fails to link (libcrypto is not linked): add it there. */
#ifndef AG_OSSL_H
#define AG_OSSL_H

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "base/error.h"

#define AG_OSSL_SYMS(X) \
	X(BN_bin2bn) \
	X(BN_free) \
	X(BN_is_odd) \
	X(BN_is_one) \
	X(BN_num_bits) \
	X(CRYPTO_free) \
	X(CRYPTO_memcmp) \
	X(ECDSA_SIG_free) \
	X(ECDSA_SIG_new) \
	X(ECDSA_SIG_set0) \
	X(ERR_clear_error) \
	X(EVP_CIPHER_CTX_ctrl) \
	X(EVP_CIPHER_CTX_free) \
	X(EVP_CIPHER_CTX_new) \
	X(EVP_DecryptFinal_ex) \
	X(EVP_DecryptInit_ex) \
	X(EVP_DecryptUpdate) \
	X(EVP_Digest) \
	X(EVP_DigestVerify) \
	X(EVP_DigestVerifyInit_ex) \
	X(EVP_EncryptFinal_ex) \
	X(EVP_EncryptInit_ex) \
	X(EVP_EncryptUpdate) \
	X(EVP_MD_CTX_free) \
	X(EVP_MD_CTX_new) \
	X(EVP_PKEY_CTX_free) \
	X(EVP_PKEY_CTX_new_from_name) \
	X(EVP_PKEY_CTX_new_from_pkey) \
	X(EVP_PKEY_CTX_set_rsa_mgf1_md_name) \
	X(EVP_PKEY_CTX_set_rsa_padding) \
	X(EVP_PKEY_CTX_set_rsa_pss_saltlen) \
	X(EVP_PKEY_free) \
	X(EVP_PKEY_fromdata) \
	X(EVP_PKEY_fromdata_init) \
	X(EVP_PKEY_get_size) \
	X(EVP_PKEY_public_check) \
	X(EVP_aes_256_gcm) \
	X(EVP_sha256) \
	X(OSSL_PARAM_BLD_free) \
	X(OSSL_PARAM_BLD_new) \
	X(OSSL_PARAM_BLD_push_BN) \
	X(OSSL_PARAM_BLD_push_octet_string) \
	X(OSSL_PARAM_BLD_push_utf8_string) \
	X(OSSL_PARAM_BLD_to_param) \
	X(OSSL_PARAM_construct_end) \
	X(OSSL_PARAM_construct_octet_string) \
	X(OSSL_PARAM_free) \
	X(RAND_bytes) \
	X(i2d_ECDSA_SIG)

struct ag_ossl {
#define AG_OSSL_FIELD(f) __typeof__(f) *f;
	AG_OSSL_SYMS(AG_OSSL_FIELD)
#undef AG_OSSL_FIELD
};

/* Load libcrypto (once per process): AG_OK, or AG_ERR_CONFIG with why
 * naming what is missing. A caller that can say so checks this first. */
enum ag_err ag_ossl_load(char *why, size_t why_len);

/* The table, loaded if it was not. libcrypto missing (an incomplete
 * installation): the reason goes to syslog and the process aborts rather
 * than run without its cryptography (a PAM stack's application then fails,
 * closed). */
const struct ag_ossl *ag_ossl(void);

#ifndef AG_OSSL_NO_MACROS
#define AG_OSSL_CALL(f) (ag_ossl()->f)
#define BN_bin2bn AG_OSSL_CALL(BN_bin2bn)
#define BN_free AG_OSSL_CALL(BN_free)
#define BN_is_odd AG_OSSL_CALL(BN_is_odd)
#define BN_is_one AG_OSSL_CALL(BN_is_one)
#define BN_num_bits AG_OSSL_CALL(BN_num_bits)
#define CRYPTO_free AG_OSSL_CALL(CRYPTO_free)
#define CRYPTO_memcmp AG_OSSL_CALL(CRYPTO_memcmp)
#define ECDSA_SIG_free AG_OSSL_CALL(ECDSA_SIG_free)
#define ECDSA_SIG_new AG_OSSL_CALL(ECDSA_SIG_new)
#define ECDSA_SIG_set0 AG_OSSL_CALL(ECDSA_SIG_set0)
#define ERR_clear_error AG_OSSL_CALL(ERR_clear_error)
#define EVP_CIPHER_CTX_ctrl AG_OSSL_CALL(EVP_CIPHER_CTX_ctrl)
#define EVP_CIPHER_CTX_free AG_OSSL_CALL(EVP_CIPHER_CTX_free)
#define EVP_CIPHER_CTX_new AG_OSSL_CALL(EVP_CIPHER_CTX_new)
#define EVP_DecryptFinal_ex AG_OSSL_CALL(EVP_DecryptFinal_ex)
#define EVP_DecryptInit_ex AG_OSSL_CALL(EVP_DecryptInit_ex)
#define EVP_DecryptUpdate AG_OSSL_CALL(EVP_DecryptUpdate)
#define EVP_Digest AG_OSSL_CALL(EVP_Digest)
#define EVP_DigestVerify AG_OSSL_CALL(EVP_DigestVerify)
#define EVP_DigestVerifyInit_ex AG_OSSL_CALL(EVP_DigestVerifyInit_ex)
#define EVP_EncryptFinal_ex AG_OSSL_CALL(EVP_EncryptFinal_ex)
#define EVP_EncryptInit_ex AG_OSSL_CALL(EVP_EncryptInit_ex)
#define EVP_EncryptUpdate AG_OSSL_CALL(EVP_EncryptUpdate)
#define EVP_MD_CTX_free AG_OSSL_CALL(EVP_MD_CTX_free)
#define EVP_MD_CTX_new AG_OSSL_CALL(EVP_MD_CTX_new)
#define EVP_PKEY_CTX_free AG_OSSL_CALL(EVP_PKEY_CTX_free)
#define EVP_PKEY_CTX_new_from_name AG_OSSL_CALL(EVP_PKEY_CTX_new_from_name)
#define EVP_PKEY_CTX_new_from_pkey AG_OSSL_CALL(EVP_PKEY_CTX_new_from_pkey)
#define EVP_PKEY_CTX_set_rsa_mgf1_md_name AG_OSSL_CALL(EVP_PKEY_CTX_set_rsa_mgf1_md_name)
#define EVP_PKEY_CTX_set_rsa_padding AG_OSSL_CALL(EVP_PKEY_CTX_set_rsa_padding)
#define EVP_PKEY_CTX_set_rsa_pss_saltlen AG_OSSL_CALL(EVP_PKEY_CTX_set_rsa_pss_saltlen)
#define EVP_PKEY_free AG_OSSL_CALL(EVP_PKEY_free)
#define EVP_PKEY_fromdata AG_OSSL_CALL(EVP_PKEY_fromdata)
#define EVP_PKEY_fromdata_init AG_OSSL_CALL(EVP_PKEY_fromdata_init)
#define EVP_PKEY_get_size AG_OSSL_CALL(EVP_PKEY_get_size)
#define EVP_PKEY_public_check AG_OSSL_CALL(EVP_PKEY_public_check)
#define EVP_aes_256_gcm AG_OSSL_CALL(EVP_aes_256_gcm)
#define EVP_sha256 AG_OSSL_CALL(EVP_sha256)
#define OSSL_PARAM_BLD_free AG_OSSL_CALL(OSSL_PARAM_BLD_free)
#define OSSL_PARAM_BLD_new AG_OSSL_CALL(OSSL_PARAM_BLD_new)
#define OSSL_PARAM_BLD_push_BN AG_OSSL_CALL(OSSL_PARAM_BLD_push_BN)
#define OSSL_PARAM_BLD_push_octet_string AG_OSSL_CALL(OSSL_PARAM_BLD_push_octet_string)
#define OSSL_PARAM_BLD_push_utf8_string AG_OSSL_CALL(OSSL_PARAM_BLD_push_utf8_string)
#define OSSL_PARAM_BLD_to_param AG_OSSL_CALL(OSSL_PARAM_BLD_to_param)
#define OSSL_PARAM_construct_end AG_OSSL_CALL(OSSL_PARAM_construct_end)
#define OSSL_PARAM_construct_octet_string AG_OSSL_CALL(OSSL_PARAM_construct_octet_string)
#define OSSL_PARAM_free AG_OSSL_CALL(OSSL_PARAM_free)
#define RAND_bytes AG_OSSL_CALL(RAND_bytes)
#define i2d_ECDSA_SIG AG_OSSL_CALL(i2d_ECDSA_SIG)
#endif

#endif
