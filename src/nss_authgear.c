/* libnss_authgear.so.2: the NSS entry points. It links only libc, never
 * touches the network and never takes a lock another process could hold: it
 * maps the public index the store writes (index.h) and answers from it.
 *
 * The mapping (the index and its delta, nss.index.delta) is shared by all
 * threads and replaced when the writer marks it superseded or installs
 * another delta (checked at every call, memory loads) or when either path
 * names another file (stat at most once a second). Lookups run outside the mutex
 * on a reference-counted mapping, so a replacement never pulls the pages
 * from under a reader: a lookup sees the old index or the new one.
 *
 * Index path: AG_INDEX_DEFAULT_PATH, or for tests AUTHGEAR_NSS_INDEX read
 * with secure_getenv (ignored in setuid and setgid programs).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/index.h"

#define NSS_FN(name) _nss_authgear_##name

enum nss_status NSS_FN(getpwnam_r)(const char *, struct passwd *, char *, size_t, int *);
enum nss_status NSS_FN(getpwuid_r)(uid_t, struct passwd *, char *, size_t, int *);
enum nss_status NSS_FN(setpwent)(int);
enum nss_status NSS_FN(getpwent_r)(struct passwd *, char *, size_t, int *);
enum nss_status NSS_FN(endpwent)(void);
enum nss_status NSS_FN(getgrnam_r)(const char *, struct group *, char *, size_t, int *);
enum nss_status NSS_FN(getgrgid_r)(gid_t, struct group *, char *, size_t, int *);
enum nss_status NSS_FN(setgrent)(int);
enum nss_status NSS_FN(getgrent_r)(struct group *, char *, size_t, int *);
enum nss_status NSS_FN(endgrent)(void);
enum nss_status NSS_FN(initgroups_dyn)(const char *, gid_t, long int *, long int *, gid_t **,
				       long int, int *);

/* Which file a path named when it was mapped (present false: none). */
struct file_id {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	bool present;
};

struct mapping {
	void *addr, *daddr;   /* the index; its delta (NULL: none mapped) */
	size_t size, dsize;
	struct ag_index ix;
	struct file_id id, did;
	unsigned refs;        /* under map_lock */
	int logged;           /* a corruption found in a lookup was logged */
};

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapping *current;   /* holds one reference */
static time_t checked_at;         /* CLOCK_MONOTONIC_COARSE second of the last stat */
/* The last file that failed to map, so it is logged once, not per lookup. */
static struct { struct file_id id; int set; } last_bad;

/* Enumeration state (glibc serializes set/get/end per database). */
static pthread_mutex_t ent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapping *pw_ent, *gr_ent;
static uint32_t pw_next, gr_next;

/* A child of fork() may have inherited a held mutex from a thread that does
 * not exist there: start with fresh ones. The mappings stay valid. */
static void reinit_after_fork(void)
{
	pthread_mutex_init(&map_lock, NULL);
	pthread_mutex_init(&ent_lock, NULL);
}

__attribute__((constructor)) static void nss_authgear_init(void)
{
	pthread_atfork(NULL, NULL, reinit_after_fork);
}

#ifdef AG_TEST_HOOKS
/* Test builds only (./configure --enable-test-hooks): AUTHGEAR_TEST_LOG
 * gets a copy of each log line and AUTHGEAR_NSS_INDEX names another index
 * (both through secure_getenv: ignored in setuid and setgid processes). A
 * default build reads only AG_INDEX_DEFAULT_PATH: an index path from the
 * environment would let whoever sets the environment of a root process
 * that does not run with AT_SECURE (login -p, a daemon's child) choose the
 * UIDs its names resolve to. */
