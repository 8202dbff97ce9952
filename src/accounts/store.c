/* The local store (see store.h). Files in state_dir/private:
 *   users.json     {"users": {NAME: {"sub": SUB, "bound_at": T, "last_login": T,
 *                                    "uid": N, "groups": [G...], "roles": [R...]}},
 *                   "groups": {G: {"gid": N, "local": B}}}
 *   throttle.json  {NAME: [T, ...]}   attempts within the last minute
 *   store.lock     the writers' lock
 * and in state_dir itself the public NSS index (nss.index, 0644; index.h).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/store.h"
#include "base/file.h"
#include "base/json.h"
#include "common/uid.h"

#define USERS_FILE "users.json"
#define THROTTLE_FILE "throttle.json"
#define LOCK_FILE "store.lock"
#define LOCK_TIMEOUT 5          /* seconds */
#define STORE_MAX (64 * 1024 * 1024)
#define THROTTLE_WINDOW AG_STORE_THROTTLE_WINDOW
#define THROTTLE_NAMES_MAX 4096 /* names tracked at once; the oldest are dropped */

struct ag_store {
	char *dir;        /* state_dir/private */
	char *state_dir;
	const struct ag_log *log;
};

enum ag_err ag_store_open(const char *state_dir, const struct ag_log *log, struct ag_store **out)
{
	char dir[PATH_MAX];
	struct ag_store *s;
	enum ag_err err;

	*out = NULL;
	err = ag_state_private_dir(state_dir, log, dir, sizeof dir);
	if (err != AG_OK)
		return err;
	s = calloc(1, sizeof *s);
	if (!s || !(s->dir = strdup(dir)) || !(s->state_dir = strdup(state_dir))) {
		if (s)
			free(s->dir);
		free(s);
		return AG_ERR_NOMEM;
	}
	s->log = log;
	*out = s;
	return AG_OK;
}

void ag_store_close(struct ag_store *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s->state_dir);
	free(s);
}

/* Load a store file as a JSON object; a missing file is an empty object. A
 * corrupt file is an error: never silently forget bindings. */
static enum ag_err load(struct ag_store *s, const char *name, json_t **out)
{
	char path[PATH_MAX], why[256];
	enum ag_err err;
	size_t len;
	char *buf;

	*out = NULL;
	snprintf(path, sizeof path, "%s/%s", s->dir, name);
	err = ag_file_read_root(path, STORE_MAX, &buf, &len, why, sizeof why);
	if (err == AG_ERR_NOT_CONFIGURED) {
		*out = json_object();
		return *out ? AG_OK : AG_ERR_NOMEM;
	}
	if (err != AG_OK) {
		ag_log(s->log, LOG_ERR, "store %s: %s", path, why);
		return err;
	}
	{
		/* Not ag_json_parse_object: its 1 MiB cap is for network input. */
		json_error_t jerr;
		*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		if (*out && !json_is_object(*out)) {
			json_decref(*out);
			*out = NULL;
			snprintf(jerr.text, sizeof jerr.text, "not a JSON object");
		}
		if (!*out)
			ag_log(s->log, LOG_ERR, "store %s: invalid JSON at line %d: %s", path, jerr.line, jerr.text);
	}
	free(buf);
	return *out ? AG_OK : AG_ERR_IO;
}

static enum ag_err save(struct ag_store *s, const char *name, const json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	enum ag_err err;

	if (!text)
		return AG_ERR_NOMEM;
	err = ag_file_write_atomic(s->dir, name, text, strlen(text), 0600, s->log);
	free(text);
	return err;
}

enum ag_err ag_store_bound_sub(struct ag_store *s, const char *name, char **sub)
{
	const char *v;
	json_t *doc;
	enum ag_err err;

	*sub = NULL;
	err = load(s, USERS_FILE, &doc);
	if (err != AG_OK)
		return err;
	v = ag_json_string(json_object_get(json_object_get(doc, "users"), name), "sub", 255);
	if (v && !(*sub = strdup(v)))
		err = AG_ERR_NOMEM;
	json_decref(doc);
	return err;
}

struct bind_ctx {
	struct ag_store *s;
	const char *name, *sub;
	time_t now;
};

