/* The local store under state_dir. Its root-only part (state_dir/private,
 * 0700; files 0600) holds the bindings Unix name <-> Authgear sub and the
 * failed logins of the last minute (the local throttle). Every change happens under one lock and is written
 * atomically, so readers see the old or the new file, never a mix. */
#ifndef AG_STORE_H
#define AG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/error.h"
#include "base/log.h"
#include "common/names.h"

struct ag_store;

/* Open the store (creating state_dir and its private part when missing). */
enum ag_err ag_store_open(const char *state_dir, const struct ag_log *log, struct ag_store **out);
void ag_store_close(struct ag_store *s);

/* The sub bound to name: AG_OK with *sub set (caller frees), or AG_OK with
 * *sub NULL when the name is not bound. */
enum ag_err ag_store_bound_sub(struct ag_store *s, const char *name, char **sub);

/* Bind name to sub at its first successful login, and record the login. A
 * name already bound to another sub is refused with AG_ERR_DENIED. */
enum ag_err ag_store_bind(struct ag_store *s, const char *name, const char *sub, time_t now);

#define AG_STORE_THROTTLE_WINDOW 60 /* seconds: the throttle's minute */

/* The local throttle against brute force: AG_ERR_RATE_LIMITED when name
 * failed max_per_minute times within the last minute (*retry_after: seconds
 * until the oldest failure leaves the window); then record each failure. */
enum ag_err ag_store_throttle_check(struct ag_store *s, const char *name, long max_per_minute, time_t now,
				    long *retry_after);
enum ag_err ag_store_throttle_failed(struct ag_store *s, const char *name, time_t now);
/* For the administrator (authgear-pam throttle): name's failures within the
 * last minute and the age in seconds of the oldest; with clear, forget them. */
enum ag_err ag_store_throttle_read(struct ag_store *s, const char *name, time_t now, bool clear, long *failures,
				   long *oldest_age);

/* --- accounts: UIDs, groups and roles per user; the NSS index ----------
 *
 * users.json also holds, per user, the UID pinned at the first login (or by
 * an admin ahead of it: an entry without sub), the roles and Unix groups of
 * the last login, and the GIDs of the groups handed out ("groups"). Fields
 * this version does not know are kept when it writes. Every change goes
 * through ag_store_edit: lock, read, change, atomic write, and then (with a
 * configuration) the NSS index is rebuilt under the same lock, so the index
 * never lags behind the store. */

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

struct ag_store_db {
	struct ag_store_user *users; /* sorted by name */
	size_t n_users;
	struct ag_store_group *groups;
	size_t n_groups;
	void *doc;                 /* the file as read (json_t) */
};

/* Read users.json without the lock (a snapshot). Free with ag_store_db_free. */
enum ag_err ag_store_read(struct ag_store *s, struct ag_store_db *db);
void ag_store_db_free(struct ag_store_db *db);

/* Change the users file: under the lock, read it, call fn, write it when fn
 * returns AG_OK, then (still under the lock) call saved when not NULL: the
 * accounts layer rebuilds the NSS index there, so it never falls out of step
 * with a concurrent writer. */
typedef enum ag_err (*ag_store_edit_fn)(struct ag_store_db *db, void *ctx);
typedef enum ag_err (*ag_store_saved_fn)(const char *state_dir, const struct ag_log *log,
					 const struct ag_store_db *db, void *ctx);
enum ag_err ag_store_edit(struct ag_store *s, ag_store_edit_fn fn, void *ctx, ag_store_saved_fn saved, void *saved_ctx);

/* state_dir, where the NSS index lives. */
const char *ag_store_state_dir(const struct ag_store *s);

struct ag_store_user *ag_store_db_user(const struct ag_store_db *db, const char *name);
enum ag_err ag_store_db_add_user(struct ag_store_db *db, const char *name, struct ag_store_user **out);
bool ag_store_db_remove_user(struct ag_store_db *db, const char *name);
struct ag_store_group *ag_store_db_group(const struct ag_store_db *db, const char *name);
enum ag_err ag_store_db_add_group(struct ag_store_db *db, const char *name, uint32_t gid, bool local,
				  struct ag_store_group **out);
/* Replace a string list (groups, roles) with a copy of items. */
enum ag_err ag_store_strv_set(char ***list, size_t *n, char *const *items, size_t n_items);

#endif