static void test_log(const char *line)
{
	const char *path = secure_getenv("AUTHGEAR_TEST_LOG");
	char buf[600];
	int fd, n;

	if (!path || !*path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	n = snprintf(buf, sizeof buf, "err nss_authgear: %s\n", line);
	if (n > 0 && write(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1) < 0) {
		/* best effort */
	}
	close(fd);
}

#else
static void test_log(const char *line)
{
}

#endif

static void nss_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void nss_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	syslog(LOG_AUTHPRIV | LOG_ERR, "nss_authgear: %s", line);
	test_log(line);
	errno = saved;
}


static void unmap(struct mapping *m)
{
	munmap(m->addr, m->size);
	if (m->daddr)
		munmap(m->daddr, m->dsize);
	free(m);
}

static void unref(struct mapping *m)
{
	if (m && --m->refs == 0)
		unmap(m);
}

static struct file_id file_id_of(const struct stat *st)
{
	return (struct file_id){ st->st_dev, st->st_ino, st->st_mtim, st->st_size, true };
}

static bool same_id(const struct file_id *a, const struct file_id *b)
{
	if (!a->present || !b->present)
		return a->present == b->present;
	return a->dev == b->dev && a->ino == b->ino && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->size == b->size;
}

/* Whether path still names the file id was taken from (or still none). */
static bool same_file(const char *path, const struct file_id *id)
{
	struct stat sb;
	struct file_id now = { 0 };

	if (stat(path, &sb) == 0)
		now = file_id_of(&sb);
	else if (errno != ENOENT)
		return false;
	return same_id(&now, id);
}

static void log_bad_once(const char *path, const struct file_id *id, const char *why)
{
	if (id) {
		if (last_bad.set && same_id(&last_bad.id, id))
			return;
		last_bad.id = *id;
		last_bad.set = 1;
	}
	nss_log("%s: %s; answering UNAVAIL", path, why);
}

/* Map one file: NSS_STATUS_NOTFOUND when there is none. */
static enum nss_status map_one(const char *path, void **addr, size_t *size, struct file_id *id)
{
	const char *why = NULL;
	struct stat st;
	int fd;

	*addr = NULL;
	*id = (struct file_id){ 0 };
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return NSS_STATUS_NOTFOUND;
		if (!last_bad.set) {
			nss_log("%s: cannot open: %s; answering UNAVAIL", path, strerror(errno));
			last_bad.set = 1;
		}
		return NSS_STATUS_UNAVAIL;
	}
	if (fstat(fd, &st) != 0)
		why = "cannot stat";
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
		why = "not owned by root or writable by others";
	else if (st.st_size < (off_t)AG_INDEX_HEADER_V1_SIZE)
		why = "truncated: shorter than its header";
	else if ((unsigned long long)st.st_size > AG_INDEX_SIZE_MAX)
		why = "larger than the limit";
	if (why || (*addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		struct file_id bad = file_id_of(&st);

		close(fd);
		*addr = NULL;
		log_bad_once(path, &bad, why ? why : "cannot map");
		return NSS_STATUS_UNAVAIL;
	}
	close(fd);
	*size = (size_t)st.st_size;
	*id = file_id_of(&st);
	return NSS_STATUS_SUCCESS;
}

static void delta_path(const char *path, char *out, size_t len)
{
	if (snprintf(out, len, "%s" AG_INDEX_DELTA_SUFFIX, path) >= (int)len)
		out[0] = '\0';
}

/* Map the index at path and its delta; NSS_STATUS_NOTFOUND when there is
 * no index (nobody is known). A delta of another base is ignored, unless
 * the base was superseded meanwhile (a writer replaced both between our
 * two opens): then both are mapped again. A malformed delta answers
 * UNAVAIL, as a malformed index does. */
static enum nss_status map_file(const char *path, struct mapping **out)
{
	char dpath[PATH_MAX];
	enum nss_status st;
	struct mapping *m;
	const char *why = NULL;