static enum ag_err bind_edit(struct ag_store_db *db, void *ctx)
{
	struct bind_ctx *b = ctx;
	struct ag_store_user *u = ag_store_db_user(db, b->name);
	enum ag_err err;

	if (u && u->sub && strcmp(u->sub, b->sub) != 0) {
		ag_log(b->s->log, LOG_ERR, "store: %s is bound to sub %s; refusing sub %s", b->name, u->sub, b->sub);
		return AG_ERR_DENIED;
	}
	if (!u && (err = ag_store_db_add_user(db, b->name, &u)) != AG_OK)
		return err;
	if (!u->sub) {
		if (!(u->sub = strdup(b->sub)))
			return AG_ERR_NOMEM;
		u->bound_at = (long long)b->now;
		ag_log(b->s->log, LOG_NOTICE, "store: bound %s to sub %s", b->name, b->sub);
	}
	u->last_login = (long long)b->now;
	return AG_OK;
}

enum ag_err ag_store_bind(struct ag_store *s, const char *name, const char *sub, time_t now)
{
	struct bind_ctx b = { s, name, sub, now };

	if (!ag_name_valid(name) || !sub || !*sub || strlen(sub) > 255)
		return AG_ERR_INVALID_ARG;
	return ag_store_edit(s, bind_edit, &b, NULL, NULL);
}

/* Drop attempts older than the window and names with none left. */
static void prune(json_t *doc, time_t now)
{
	const char *key;
	json_t *times, *t;
	void *tmp;
	size_t i;

	json_object_foreach_safe(doc, tmp, key, times) {
		json_t *kept = json_array();
		json_array_foreach(times, i, t)
			if (json_is_integer(t) && now - (time_t)json_integer_value(t) < THROTTLE_WINDOW)
				json_array_append(kept, t);
		if (!kept || json_array_size(kept) == 0)
			json_object_del(doc, key);
		else
			json_object_set(doc, key, kept);
		json_decref(kept);
	}
}

/* Check (and with record, count a failure) under the lock. */
static enum ag_err throttle(struct ag_store *s, const char *name, long max_per_minute, time_t now, bool record,
			    long *retry_after)
{
	json_t *doc = NULL, *times;
	enum ag_err err;
	int lock;

	*retry_after = 0;
	err = ag_lock_acquire(s->dir, LOCK_FILE, LOCK_TIMEOUT, s->log, &lock);
	if (err != AG_OK)
		return err;
	err = load(s, THROTTLE_FILE, &doc);
	if (err != AG_OK)
		goto out;
	prune(doc, now);
	times = json_object_get(doc, name);
	if (!record) {
		if (times && (long)json_array_size(times) >= max_per_minute) {
			*retry_after = THROTTLE_WINDOW - (long)(now - (time_t)json_integer_value(json_array_get(times, 0)));
			if (*retry_after < 1)
				*retry_after = 1;
			ag_log(s->log, LOG_WARNING, "throttle: %s failed %zu times in the last minute; refused locally",
			       name, json_array_size(times));
			err = AG_ERR_RATE_LIMITED;
		}
		goto out;
	}
	if (!times && json_object_size(doc) >= THROTTLE_NAMES_MAX)
		json_object_clear(doc); /* a name spray: forget the window rather than grow without bound */
	if (!times) {
		times = json_array();
		if (!times || json_object_set_new(doc, name, times) != 0) {
			err = AG_ERR_NOMEM;
			goto out;
		}
	}
	if (json_array_append_new(times, json_integer((json_int_t)now)) != 0) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	err = save(s, THROTTLE_FILE, doc);
out:
	json_decref(doc);
	ag_lock_release(lock);
	return err;
}

enum ag_err ag_store_throttle_check(struct ag_store *s, const char *name, long max_per_minute, time_t now,
				    long *retry_after)
{
	return throttle(s, name, max_per_minute, now, false, retry_after);
}

enum ag_err ag_store_throttle_failed(struct ag_store *s, const char *name, time_t now)
{
	long unused;

	return throttle(s, name, 0, now, true, &unused);
}

