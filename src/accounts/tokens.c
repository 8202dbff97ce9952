/* The token cache's rows (tokens.h). Statements are prepared per call: an
 * account check runs a handful. Secrets are bound SQLITE_STATIC (no copy
 * in SQLite's heap beyond its page cache) and read into wiped buffers. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "accounts/tokens.h"
#include "base/file.h"
#include "base/secret.h"
#include "base/ossl.h" /* after the OpenSSL headers: libcrypto through its table */

/* --- sealing (token_key_file) ---------------------------------------------- */

#define SEAL_VERSION 0x01
#define SEAL_NONCE 12
#define SEAL_TAG 16
#define SEAL_OVERHEAD (1 + SEAL_NONCE + SEAL_TAG)
#define AG_TOKEN_SEAL_MAX (1024 * 1024) /* bytes of one value; tokens are a few KiB */

static int aad(char *buf, size_t len, const char *column, const char *user)
{
	return snprintf(buf, len, "pam_authgear token v1\n%s\n%s", column, user);
}

/* plain -> "\x01" nonce ciphertext tag, in *out (caller frees). */
static enum ag_err seal(const unsigned char *key, const char *column, const char *user, const char *plain,
			unsigned char **out, int *out_len)
{
	size_t n = strlen(plain);
	char ad[512];
	int ad_len = aad(ad, sizeof ad, column, user), len = 0;
	unsigned char *b = n < AG_TOKEN_SEAL_MAX ? malloc(n + SEAL_OVERHEAD) : NULL;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	bool ok;

	*out = NULL;
	ok = b && ctx && ad_len > 0 && ad_len < (int)sizeof ad && RAND_bytes(b + 1, SEAL_NONCE) == 1 &&
	     EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, b + 1) == 1 &&
	     EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)ad, ad_len) == 1 &&
	     EVP_EncryptUpdate(ctx, b + 1 + SEAL_NONCE, &len, (const unsigned char *)plain, (int)n) == 1 &&
	     EVP_EncryptFinal_ex(ctx, b + 1 + SEAL_NONCE + len, &len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, b + 1 + SEAL_NONCE + n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		free(b);
		return b ? AG_ERR_IO : AG_ERR_NOMEM;
	}
	b[0] = SEAL_VERSION;
	*out = b;
	*out_len = (int)(n + SEAL_OVERHEAD);
	return AG_OK;
}

/* The inverse; AG_ERR_CORRUPT when the value does not open with key. */
static enum ag_err unseal(const unsigned char *key, const char *column, const char *user, const unsigned char *v,
			  int n, char **out)
{
	char ad[512];
	int ad_len = aad(ad, sizeof ad, column, user), len = 0, plain = n - SEAL_OVERHEAD;
	EVP_CIPHER_CTX *ctx;
	char *p;
	bool ok;

	*out = NULL;
	if (n < SEAL_OVERHEAD || v[0] != SEAL_VERSION || ad_len <= 0 || ad_len >= (int)sizeof ad)
		return AG_ERR_CORRUPT;
	p = malloc((size_t)plain + 1);
	ctx = EVP_CIPHER_CTX_new();
	ok = p && ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, v + 1) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)ad, ad_len) == 1 &&
	     EVP_DecryptUpdate(ctx, (unsigned char *)p, &len, v + 1 + SEAL_NONCE, plain) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, (void *)(v + 1 + SEAL_NONCE + plain)) == 1 &&
	     EVP_DecryptFinal_ex(ctx, (unsigned char *)p + len, &len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		ag_free_secret_n(p, (size_t)plain + 1);
		return p ? AG_ERR_CORRUPT : AG_ERR_NOMEM;
	}
	p[plain] = '\0';
	if (strlen(p) != (size_t)plain) { /* a NUL inside: not a token we sealed */
		ag_free_secret_n(p, (size_t)plain + 1);
		return AG_ERR_CORRUPT;
	}
	*out = p;
	return AG_OK;
}

enum ag_err ag_tokens_key_load(const char *path, const struct ag_log *log, unsigned char *key)
{
	char why[256];
	char *buf = NULL;
	size_t len = 0;
	enum ag_err err;

