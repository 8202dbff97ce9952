/* The local store on SQLite (see store.h). Files in state_dir/private:
 *   accounts.db (+ -wal, -shm)   the database, 0600
 *   users.json.migrated          what the JSON store left, once imported
 * and in state_dir itself the public NSS index (nss.index, 0644; index.h).
 *
 * Schema (AG_STORE_SCHEMA_VERSION in PRAGMA user_version, our
 * application_id in the header; migrations[] below, applied in order):
 *   meta(key, value)                  generation, view, json_migrated
 *   users(id, name, sub, uid, bound_at, last_login, last_factor)   sub NULL: a pin;
 *                                     last_factor: the second factor of the
 *                                     last password login (NULL: none known)
 *   groups(id, name, gid, local)
 *   memberships(user_id, group_id, pos)   the groups of the last login
 *   roles(user_id, pos, role)             the roles of the last login
 *   throttle(id, name, rhost, at)         attempts within the last minute
 *   tokens(user_id, ...)                  the token cache (tokens.h)
 *   sessions(id, user_id, tty, rhost, started_at, pid, pid_start, boot_id)
 *                                         open PAM sessions (sessions.h)
 * Rows that belong to a user reference users(id) ON DELETE CASCADE, so a
 * per-user table (the token cache) is one more table, not a redesign.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "accounts/index_write.h"
#include "accounts/store.h"
#include "base/file.h"
#include "base/json.h"
#include "base/secret.h"
#include "base/strv.h"
#include "common/index.h"
#include "common/uid.h"

#define JSON_USERS "users.json"
#define JSON_THROTTLE "throttle.json"
#define INDEX_LOCK "index.lock"     /* in the private directory */
#define JSON_MAX (64 * 1024 * 1024)
#define BUSY_MS 10000           /* a writer holds the lock for milliseconds */
#define THROTTLE_WINDOW AG_STORE_THROTTLE_WINDOW
#define THROTTLE_ROWS_MAX 16384 /* attempts tracked before idle keys are evicted */
#define THROTTLE_EVICT 512      /* keys evicted at a time */

/* Prepared once per handle: a login runs a few dozen statements, an import
 * of 100,000 pins a few hundred thousand. */
enum stmt {
	S_USER, S_USER_GROUPS, S_USER_ROLES, S_USER_UPSERT, S_USER_ID, S_MEMBERS_DEL, S_MEMBER_ADD, S_ROLES_DEL,
	S_ROLE_ADD, S_USER_DEL, S_GROUP, S_GROUP_UPSERT, S_UID_HOLDER, S_GID_HOLDER, S_META_GET, S_META_SET,
	S_FACTOR_GET, S_FACTOR_SET, S_THROTTLE_ADD, S_THROTTLE_DEL_KEY, S_THROTTLE_DEL_NAME, S_THROTTLE_DEL_ID,
	S_THROTTLE_EVICT, S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
	[S_USER] = "SELECT id, sub, uid, bound_at, last_login FROM users WHERE name = ?1",
	[S_USER_GROUPS] = "SELECT g.name FROM memberships m JOIN groups g ON g.id = m.group_id "
			  "WHERE m.user_id = ?1 ORDER BY m.pos",
	[S_USER_ROLES] = "SELECT role FROM roles WHERE user_id = ?1 ORDER BY pos",
	[S_USER_UPSERT] = "INSERT INTO users (name, sub, uid, bound_at, last_login) VALUES (?1, ?2, ?3, ?4, ?5) "
			  "ON CONFLICT (name) DO UPDATE SET sub = excluded.sub, uid = excluded.uid, "
			  "bound_at = excluded.bound_at, last_login = excluded.last_login, "
			  /* another account's factor says nothing of this one's */
			  "last_factor = CASE WHEN users.sub IS excluded.sub THEN users.last_factor END",
	[S_USER_ID] = "SELECT id FROM users WHERE name = ?1",
	[S_MEMBERS_DEL] = "DELETE FROM memberships WHERE user_id = ?1",
	[S_MEMBER_ADD] = "INSERT INTO memberships (user_id, group_id, pos) "
			 "VALUES (?1, (SELECT id FROM groups WHERE name = ?2), ?3)",
	[S_ROLES_DEL] = "DELETE FROM roles WHERE user_id = ?1",
	[S_ROLE_ADD] = "INSERT INTO roles (user_id, pos, role) VALUES (?1, ?2, ?3)",
	[S_USER_DEL] = "DELETE FROM users WHERE name = ?1",
	[S_GROUP] = "SELECT gid, local FROM groups WHERE name = ?1",
	[S_GROUP_UPSERT] = "INSERT INTO groups (name, gid, local) VALUES (?1, ?2, ?3) "
			   "ON CONFLICT (name) DO UPDATE SET gid = excluded.gid, local = excluded.local",
	[S_UID_HOLDER] = "SELECT name FROM users WHERE uid = ?1 AND name <> ?2 LIMIT 1",
	[S_GID_HOLDER] = "SELECT name FROM groups WHERE gid = ?1 AND local = 0 LIMIT 1",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
		       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[S_FACTOR_GET] = "SELECT last_factor FROM users WHERE name = ?1 AND sub IS NOT NULL",
	[S_FACTOR_SET] = "UPDATE users SET last_factor = ?2 WHERE name = ?1",
	[S_THROTTLE_ADD] = "INSERT INTO throttle (name, rhost, at) VALUES (?1, ?2, ?3)",
	[S_THROTTLE_DEL_KEY] = "DELETE FROM throttle WHERE name = ?1 AND rhost = ?2",
	[S_THROTTLE_DEL_NAME] = "DELETE FROM throttle WHERE name = ?1",
	[S_THROTTLE_DEL_ID] = "DELETE FROM throttle WHERE id = ?1",
	/* Too many keys tracked at once (a spray of names or addresses): drop
	 * the keys idle longest, never one at its limit or of a name at its
	 * cap, so a spray cannot reset the window of the name it targets. */
	[S_THROTTLE_EVICT] = "DELETE FROM throttle WHERE (name, rhost) IN (SELECT name, rhost FROM throttle t "
			     "GROUP BY name, rhost HAVING count(*) < ?1 AND "
			     "(SELECT count(*) FROM throttle n WHERE n.name = t.name) < ?2 ORDER BY max(at) LIMIT ?3)",
};

/* Forward migrations: migrations[v - 1] takes the schema from v - 1 to v. */
static const char *const migrations[] = {
	/* 1: the accounts */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, sub TEXT,"
	" uid INTEGER UNIQUE CHECK (uid BETWEEN 1 AND 4294967294),"
	" bound_at INTEGER NOT NULL DEFAULT 0, last_login INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" gid INTEGER NOT NULL CHECK (gid BETWEEN 1 AND 4294967294), local INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX groups_gid ON groups (gid);"
	"CREATE TABLE memberships (user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE, pos INTEGER NOT NULL,"
	" PRIMARY KEY (user_id, group_id)) WITHOUT ROWID;"
	"CREATE INDEX memberships_group ON memberships (group_id);"
	"CREATE TABLE roles (user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" pos INTEGER NOT NULL, role TEXT NOT NULL, PRIMARY KEY (user_id, pos)) WITHOUT ROWID;",
	/* 2: the throttle, keyed by (name, PAM_RHOST); pins as a view */
	"CREATE TABLE throttle (id INTEGER PRIMARY KEY, name TEXT NOT NULL, rhost TEXT NOT NULL,"
	" at INTEGER NOT NULL);"
	"CREATE INDEX throttle_key ON throttle (name, rhost, at);"
	"CREATE INDEX throttle_at ON throttle (at);"
	"CREATE VIEW pins AS SELECT name, uid FROM users WHERE sub IS NULL AND uid IS NOT NULL;",
	/* 3: the token cache, one row per user (tokens.c) */
	"CREATE TABLE tokens (user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,"
	" refresh_token BLOB, access_token BLOB, access_expires INTEGER NOT NULL DEFAULT 0, id_token BLOB,"
	" sub TEXT NOT NULL, auth_time INTEGER NOT NULL DEFAULT 0, amr TEXT NOT NULL DEFAULT '',"
	" roles TEXT NOT NULL DEFAULT '', login_at INTEGER NOT NULL DEFAULT 0,"
	" checked_at INTEGER NOT NULL DEFAULT 0, check_ok_at INTEGER NOT NULL DEFAULT 0,"
	" check_result TEXT NOT NULL DEFAULT '');",
	/* 4: the second factor of the last password login (the one-request login) */
	"ALTER TABLE users ADD COLUMN last_factor TEXT CHECK (last_factor IN ('totp', 'recovery_code'));",
	/* 5: open PAM sessions (sessions.c); the token cache counts logins and
	 * remembers the last login a session was opened for (revoke_on_logout) */
	"CREATE TABLE sessions (id INTEGER PRIMARY KEY,"
	" user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
	" tty TEXT NOT NULL DEFAULT '', rhost TEXT NOT NULL DEFAULT '', started_at INTEGER NOT NULL,"
	" pid INTEGER NOT NULL, pid_start INTEGER NOT NULL DEFAULT 0, boot_id TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX sessions_user ON sessions (user_id);"
	"ALTER TABLE tokens ADD COLUMN logins INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tokens ADD COLUMN session_logins INTEGER NOT NULL DEFAULT 0;",
};