	*out = NULL;
	delta_path(path, dpath, sizeof dpath);
	for (int tries = 0;; tries++) {
		enum ag_index_status ds = AG_INDEX_NOTFOUND;

		if (!(m = calloc(1, sizeof *m)))
			return NSS_STATUS_TRYAGAIN;
		st = map_one(path, &m->addr, &m->size, &m->id);
		if (st != NSS_STATUS_SUCCESS) {
			free(m);
			return st;
		}
		if (!ag_index_open(m->addr, m->size, &m->ix, &why)) {
			log_bad_once(path, &m->id, why);
			unmap(m);
			return NSS_STATUS_UNAVAIL;
		}
		st = dpath[0] ? map_one(dpath, &m->daddr, &m->dsize, &m->did) : NSS_STATUS_NOTFOUND;
		if (st == NSS_STATUS_SUCCESS)
			ds = ag_index_attach_delta(&m->ix, m->daddr, m->dsize, &why);
		if (st == NSS_STATUS_UNAVAIL || ds == AG_INDEX_CORRUPT) {
			if (ds == AG_INDEX_CORRUPT)
				log_bad_once(dpath, &m->did, why);
			unmap(m);
			return NSS_STATUS_UNAVAIL;
		}
		if (ds == AG_INDEX_OK || !ag_index_superseded(&m->ix) || tries == 2)
			break;
		unmap(m); /* both replaced meanwhile: once more */
	}
	m->refs = 1;
	*out = m;
	return NSS_STATUS_SUCCESS;
}

/* A reference to the current index (release it with put_index). */
static enum nss_status get_index(struct mapping **out)
{
	enum nss_status st = NSS_STATUS_SUCCESS;
	struct timespec now;
	char dpath[PATH_MAX];
	const char *path;

	*out = NULL;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	pthread_mutex_lock(&map_lock);
	if (current && !ag_index_superseded(&current->ix) && now.tv_sec == checked_at)
		goto done;
	path = ag_index_path();
	delta_path(path, dpath, sizeof dpath);
	checked_at = now.tv_sec;
	if (current && same_file(path, &current->id) && same_file(dpath, &current->did))
		goto done; /* superseded but not yet replaced, or unchanged */
	{
		struct mapping *m;

		st = map_file(path, &m);
		if (st == NSS_STATUS_SUCCESS || st == NSS_STATUS_NOTFOUND || st == NSS_STATUS_UNAVAIL) {
			unref(current);
			current = m;
		}
	}
done:
	if (current) {
		current->refs++;
		*out = current;
		st = NSS_STATUS_SUCCESS;
	}
	pthread_mutex_unlock(&map_lock);
	return st;
}

static void put_index(struct mapping *m)
{
	pthread_mutex_lock(&map_lock);
	unref(m);
	pthread_mutex_unlock(&map_lock);
}

static enum nss_status status_of(struct mapping *m, enum ag_index_status st, int *errnop)
{
	switch (st) {
	case AG_INDEX_OK:
		return NSS_STATUS_SUCCESS;
	case AG_INDEX_ERANGE:
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	case AG_INDEX_NOTFOUND:
		*errnop = ENOENT;
		return NSS_STATUS_NOTFOUND;
	case AG_INDEX_CORRUPT:
	default:
		if (m && !__atomic_exchange_n(&m->logged, 1, __ATOMIC_RELAXED))
			nss_log("%s: corrupt record; answering UNAVAIL", ag_index_path());
		*errnop = ENOENT;
		return NSS_STATUS_UNAVAIL;
	}
}

/* No index, or an unusable one, as a lookup's answer. */
static enum nss_status no_index(enum nss_status st, int *errnop)
{
	if (st == NSS_STATUS_TRYAGAIN) {
		*errnop = ENOMEM;
		return st;
	}
	*errnop = ENOENT;
	return st == NSS_STATUS_SUCCESS ? NSS_STATUS_NOTFOUND : st;
}

/* One lookup: a user (pw set) or a group (gr set), by name (name set) or
 * by number. A name or number the index covers but nobody is bound to gets
 * the provisional entry the index makes up for it. */
struct query {
	const char *name;
	uint32_t id;
	struct passwd *pw;
	struct group *gr;
};

