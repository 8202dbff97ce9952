/* The token cache: per user, in the store's tokens table (root-only, like
 * the rest of the database): what the last login or account check got from
 * Authgear. The tokens are secrets: never logged, never in an error string,
 * wiped from memory by ag_token_cache_clear; the database zeroes what it
 * replaces (secure_delete). */
#ifndef AG_TOKENS_H
#define AG_TOKENS_H

#include <stdbool.h>

#include "accounts/store.h"
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

#endif