	err = ag_file_read_secret(path, AG_STORE_TOKEN_KEY_LEN + 1, &buf, &len, why, sizeof why);
	if (err == AG_ERR_TOO_LARGE || (err == AG_OK && len != AG_STORE_TOKEN_KEY_LEN)) {
		snprintf(why, sizeof why, "must hold exactly %d random bytes (head -c %d /dev/urandom), not %s",
			 AG_STORE_TOKEN_KEY_LEN, AG_STORE_TOKEN_KEY_LEN, err == AG_OK ? "fewer" : "more");
		err = AG_ERR_CONFIG;
	}
	if (err == AG_OK)
		memcpy(key, buf, AG_STORE_TOKEN_KEY_LEN);
	else
		ag_log(log, LOG_ERR, "token_key_file %s: %s; the token cache cannot be used (Authgear logins and "
				     "account checks are refused)", path, why);
	ag_free_secret_n(buf, len);
	return err == AG_OK ? AG_OK : err == AG_ERR_CONFIG_PERM ? AG_ERR_CONFIG_PERM : AG_ERR_CONFIG;
}

enum ag_err ag_tokens_store_open(const struct ag_config *cfg, const struct ag_log *log, struct ag_store **out)
{
	unsigned char key[AG_STORE_TOKEN_KEY_LEN];
	enum ag_err err = AG_OK;

	*out = NULL;
	if (cfg->token_key_file)
		err = ag_tokens_key_load(cfg->token_key_file, log, key);
	if (err == AG_OK)
		err = ag_store_open(cfg->state_dir, log, out);
	if (err == AG_OK && cfg->token_key_file)
		ag_store_set_token_key(*out, key);
	ag_wipe(key, sizeof key);
	return err;
}

void ag_token_cache_clear(struct ag_token_cache *t)
{
	ag_free_secret(t->refresh_token);
	ag_free_secret(t->access_token);
	ag_free_secret(t->id_token);
	free(t->sub);
	free(t->amr);
	free(t->roles);
	memset(t, 0, sizeof *t);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Prepare sql, bind user as ?1 and step once: the step's result (or the
 * prepare's failure). The caller finalizes *st in either case. */
static int step_for_user(sqlite3 *db, const char *sql, const char *user, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	if (rc == SQLITE_OK) {
		bind_text(*st, 1, user);
		rc = sqlite3_step(*st);
	}
	return rc;
}

/* The condition that picks user's row. */
#define OF_USER " WHERE user_id = (SELECT id FROM users WHERE name = ?1)"

/* Bind a secret column, sealed when the store has a token key. */
static enum ag_err bind_secret(sqlite3_stmt *st, int i, const unsigned char *key, const char *column,
			       const char *user, const char *v)
{
	unsigned char *b;
	int n;
	enum ag_err err;

	if (!v || !key) {
		bind_text(st, i, v);
		return AG_OK;
	}
	err = seal(key, column, user, v, &b, &n);
	if (err == AG_OK)
		sqlite3_bind_blob(st, i, b, n, SQLITE_TRANSIENT);
	free(b);
	return err;
}

static const char PUT_SQL[] =
	"INSERT INTO tokens (user_id, refresh_token, access_token, access_expires, id_token, sub, auth_time, amr,"
	" roles, login_at, checked_at, check_ok_at, check_result, logins)"
	" VALUES ((SELECT id FROM users WHERE name = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	" ?10 <> 0)"
	" ON CONFLICT (user_id) DO UPDATE SET"
	" logins = tokens.logins + excluded.logins,"
	" refresh_token = coalesce(excluded.refresh_token, tokens.refresh_token),"
	" access_token = excluded.access_token, access_expires = excluded.access_expires,"
	" id_token = coalesce(excluded.id_token, tokens.id_token), sub = excluded.sub,"
	" auth_time = excluded.auth_time, amr = excluded.amr, roles = excluded.roles,"
	" login_at = CASE excluded.login_at WHEN 0 THEN tokens.login_at ELSE excluded.login_at END,"
	" checked_at = excluded.checked_at, check_ok_at = excluded.check_ok_at,"
	" check_result = excluded.check_result";

