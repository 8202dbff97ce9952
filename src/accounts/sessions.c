/* The sessions table (sessions.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "accounts/sessions.h"

/* Field 22 of /proc/PID/stat (starttime), counted after the ')' that ends
 * the command name (which may itself hold spaces and parentheses). */
static long long proc_start(long pid)
{
	char path[64], buf[1024], *p;
	long long v = 0;
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* after ")": state is field 3, starttime field 22 */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%lld", &v) != 1)
		return -1;
	return v;
}

static void boot_id(char *out, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f) {
		if (!fgets(out, (int)len, f))
			out[0] = '\0';
		out[strcspn(out, "\n")] = '\0';
		fclose(f);
	}
}

void ag_session_self(struct ag_session *s)
{
	s->pid = (long)getpid();
	s->pid_start = proc_start(s->pid);
	boot_id(s->boot_id, sizeof s->boot_id);
}

bool ag_session_alive(const struct ag_session *s)
{
	char now_boot[sizeof s->boot_id];

	boot_id(now_boot, sizeof now_boot);
	if (strcmp(now_boot, s->boot_id) != 0)
		return false; /* the host rebooted since */
	return s->pid > 0 && proc_start(s->pid) == s->pid_start;
}

static void text(char *out, size_t len, sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	snprintf(out, len, "%s", v ? (const char *)v : "");
}

enum ag_err ag_sessions_tx_add(struct ag_store_tx *tx, const char *user, struct ag_session *s, bool *recorded)
{
	sqlite3 *db = ag_store_tx_sqlite(tx);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO sessions (user_id, tty, rhost, started_at, pid, pid_start, boot_id)"
				    " SELECT id, ?2, ?3, ?4, ?5, ?6, ?7 FROM users WHERE name = ?1 AND sub IS NOT NULL",
				    -1, &st, NULL);

	*recorded = false;
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, s->tty, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, s->rhost, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, s->started_at);
		sqlite3_bind_int64(st, 5, s->pid);
		sqlite3_bind_int64(st, 6, s->pid_start);
		sqlite3_bind_text(st, 7, s->boot_id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return ag_store_tx_fail(tx, rc, "record the session");
	if (sqlite3_changes(db) > 0) {
		*recorded = true;
		s->id = sqlite3_last_insert_rowid(db);
	}
	return AG_OK;
}

enum ag_err ag_sessions_tx_remove(struct ag_store_tx *tx, const char *user, long long id, bool *found)
{
	sqlite3 *db = ag_store_tx_sqlite(tx);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "DELETE FROM sessions WHERE id = (SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id"
				    " WHERE u.name = ?1 AND (?2 <> 0 AND s.id = ?2 OR ?2 = 0 AND s.pid = ?3)"
				    " ORDER BY s.id DESC LIMIT 1)",
				    -1, &st, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int64(st, 3, (long long)getpid());
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	*found = rc == SQLITE_DONE && sqlite3_changes(db) > 0;
	return rc == SQLITE_DONE ? AG_OK : ag_store_tx_fail(tx, rc, "remove the session");
}

static enum ag_err list(sqlite3 *db, const char *user, struct ag_session **v, size_t *n, int *rc_out)
{
	sqlite3_stmt *st = NULL;
	struct ag_session *out = NULL, *grown;
	size_t len = 0;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT s.id, s.tty, s.rhost, s.started_at, s.pid, s.pid_start, s.boot_id FROM sessions s"
				    " JOIN users u ON u.id = s.user_id WHERE u.name = ?1 ORDER BY s.id",
				    -1, &st, NULL);

	if (rc == SQLITE_OK)
		sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		grown = realloc(out, (len + 1) * sizeof *out);
		if (!grown) {
			sqlite3_finalize(st);
			free(out);
			return AG_ERR_NOMEM;
		}
		out = grown;
		memset(&out[len], 0, sizeof out[len]);
		out[len].id = sqlite3_column_int64(st, 0);
		text(out[len].tty, sizeof out[len].tty, st, 1);
		text(out[len].rhost, sizeof out[len].rhost, st, 2);
		out[len].started_at = sqlite3_column_int64(st, 3);
		out[len].pid = (long)sqlite3_column_int64(st, 4);
		out[len].pid_start = sqlite3_column_int64(st, 5);
		text(out[len].boot_id, sizeof out[len].boot_id, st, 6);
		len++;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	*rc_out = rc;
	if (rc != SQLITE_DONE) {
		free(out);
		return AG_ERR_IO;
	}
	*v = out;
	*n = len;
	return AG_OK;
}

enum ag_err ag_sessions_list(struct ag_store *s, const char *user, struct ag_session **v, size_t *n)
{
	int rc = SQLITE_DONE;
	enum ag_err err;

	*v = NULL;
	*n = 0;
	err = list(ag_store_sqlite(s), user, v, n, &rc);
	return err == AG_ERR_IO ? ag_store_fail(s, rc, "read the sessions") : err;
}

enum ag_err ag_sessions_tx_prune(struct ag_store_tx *tx, const char *user, long *live)
{
	sqlite3 *db = ag_store_tx_sqlite(tx);
	struct ag_session *v = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc = SQLITE_DONE;
	enum ag_err err;

	*live = 0;
	err = list(db, user, &v, &n, &rc);
	if (err != AG_OK)
		return err == AG_ERR_IO ? ag_store_tx_fail(tx, rc, "read the sessions") : err;
	rc = sqlite3_prepare_v2(db, "DELETE FROM sessions WHERE id = ?1", -1, &st, NULL);
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		if (ag_session_alive(&v[i])) {
			(*live)++;
			continue;
		}
		ag_log(ag_store_tx_log(tx), LOG_INFO, "session: %s: the session of pid %ld (tty %s) is gone without "
						      "closing; removed", user, v[i].pid, v[i].tty[0] ? v[i].tty : "-");
		sqlite3_bind_int64(st, 1, v[i].id);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	free(v);
	return rc == SQLITE_OK ? AG_OK : ag_store_tx_fail(tx, rc, "remove stale sessions");
}