enum ag_err ag_store_throttle_read(struct ag_store *s, const char *name, time_t now, bool clear, long *failures,
				   long *oldest_age)
{
	json_t *doc = NULL, *times;
	enum ag_err err;
	int lock;

	*failures = 0;
	*oldest_age = 0;
	err = ag_lock_acquire(s->dir, LOCK_FILE, LOCK_TIMEOUT, s->log, &lock);
	if (err != AG_OK)
		return err;
	err = load(s, THROTTLE_FILE, &doc);
	if (err != AG_OK)
		goto out;
	prune(doc, now);
	times = json_object_get(doc, name);
	if (times) {
		*failures = (long)json_array_size(times);
		*oldest_age = (long)(now - (time_t)json_integer_value(json_array_get(times, 0)));
	}
	if (clear && times) {
		json_object_del(doc, name);
		err = save(s, THROTTLE_FILE, doc);
		if (err == AG_OK)
			ag_log(s->log, LOG_NOTICE, "throttle: %s cleared (%ld failed logins forgotten)", name, *failures);
	}
out:
	json_decref(doc);
	ag_lock_release(lock);
	return err;
}

/* --- the users file as C structs ------------------------------------------- */

const char *ag_store_state_dir(const struct ag_store *s)
{
	return s->state_dir;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void user_clear(struct ag_store_user *u)
{
	free(u->sub);
	strv_free(u->groups, u->n_groups);
	strv_free(u->roles, u->n_roles);
	memset(u, 0, sizeof *u);
}

void ag_store_db_free(struct ag_store_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n_users; i++)
		user_clear(&db->users[i]);
	free(db->users);
	free(db->groups);
	json_decref(db->doc);
	memset(db, 0, sizeof *db);
}

enum ag_err ag_store_strv_set(char ***list, size_t *n, char *const *items, size_t n_items)
{
	char **v = calloc(n_items ? n_items : 1, sizeof *v);

	if (!v)
		return AG_ERR_NOMEM;
	for (size_t i = 0; i < n_items; i++)
		if (!(v[i] = strdup(items[i]))) {
			strv_free(v, i);
			return AG_ERR_NOMEM;
		}
	strv_free(*list, *n);
	*list = v;
	*n = n_items;
	return AG_OK;
}

/* db->users is kept sorted by name (the listing order, and lookups by
 * binary search: a store of 10,000 users is read at every login). */
static int cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct ag_store_user *)a)->name, ((const struct ag_store_user *)b)->name);
}

