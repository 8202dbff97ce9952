/* The local store: one SQLite database, state_dir/private/accounts.db
 * (directory 0700, files 0600, root's), holding the bindings Unix name <->
 * Authgear sub, UIDs and pins, groups and memberships, roles, and the local
 * throttle. The PAM module and the CLI open it only through this API; the
 * NSS module never does (it maps the index, state_dir/nss.index).
 *
 * Every change is one write transaction (BEGIN IMMEDIATE: two writers never
 * deadlock on a lock upgrade). When something the NSS index shows changed,
 * the new index is built from the transaction's own view, written to a
 * temporary file and fsynced, the transaction commits, and the file is
 * renamed into place; a generation number in the database and in the index
 * header lets the next writer repair an index a crash left behind. A
 * change only a few users make (a first login) writes a small delta
 * (nss.index.delta) the same way instead of the whole index; the delta's
 * generation is then the database's. */
#ifndef AG_STORE_H
#define AG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "accounts/idmap.h"
#include "base/error.h"
#include "base/log.h"
#include "common/names.h"

#define AG_STORE_FILE "accounts.db"
#define AG_STORE_SCHEMA_VERSION 5
#define AG_STORE_APPLICATION_ID 0x41475043 /* "AGPC" */

struct ag_store;
struct ag_store_tx;

/* Open the store (creating state_dir, its private part and the database
 * when missing; importing a users.json of the JSON store once). A file
 * that is not ours, not SQLite, of a newer schema, missing a table, or with
 * a loose owner or mode (or a symlink) is refused with the reason logged,
 * and never touched. */
enum ag_err ag_store_open(const char *state_dir, const struct ag_log *log, struct ag_store **out);
void ag_store_close(struct ag_store *s);

/* Wait at most ms (and never longer than the store's own 10 s) for another
 * writer's lock from now on: a login's remaining login_timeout. */
void ag_store_busy_limit(struct ag_store *s, long ms);

/* state_dir, where the NSS index lives. */
const char *ag_store_state_dir(const struct ag_store *s);

/* The sub bound to name: AG_OK with *sub set (caller frees), or AG_OK with
 * *sub NULL when the name is not bound. */
enum ag_err ag_store_bound_sub(struct ag_store *s, const char *name, char **sub);

/* The second factor name's last password login completed (NONE: none, not
 * known, or the name is not bound): the login asks Password: and
 * Verification code: together for TOTP (README "How a login goes"). It
 * follows the binding: a name bound to another sub forgets it. */
enum ag_store_factor { AG_STORE_FACTOR_NONE, AG_STORE_FACTOR_TOTP, AG_STORE_FACTOR_RECOVERY_CODE };
enum ag_err ag_store_last_factor(struct ag_store *s, const char *name, enum ag_store_factor *f);

/* The generation of the NSS index the database last committed (0: none). */
enum ag_err ag_store_generation(struct ag_store *s, uint64_t *gen);

/* PRAGMA quick_check (authgear-pam check): AG_OK, or AG_ERR_IO with the
 * first problem in why. */
enum ag_err ag_store_check(struct ag_store *s, char *why, size_t why_len);

/* --- the local throttle -------------------------------------------------
 *
 * One transaction, before any network: refuse (AG_ERR_RATE_LIMITED,
 * *retry_after seconds until the oldest attempt leaves the minute) when
 * (name, rhost) made per_source attempts in the last minute or name made
 * per_name from anywhere; otherwise record this attempt. rhost NULL or ""
 * is the local console. The recorded attempt is cleared by the login's
 * transaction on success (ag_store_tx_throttle_clear), or dropped by
 * ag_store_throttle_forgive when the failure was not the person's. */
enum ag_err ag_store_throttle_attempt(struct ag_store *s, const char *name, const char *rhost, long per_source,
				      long per_name, time_t now, long *retry_after);
enum ag_err ag_store_throttle_forgive(struct ag_store *s);