enum ag_err ag_tokens_tx_put(struct ag_store_tx *tx, const char *user, const struct ag_token_cache *t)
{
	sqlite3 *db = ag_store_tx_sqlite(tx);
	const unsigned char *key = ag_store_tx_token_key(tx);
	sqlite3_stmt *st = NULL;
	enum ag_err err = AG_OK;
	int rc = sqlite3_prepare_v2(db, PUT_SQL, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		bind_text(st, 1, user);
		err = bind_secret(st, 2, key, "refresh_token", user, t->refresh_token);
		if (err == AG_OK)
			err = bind_secret(st, 3, key, "access_token", user, t->access_token);
		if (err == AG_OK)
			err = bind_secret(st, 5, key, "id_token", user, t->id_token);
		if (err != AG_OK) {
			sqlite3_finalize(st);
			ag_log(ag_store_tx_log(tx), LOG_ERR, "token cache: cannot seal %s's tokens (%s)", user,
			       ag_err_reason(err));
			return err;
		}
		sqlite3_bind_int64(st, 4, t->access_expires);
		bind_text(st, 6, t->sub ? t->sub : "");
		sqlite3_bind_int64(st, 7, t->auth_time);
		bind_text(st, 8, t->amr ? t->amr : "");
		bind_text(st, 9, t->roles ? t->roles : "");
		sqlite3_bind_int64(st, 10, t->login_at);
		sqlite3_bind_int64(st, 11, t->checked_at);
		sqlite3_bind_int64(st, 12, t->check_ok_at);
		bind_text(st, 13, t->check_result);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_OK ? AG_OK : ag_store_tx_fail(tx, rc, "write the token cache");
}

static enum ag_err column(sqlite3_stmt *st, int i, bool secret, char **out);

/* A secret column: a sealed BLOB opens with the store's key (none, or
 * another: refused, fail closed), a TEXT one is a value written before
 * token_key_file was set. */
static enum ag_err secret_column(struct ag_store *s, sqlite3_stmt *st, int i, const char *name, const char *user,
				 char **out)
{
	const unsigned char *key = ag_store_token_key(s);
	enum ag_err err;

	*out = NULL;
	if (sqlite3_column_type(st, i) != SQLITE_BLOB)
		return column(st, i, true, out);
	if (!key) {
		ag_log(ag_store_log(s), LOG_ERR, "token cache: %s's %s is sealed but token_key_file is not set; "
						 "refused (restore the key, or the user signs in again)", user, name);
		return AG_ERR_CONFIG;
	}
	err = unseal(key, name, user, sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i), out);
	if (err == AG_ERR_CORRUPT) {
		ag_log(ag_store_log(s), LOG_ERR, "token cache: %s's %s does not open with token_key_file (another key, "
						 "or a damaged value); refused (restore the key, or the user signs in again)",
		       user, name);
		err = AG_ERR_CONFIG;
	}
	return err;
}

static enum ag_err column(sqlite3_stmt *st, int i, bool secret, char **out)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);

	*out = NULL;
	if (!v)
		return AG_OK;
	*out = malloc((size_t)n + 1);
	if (!*out)
		return AG_ERR_NOMEM;
	memcpy(*out, v, (size_t)n);
	(*out)[n] = '\0';
	(void)secret; /* SQLite's own copy lives in its page cache until the handle closes */
	return AG_OK;
}

/* Columns 0 to 2 of a row (the tokens), opened. */
static enum ag_err read_secrets(struct ag_store *s, sqlite3_stmt *st, const char *user, struct ag_token_cache *t)
{
	enum ag_err err = secret_column(s, st, 0, "refresh_token", user, &t->refresh_token);

	if (err == AG_OK)
		err = secret_column(s, st, 1, "access_token", user, &t->access_token);
	if (err == AG_OK)
		err = secret_column(s, st, 2, "id_token", user, &t->id_token);
	return err;
}

/* Columns 0 to 2 as the CLI shows them: there or not, sealed or not. */
static void show_secrets(sqlite3_stmt *st, struct ag_token_info *shown)
{
	shown->refresh = sqlite3_column_type(st, 0) != SQLITE_NULL;
	shown->access = sqlite3_column_type(st, 1) != SQLITE_NULL;
	shown->id = sqlite3_column_type(st, 2) != SQLITE_NULL;
	for (int i = 0; i < 3; i++)
		shown->sealed |= sqlite3_column_type(st, i) == SQLITE_BLOB;
}

/* user's row into t; with shown set, the tokens are not read, only shown
 * (show_secrets). */
static enum ag_err read_row(struct ag_store *s, const char *user, struct ag_token_cache *t, bool *found,
			    struct ag_token_info *shown)
{
	sqlite3_stmt *st = NULL;
	enum ag_err err = AG_OK;
	int rc;