static enum ag_index_status find(const struct ag_index *ix, const struct query *q, char *buf, size_t len)
{
	enum ag_index_status r;
	uint32_t idx;

	if (q->pw)
		r = q->name ? ag_index_user_by_name(ix, q->name, &idx) : ag_index_user_by_uid(ix, q->id, &idx);
	else
		r = q->name ? ag_index_group_by_name(ix, q->name, &idx) : ag_index_group_by_gid(ix, q->id, &idx);
	if (r == AG_INDEX_OK)
		return q->pw ? ag_index_fill_passwd(ix, idx, q->pw, buf, len)
			     : ag_index_fill_group(ix, idx, q->gr, buf, len);
	if (r != AG_INDEX_NOTFOUND)
		return r;
	if (q->pw && q->name)
		return ag_index_provisional_for(ix, q->name, ag_index_caller_is_sshd(), q->pw, buf, len);
	if (q->pw)
		return ag_index_provisional_by_uid(ix, q->id, q->pw, buf, len);
	if (q->name)
		return ag_index_provisional_group(ix, q->name, q->gr, buf, len);
	return ag_index_provisional_group_by_gid(ix, q->id, q->gr, buf, len);
}

static enum nss_status lookup(const struct query *q, char *buf, size_t len, int *errnop)
{
	struct mapping *m;
	enum nss_status st = get_index(&m);

	if (!m)
		return no_index(st, errnop);
	st = status_of(m, find(&m->ix, q, buf, len), errnop);
	put_index(m);
	return st;
}

enum nss_status NSS_FN(getpwnam_r)(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	return lookup(&(struct query){ .name = name, .pw = pw }, buf, len, errnop);
}

enum nss_status NSS_FN(getpwuid_r)(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	return lookup(&(struct query){ .id = (uint32_t)uid, .pw = pw }, buf, len, errnop);
}

enum nss_status NSS_FN(getgrnam_r)(const char *name, struct group *gr, char *buf, size_t len, int *errnop)
{
	return lookup(&(struct query){ .name = name, .gr = gr }, buf, len, errnop);
}

enum nss_status NSS_FN(getgrgid_r)(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop)
{
	return lookup(&(struct query){ .id = (uint32_t)gid, .gr = gr }, buf, len, errnop);
}

/* --- enumeration: bound users and our own groups, never provisional
 * entries or host-local groups (those are the host's to list). The two
 * databases share the code, each with its own mapping and next entry. -- */

/* Under ent_lock. */
static void ent_close(struct mapping **slot, uint32_t *next)
{
	if (*slot)
		put_index(*slot);
	*slot = NULL;
	*next = 0;
}

/* Under ent_lock. */
static enum nss_status ent_open(struct mapping **slot, uint32_t *next)
{
	enum nss_status st;

	ent_close(slot, next);
	st = get_index(slot);
	return *slot || st == NSS_STATUS_NOTFOUND ? NSS_STATUS_SUCCESS : st;
}

static enum nss_status ent_set(struct mapping **slot, uint32_t *next)
{
	enum nss_status st;

	pthread_mutex_lock(&ent_lock);
	st = ent_open(slot, next);
	pthread_mutex_unlock(&ent_lock);
	return st;
}

static enum nss_status ent_end(struct mapping **slot, uint32_t *next)
{
	pthread_mutex_lock(&ent_lock);
	ent_close(slot, next);
	pthread_mutex_unlock(&ent_lock);
	return NSS_STATUS_SUCCESS;
}