/* For the administrator (authgear-pam throttle): name's attempts within the
 * last minute from all sources, the most from one source, and the age in
 * seconds of the oldest; with clear, forget them all. */
#define AG_STORE_THROTTLE_WINDOW 60 /* seconds: the throttle's minute */
struct ag_store_throttle {
	long attempts, max_per_source, oldest_age;
};
enum ag_err ag_store_throttle_read(struct ag_store *s, const char *name, time_t now, bool clear,
				   struct ag_store_throttle *t);

/* --- users and groups ------------------------------------------------------ */

struct ag_store_user {
	char name[AG_NAME_MAX + 1];
	char *sub;                 /* NULL: a UID pinned ahead of the first login */
	long long bound_at, last_login; /* 0: never */
	uint32_t uid;              /* 0: none yet */
	char **groups;             /* Unix groups granted at the last login */
	size_t n_groups;
	char **roles;              /* Authgear role keys of the last login */
	size_t n_roles;
};

struct ag_store_group {
	char name[AG_NAME_MAX + 1];
	uint32_t gid;              /* pinned forever, like UIDs */
	bool local;                /* a host group: its GID is the host's; we add members */
};

/* A whole snapshot (listing, the index builder, tests). */
struct ag_store_db {
	struct ag_store_user *users; /* sorted by name */
	size_t n_users;
	struct ag_store_group *groups;
	size_t n_groups;
};

/* Read everything in one read transaction. Free with ag_store_db_free. */
enum ag_err ag_store_read(struct ag_store *s, struct ag_store_db *db);
void ag_store_db_free(struct ag_store_db *db);
struct ag_store_user *ag_store_db_user(const struct ag_store_db *db, const char *name);
struct ag_store_group *ag_store_db_group(const struct ag_store_db *db, const char *name);
void ag_store_user_clear(struct ag_store_user *u);

/* name's record outside a transaction (one row and its lists); *found false
 * when there is none. ag_store_user_clear frees it. */
enum ag_err ag_store_user(struct ag_store *s, const char *name, struct ag_store_user *u, bool *found);

/* --- write transactions ------------------------------------------------------
 *
 * ag_store_write runs fn inside BEGIN IMMEDIATE; fn returns AG_OK to commit.
 * view is a fingerprint of the configuration the index shows (allow-list,
 * templates, [roles], [uids]): when it, or anything the index shows in the
 * database, changed, or the installed index's generation is not the
 * database's, build is called (with the transaction's view and the new
 * generation) and the index replaced in the same critical section. build
 * NULL: no index (tests of the database alone). */
typedef enum ag_err (*ag_store_tx_fn)(struct ag_store_tx *tx, void *ctx);
struct ag_index;
struct ag_store_indexer {
	enum ag_err (*build)(struct ag_store_tx *tx, uint64_t generation, void *ctx, void **data, size_t *len);
	/* A delta of the installed index (base) instead, when only users
	 * changed in ways a delta can express (new users, changed groups; not
	 * a removal, a pin, a group's new GID: index.h): the names are the
	 * users it must hold (the installed delta's and this transaction's).
	 * AG_ERR_UNSUPPORTED: build the full index instead. NULL: always full. */
	enum ag_err (*build_delta)(struct ag_store_tx *tx, uint64_t generation, const struct ag_index *base,
				   char *const *names, size_t n, void *ctx, void **data, size_t *len);
	void *ctx;
	uint64_t view;
};
enum ag_err ag_store_write(struct ag_store *s, ag_store_tx_fn fn, void *ctx, const struct ag_store_indexer *ix);

const struct ag_log *ag_store_tx_log(const struct ag_store_tx *tx);
const struct ag_log *ag_store_log(const struct ag_store *s);
const char *ag_store_tx_state_dir(const struct ag_store_tx *tx);

