/* The token cache's rows (tokens.h). Statements are prepared per call: an
 * account check runs a handful. Secrets are bound SQLITE_STATIC (no copy
 * in SQLite's heap beyond its page cache) and read into wiped buffers. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "accounts/tokens.h"
#include "base/secret.h"

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

static const char PUT_SQL[] =
	"INSERT INTO tokens (user_id, refresh_token, access_token, access_expires, id_token, sub, auth_time, amr,"
	" roles, login_at, checked_at, check_ok_at, check_result)"
	" VALUES ((SELECT id FROM users WHERE name = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
	" ON CONFLICT (user_id) DO UPDATE SET"
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
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, PUT_SQL, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		bind_text(st, 1, user);
		bind_text(st, 2, t->refresh_token);
		bind_text(st, 3, t->access_token);
		sqlite3_bind_int64(st, 4, t->access_expires);
		bind_text(st, 5, t->id_token);
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

enum ag_err ag_tokens_tx_drop(struct ag_store_tx *tx, const char *user, bool *found)
{
	sqlite3 *db = ag_store_tx_sqlite(tx);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
				    -1, &st, NULL);

	if (rc == SQLITE_OK) {
		bind_text(st, 1, user);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (found)
		*found = rc == SQLITE_DONE && sqlite3_changes(db) > 0;
	return rc == SQLITE_DONE ? AG_OK : ag_store_tx_fail(tx, rc, "drop the token cache");
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

enum ag_err ag_tokens_get(struct ag_store *s, const char *user, struct ag_token_cache *t, bool *found)
{
	sqlite3 *db = ag_store_sqlite(s);
	sqlite3_stmt *st = NULL;
	enum ag_err err = AG_OK;
	int rc;

	memset(t, 0, sizeof *t);
	*found = false;
	rc = sqlite3_prepare_v2(db,
				"SELECT refresh_token, access_token, id_token, access_expires, sub, auth_time, amr, roles,"
				" login_at, checked_at, check_ok_at, check_result FROM tokens"
				" WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		bind_text(st, 1, user);
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW) {
		*found = true;
		err = column(st, 0, true, &t->refresh_token);
		if (err == AG_OK)
			err = column(st, 1, true, &t->access_token);
		if (err == AG_OK)
			err = column(st, 2, true, &t->id_token);
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