static const char *const tables[] = { "meta", "users", "groups", "memberships", "roles", "throttle", "tokens", "sessions" };

struct ag_store {
	char *dir;        /* state_dir/private */
	char *state_dir;
	char *path;       /* the database */
	const struct ag_log *log;
	sqlite3 *db;
	long busy_ms;     /* how long a statement waits for another writer's lock */
	sqlite3_stmt *stmts[S__COUNT];
	/* the attempt ag_store_throttle_attempt recorded */
	long long attempt_id;
	char attempt_name[AG_NAME_MAX + 1];
	char attempt_rhost[256];
	/* token_key_file's key (tokens.c seals the token columns with it) */
	unsigned char token_key[AG_STORE_TOKEN_KEY_LEN];
	bool has_token_key;
};

struct ag_store_tx {
	struct ag_store *s;
	bool dirty;       /* something the index shows changed */
	bool reindex;
	bool full;        /* a change a delta of the index cannot express */
	struct ag_strv changed; /* the users whose change a delta can express */
};

const char *ag_store_migration(int v)
{
	return v >= 1 && v <= (int)(sizeof migrations / sizeof *migrations) ? migrations[v - 1] : NULL;
}

/* Log a SQLite failure and map it: disk full, busy and corruption get
 * their own words (the admin's next step differs). */
static enum ag_err fail(struct ag_store *s, int rc, const char *what)
{
	const char *why = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	if ((rc & 0xff) == SQLITE_IOERR && s->db && sqlite3_system_errno(s->db) == ENOSPC)
		rc = SQLITE_FULL; /* a full disk seen through the WAL index or a read */
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return AG_ERR_NOMEM;
	case SQLITE_FULL:
		ag_log(s->log, LOG_ERR, "store %s: %s: disk full (%s); nothing was changed", s->path, what, why);
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		ag_log(s->log, LOG_ERR, "store %s: %s: still locked by another writer after %ld ms", s->path, what,
		       s->busy_ms);
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		ag_log(s->log, LOG_ERR, "store %s: %s: the database is corrupt (%s); Authgear logins are refused "
					"until it is restored (authgear-pam check)", s->path, what, why);
		return AG_ERR_CORRUPT;
	default:
		ag_log(s->log, LOG_ERR, "store %s: %s: %s", s->path, what, why);
	}
	return AG_ERR_IO;
}

static sqlite3_stmt *stmt(struct ag_store *s, enum stmt id)
{
	int rc;

	if (!s->stmts[id] &&
	    (rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL)) !=
		    SQLITE_OK) {
		fail(s, rc, "prepare");
		return NULL;
	}
	return s->stmts[id];
}

static void done(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* Run one statement to completion (no rows wanted). */
static enum ag_err run(struct ag_store *s, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (!st)
		return AG_ERR_IO;
	rc = sqlite3_step(st);
	done(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? AG_OK : fail(s, rc, what);
}

static enum ag_err exec(struct ag_store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? AG_OK : fail(s, rc, what);
}

/* One integer from a statement without parameters; *v untouched when no row. */
static enum ag_err query_int(struct ag_store *s, const char *sql, long long *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(s, rc, "read");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? AG_OK : fail(s, rc, "read");
}

/* --- files: owner, mode, symlinks ------------------------------------------- */

/* A file of the store (or the directory) that anyone but root could change or
 * read is refused, as is a symlink at its path; a missing one is fine. */
static enum ag_err check_path(struct ag_store *s, const char *path, bool dir)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return AG_OK;
		ag_log(s->log, LOG_ERR, "store %s: cannot stat: %s", path, strerror(errno));
		return AG_ERR_IO;
	}
	if (S_ISLNK(st.st_mode)) {
		ag_log(s->log, LOG_ERR, "store %s: is a symlink; refused", path);
		return AG_ERR_CONFIG_PERM;
	}
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		ag_log(s->log, LOG_ERR, "store %s: not a %s; refused", path, dir ? "directory" : "regular file");
		return AG_ERR_CONFIG_PERM;
	}
	if (st.st_uid != 0) {
		ag_log(s->log, LOG_ERR, "store %s: owned by uid %u, not root; refused", path, (unsigned)st.st_uid);
		return AG_ERR_CONFIG_PERM;
	}
	if (st.st_mode & 077) {
		ag_log(s->log, LOG_ERR, "store %s: mode %04o lets group or others in (must be %s); refused", path,
		       (unsigned)(st.st_mode & 07777), dir ? "0700" : "0600");
		return AG_ERR_CONFIG_PERM;
	}
	return AG_OK;
}

static enum ag_err check_files(struct ag_store *s)
{
	char p[PATH_MAX];
	enum ag_err err = check_path(s, s->dir, true);

	if (err == AG_OK)
		err = check_path(s, s->path, false);
	snprintf(p, sizeof p, "%s-wal", s->path);
	if (err == AG_OK)
		err = check_path(s, p, false);
	snprintf(p, sizeof p, "%s-shm", s->path);
	if (err == AG_OK)
		err = check_path(s, p, false);
	return err;
}

void ag_store_busy_limit(struct ag_store *s, long ms)
{
	s->busy_ms = ms < 0 ? 0 : ms < BUSY_MS ? ms : BUSY_MS;
	if (s->db)
		sqlite3_busy_timeout(s->db, (int)s->busy_ms); /* 0: no wait at all */
}

/* --- opening, creating, migrating ---------------------------------------------- */