/* One user: *found false (and u zeroed with the name set) when absent. */
enum ag_err ag_store_tx_user(struct ag_store_tx *tx, const char *name, struct ag_store_user *u, bool *found);
/* Insert or replace u (its groups must exist). */
enum ag_err ag_store_tx_put_user(struct ag_store_tx *tx, const struct ag_store_user *u);
enum ag_err ag_store_tx_remove_user(struct ag_store_tx *tx, const char *name, bool *found);
enum ag_err ag_store_tx_group(struct ag_store_tx *tx, const char *name, struct ag_store_group *g, bool *found);
enum ag_err ag_store_tx_put_group(struct ag_store_tx *tx, const struct ag_store_group *g);
/* The user (other than except) holding uid, into name (AG_NAME_MAX + 1);
 * *found false when none. */
enum ag_err ag_store_tx_uid_holder(struct ag_store_tx *tx, uint32_t uid, const char *except, char *name,
				   bool *found);
/* A group of ours (not a host group) with GID gid. */
enum ag_err ag_store_tx_gid_holder(struct ag_store_tx *tx, uint32_t gid, char *name, bool *found);
/* Add every UID (except except's) and GID the store gives out to taken. */
enum ag_err ag_store_tx_taken(struct ag_store_tx *tx, const char *except, struct ag_idset *taken);
/* fn(name, uid, ctx) for each bound user (a sub and a UID), one row at a
 * time (no whole-database read); fn's error stops the walk. fn must not
 * write to the store. */
enum ag_err ag_store_tx_each_bound(struct ag_store_tx *tx, enum ag_err (*fn)(const char *name, uint32_t uid, void *ctx),
				   void *ctx);
/* Remember name's second factor (after ag_store_tx_put_user). */
enum ag_err ag_store_tx_set_last_factor(struct ag_store_tx *tx, const char *name, enum ag_store_factor f);
/* The whole database as this transaction sees it. */
enum ag_err ag_store_tx_read(struct ag_store_tx *tx, struct ag_store_db *db);
/* Bind name to sub at its first successful login and record the login (a
 * name bound to another sub: AG_ERR_DENIED). u: the user row, loaded and
 * updated in memory; the caller puts it. */
enum ag_err ag_store_tx_bind(struct ag_store_tx *tx, struct ag_store_user *u, const char *sub, time_t now);
/* A login's edit of one user: load name's row, bind it to sub at now (sub
 * NULL: no binding), let edit change it (NULL: nothing more) and put it. */
typedef enum ag_err (*ag_store_user_fn)(struct ag_store_tx *tx, struct ag_store_user *u, void *ctx);
enum ag_err ag_store_tx_login_user(struct ag_store_tx *tx, const char *name, const char *sub, time_t now,
				   ag_store_user_fn edit, void *ctx);
/* Clear the attempt ag_store_throttle_attempt recorded (a success). */
enum ag_err ag_store_tx_throttle_clear(struct ag_store_tx *tx);
/* Rebuild the index at the end of this transaction whatever changed. */
void ag_store_tx_reindex(struct ag_store_tx *tx);

/* Bind alone in its own transaction (tests). */
enum ag_err ag_store_bind(struct ag_store *s, const char *name, const char *sub, time_t now);

/* For the store's other tables (tokens.c): the connection, and a SQLite
 * failure logged and mapped like the store's own. */
struct sqlite3;
struct sqlite3 *ag_store_sqlite(struct ag_store *s);
struct sqlite3 *ag_store_tx_sqlite(struct ag_store_tx *tx);
enum ag_err ag_store_fail(struct ag_store *s, int rc, const char *what);
enum ag_err ag_store_tx_fail(struct ag_store_tx *tx, int rc, const char *what);

/* The key that seals the token cache's secret columns (tokens.c), 32
 * bytes, wiped at ag_store_close; NULL when none was set. */
#define AG_STORE_TOKEN_KEY_LEN 32
void ag_store_set_token_key(struct ag_store *s, const unsigned char *key);
const unsigned char *ag_store_token_key(const struct ag_store *s);
const unsigned char *ag_store_tx_token_key(const struct ag_store_tx *tx);

/* Tests: the SQL that creates schema version v from v - 1 (v >= 1), or NULL. */
const char *ag_store_migration(int v);

#endif