/* The position of name, or where it would go. */
static size_t user_slot(const struct ag_store_db *db, const char *name, bool *found)
{
	size_t lo = 0, hi = db->n_users;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(db->users[mid].name, name);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ag_store_user *ag_store_db_user(const struct ag_store_db *db, const char *name)
{
	bool found;
	size_t i = user_slot(db, name, &found);

	return found ? &db->users[i] : NULL;
}

/* Append without keeping the order (loading; sorted once at the end). */
static enum ag_err append_user(struct ag_store_db *db, const char *name, struct ag_store_user **out)
{
	struct ag_store_user *users;

	*out = NULL;
	if (!ag_name_valid(name))
		return AG_ERR_INVALID_ARG;
	users = realloc(db->users, (db->n_users + 1) * sizeof *users);
	if (!users)
		return AG_ERR_NOMEM;
	db->users = users;
	*out = &users[db->n_users++];
	memset(*out, 0, sizeof **out);
	snprintf((*out)->name, sizeof (*out)->name, "%s", name);
	return AG_OK;
}

enum ag_err ag_store_db_add_user(struct ag_store_db *db, const char *name, struct ag_store_user **out)
{
	struct ag_store_user tmp;
	enum ag_err err;
	bool found;
	size_t at;

	*out = NULL;
	at = user_slot(db, name, &found);
	if (found)
		return AG_ERR_INVALID_ARG;
	err = append_user(db, name, out);
	if (err != AG_OK)
		return err;
	tmp = db->users[db->n_users - 1];
	memmove(&db->users[at + 1], &db->users[at], (db->n_users - 1 - at) * sizeof *db->users);
	db->users[at] = tmp;
	*out = &db->users[at];
	return AG_OK;
}

bool ag_store_db_remove_user(struct ag_store_db *db, const char *name)
{
	bool found;
	size_t i = user_slot(db, name, &found);

	if (!found)
		return false;
	user_clear(&db->users[i]);
	memmove(&db->users[i], &db->users[i + 1], (db->n_users - i - 1) * sizeof *db->users);
	db->n_users--;
	return true;
}

struct ag_store_group *ag_store_db_group(const struct ag_store_db *db, const char *name)
{
	for (size_t i = 0; i < db->n_groups; i++)
		if (strcmp(db->groups[i].name, name) == 0)
			return &db->groups[i];
	return NULL;
}

enum ag_err ag_store_db_add_group(struct ag_store_db *db, const char *name, uint32_t gid, bool local,
				  struct ag_store_group **out)
{
	struct ag_store_group *groups;

	*out = NULL;
	if (!ag_name_valid(name) || gid == 0)
		return AG_ERR_INVALID_ARG;
	groups = realloc(db->groups, (db->n_groups + 1) * sizeof *groups);
	if (!groups)
		return AG_ERR_NOMEM;
	db->groups = groups;
	*out = &groups[db->n_groups++];
	memset(*out, 0, sizeof **out);
	snprintf((*out)->name, sizeof (*out)->name, "%s", name);
	(*out)->gid = gid;
	(*out)->local = local;
	return AG_OK;
}

/* An ID in the file: 1 .. 4294967294. */
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

/* An array of strings (names: valid Unix names). */
static bool json_strv(const json_t *obj, const char *key, bool names, char ***out, size_t *n)
{
	const json_t *a = json_object_get(obj, key), *v;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!a)
		return true;
	if (!json_is_array(a) || json_array_size(a) > 4096)
		return false;
	*out = calloc(json_array_size(a) + 1, sizeof **out);
	if (!*out)
		return false;
	json_array_foreach(a, i, v) {
		const char *str = json_string_value(v);
		if (!str || strlen(str) != json_string_length(v) || strlen(str) > 255 || (names && !ag_name_valid(str)))
			return false;
		if (!((*out)[(*n)++] = strdup(str)))
			return false;
	}
	return true;
}

static enum ag_err db_from_json(struct ag_store *s, json_t *doc, struct ag_store_db *db)
{
	const json_t *users = json_object_get(doc, "users"), *groups = json_object_get(doc, "groups"), *e;
	const char *name;

	memset(db, 0, sizeof *db);
	db->doc = doc;
	if ((users && !json_is_object(users)) || (groups && !json_is_object(groups))) {
		ag_log(s->log, LOG_ERR, "store %s/" USERS_FILE ": users or groups is not an object", s->dir);
		return AG_ERR_IO;
	}
	json_object_foreach((json_t *)users, name, e) {
		struct ag_store_user *u;
		const char *sub = ag_json_string(e, "sub", 255);
		long long t;

		if (!json_is_object(e) || append_user(db, name, &u) != AG_OK) {
			ag_log(s->log, LOG_ERR, "store %s/" USERS_FILE ": bad entry for user '%.40s'", s->dir, name);
			return AG_ERR_IO;
		}
		if ((sub && !(u->sub = strdup(sub))))
			return AG_ERR_NOMEM;
		if (ag_json_integer(e, "bound_at", &t))
			u->bound_at = t;
		if (ag_json_integer(e, "last_login", &t))
			u->last_login = t;
		if (!json_id(e, "uid", &u->uid) || !json_strv(e, "groups", true, &u->groups, &u->n_groups) ||
		    !json_strv(e, "roles", false, &u->roles, &u->n_roles)) {
			ag_log(s->log, LOG_ERR, "store %s/" USERS_FILE ": bad uid, groups or roles for %s", s->dir, name);
			return AG_ERR_IO;
		}
	}
	/* JSON object keys are unique (duplicates are refused when parsing). */
	qsort(db->users, db->n_users, sizeof *db->users, cmp_user);
	json_object_foreach((json_t *)groups, name, e) {
		struct ag_store_group *g;
		uint32_t gid;
		bool local = false;

		if (!json_is_object(e) || !json_id(e, "gid", &gid) || gid == 0 ||
		    (json_object_get(e, "local") && !ag_json_bool(e, "local", &local)) ||
		    ag_store_db_add_group(db, name, gid, local, &g) != AG_OK) {
			ag_log(s->log, LOG_ERR, "store %s/" USERS_FILE ": bad entry for group '%.40s'", s->dir, name);
			return AG_ERR_IO;
		}
	}
	return AG_OK;
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int set_or_del(json_t *obj, const char *key, json_t *v, bool present)
{
	if (!present) {
		json_decref(v);
		json_object_del(obj, key);
		return 0;
	}
	return v ? json_object_set_new(obj, key, v) : -1;
}

/* Write db back into its document: known fields from db, others untouched. */
static enum ag_err db_to_json(struct ag_store_db *db)
{
	json_t *doc = db->doc, *users = json_object_get(doc, "users"), *groups = json_object(), *e;
	const char *name;
	void *tmp;