static enum ag_err connect_db(struct ag_store *s, const char *path, sqlite3 **out)
{
	int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
				 NULL);

	if (rc != SQLITE_OK) {
		ag_log(s->log, LOG_ERR, "store %s: cannot open: %s", path,
		       *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		sqlite3_close(*out);
		*out = NULL;
		return AG_ERR_IO;
	}
	sqlite3_extended_result_codes(*out, 1);
	s->busy_ms = BUSY_MS;
	sqlite3_busy_timeout(*out, BUSY_MS);
	/* Every process here is the database's only connection for a moment,
	 * so each open rebuilds the WAL index from the whole WAL (recovery):
	 * with SQLite's default of a checkpoint every 1000 pages, every sudo
	 * (an account check) read up to 4 MB. A passive checkpoint after each
	 * commit (it never waits for readers) lets the next writer restart
	 * the WAL, which then holds one transaction's pages; no checkpoint at
	 * close (the file stays, readers leave nothing to copy). */
	sqlite3_wal_autocheckpoint(*out, 1);
	sqlite3_db_config(*out, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* Replaced and dropped tokens are zeroed in the file, not left in free pages. */
	sqlite3_exec(*out, "PRAGMA secure_delete = ON", NULL, NULL, NULL);
	return AG_OK;
}

static enum ag_err apply_migrations(struct ag_store *s, int from)
{
	char sql[64];
	enum ag_err err = AG_OK;

	for (int v = from + 1; v <= AG_STORE_SCHEMA_VERSION && err == AG_OK; v++) {
		err = exec(s, ag_store_migration(v), "migrate the schema");
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
		if (err == AG_OK)
			err = exec(s, sql, "migrate the schema");
		if (err == AG_OK && from > 0)
			ag_log(s->log, LOG_NOTICE, "store %s: schema migrated to version %d", s->path, v);
	}
	return err;
}

/* A new database is built beside the final path and linked into place, so
 * accounts.db never exists half made: an empty or short one is damage. */
static enum ag_err create_db(struct ag_store *s)
{
	char tmp[PATH_MAX - 8], sql[64];
	sqlite3 *keep = s->db;
	enum ag_err err;
	int fd;

	snprintf(tmp, sizeof tmp, "%s.new.%ld", s->path, (long)getpid());
	unlink(tmp);
	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	/* root:root; SQLite gives its -wal and -shm files the database's owner */
	if (fd < 0 || fchmod(fd, 0600) != 0 || ag_file_own_by_root(fd) != 0) {
		ag_log(s->log, LOG_ERR, "store %s: cannot create: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return AG_ERR_IO;
	}
	close(fd);
	err = connect_db(s, tmp, &s->db);
	if (err == AG_OK) {
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d", AG_STORE_APPLICATION_ID);
		err = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; BEGIN IMMEDIATE", "create");
		if (err == AG_OK)
			err = exec(s, sql, "create");
		if (err == AG_OK)
			err = apply_migrations(s, 0);
		if (err == AG_OK)
			err = exec(s, "COMMIT", "create");
		/* all of it into the file that is linked into place */
		if (err == AG_OK)
			err = exec(s, "PRAGMA wal_checkpoint(TRUNCATE)", "create");
		sqlite3_close(s->db);
	}
	s->db = keep;
	{
		char side[PATH_MAX + 8];
		snprintf(side, sizeof side, "%s-wal", tmp);
		unlink(side);
		snprintf(side, sizeof side, "%s-shm", tmp);
		unlink(side);
	}
	if (err == AG_OK && link(tmp, s->path) != 0 && errno != EEXIST) {
		ag_log(s->log, LOG_ERR, "store %s: cannot create: %s", s->path, strerror(errno));
		err = AG_ERR_IO;
	}
	unlink(tmp); /* EEXIST: another process made it first; use theirs */
	if (err == AG_OK) {
		int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return err;
}

/* The header and the schema are ours and of a version this code knows;
 * older ones are migrated forward in one transaction. */
static enum ag_err check_schema(struct ag_store *s)
{
	long long app = 0, version = 0, n = 0;
	enum ag_err err;
	char sql[64];

	err = query_int(s, "PRAGMA application_id", &app);
	if (err == AG_OK)
		err = query_int(s, "PRAGMA user_version", &version);
	if (err != AG_OK)
		return err;
	if (app != AG_STORE_APPLICATION_ID) {
		ag_log(s->log, LOG_ERR, "store %s: not a pam_authgear database (application_id %#llx); refused, "
					"left untouched", s->path, (unsigned long long)app);
		return AG_ERR_CORRUPT;
	}
	if (version > AG_STORE_SCHEMA_VERSION || version < 1) {
		ag_log(s->log, LOG_ERR, "store %s: schema version %lld; this pam_authgear knows 1 to %d; refused",
		       s->path, version, AG_STORE_SCHEMA_VERSION);
		return AG_ERR_IO;
	}
	if (version < AG_STORE_SCHEMA_VERSION) {
		err = exec(s, "BEGIN IMMEDIATE", "migrate the schema");
		if (err != AG_OK)
			return err;
		err = query_int(s, "PRAGMA user_version", &version); /* another process may have done it */
		if (err == AG_OK && version < AG_STORE_SCHEMA_VERSION)
			err = apply_migrations(s, (int)version);
		err = exec(s, err == AG_OK ? "COMMIT" : "ROLLBACK", "migrate the schema") == AG_OK ? err : AG_ERR_IO;
		if (err != AG_OK)
			return err;
	}
	/* Each table is there: the schema SQLite just read answers without a
	 * statement (parsing one per table was a quarter of the CPU of an
	 * account check inside its cache window: every sudo). */
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		int rc = sqlite3_table_column_metadata(s->db, "main", tables[i], NULL, NULL, NULL, NULL, NULL, NULL);

		if (rc == SQLITE_ERROR) {
			ag_log(s->log, LOG_ERR, "store %s: table %s is missing; refused, left untouched", s->path,
			       tables[i]);
			return AG_ERR_CORRUPT;
		}
		if (rc != SQLITE_OK)
			return fail(s, rc, "read"); /* the schema itself: corrupt pages, say */
	}
	/* Each table's root page read: a truncated file fails here. */
	for (size_t i = 0; i < sizeof tables / sizeof *tables && err == AG_OK; i++) {
		snprintf(sql, sizeof sql, "SELECT 1 FROM %s LIMIT 1", tables[i]);
		err = query_int(s, sql, &n);
	}
	return err;
}

static enum ag_err migrate_json(struct ag_store *s);

enum ag_err ag_store_open(const char *state_dir, const struct ag_log *log, struct ag_store **out)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct ag_store *s;
	struct stat st;
	enum ag_err err;

	*out = NULL;
	err = ag_state_private_dir(state_dir, log, dir, sizeof dir);
	if (err != AG_OK)
		return err;
	if (snprintf(path, sizeof path, "%s/%s", dir, AG_STORE_FILE) >= (int)sizeof path)
		return AG_ERR_CONFIG;
	s = calloc(1, sizeof *s);
	if (!s)
		return AG_ERR_NOMEM;
	s->log = log;
	if (!(s->dir = strdup(dir)) || !(s->state_dir = strdup(state_dir)) || !(s->path = strdup(path))) {
		ag_store_close(s);
		return AG_ERR_NOMEM;
	}
	err = check_files(s);
	if (err == AG_OK && lstat(s->path, &st) != 0)
		err = errno == ENOENT ? create_db(s) : AG_ERR_IO;
	else if (err == AG_OK && st.st_size == 0) {
		/* never made that way (create_db): damage */
		ag_log(s->log, LOG_ERR, "store %s: the database is empty (truncated?); Authgear logins are refused until "
					"it is restored; left untouched", s->path);
		err = AG_ERR_CORRUPT;
	}
	if (err == AG_OK)
		err = connect_db(s, s->path, &s->db);
	/* WAL: readers never wait for the writer; FULL: a login that said
	 * success survives a power loss. */
	if (err == AG_OK)
		err = check_schema(s);
	if (err == AG_OK)
		err = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON",
			   "open");
	if (err == AG_OK)
		err = check_files(s); /* the -wal and -shm files SQLite just made */
	if (err == AG_OK)
		err = migrate_json(s);
	if (err != AG_OK) {
		ag_store_close(s);
		return err;
	}
	*out = s;
	return AG_OK;
}

void ag_store_close(struct ag_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	sqlite3_close(s->db);
	free(s->dir);
	free(s->state_dir);
	free(s->path);
	ag_free_secret_n(s, sizeof *s);
}

void ag_store_set_token_key(struct ag_store *s, const unsigned char *key)
{
	s->has_token_key = key != NULL;
	if (key)
		memcpy(s->token_key, key, sizeof s->token_key);
	else
		ag_wipe(s->token_key, sizeof s->token_key);
}

const unsigned char *ag_store_token_key(const struct ag_store *s)
{
	return s->has_token_key ? s->token_key : NULL;
}

const unsigned char *ag_store_tx_token_key(const struct ag_store_tx *tx)
{
	return ag_store_token_key(tx->s);
}

const char *ag_store_state_dir(const struct ag_store *s)
{
	return s->state_dir;
}

enum ag_err ag_store_check(struct ag_store *s, char *why, size_t why_len)
{
	sqlite3_stmt *st;
	const char *first = NULL;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL);
	enum ag_err err = AG_OK;

	if (rc != SQLITE_OK)
		return ag_why(why, why_len, AG_ERR_IO, "%s", sqlite3_errmsg(s->db));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		first = (const char *)sqlite3_column_text(st, 0);
	if (rc != SQLITE_ROW)
		err = ag_why(why, why_len, AG_ERR_IO, "%s", sqlite3_errmsg(s->db));
	else if (!first || strcmp(first, "ok") != 0)
		err = ag_why(why, why_len, AG_ERR_IO, "quick_check: %.200s", first ? first : "?");
	sqlite3_finalize(st);
	return err;
}

/* --- rows <-> structs ------------------------------------------------------- */

void ag_store_user_clear(struct ag_store_user *u)
{
	free(u->sub);
	ag_strv_free(u->groups, u->n_groups);
	ag_strv_free(u->roles, u->n_roles);
	memset(u, 0, sizeof *u);
}

/* Append column col of st's row to a list (a NULL as ""). */
static enum ag_err push_column(char ***v, size_t *n, sqlite3_stmt *st, int col)
{
	const char *text = (const char *)sqlite3_column_text(st, col);

	return ag_strv_push(v, n, text ? text : "") ? AG_OK : AG_ERR_NOMEM;
}

/* The strings a one-column statement bound to user_id returns. */
static enum ag_err load_list(struct ag_store *s, enum stmt id, long long user_id, char ***v, size_t *n)
{
	sqlite3_stmt *st = stmt(s, id);
	enum ag_err err = AG_OK;
	int rc;

