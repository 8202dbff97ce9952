/* The local store (see store.h). Files in state_dir/private:
 *   users.json     {"users": {NAME: {"sub": SUB, "bound_at": T, "last_login": T}}}
 *   throttle.json  {NAME: [T, ...]}   attempts within the last minute
 *   store.lock     the writers' lock
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "json.h"
#include "store.h"

#define USERS_FILE "users.json"
#define THROTTLE_FILE "throttle.json"
#define LOCK_FILE "store.lock"
#define LOCK_TIMEOUT 5          /* seconds */
#define STORE_MAX (16 * 1024 * 1024)
#define THROTTLE_WINDOW 60      /* seconds */
#define THROTTLE_NAMES_MAX 4096 /* names tracked at once; the oldest are dropped */

struct ag_store {
	char *dir;
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
	if (!s || !(s->dir = strdup(dir))) {
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
	err = ag_json_parse_object(buf, len, s->log, path, out);
	free(buf);
	return err == AG_OK ? AG_OK : AG_ERR_IO;
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

enum ag_err ag_store_bind(struct ag_store *s, const char *name, const char *sub, time_t now)
{
	json_t *doc = NULL, *users, *entry;
	const char *bound;
	enum ag_err err;
	int lock;

	err = ag_lock_acquire(s->dir, LOCK_FILE, LOCK_TIMEOUT, s->log, &lock);
	if (err != AG_OK)
		return err;
	err = load(s, USERS_FILE, &doc);
	if (err != AG_OK)
		goto out;
	users = json_object_get(doc, "users");
	if (!users) {
		users = json_object();
		if (!users || json_object_set_new(doc, "users", users) != 0) {
			err = AG_ERR_NOMEM;
			goto out;
		}
	}
	entry = json_object_get(users, name);
	bound = ag_json_string(entry, "sub", 255);
	if (bound && strcmp(bound, sub) != 0) {
		ag_log(s->log, LOG_ERR, "store: %s is bound to sub %s; refusing sub %s", name, bound, sub);
		err = AG_ERR_DENIED;
		goto out;
	}
	if (!entry) {
		entry = json_pack("{s:s, s:I}", "sub", sub, "bound_at", (json_int_t)now);
		if (!entry || json_object_set_new(users, name, entry) != 0) {
			err = AG_ERR_NOMEM;
			goto out;
		}
		ag_log(s->log, LOG_NOTICE, "store: bound %s to sub %s", name, sub);
	}
	if (json_object_set_new(entry, "last_login", json_integer((json_int_t)now)) != 0) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	err = save(s, USERS_FILE, doc);
out:
	json_decref(doc);
	ag_lock_release(lock);
	return err;
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
