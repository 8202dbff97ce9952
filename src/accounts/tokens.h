/* The token cache: per user, in the store's tokens table (root-only, like
 * the rest of the database): what the last login or account check got from
 * Authgear. The tokens are secrets: never logged, never in an error string,
 * wiped from memory by ag_token_cache_clear; the database zeroes what it
 * replaces (secure_delete).
 *
 * With token_key_file, the three token columns are sealed with AES-256-GCM
 * (a random 96-bit nonce per value; the column's name and the user's name
 * are the additional data, so a value moved to another row or column does
 * not open): a BLOB "\x01" nonce ciphertext tag. Plain TEXT values (written
 * before the key was set) are still read and sealed at their next write. */
#ifndef AG_TOKENS_H
#define AG_TOKENS_H

#include <stdbool.h>

#include "accounts/store.h"
#include "base/conf.h"
#include "base/error.h"

struct ag_token_cache {
	char *refresh_token;   /* put: NULL keeps the cached one (rotation off, §5.2) */
	char *access_token;
	char *id_token;        /* the last ID token (id_token_hint) */
	long long access_expires; /* epoch seconds; 0: unknown */
	char *sub;
	long long auth_time;
	char *amr;             /* comma-separated */
	char *roles;           /* comma-separated, as verified */
	long long login_at;    /* the last login; put: 0 keeps the cached one */
	long long checked_at;  /* the last account check and its result */
	long long check_ok_at; /* the last successful one (offline_grace) */
	char check_result[32];
	long long logins;      /* get: logins cached so far (put counts them) */
	long long session_logins; /* get: logins when a session last opened */
};

void ag_token_cache_clear(struct ag_token_cache *t);

/* Insert or update user's row (the user must exist) in tx. */
enum ag_err ag_tokens_tx_put(struct ag_store_tx *tx, const char *user, const struct ag_token_cache *t);
/* Drop user's row (*found: there was one). */
enum ag_err ag_tokens_tx_drop(struct ag_store_tx *tx, const char *user, bool *found);
/* Read user's row; *found false (t zeroed) when none. */
enum ag_err ag_tokens_get(struct ag_store *s, const char *user, struct ag_token_cache *t, bool *found);
/* ag_tokens_tx_put / ag_tokens_tx_drop in their own transaction. */
enum ag_err ag_tokens_put(struct ag_store *s, const char *user, const struct ag_token_cache *t);
enum ag_err ag_tokens_drop(struct ag_store *s, const char *user, bool *found);

/* Null the token columns, keeping the row's times and check result (a
 * logout: the next account check finds no token). *had: a refresh token
 * was cached. */
enum ag_err ag_tokens_tx_clear_secrets(struct ag_store_tx *tx, const char *user, bool *had);
/* Record that a session opened for the current login (sessions.h). */
enum ag_err ag_tokens_tx_session_opened(struct ag_store_tx *tx, const char *user);

/* What authgear-pam status shows: the row without its secrets (nothing is
 * unsealed); *found false when none. */
struct ag_token_info {
	bool refresh, access, id;  /* cached */
	bool sealed;               /* at least one is sealed (token_key_file) */
	long long access_expires, auth_time, login_at, checked_at, check_ok_at;
	char check_result[32];
	char roles[1024];
	char amr[256];
};
enum ag_err ag_tokens_info(struct ag_store *s, const char *user, struct ag_token_info *info, bool *found);

/* Read token_key_file: a regular file owned by root, mode 0600 (or 0400),
 * exactly AG_STORE_TOKEN_KEY_LEN bytes; anything else is refused with the
 * reason logged (AG_ERR_CONFIG_PERM, AG_ERR_CONFIG). */
enum ag_err ag_tokens_key_load(const char *path, const struct ag_log *log, unsigned char *key);

/* ag_store_open on cfg's state_dir with cfg's token_key_file (when set)
 * attached: what every reader and writer of the token cache opens. A key
 * file that cannot be used fails the open (fail closed). */
enum ag_err ag_tokens_store_open(const struct ag_config *cfg, const struct ag_log *log, struct ag_store **out);

#endif