	if (!st)
		return AG_ERR_IO;
	if (!*v && !(*v = calloc(1, sizeof **v)))
		return AG_ERR_NOMEM;
	sqlite3_bind_int64(st, 1, user_id);
	while (err == AG_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		err = push_column(v, n, st, 0);
	if (err == AG_OK && rc != SQLITE_DONE)
		err = fail(s, rc, "read");
	done(st);
	return err;
}

/* Step statement id with key bound as ?1: *row is the row to read (then
 * done(*row)), or NULL when there is none. */
static enum ag_err row_by_key(struct ag_store *s, enum stmt id, const char *key, sqlite3_stmt **row)
{
	sqlite3_stmt *st = stmt(s, id);
	enum ag_err err = AG_OK;
	int rc;

	*row = NULL;
	if (!st)
		return AG_ERR_IO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*row = st;
		return AG_OK;
	}
	if (rc != SQLITE_DONE)
		err = fail(s, rc, "read");
	done(st);
	return err;
}

/* Columns 1 to 4 of a users row (sub, uid, bound_at, last_login). */
static enum ag_err user_columns(sqlite3_stmt *st, struct ag_store_user *u)
{
	u->uid = (uint32_t)sqlite3_column_int64(st, 2);
	u->bound_at = sqlite3_column_int64(st, 3);
	u->last_login = sqlite3_column_int64(st, 4);
	if (sqlite3_column_type(st, 1) != SQLITE_NULL && !(u->sub = strdup((const char *)sqlite3_column_text(st, 1))))
		return AG_ERR_NOMEM;
	return AG_OK;
}

/* The scalar part of name's row: *id 0 when absent. */
static enum ag_err load_user_row(struct ag_store *s, const char *name, struct ag_store_user *u, long long *id)
{
	sqlite3_stmt *row;
	enum ag_err err;

	*id = 0;
	memset(u, 0, sizeof *u);
	snprintf(u->name, sizeof u->name, "%s", name);
	err = row_by_key(s, S_USER, name, &row);
	if (row) {
		*id = sqlite3_column_int64(row, 0);
		err = user_columns(row, u);
		done(row);
	}
	return err;
}

/* name's row with its groups and roles: *id 0 when absent. */
static enum ag_err load_user(struct ag_store *s, const char *name, struct ag_store_user *u, long long *id)
{
	enum ag_err err = load_user_row(s, name, u, id);

	if (err == AG_OK && *id)
		err = load_list(s, S_USER_GROUPS, *id, &u->groups, &u->n_groups);
	if (err == AG_OK && *id)
		err = load_list(s, S_USER_ROLES, *id, &u->roles, &u->n_roles);
	if (err != AG_OK)
		ag_store_user_clear(u);
	return err;
}

static enum ag_err user_get(struct ag_store *s, const char *name, struct ag_store_user *u, bool *found)
{
	long long id;
	enum ag_err err = load_user(s, name, u, &id);

	*found = id != 0;
	return err;
}

enum ag_err ag_store_user(struct ag_store *s, const char *name, struct ag_store_user *u, bool *found)
{
	return user_get(s, name, u, found);
}

enum ag_err ag_store_bound_sub(struct ag_store *s, const char *name, char **sub)
{
	struct ag_store_user u;
	long long id;
	enum ag_err err;

	*sub = NULL;
	err = load_user_row(s, name, &u, &id);
	if (err == AG_OK) {
		*sub = u.sub;
		u.sub = NULL;
	}
	ag_store_user_clear(&u);
	return err;
}

static const char *const factor_names[] = {
	[AG_STORE_FACTOR_TOTP] = "totp", [AG_STORE_FACTOR_RECOVERY_CODE] = "recovery_code",
};

enum ag_err ag_store_last_factor(struct ag_store *s, const char *name, enum ag_store_factor *f)
{
	sqlite3_stmt *row;
	enum ag_err err = row_by_key(s, S_FACTOR_GET, name, &row);

	*f = AG_STORE_FACTOR_NONE;
	if (row && sqlite3_column_type(row, 0) == SQLITE_TEXT) {
		const char *v = (const char *)sqlite3_column_text(row, 0);

		for (size_t i = 1; i < sizeof factor_names / sizeof *factor_names; i++)
			if (strcmp(v, factor_names[i]) == 0)
				*f = (enum ag_store_factor)i;
	}
	done(row);
	return err;
}

enum ag_err ag_store_tx_set_last_factor(struct ag_store_tx *tx, const char *name, enum ag_store_factor f)
{
	sqlite3_stmt *st = stmt(tx->s, S_FACTOR_SET);

	if (!st)
		return AG_ERR_IO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (f != AG_STORE_FACTOR_NONE)
		sqlite3_bind_text(st, 2, factor_names[f], -1, SQLITE_STATIC);
	return run(tx->s, st, "write the user");
}

void ag_store_db_free(struct ag_store_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n_users; i++)
		ag_store_user_clear(&db->users[i]);
	free(db->users);
	free(db->groups);
	memset(db, 0, sizeof *db);
}

static const char *db_user_name(const void *db, size_t i)
{
	return ((const struct ag_store_db *)db)->users[i].name;
}

struct ag_store_user *ag_store_db_user(const struct ag_store_db *db, const char *name)
{
	long at = ag_name_search(db->n_users, name, db_user_name, db);

	return at >= 0 ? &db->users[at] : NULL;
}

struct ag_store_group *ag_store_db_group(const struct ag_store_db *db, const char *name)
{
	for (size_t i = 0; i < db->n_groups; i++)
		if (strcmp(db->groups[i].name, name) == 0)
			return &db->groups[i];
	return NULL;
}

/* The rows of sql (user name, string) merged into the users (both sorted by
 * name, BINARY collation = strcmp). */
static enum ag_err read_lists(struct ag_store *s, struct ag_store_db *db, const char *sql, bool groups)
{
	sqlite3_stmt *st;
	enum ag_err err = AG_OK;
	size_t at = 0;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(s, rc, "read");
	while (err == AG_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		struct ag_store_user *u;

		while (at < db->n_users && strcmp(db->users[at].name, name) < 0)
			at++;
		if (at == db->n_users || strcmp(db->users[at].name, name) != 0)
			continue;
		u = &db->users[at];
		err = groups ? push_column(&u->groups, &u->n_groups, st, 1)
			     : push_column(&u->roles, &u->n_roles, st, 1);
	}
	if (err == AG_OK && rc != SQLITE_DONE)
		err = fail(s, rc, "read");
	sqlite3_finalize(st);
	return err;
}

static enum ag_err read_all(struct ag_store *s, struct ag_store_db *db)
{
	sqlite3_stmt *st = NULL;
	enum ag_err err = AG_OK;
	long long n = 0;
	size_t cap;
	int rc;

	memset(db, 0, sizeof *db);
	err = query_int(s, "SELECT count(*) FROM users", &n);
	if (err != AG_OK)
		return err;
	cap = (size_t)n + 1;
	db->users = calloc(cap, sizeof *db->users);
	if (!db->users)
		return AG_ERR_NOMEM;
	rc = sqlite3_prepare_v2(s->db, "SELECT name, sub, uid, bound_at, last_login FROM users ORDER BY name", -1,
				&st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, "read");
	while (err == AG_OK && db->n_users < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ag_store_user *u = &db->users[db->n_users++];

		snprintf(u->name, sizeof u->name, "%s", (const char *)sqlite3_column_text(st, 0));
		err = user_columns(st, u);
		if (err == AG_OK && (!(u->groups = calloc(1, sizeof *u->groups)) ||
				     !(u->roles = calloc(1, sizeof *u->roles))))
			err = AG_ERR_NOMEM;
	}
	if (err == AG_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = fail(s, rc, "read");
	sqlite3_finalize(st);
	if (err == AG_OK)
		err = read_lists(s, db, "SELECT u.name, g.name FROM memberships m JOIN users u ON u.id = m.user_id "
					"JOIN groups g ON g.id = m.group_id ORDER BY u.name, m.pos", true);
	if (err == AG_OK)
		err = read_lists(s, db, "SELECT u.name, r.role FROM roles r JOIN users u ON u.id = r.user_id "
					"ORDER BY u.name, r.pos", false);
	if (err == AG_OK)
		err = query_int(s, "SELECT count(*) FROM groups", &n);
	if (err == AG_OK && !(db->groups = calloc((size_t)n + 1, sizeof *db->groups)))
		err = AG_ERR_NOMEM;
	cap = (size_t)n;
	if (err == AG_OK && (rc = sqlite3_prepare_v2(s->db, "SELECT name, gid, local FROM groups ORDER BY id", -1, &st,
						     NULL)) != SQLITE_OK)
		err = fail(s, rc, "read");
	else if (err == AG_OK) {
		rc = SQLITE_DONE;
		while (db->n_groups < cap && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct ag_store_group *g = &db->groups[db->n_groups++];
			snprintf(g->name, sizeof g->name, "%s", (const char *)sqlite3_column_text(st, 0));
			g->gid = (uint32_t)sqlite3_column_int64(st, 1);
			g->local = sqlite3_column_int(st, 2) != 0;
		}
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			err = fail(s, rc, "read");
		sqlite3_finalize(st);
	}
	if (err != AG_OK)
		ag_store_db_free(db);
	return err;
}

enum ag_err ag_store_read(struct ag_store *s, struct ag_store_db *db)
{
	enum ag_err err = exec(s, "BEGIN", "read");