/* The next entry of q's database (q->pw or q->gr; no name or id). */
static enum nss_status ent_get(struct mapping **slot, uint32_t *next, const struct query *q, char *buf, size_t len,
			       int *errnop)
{
	enum nss_status st = NSS_STATUS_NOTFOUND;
	const struct ag_index *ix;
	uint32_t n;

	pthread_mutex_lock(&ent_lock);
	if (!*slot && *next == 0)
		ent_open(slot, next);
	ix = *slot ? &(*slot)->ix : NULL;
	n = !ix ? 0 : q->pw ? ag_index_n_users(ix) : ag_index_n_groups(ix);
	while (*next < n) {
		bool local = false;
		enum ag_index_status r = q->pw ? AG_INDEX_OK : ag_index_group_local(ix, *next, &local);

		if (r == AG_INDEX_OK && !local)
			r = q->pw ? ag_index_fill_passwd(ix, *next, q->pw, buf, len)
				  : ag_index_fill_group(ix, *next, q->gr, buf, len);
		if ((r == AG_INDEX_OK && local) || r == AG_INDEX_NOTFOUND) {
			(*next)++; /* a host group, or a record the delta replaces */
			continue;
		}
		st = status_of(*slot, r, errnop);
		if (st == NSS_STATUS_SUCCESS || st == NSS_STATUS_UNAVAIL)
			(*next)++; /* ERANGE: the same entry again with a bigger buffer */
		break;
	}
	if (st == NSS_STATUS_NOTFOUND)
		*errnop = ENOENT;
	pthread_mutex_unlock(&ent_lock);
	return st;
}

enum nss_status NSS_FN(setpwent)(int stayopen)
{
	return ent_set(&pw_ent, &pw_next);
}

enum nss_status NSS_FN(endpwent)(void)
{
	return ent_end(&pw_ent, &pw_next);
}

enum nss_status NSS_FN(getpwent_r)(struct passwd *pw, char *buf, size_t len, int *errnop)
{
	return ent_get(&pw_ent, &pw_next, &(struct query){ .pw = pw }, buf, len, errnop);
}

enum nss_status NSS_FN(setgrent)(int stayopen)
{
	return ent_set(&gr_ent, &gr_next);
}

enum nss_status NSS_FN(endgrent)(void)
{
	return ent_end(&gr_ent, &gr_next);
}

enum nss_status NSS_FN(getgrent_r)(struct group *gr, char *buf, size_t len, int *errnop)
{
	return ent_get(&gr_ent, &gr_next, &(struct query){ .gr = gr }, buf, len, errnop);
}

/* glibc's getgrouplist/initgroups: append user's GIDs (except skip and
 * those already there) to *groupsp, growing it up to limit (<= 0: none). */
enum nss_status NSS_FN(initgroups_dyn)(const char *user, gid_t skip, long int *start, long int *size,
				       gid_t **groupsp, long int limit, int *errnop)
{
	const uint32_t *gids = NULL;
	enum ag_index_status r;
	struct mapping *m;
	enum nss_status st = get_index(&m);
	uint32_t idx, n = 0;

	if (!m)
		return no_index(st, errnop);
	r = ag_index_user_by_name(&m->ix, user, &idx);
	if (r == AG_INDEX_OK)
		r = ag_index_user_gids(&m->ix, idx, &gids, &n);
	if (r != AG_INDEX_OK) {
		st = status_of(m, r, errnop);
		put_index(m);
		return st;
	}
	for (uint32_t i = 0; i < n; i++) {
		gid_t gid = (gid_t)gids[i];
		bool have = gid == skip;

		for (long int j = 0; !have && j < *start; j++)
			have = (*groupsp)[j] == gid;
		if (have)
			continue;
		if (*start == *size) {
			long int grow = *size ? *size * 2 : 16;
			gid_t *bigger;

			if (limit > 0 && *size >= limit)
				break; /* full: glibc reports what fits */
			if (limit > 0 && grow > limit)
				grow = limit;
			bigger = realloc(*groupsp, (size_t)grow * sizeof *bigger);
			if (!bigger) {
				put_index(m);
				*errnop = ENOMEM;
				return NSS_STATUS_TRYAGAIN;
			}
			*groupsp = bigger;
			*size = grow;
		}
		(*groupsp)[(*start)++] = gid;
	}
	put_index(m);
	return NSS_STATUS_SUCCESS;
}