	if (!groups)
		return AG_ERR_NOMEM;
	if (!users) {
		users = json_object();
		if (!users || json_object_set_new(doc, "users", users) != 0) {
			json_decref(groups);
			return AG_ERR_NOMEM;
		}
	}
	json_object_foreach_safe(users, tmp, name, e)
		if (!ag_store_db_user(db, name))
			json_object_del(users, name);
	for (size_t i = 0; i < db->n_users; i++) {
		const struct ag_store_user *u = &db->users[i];
		int rc = 0;

		e = json_object_get(users, u->name);
		if (!e) {
			e = json_object();
			if (!e || json_object_set_new(users, u->name, e) != 0)
				goto nomem;
		}
		rc |= set_or_del(e, "sub", u->sub ? json_string(u->sub) : NULL, u->sub != NULL);
		rc |= set_or_del(e, "bound_at", json_integer(u->bound_at), u->bound_at != 0);
		rc |= set_or_del(e, "last_login", json_integer(u->last_login), u->last_login != 0);
		rc |= set_or_del(e, "uid", json_integer(u->uid), u->uid != 0);
		rc |= set_or_del(e, "groups", strv_json(u->groups, u->n_groups), u->groups != NULL);
		rc |= set_or_del(e, "roles", strv_json(u->roles, u->n_roles), u->roles != NULL);
		if (rc)
			goto nomem;
	}
	for (size_t i = 0; i < db->n_groups; i++) {
		const struct ag_store_group *g = &db->groups[i];
		if (json_object_set_new(groups, g->name, json_pack("{s:I, s:b}", "gid", (json_int_t)g->gid, "local",
								    g->local)) != 0)
			goto nomem;
	}
	if (json_object_set_new(doc, "groups", groups) != 0)
		return AG_ERR_NOMEM;
	return AG_OK;
nomem:
	json_decref(groups);
	return AG_ERR_NOMEM;
}

enum ag_err ag_store_read(struct ag_store *s, struct ag_store_db *db)
{
	json_t *doc;
	enum ag_err err;

	memset(db, 0, sizeof *db);
	err = load(s, USERS_FILE, &doc);
	if (err != AG_OK)
		return err;
	err = db_from_json(s, doc, db);
	if (err != AG_OK)
		ag_store_db_free(db);
	return err;
}

enum ag_err ag_store_edit(struct ag_store *s, ag_store_edit_fn fn, void *ctx, ag_store_saved_fn saved, void *saved_ctx)
{
	struct ag_store_db db = { 0 };
	enum ag_err err;
	int lock;

	err = ag_lock_acquire(s->dir, LOCK_FILE, LOCK_TIMEOUT, s->log, &lock);
	if (err != AG_OK)
		return err;
	err = ag_store_read(s, &db);
	if (err == AG_OK)
		err = fn(&db, ctx);
	if (err == AG_OK)
		err = db_to_json(&db);
	if (err == AG_OK)
		err = save(s, USERS_FILE, db.doc);
	if (err == AG_OK && saved)
		err = saved(s->state_dir, s->log, &db, saved_ctx);
	ag_store_db_free(&db);
	ag_lock_release(lock);
	return err;
}