	if (err != AG_OK)
		return err;
	err = read_all(s, db);
	exec(s, "COMMIT", "read");
	return err;
}

/* --- write transactions -------------------------------------------------------- */

const struct ag_log *ag_store_tx_log(const struct ag_store_tx *tx)
{
	return tx->s->log;
}

const struct ag_log *ag_store_log(const struct ag_store *s)
{
	return s->log;
}

const char *ag_store_tx_state_dir(const struct ag_store_tx *tx)
{
	return tx->s->state_dir;
}

sqlite3 *ag_store_sqlite(struct ag_store *s)
{
	return s->db;
}

sqlite3 *ag_store_tx_sqlite(struct ag_store_tx *tx)
{
	return tx->s->db;
}

enum ag_err ag_store_fail(struct ag_store *s, int rc, const char *what)
{
	return fail(s, rc, what);
}

enum ag_err ag_store_tx_fail(struct ag_store_tx *tx, int rc, const char *what)
{
	return fail(tx->s, rc, what);
}

void ag_store_tx_reindex(struct ag_store_tx *tx)
{
	tx->reindex = true;
}

enum ag_err ag_store_tx_user(struct ag_store_tx *tx, const char *name, struct ag_store_user *u, bool *found)
{
	return user_get(tx->s, name, u, found);
}

static enum ag_err put_list(struct ag_store *s, enum stmt del, enum stmt add, long long id, char *const *v, size_t n,
			    bool groups)
{
	sqlite3_stmt *st = stmt(s, del);
	enum ag_err err;

	if (!st)
		return AG_ERR_IO;
	sqlite3_bind_int64(st, 1, id);
	err = run(s, st, "write");
	for (size_t i = 0; i < n && err == AG_OK; i++) {
		if (!(st = stmt(s, add)))
			return AG_ERR_IO;
		sqlite3_bind_int64(st, 1, id);
		if (groups) {
			sqlite3_bind_text(st, 2, v[i], -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, (long long)i);
		} else {
			sqlite3_bind_int64(st, 2, (long long)i);
			sqlite3_bind_text(st, 3, v[i], -1, SQLITE_STATIC);
		}
		err = run(s, st, groups ? "write the groups (a group missing?)" : "write the roles");
	}
	return err;
}

enum ag_err ag_store_tx_put_user(struct ag_store_tx *tx, const struct ag_store_user *u)
{
	struct ag_store *s = tx->s;
	struct ag_store_user old;
	sqlite3_stmt *st;
	long long id;
	bool found;
	enum ag_err err;

	if (!ag_name_valid(u->name) || (u->sub && (!*u->sub || strlen(u->sub) > 255)))
		return AG_ERR_INVALID_ARG;
	err = load_user(s, u->name, &old, &id);
	found = id != 0;
	if (err != AG_OK)
		goto out;
	if (!found || !old.sub != !u->sub || old.uid != u->uid ||
	    !ag_strv_equal(old.groups, old.n_groups, u->groups, u->n_groups)) {
		tx->dirty = true;
		/* a delta has bound users with a UID that is theirs for good; a
		 * pin, a lost binding or another UID is a full rebuild */
		if (!u->sub || !u->uid || (old.uid && old.uid != u->uid) || !ag_strv_add_unique(u->name, &tx->changed))
			tx->full = true;
	}
	if (!(st = stmt(s, S_USER_UPSERT))) {
		err = AG_ERR_IO;
		goto out;
	}
	sqlite3_bind_text(st, 1, u->name, -1, SQLITE_STATIC);
	if (u->sub)
		sqlite3_bind_text(st, 2, u->sub, -1, SQLITE_STATIC);
	if (u->uid)
		sqlite3_bind_int64(st, 3, u->uid);
	sqlite3_bind_int64(st, 4, u->bound_at);
	sqlite3_bind_int64(st, 5, u->last_login);
	err = run(s, st, "write the user");
	if (err == AG_OK && !found)
		id = sqlite3_last_insert_rowid(s->db);
	if (err == AG_OK && !ag_strv_equal(old.groups, old.n_groups, u->groups, u->n_groups))
		err = put_list(s, S_MEMBERS_DEL, S_MEMBER_ADD, id, u->groups, u->n_groups, true);
	if (err == AG_OK && !ag_strv_equal(old.roles, old.n_roles, u->roles, u->n_roles))
		err = put_list(s, S_ROLES_DEL, S_ROLE_ADD, id, u->roles, u->n_roles, false);
out:
	ag_store_user_clear(&old);
	return err;
}

enum ag_err ag_store_tx_remove_user(struct ag_store_tx *tx, const char *name, bool *found)
{
	sqlite3_stmt *st = stmt(tx->s, S_USER_DEL);
	enum ag_err err;

	*found = false;
	if (!st)
		return AG_ERR_IO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	err = run(tx->s, st, "remove the user");
	if (err == AG_OK && sqlite3_changes(tx->s->db) > 0)
		*found = tx->dirty = tx->full = true;
	return err;
}

enum ag_err ag_store_tx_group(struct ag_store_tx *tx, const char *name, struct ag_store_group *g, bool *found)
{
	sqlite3_stmt *row;
	enum ag_err err;

	memset(g, 0, sizeof *g);
	snprintf(g->name, sizeof g->name, "%s", name);
	err = row_by_key(tx->s, S_GROUP, name, &row);
	*found = row != NULL;
	if (row) {
		g->gid = (uint32_t)sqlite3_column_int64(row, 0);
		g->local = sqlite3_column_int(row, 1) != 0;
		done(row);
	}
	return err;
}

enum ag_err ag_store_tx_put_group(struct ag_store_tx *tx, const struct ag_store_group *g)
{
	struct ag_store_group old;
	sqlite3_stmt *st;
	bool found;
	enum ag_err err;

	if (!ag_name_valid(g->name) || g->gid == 0)
		return AG_ERR_INVALID_ARG;
	err = ag_store_tx_group(tx, g->name, &old, &found);
	if (err != AG_OK || (found && old.gid == g->gid && old.local == g->local))
		return err;
	tx->dirty = true;
	if (found)
		tx->full = true; /* the base's users list the old GID */
	if (!(st = stmt(tx->s, S_GROUP_UPSERT)))
		return AG_ERR_IO;
	sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, g->gid);
	sqlite3_bind_int(st, 3, g->local);
	return run(tx->s, st, "write the group");
}

static enum ag_err holder(struct ag_store *s, enum stmt id, uint32_t xid, const char *except, char *name, bool *found)
{
	sqlite3_stmt *st = stmt(s, id);
	enum ag_err err = AG_OK;
	int rc;

	*found = false;
	if (!st)
		return AG_ERR_IO;
	sqlite3_bind_int64(st, 1, xid);
	if (except)
		sqlite3_bind_text(st, 2, except, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*found = true;
		snprintf(name, AG_NAME_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 0));
	} else if (rc != SQLITE_DONE) {
		err = fail(s, rc, "read");
	}
	done(st);
	return err;
}

enum ag_err ag_store_tx_uid_holder(struct ag_store_tx *tx, uint32_t uid, const char *except, char *name,
				   bool *found)
{
	return holder(tx->s, S_UID_HOLDER, uid, except ? except : "", name, found);
}

enum ag_err ag_store_tx_gid_holder(struct ag_store_tx *tx, uint32_t gid, char *name, bool *found)
{
	return holder(tx->s, S_GID_HOLDER, gid, NULL, name, found);
}