	memset(t, 0, sizeof *t);
	*found = false;
	rc = step_for_user(ag_store_sqlite(s),
			   "SELECT refresh_token, access_token, id_token, access_expires, sub, auth_time, amr, roles,"
			   " login_at, checked_at, check_ok_at, check_result, logins, session_logins"
			   " FROM tokens" OF_USER,
			   user, &st);
	if (rc == SQLITE_ROW) {
		*found = true;
		if (shown)
			show_secrets(st, shown);
		else
			err = read_secrets(s, st, user, t);
		if (err == AG_OK)
			err = column(st, 4, false, &t->sub);
		if (err == AG_OK)
			err = column(st, 6, false, &t->amr);
		if (err == AG_OK)
			err = column(st, 7, false, &t->roles);
		t->access_expires = sqlite3_column_int64(st, 3);
		t->auth_time = sqlite3_column_int64(st, 5);
		t->login_at = sqlite3_column_int64(st, 8);
		t->checked_at = sqlite3_column_int64(st, 9);
		t->check_ok_at = sqlite3_column_int64(st, 10);
		t->logins = sqlite3_column_int64(st, 12);
		t->session_logins = sqlite3_column_int64(st, 13);
		if (sqlite3_column_text(st, 11))
			snprintf(t->check_result, sizeof t->check_result, "%s", sqlite3_column_text(st, 11));
	} else if (rc != SQLITE_DONE) {
		err = ag_store_fail(s, rc, "read the token cache");
	}
	sqlite3_finalize(st);
	if (err != AG_OK) {
		ag_token_cache_clear(t);
		*found = false;
	}
	return err;
}

enum ag_err ag_tokens_get(struct ag_store *s, const char *user, struct ag_token_cache *t, bool *found)
{
	return read_row(s, user, t, found, NULL);
}

struct put_ctx {
	const char *user;
	const struct ag_token_cache *t;
	bool *found;
};

static enum ag_err put_tx(struct ag_store_tx *tx, void *vctx)
{
	struct put_ctx *c = vctx;

	return ag_tokens_tx_put(tx, c->user, c->t);
}

static enum ag_err drop_tx(struct ag_store_tx *tx, void *vctx)
{
	struct put_ctx *c = vctx;

	return ag_tokens_tx_drop(tx, c->user, c->found);
}

enum ag_err ag_tokens_put(struct ag_store *s, const char *user, const struct ag_token_cache *t)
{
	struct put_ctx c = { .user = user, .t = t };

	return ag_store_write(s, put_tx, &c, NULL);
}

enum ag_err ag_tokens_drop(struct ag_store *s, const char *user, bool *found)
{
	struct put_ctx c = { .user = user, .found = found };

	return ag_store_write(s, drop_tx, &c, NULL);
}

/* One change of user's row with no parameter but the name. */
static enum ag_err update(struct ag_store_tx *tx, const char *sql, const char *user, const char *what, bool *changed)
{
	sqlite3 *db = ag_store_tx_sqlite(tx);
	sqlite3_stmt *st = NULL;
	int rc = step_for_user(db, sql, user, &st);

	sqlite3_finalize(st);
	if (changed)
		*changed = rc == SQLITE_DONE && sqlite3_changes(db) > 0;
	return rc == SQLITE_DONE ? AG_OK : ag_store_tx_fail(tx, rc, what);
}

enum ag_err ag_tokens_tx_drop(struct ag_store_tx *tx, const char *user, bool *found)
{
	return update(tx, "DELETE FROM tokens" OF_USER, user, "drop the token cache", found);
}

enum ag_err ag_tokens_tx_clear_secrets(struct ag_store_tx *tx, const char *user, bool *had)
{
	return update(tx,
		      "UPDATE tokens SET refresh_token = NULL, access_token = NULL, id_token = NULL, access_expires = 0"
		      OF_USER " AND refresh_token IS NOT NULL",
		      user, "drop the cached tokens", had);
}

enum ag_err ag_tokens_tx_session_opened(struct ag_store_tx *tx, const char *user)
{
	return update(tx, "UPDATE tokens SET session_logins = logins" OF_USER, user, "record the session's login",
		      NULL);
}

enum ag_err ag_tokens_info(struct ag_store *s, const char *user, struct ag_token_info *info, bool *found)
{
	struct ag_token_cache t;
	enum ag_err err;

	memset(info, 0, sizeof *info);
	err = read_row(s, user, &t, found, info);
	if (err == AG_OK && *found) {
		info->access_expires = t.access_expires;
		info->auth_time = t.auth_time;
		info->login_at = t.login_at;
		info->checked_at = t.checked_at;
		info->check_ok_at = t.check_ok_at;
		snprintf(info->check_result, sizeof info->check_result, "%s", t.check_result);
		snprintf(info->roles, sizeof info->roles, "%s", t.roles ? t.roles : "");
		snprintf(info->amr, sizeof info->amr, "%s", t.amr ? t.amr : "");
	}
	ag_token_cache_clear(&t);
	if (err != AG_OK)
		memset(info, 0, sizeof *info);
	return err;
}