enum ag_err ag_store_tx_taken(struct ag_store_tx *tx, const char *except, struct ag_idset *taken)
{
	static const char sql[] = "SELECT uid FROM users WHERE uid IS NOT NULL AND name <> ?1 "
				  "UNION ALL SELECT gid FROM groups";
	sqlite3_stmt *st;
	enum ag_err err = AG_OK;
	int rc = sqlite3_prepare_v2(tx->s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(tx->s, rc, "read");
	sqlite3_bind_text(st, 1, except ? except : "", -1, SQLITE_STATIC);
	while (err == AG_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		err = ag_idset_add(taken, (uint32_t)sqlite3_column_int64(st, 0));
	if (err == AG_OK && rc != SQLITE_DONE)
		err = fail(tx->s, rc, "read");
	sqlite3_finalize(st);
	return err;
}

enum ag_err ag_store_tx_each_bound(struct ag_store_tx *tx, enum ag_err (*fn)(const char *name, uint32_t uid, void *ctx),
				   void *ctx)
{
	static const char sql[] = "SELECT name, uid FROM users WHERE sub IS NOT NULL AND uid IS NOT NULL";
	sqlite3_stmt *st;
	enum ag_err err = AG_OK;
	int rc = sqlite3_prepare_v2(tx->s->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(tx->s, rc, "read");
	while (err == AG_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		err = fn((const char *)sqlite3_column_text(st, 0), (uint32_t)sqlite3_column_int64(st, 1), ctx);
	if (err == AG_OK && rc != SQLITE_DONE)
		err = fail(tx->s, rc, "read");
	sqlite3_finalize(st);
	return err;
}

enum ag_err ag_store_tx_read(struct ag_store_tx *tx, struct ag_store_db *db)
{
	return read_all(tx->s, db);
}

enum ag_err ag_store_tx_bind(struct ag_store_tx *tx, struct ag_store_user *u, const char *sub, time_t now)
{
	if (!sub || !*sub || strlen(sub) > 255)
		return AG_ERR_INVALID_ARG;
	if (u->sub && strcmp(u->sub, sub) != 0) {
		ag_log(tx->s->log, LOG_ERR, "store: %s is bound to sub %s; refusing sub %s", u->name, u->sub, sub);
		return AG_ERR_DENIED;
	}
	if (!u->sub) {
		if (!(u->sub = strdup(sub)))
			return AG_ERR_NOMEM;
		u->bound_at = (long long)now;
		ag_log(tx->s->log, LOG_NOTICE, "store: bound %s to sub %s", u->name, sub);
	}
	u->last_login = (long long)now;
	return AG_OK;
}

static enum ag_err meta_get(struct ag_store *s, const char *key, long long *v, bool *found)
{
	sqlite3_stmt *row;
	enum ag_err err = row_by_key(s, S_META_GET, key, &row);

	*found = row != NULL;
	if (row) {
		*v = sqlite3_column_int64(row, 0);
		done(row);
	}
	return err;
}

static enum ag_err meta_set(struct ag_store *s, const char *key, long long v)
{
	sqlite3_stmt *st = stmt(s, S_META_SET);

	if (!st)
		return AG_ERR_IO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return run(s, st, "write");
}

enum ag_err ag_store_generation(struct ag_store *s, uint64_t *gen)
{
	long long v = 0;
	bool found;
	enum ag_err err = meta_get(s, "generation", &v, &found);

	*gen = (uint64_t)v;
	return err;
}

#ifdef AG_TEST_HOOKS
/* Tests: AUTHGEAR_TEST_STORE_PAUSE=before-commit|after-commit makes a writer
 * that is about to replace the index create AUTHGEAR_TEST_STORE_PAUSE_FILE
 * and then wait there to be killed (tests/test_store_crash.sh);
 * before-commit-delta|after-commit-delta the same for a writer of a delta. */
static void test_pause(const char *where)
{
	const char *at = secure_getenv("AUTHGEAR_TEST_STORE_PAUSE"),
		   *file = secure_getenv("AUTHGEAR_TEST_STORE_PAUSE_FILE");
	int fd;

	if (!at || strcmp(at, where) != 0 || !file)
		return;
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	/* until killed, or until the test removes the file (it resumes) */
	while (access(file, F_OK) == 0)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
}
#else
#define test_pause(where) ((void)0)
#endif

enum index_mode { INDEX_NONE, INDEX_DELTA, INDEX_FULL };

/* Whether the index must be written, how (a delta when only what one can
 * express changed and the installed index is the database's), and the
 * generation the new file gets. inst: the installed index (mapped). */
static enum ag_err index_due(struct ag_store_tx *tx, const struct ag_store_indexer *ix, struct ag_index_mapped *inst,
			     uint64_t *next, enum index_mode *mode)
{
	long long gen = 0, view = 0;
	char path[PATH_MAX];
	bool have_gen, have_view, same = false;
	enum ag_err err;

	err = meta_get(tx->s, "generation", &gen, &have_gen);
	if (err == AG_OK)
		err = meta_get(tx->s, "view", &view, &have_view);
	if (err != AG_OK)
		return err;
	*next = (uint64_t)gen + 1;
	*mode = !tx->dirty && !tx->reindex && have_view && (uint64_t)view == ix->view ? INDEX_NONE
		: tx->reindex || tx->full || !have_view || (uint64_t)view != ix->view || !ix->build_delta ||
				tx->changed.failed
			? INDEX_FULL
			: INDEX_DELTA;
	if (snprintf(path, sizeof path, "%s/" AG_INDEX_FILE, tx->s->state_dir) < (int)sizeof path &&
	    ag_index_map(path, inst)) {
		const struct ag_index_header *d = inst->ix.d.h;

		same = inst->ix.f.h->version == AG_INDEX_VERSION && !inst->delta_bad &&
		       (d ? d->generation : inst->ix.f.h->generation) == (uint64_t)gen;
	}
	if (!same) {
		if (*mode == INDEX_NONE)
			ag_log(tx->s->log, LOG_WARNING, "index: %s/%s is not the database's generation %lld (a crash "
							"before it was replaced?); rebuilding it", tx->s->state_dir,
			       AG_INDEX_FILE, gen);
		*mode = INDEX_FULL;
	}
	return AG_OK;
}

/* The delta of this write: the installed delta's users and this
 * transaction's, rebuilt from the database. AG_ERR_UNSUPPORTED: too many,
 * or a change it cannot express (a full rebuild instead). */
static enum ag_err index_delta(struct ag_store_tx *tx, const struct ag_store_indexer *ix,
			       const struct ag_index_mapped *inst, uint64_t gen, void **data, size_t *len)
{
	const struct ag_index *base = &inst->ix;
	struct ag_strv names = { 0 };
	enum ag_err err;

	for (uint32_t i = base->f.h->users.count; i < ag_index_n_users(base); i++) {
		struct passwd pw;
		char buf[4096];

		if (ag_index_fill_passwd(base, i, &pw, buf, sizeof buf) != AG_INDEX_OK)
			names.failed = true;
		else
			ag_strv_add_unique(pw.pw_name, &names);
	}
	for (size_t i = 0; i < tx->changed.n; i++)
		ag_strv_add_unique(tx->changed.v[i], &names);
	err = names.failed ? AG_ERR_NOMEM : !ag_index_delta_room(base, names.n) ? AG_ERR_UNSUPPORTED
					   : ix->build_delta(tx, gen, base, names.v, names.n, ix->ctx, data, len);
	ag_strv_free(names.v, names.n);
	return err;
}

enum ag_err ag_store_write(struct ag_store *s, ag_store_tx_fn fn, void *ctx, const struct ag_store_indexer *ix)
{
	struct ag_store_tx tx = { .s = s };
	struct ag_index_pending pending = { 0 };
	struct ag_index_mapped inst = { 0 };
	enum index_mode mode = INDEX_NONE;
	void *data = NULL;
	size_t len = 0;
	uint64_t gen = 0;
	int lock = -1;
	enum ag_err err;

	err = exec(s, "BEGIN IMMEDIATE", "begin");
	if (err != AG_OK)
		return err;
	err = fn(&tx, ctx);
	if (err == AG_OK && ix && ix->build)
		err = index_due(&tx, ix, &inst, &gen, &mode);
	if (err == AG_OK && mode == INDEX_DELTA) {
		err = index_delta(&tx, ix, &inst, gen, &data, &len);
		if (err == AG_ERR_UNSUPPORTED) {
			mode = INDEX_FULL;
			err = AG_OK;
		}
	}
	ag_index_unmap(&inst);
	if (err == AG_OK && mode == INDEX_FULL)
		err = ix->build(&tx, gen, ix->ctx, &data, &len);
	/* The index's critical section runs from its temporary file to its
	 * rename, past COMMIT (the end of SQLite's lock): the next writer's
	 * prepare replaced a file this one had not renamed yet, and the rename
	 * failed after the commit or installed the other's half-written file. */
	if (err == AG_OK && mode != INDEX_NONE)
		err = ag_lock_acquire(s->dir, INDEX_LOCK, s->busy_ms, s->log, &lock);
	if (err == AG_OK && mode != INDEX_NONE) {
		err = ag_index_prepare(s->state_dir, data, len, mode == INDEX_DELTA, s->log, &pending);
		if (err == AG_OK)
			err = meta_set(s, "generation", (long long)gen);
		if (err == AG_OK)
			err = meta_set(s, "view", (long long)ix->view);
		if (err == AG_OK)
			test_pause(mode == INDEX_DELTA ? "before-commit-delta" : "before-commit");
	}
	free(data);
	ag_strv_free(tx.changed.v, tx.changed.n);
	if (err == AG_OK)
		err = exec(s, "COMMIT", "commit");
	if (err != AG_OK) {
		if (!sqlite3_get_autocommit(s->db))
			exec(s, "ROLLBACK", "rollback");
		ag_index_abandon(&pending);
		ag_lock_release(lock);
		return err;
	}
	if (mode != INDEX_NONE) {
		test_pause(mode == INDEX_DELTA ? "after-commit-delta" : "after-commit");
		/* Committed: a failure here leaves the old index, which the next
		 * writer sees by its generation and replaces. */
		err = ag_index_commit(&pending, s->log);
	}
	ag_lock_release(lock);
	return err;
}

enum ag_err ag_store_tx_throttle_clear(struct ag_store_tx *tx)
{
	struct ag_store *s = tx->s;
	sqlite3_stmt *st;
	enum ag_err err;

	if (!s->attempt_id)
		return AG_OK;
	if (!(st = stmt(s, S_THROTTLE_DEL_KEY)))
		return AG_ERR_IO;
	sqlite3_bind_text(st, 1, s->attempt_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->attempt_rhost, -1, SQLITE_STATIC);
	err = run(s, st, "throttle");
	if (err == AG_OK)
		s->attempt_id = 0;
	return err;
}

struct bind_one {
	const char *name, *sub;
	time_t now;
};

enum ag_err ag_store_tx_login_user(struct ag_store_tx *tx, const char *name, const char *sub, time_t now,
				   ag_store_user_fn edit, void *ctx)
{
	struct ag_store_user u;
	bool found;
	enum ag_err err = ag_store_tx_user(tx, name, &u, &found);

	if (err == AG_OK && sub)
		err = ag_store_tx_bind(tx, &u, sub, now);
	if (err == AG_OK && edit)
		err = edit(tx, &u, ctx);
	if (err == AG_OK)
		err = ag_store_tx_put_user(tx, &u);
	ag_store_user_clear(&u);
	return err;
}

static enum ag_err bind_tx(struct ag_store_tx *tx, void *ctx)
{
	struct bind_one *b = ctx;

	return ag_store_tx_login_user(tx, b->name, b->sub, b->now, NULL, NULL);
}

enum ag_err ag_store_bind(struct ag_store *s, const char *name, const char *sub, time_t now)
{
	struct bind_one b = { name, sub, now };

	if (!ag_name_valid(name) || !sub || !*sub || strlen(sub) > 255)
		return AG_ERR_INVALID_ARG;
	return ag_store_write(s, bind_tx, &b, NULL);
}

/* --- the throttle ----------------------------------------------------------------- */

/* count and oldest attempt of a key (rhost NULL: the whole name) */
static enum ag_err attempts(struct ag_store *s, const char *name, const char *rhost, long long *n, long long *oldest)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db,
				    rhost ? "SELECT count(*), min(at) FROM throttle WHERE name = ?1 AND rhost = ?2"
					  : "SELECT count(*), min(at) FROM throttle WHERE name = ?1",
				    -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(s, rc, "throttle");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rhost)
		sqlite3_bind_text(st, 2, rhost, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	*oldest = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? AG_OK : fail(s, rc, "throttle");
}

/* The window slides: attempts older than it count no more. */
static enum ag_err forget_old(struct ag_store *s, time_t now)
{
	char sql[96];

	snprintf(sql, sizeof sql, "DELETE FROM throttle WHERE at <= %lld", (long long)now - THROTTLE_WINDOW);
	return exec(s, sql, "throttle");
}

/* Record an attempt of the key (name, rhost) at. */
static enum ag_err add_attempt(struct ag_store *s, const char *name, const char *rhost, long long at, const char *what)
{
	sqlite3_stmt *st = stmt(s, S_THROTTLE_ADD);

	if (!st)
		return AG_ERR_IO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rhost, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, at);
	return run(s, st, what);
}

/* Too many keys tracked at once: evict idle ones (S_THROTTLE_EVICT). */
static enum ag_err evict(struct ag_store *s, long per_source, long per_name)
{
	long long rows = 0;
	sqlite3_stmt *st;
	enum ag_err err = query_int(s, "SELECT count(*) FROM throttle", &rows);

	if (err != AG_OK || rows < THROTTLE_ROWS_MAX)
		return err;
	if (!(st = stmt(s, S_THROTTLE_EVICT)))
		return AG_ERR_IO;
	sqlite3_bind_int64(st, 1, per_source);
	sqlite3_bind_int64(st, 2, per_name);
	sqlite3_bind_int(st, 3, THROTTLE_EVICT);
	err = run(s, st, "throttle");
	if (err == AG_OK)
		ag_log(s->log, LOG_WARNING, "throttle: %lld attempts tracked in the last minute; evicted %d idle keys",
		       rows, sqlite3_changes(s->db));
	return err;
}

static enum ag_err attempt_tx(struct ag_store *s, const char *name, const char *rhost, long per_source,
			      long per_name, time_t now, long *retry_after)
{
	long long n_src, old_src, n_name, old_name;
	enum ag_err err;

	err = forget_old(s, now);
	if (err == AG_OK)
		err = attempts(s, name, rhost, &n_src, &old_src);
	if (err == AG_OK)
		err = attempts(s, name, NULL, &n_name, &old_name);
	if (err != AG_OK)
		return err;
	if (n_src >= per_source || n_name >= per_name) {
		long long oldest = n_src >= per_source ? old_src : old_name;

		*retry_after = THROTTLE_WINDOW - (long)(now - (time_t)oldest);
		if (*retry_after < 1)
			*retry_after = 1;
		if (n_src >= per_source)
			ag_log(s->log, LOG_WARNING, "throttle: %s: %lld attempts from %s in the last minute; refused "
						    "locally", name, n_src, *rhost ? rhost : "the console");
		else
			ag_log(s->log, LOG_WARNING, "throttle: %s: %lld attempts from all sources in the last minute "
						    "(cap %ld); refused locally", name, n_name, per_name);
		return AG_ERR_RATE_LIMITED;
	}
	err = evict(s, per_source, per_name);
	if (err != AG_OK)
		return err;
	err = add_attempt(s, name, rhost, now, "throttle");
	if (err == AG_OK) {
		s->attempt_id = sqlite3_last_insert_rowid(s->db);
		snprintf(s->attempt_name, sizeof s->attempt_name, "%s", name);
		snprintf(s->attempt_rhost, sizeof s->attempt_rhost, "%s", rhost);
	}
	return err;
}

enum ag_err ag_store_throttle_attempt(struct ag_store *s, const char *name, const char *rhost, long per_source,
				      long per_name, time_t now, long *retry_after)
{
	enum ag_err err;

	*retry_after = 0;
	if (!rhost)
		rhost = "";
	if (!ag_name_valid(name) || strlen(rhost) >= sizeof s->attempt_rhost)
		return AG_ERR_INVALID_ARG;
	err = exec(s, "BEGIN IMMEDIATE", "throttle");
	if (err != AG_OK)
		return err;
	err = attempt_tx(s, name, rhost, per_source, per_name, now, retry_after);
	if (err == AG_OK || err == AG_ERR_RATE_LIMITED) {
		enum ag_err c = exec(s, "COMMIT", "throttle");
		if (c != AG_OK) {
			s->attempt_id = 0;
			err = c;
		}
	}
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK", "throttle");
	return err;
}

static enum ag_err read_tx(struct ag_store *s, const char *name, time_t now, bool clear, struct ag_store_throttle *t)
{
	long long n, oldest;
	sqlite3_stmt *st;
	enum ag_err err;
	int rc;

	err = forget_old(s, now);
	if (err == AG_OK)
		err = attempts(s, name, NULL, &n, &oldest);
	if (err != AG_OK)
		return err;
	t->attempts = (long)n;
	t->oldest_age = n ? (long)(now - (time_t)oldest) : 0;
	rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(c), 0) FROM (SELECT count(*) AS c FROM throttle "
				"WHERE name = ?1 GROUP BY rhost)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, "throttle");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	t->max_per_source = rc == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return fail(s, rc, "throttle");
	if (!clear || !n)
		return AG_OK;
	if (!(st = stmt(s, S_THROTTLE_DEL_NAME)))
		return AG_ERR_IO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	err = run(s, st, "throttle");
	if (err == AG_OK)
		ag_log(s->log, LOG_NOTICE, "throttle: %s cleared (%lld attempts forgotten)", name, n);
	return err;
}

enum ag_err ag_store_throttle_read(struct ag_store *s, const char *name, time_t now, bool clear,
				   struct ag_store_throttle *t)
{
	enum ag_err err;

	memset(t, 0, sizeof *t);
	if (!ag_name_valid(name))
		return AG_ERR_INVALID_ARG;
	err = exec(s, "BEGIN IMMEDIATE", "throttle");
	if (err != AG_OK)
		return err;
	err = read_tx(s, name, now, clear, t);
	if (err == AG_OK)
		err = exec(s, "COMMIT", "throttle");
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK", "throttle");
	return err;
}

enum ag_err ag_store_throttle_forgive(struct ag_store *s)
{
	sqlite3_stmt *st;
	enum ag_err err;

	if (!s->attempt_id)
		return AG_OK;
	if (!(st = stmt(s, S_THROTTLE_DEL_ID)))
		return AG_ERR_IO;
	sqlite3_bind_int64(st, 1, s->attempt_id);
	err = run(s, st, "throttle");
	s->attempt_id = 0;
	return err;
}

/* --- the JSON store, imported once ---------------------------------------------- */

static enum ag_err json_load(struct ag_store *s, const char *name, json_t **out)
{
	char path[PATH_MAX], why[256];
	enum ag_err err;
	size_t len;
	char *buf;

	*out = NULL;
	snprintf(path, sizeof path, "%s/%s", s->dir, name);
	err = ag_file_read_root(path, JSON_MAX, &buf, &len, why, sizeof why);
	if (err == AG_ERR_NOT_FOUND)
		return AG_OK; /* nothing to import */
	if (err != AG_OK) {
		ag_log(s->log, LOG_ERR, "store %s: %s; not imported", path, why);
		return err;
	}
	err = ag_json_parse_object_max(buf, len, JSON_MAX, s->log, path, out);
	free(buf);
	if (err != AG_OK) {
		ag_log(s->log, LOG_ERR, "store %s: not imported", path);
		return err == AG_ERR_NOMEM ? err : AG_ERR_CORRUPT;
	}
	return AG_OK;
}

/* An ID in the file: absent (0) or 1 .. 4294967294. */
static bool json_id(const json_t *obj, const char *key, uint32_t *out)
{
	long long v;

	*out = 0;
	if (!json_object_get(obj, key))
		return true;
	if (!ag_json_integer(obj, key, &v) || v < 1 || v > (long long)AG_UID_MAX_ALLOWED)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool json_strv(const json_t *obj, const char *key, bool names, struct ag_store_user *u, bool groups)
{
	const json_t *a = json_object_get(obj, key), *v;
	size_t i;

	if (!a)
		return true;
	if (!json_is_array(a) || json_array_size(a) > 4096)
		return false;
	json_array_foreach(a, i, v) {
		const char *str = json_string_value(v);
		if (!str || strlen(str) != json_string_length(v) || strlen(str) > 255 || (names && !ag_name_valid(str)))
			return false;
		if (!(groups ? ag_strv_push(&u->groups, &u->n_groups, str) : ag_strv_push(&u->roles, &u->n_roles, str)))
			return false;
	}
	return true;
}

static enum ag_err import_json(struct ag_store_tx *tx, json_t *users_doc, json_t *throttle_doc)
{
	struct ag_store *s = tx->s;
	const json_t *users = json_object_get(users_doc, "users"), *groups = json_object_get(users_doc, "groups"), *e;
	const char *name;
	enum ag_err err = AG_OK;
	size_t n = 0;

	if ((users && !json_is_object(users)) || (groups && !json_is_object(groups))) {
		ag_log(s->log, LOG_ERR, "store %s/" JSON_USERS ": users or groups is not an object; not imported", s->dir);
		return AG_ERR_IO;
	}
	json_object_foreach((json_t *)groups, name, e) {
		struct ag_store_group g = { 0 };
		bool local = false;

		snprintf(g.name, sizeof g.name, "%s", name);
		if (!json_is_object(e) || !ag_name_valid(name) || !json_id(e, "gid", &g.gid) || g.gid == 0 ||
		    (json_object_get(e, "local") && !ag_json_bool(e, "local", &local))) {
			ag_log(s->log, LOG_ERR, "store %s/" JSON_USERS ": bad entry for group '%.40s'; not imported",
			       s->dir, name);
			return AG_ERR_IO;
		}
		g.local = local;
		if ((err = ag_store_tx_put_group(tx, &g)) != AG_OK)
			return err;
	}
	json_object_foreach((json_t *)users, name, e) {
		struct ag_store_user u = { 0 };
		const char *sub = ag_json_string(e, "sub", 255);
		long long t;

		snprintf(u.name, sizeof u.name, "%s", name);
		if (!json_is_object(e) || !ag_name_valid(name) || (sub && !(u.sub = strdup(sub))) ||
		    !json_id(e, "uid", &u.uid) || !json_strv(e, "groups", true, &u, true) ||
		    !json_strv(e, "roles", false, &u, false)) {
			ag_log(s->log, LOG_ERR, "store %s/" JSON_USERS ": bad entry for user '%.40s'; not imported",
			       s->dir, name);
			ag_store_user_clear(&u);
			return AG_ERR_IO;
		}
		if (ag_json_integer(e, "bound_at", &t))
			u.bound_at = t;
		if (ag_json_integer(e, "last_login", &t))
			u.last_login = t;
		err = ag_store_tx_put_user(tx, &u);
		ag_store_user_clear(&u);
		if (err != AG_OK) {
			ag_log(s->log, LOG_ERR, "store %s/" JSON_USERS ": cannot import user %s (a UID twice, or a group "
						"it lists missing?); not imported", s->dir, name);
			return err;
		}
		n++;
	}
	json_object_foreach(throttle_doc, name, e) {
		const json_t *t;
		size_t i;

		if (!ag_name_valid(name) || !json_is_array(e))
			continue; /* attempts of a minute: not worth refusing the import */
		json_array_foreach(e, i, t) {
			if (json_is_integer(t) &&
			    (err = add_attempt(s, name, "", json_integer_value(t), "import the throttle")) != AG_OK)
				return err;
		}
	}
	ag_log(s->log, LOG_NOTICE, "store: imported %zu users and %zu groups from %s/" JSON_USERS, n,
	       json_object_size(groups), s->dir);
	return AG_OK;
}

static void rename_migrated(struct ag_store *s, const char *name)
{
	char from[PATH_MAX], to[PATH_MAX];

	snprintf(from, sizeof from, "%s/%s", s->dir, name);
	snprintf(to, sizeof to, "%s/%s.migrated", s->dir, name);
	if (rename(from, to) != 0 && errno != ENOENT)
		ag_log(s->log, LOG_WARNING, "store %s: cannot rename to %s: %s", from, to, strerror(errno));
}

/* users.json (and throttle.json) of the JSON store: imported in one
 * transaction that also records it was done, then renamed; a crash between
 * the two only leaves the rename for the next open. */
static enum ag_err migrate_json(struct ag_store *s)
{
	struct ag_store_tx tx = { .s = s };
	json_t *users = NULL, *throttle = NULL;
	char path[PATH_MAX];
	long long done_v = 0;
	bool done;
	struct stat st;
	enum ag_err err;

	snprintf(path, sizeof path, "%s/" JSON_USERS, s->dir);
	if (lstat(path, &st) != 0)
		return AG_OK;
	err = exec(s, "BEGIN IMMEDIATE", "import users.json");
	if (err != AG_OK)
		return err;
	err = meta_get(s, "json_migrated", &done_v, &done);
	if (err == AG_OK && !done) {
		err = json_load(s, JSON_USERS, &users);
		if (err == AG_OK && json_load(s, JSON_THROTTLE, &throttle) != AG_OK)
			throttle = NULL; /* a broken throttle file only loses a minute of attempts */
		if (err == AG_OK && users)
			err = import_json(&tx, users, throttle);
		if (err == AG_OK)
			err = meta_set(s, "json_migrated", 1);
	}
	json_decref(users);
	json_decref(throttle);
	ag_strv_free(tx.changed.v, tx.changed.n); /* no index is written here */
	if (err == AG_OK)
		err = exec(s, "COMMIT", "import users.json");
	if (err != AG_OK) {
		if (!sqlite3_get_autocommit(s->db))
			exec(s, "ROLLBACK", "import users.json");
		ag_log(s->log, LOG_ERR, "store %s: the import of " JSON_USERS " failed; it is left as it was and "
					"Authgear logins are refused until it is fixed", s->dir);
		return err;
	}
	rename_migrated(s, JSON_USERS);
	rename_migrated(s, JSON_THROTTLE);
	return AG_OK;
}
