/* The NSS index reader (see index.h). libc only: it is compiled into
 * libnss_authgear.so.2. Every access is bounds-checked against the
 * file, so a corrupt index is AG_INDEX_CORRUPT and never a crash. */
#include "config.h"

#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/index.h"
#include "common/names.h"
#include "common/uid.h"

#ifdef AG_TEST_HOOKS
/* Test builds only: a default build reads one index, whatever the
 * environment says (nss_authgear.c). */
const char *ag_index_path(void)
{
	const char *p = secure_getenv("AUTHGEAR_NSS_INDEX");

	return p && p[0] == '/' ? p : AG_INDEX_DEFAULT_PATH;
}
#else
const char *ag_index_path(void)
{
	return AG_INDEX_DEFAULT_PATH;
}
#endif

/* Whether this process is sshd: provisional entries for names that only a
 * pattern of the allow-list matches are answered to sshd alone, because
 * sshd looks the user up before PAM runs and refuses a name it cannot
 * resolve; anywhere else (useradd, `getent passwd x || useradd x`) such a
 * name does not exist until its first login. OpenSSH 9.8 and later run that
 * lookup in sshd-session, 10.0 in sshd-auth. The executable's name, not
 * argv[0] (sshd started through a symlink such as sshd-lab still counts).
 * Computed once per process image. */
bool ag_index_caller_is_sshd(void)
{
	static int cached = -1;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	static const char deleted[] = " (deleted)"; /* the binary was replaced by an upgrade */
	char exe[PATH_MAX];
	const char *base;
	ssize_t n;

	if (v >= 0)
		return v;
	v = 0;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((size_t)n > sizeof deleted - 1 && strcmp(exe + n - (sizeof deleted - 1), deleted) == 0)
			exe[n - (sizeof deleted - 1)] = '\0';
		base = strrchr(exe, '/');
		base = base ? base + 1 : exe;
		v = strcmp(base, "sshd") == 0 || strcmp(base, "sshd-session") == 0 || strcmp(base, "sshd-auth") == 0;
	}
	__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	return v;
}

static bool section_ok(const struct ag_index_file *f, const struct ag_index_section *s, size_t elem)
{
	uint64_t end = (uint64_t)s->off + (uint64_t)s->count * elem;

	if (s->count == 0)
		return true;
	return s->off % 4 == 0 && s->off >= ((const struct ag_index_header *)(const void *)f->base)->header_size &&
	       end <= f->size;
}

static bool power_of_two_or_zero(uint32_t n)
{
	return (n & (n - 1)) == 0;
}

/* The version 3 fields, 0 in older files (whose header ends before them). */
static uint32_t header_flags(const struct ag_index_header *h)
{
	return h->version >= 3 ? h->flags : 0;
}

/* One file, base or delta: the header and the section bounds. */
static bool file_open(const void *base, size_t size, struct ag_index_file *f, const char **why)
{
	const struct ag_index_header *h = base;
	const char *reason = NULL;

	memset(f, 0, sizeof *f);
	f->base = base;
	f->size = size;
	if (!base || ((uintptr_t)base % 8) != 0)
		reason = "misaligned";
	else if (size < AG_INDEX_HEADER_V1_SIZE)
		reason = "truncated: shorter than its header";
	else if (memcmp(h->magic, AG_INDEX_MAGIC, sizeof h->magic) != 0)
		reason = "bad magic: not an NSS index";
	else if (h->byte_order != AG_INDEX_BYTE_ORDER)
		reason = "written with another byte order";
	else if (!(h->version == AG_INDEX_VERSION && h->header_size == sizeof *h) &&
		 !(h->version == 2 && h->header_size == AG_INDEX_HEADER_V2_SIZE) &&
		 !(h->version == 1 && h->header_size == AG_INDEX_HEADER_V1_SIZE))
		reason = "unsupported version";
	else if (h->file_size != size || size > AG_INDEX_SIZE_MAX || size < h->header_size)
		reason = "truncated: size differs from its header";
	else if (!section_ok(f, &h->users, sizeof(struct ag_index_user)) || !section_ok(f, &h->user_names, 4) ||
		 !section_ok(f, &h->user_uids, 4) || !section_ok(f, &h->groups, sizeof(struct ag_index_group)) ||
		 !section_ok(f, &h->group_names, 4) || !section_ok(f, &h->group_gids, 4) ||
		 !section_ok(f, &h->ids, 4) || !section_ok(f, &h->pins, sizeof(struct ag_index_pin)) ||
		 !section_ok(f, &h->strings, 1))
		reason = "a section lies outside the file";
	else if (!power_of_two_or_zero(h->user_names.count) || !power_of_two_or_zero(h->group_names.count) ||
		 !power_of_two_or_zero(h->user_uids.count) || !power_of_two_or_zero(h->group_gids.count) ||
		 h->user_names.count < (h->users.count ? h->users.count + 1 : 0) ||
		 h->group_names.count < (h->groups.count ? h->groups.count + 1 : 0) ||
		 h->user_uids.count < (h->users.count ? h->users.count + 1 : 0) ||
		 h->group_gids.count < (h->groups.count ? h->groups.count + 1 : 0))
		reason = "inconsistent section sizes";
	else if (h->strings.count == 0 || f->base[h->strings.off + h->strings.count - 1] != '\0')
		reason = "string table not terminated";
	else if ((h->allow != AG_INDEX_NONE && h->allow >= h->strings.count) ||
		 (h->home != AG_INDEX_NONE && h->home >= h->strings.count) ||
		 (h->shell != AG_INDEX_NONE && h->shell >= h->strings.count))
		reason = "bad string offset in the header";
	if (reason) {
		if (why)
			*why = reason;
		memset(f, 0, sizeof *f);
		return false;
	}
	f->h = h;
	return true;
}

bool ag_index_open(const void *base, size_t size, struct ag_index *ix, const char **why)
{
	memset(ix, 0, sizeof *ix);
	if (!file_open(base, size, &ix->f, why))
		return false;
	if (header_flags(ix->f.h) & AG_INDEX_FLAG_DELTA) {
		if (why)
			*why = "a delta, not an index";
		memset(ix, 0, sizeof *ix);
		return false;
	}
	return true;
}

enum ag_index_status ag_index_attach_delta(struct ag_index *ix, const void *base, size_t size, const char **why)
{
	struct ag_index_file d;

	ix->d = (struct ag_index_file){ 0 };
	if (!ix->f.h)
		return AG_INDEX_NOTFOUND;
	if (!file_open(base, size, &d, why))
		return AG_INDEX_CORRUPT;
	if (!(header_flags(d.h) & AG_INDEX_FLAG_DELTA)) {
		if (why)
			*why = "not a delta";
		return AG_INDEX_CORRUPT;
	}
	if (ix->f.h->version < 3 || d.h->base_generation != ix->f.h->generation)
		return AG_INDEX_NOTFOUND; /* another base's */
	ix->d = d;
	return AG_INDEX_OK;
}

bool ag_index_superseded(const struct ag_index *ix)
{
	const struct ag_index_header *h = ix->f.h;

	/* Written in place by another process: read them as atomics. */
	if (!h)
		return false;
	if (__atomic_load_n(&h->superseded, __ATOMIC_ACQUIRE) != 0)
		return true;
	return h->version >= 3 &&
	       __atomic_load_n(&h->delta_hint, __ATOMIC_ACQUIRE) != (ix->d.h ? (uint32_t)ix->d.h->generation : 0);
}

uint32_t ag_index_n_users(const struct ag_index *ix)
{
	return ix->f.h ? ix->f.h->users.count + (ix->d.h ? ix->d.h->users.count : 0) : 0;
}

uint32_t ag_index_n_groups(const struct ag_index *ix)
{
	return ix->f.h ? ix->f.h->groups.count + (ix->d.h ? ix->d.h->groups.count : 0) : 0;
}

/* A string of the table (always NUL-terminated: the last byte is NUL). */
static const char *str(const struct ag_index_file *f, uint32_t off)
{
	if (off >= f->h->strings.count)
		return NULL;
	return (const char *)f->base + f->h->strings.off + off;
}

static const uint32_t *u32s(const struct ag_index_file *f, const struct ag_index_section *s)
{
	return (const uint32_t *)(const void *)(f->base + s->off);
}

static const struct ag_index_user *user(const struct ag_index_file *f, uint32_t idx)
{
	if (idx >= f->h->users.count)
		return NULL;
	return (const struct ag_index_user *)(const void *)(f->base + f->h->users.off) + idx;
}

static const struct ag_index_group *group(const struct ag_index_file *f, uint32_t idx)
{
	if (idx >= f->h->groups.count)
		return NULL;
	return (const struct ag_index_group *)(const void *)(f->base + f->h->groups.off) + idx;
}

/* Hash table lookup of a user (users) or group by name in one file. */
static enum ag_index_status by_name(const struct ag_index_file *f, bool users, const char *name, uint32_t *idx)
{
	const struct ag_index_section *table = users ? &f->h->user_names : &f->h->group_names;
	uint32_t n = users ? f->h->users.count : f->h->groups.count;
	size_t len = strlen(name);
	uint32_t hash = (uint32_t)ag_fnv1a64(name, len), mask;
	const uint32_t *slots = u32s(f, table);

	if (table->count == 0)
		return AG_INDEX_NOTFOUND;
	mask = table->count - 1;
	for (uint32_t i = 0, slot = hash & mask; i < table->count; i++, slot = (slot + 1) & mask) {
		uint32_t v = slots[slot], rh, rn;
		const char *s;

		if (v == 0)
			return AG_INDEX_NOTFOUND;
		if (v - 1 >= n)
			return AG_INDEX_CORRUPT;
		if (users) {
			const struct ag_index_user *u = user(f, v - 1);
			rh = u->hash;
			rn = u->name;
		} else {
			const struct ag_index_group *g = group(f, v - 1);
			rh = g->hash;
			rn = g->name;
		}
		if (rh != hash)
			continue;
		s = str(f, rn);
		if (!s)
			return AG_INDEX_CORRUPT;
		if (strcmp(s, name) == 0) {
			*idx = v - 1;
			return AG_INDEX_OK;
		}
	}
	return AG_INDEX_NOTFOUND;
}

/* Hash table lookup by the record's ID in one file. */
static enum ag_index_status by_id(const struct ag_index_file *f, bool users, uint32_t id, uint32_t *idx)
{
	const struct ag_index_section *table = users ? &f->h->user_uids : &f->h->group_gids;
	const uint32_t *slots = u32s(f, table);
	uint32_t mask;

	if (table->count == 0)
		return AG_INDEX_NOTFOUND;
	mask = table->count - 1;
	for (uint32_t i = 0, slot = ag_index_id_hash(id) & mask; i < table->count; i++, slot = (slot + 1) & mask) {
		uint32_t v = slots[slot], rec_id;

		if (v == 0)
			return AG_INDEX_NOTFOUND;
		if (users) {
			const struct ag_index_user *u = user(f, v - 1);
			if (!u)
				return AG_INDEX_CORRUPT;
			rec_id = u->uid;
		} else {
			const struct ag_index_group *g = group(f, v - 1);
			if (!g)
				return AG_INDEX_CORRUPT;
			rec_id = g->gid;
		}
		if (rec_id == id) {
			*idx = v - 1;
			return AG_INDEX_OK;
		}
	}
	return AG_INDEX_NOTFOUND;
}

/* The name of record idx of one file (users or groups), or NULL. */
static const char *record_name(const struct ag_index_file *f, bool users, uint32_t idx)
{
	if (users) {
		const struct ag_index_user *u = user(f, idx);
		return u ? str(f, u->name) : NULL;
	} else {
		const struct ag_index_group *g = group(f, idx);
		return g ? str(f, g->name) : NULL;
	}
}

const char *ag_index_delta_group_name(const struct ag_index *ix, uint32_t k)
{
	return ix->d.h ? record_name(&ix->d, false, k) : NULL;
}

/* Whether the delta has a record named name (so the base's is shadowed). */
static enum ag_index_status shadowed(const struct ag_index *ix, bool users, const char *name, bool *yes)
{
	uint32_t i;
	enum ag_index_status st = ix->d.h ? by_name(&ix->d, users, name, &i) : AG_INDEX_NOTFOUND;

	*yes = st == AG_INDEX_OK;
	return st == AG_INDEX_CORRUPT ? st : AG_INDEX_OK;
}

/* The file of record *idx (numbered base first), *idx made local to it. */
static const struct ag_index_file *file_of(const struct ag_index *ix, bool users, uint32_t *idx)
{
	uint32_t nb = users ? ix->f.h->users.count : ix->f.h->groups.count;

	if (*idx < nb)
		return &ix->f;
	if (!ix->d.h)
		return NULL;
	*idx -= nb;
	return &ix->d;
}

/* By name: the delta, then the base. */
static enum ag_index_status lookup_name(const struct ag_index *ix, bool users, const char *name, uint32_t *idx)
{
	enum ag_index_status st = ix->d.h ? by_name(&ix->d, users, name, idx) : AG_INDEX_NOTFOUND;

	if (st == AG_INDEX_OK)
		*idx += users ? ix->f.h->users.count : ix->f.h->groups.count;
	if (st != AG_INDEX_NOTFOUND)
		return st;
	return by_name(&ix->f, users, name, idx);
}

/* By ID: the delta, then the base, where a record the delta shadows (by
 * name, with another ID) does not count. */
static enum ag_index_status lookup_id(const struct ag_index *ix, bool users, uint32_t id, uint32_t *idx)
{
	enum ag_index_status st = ix->d.h ? by_id(&ix->d, users, id, idx) : AG_INDEX_NOTFOUND;
	const char *name;
	bool hidden;

	if (st == AG_INDEX_OK)
		*idx += users ? ix->f.h->users.count : ix->f.h->groups.count;
	if (st != AG_INDEX_NOTFOUND)
		return st;
	st = by_id(&ix->f, users, id, idx);
	if (st != AG_INDEX_OK || !ix->d.h)
		return st;
	if (!(name = record_name(&ix->f, users, *idx)) || shadowed(ix, users, name, &hidden) != AG_INDEX_OK)
		return AG_INDEX_CORRUPT;
	return hidden ? AG_INDEX_NOTFOUND : AG_INDEX_OK;
}

enum ag_index_status ag_index_user_by_name(const struct ag_index *ix, const char *name, uint32_t *idx)
{
	return lookup_name(ix, true, name, idx);
}

enum ag_index_status ag_index_group_by_name(const struct ag_index *ix, const char *name, uint32_t *idx)
{
	return lookup_name(ix, false, name, idx);
}

enum ag_index_status ag_index_user_by_uid(const struct ag_index *ix, uint32_t uid, uint32_t *idx)
{
	return lookup_id(ix, true, uid, idx);
}

enum ag_index_status ag_index_group_by_gid(const struct ag_index *ix, uint32_t gid, uint32_t *idx)
{
	return lookup_id(ix, false, gid, idx);
}

/* Record idx of the users (or groups): its file and local index; NOTFOUND
 * for a base record the delta shadows (enumeration skips it). */
static enum ag_index_status record(const struct ag_index *ix, bool users, uint32_t idx, const struct ag_index_file **f,
				   uint32_t *local)
{
	const char *name;
	bool hidden = false;

	*local = idx;
	if (!(*f = file_of(ix, users, local)))
		return AG_INDEX_CORRUPT;
	if (*f != &ix->f || !ix->d.h)
		return AG_INDEX_OK;
	if (!(name = record_name(*f, users, *local)) || shadowed(ix, users, name, &hidden) != AG_INDEX_OK)
		return AG_INDEX_CORRUPT;
	return hidden ? AG_INDEX_NOTFOUND : AG_INDEX_OK;
}

/* Copies strings into the caller's buffer. */
struct arena {
	char *buf;
	size_t len, used;
};

static char *put(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	if (n > a->len - a->used)
		return NULL;
	p = a->buf + a->used;
	memcpy(p, s, n);
	a->used += n;
	return p;
}

static enum ag_index_status fill_pw(struct passwd *pw, char *buf, size_t len, const char *name, uint32_t uid,
				    uint32_t gid, const char *home, const char *shell)
{
	struct arena a = { buf, len, 0 };

	/* Never serve root's IDs, whatever the file says. */
	if (uid == 0 || gid == 0)
		return AG_INDEX_CORRUPT;
	pw->pw_uid = uid;
	pw->pw_gid = gid;
	/* "*": no password here, and no shadow entry to look for, so pam_unix's
	 * account stack accepts the user (peers.md). */
	if (!(pw->pw_name = put(&a, name)) || !(pw->pw_passwd = put(&a, "*")) || !(pw->pw_gecos = put(&a, "")) ||
	    !(pw->pw_dir = put(&a, home)) || !(pw->pw_shell = put(&a, shell)))
		return AG_INDEX_ERANGE;
	return AG_INDEX_OK;
}

enum ag_index_status ag_index_fill_passwd(const struct ag_index *ix, uint32_t idx, struct passwd *pw, char *buf,
					  size_t len)
{
	const struct ag_index_file *f;
	const struct ag_index_user *u;
	const char *name, *home, *shell;
	enum ag_index_status st = record(ix, true, idx, &f, &idx);

	if (st != AG_INDEX_OK)
		return st;
	u = user(f, idx);
	if (!u || !(name = str(f, u->name)) || !(home = str(f, u->home)) || !(shell = str(f, u->shell)))
		return AG_INDEX_CORRUPT;
	return fill_pw(pw, buf, len, name, u->uid, u->gid, home, shell);
}

/* ids[first .. first + count) inside the pool. */
static const uint32_t *id_range(const struct ag_index_file *f, uint32_t first, uint32_t count)
{
	if ((uint64_t)first + count > f->h->ids.count)
		return NULL;
	return u32s(f, &f->h->ids) + first;
}

/* One file's members of a group (g NULL: none) into mem[*n ..]; skip: the
 * delta, whose users are left out of the base's lists (it lists them). */
static enum ag_index_status put_members(const struct ag_index *ix, const struct ag_index_file *f,
					const struct ag_index_group *g, bool skip_shadowed, struct arena *a, char **mem,
					uint32_t *n)
{
	const uint32_t *members;

	if (!g)
		return AG_INDEX_OK;
	if (!(members = id_range(f, g->members_first, g->members_count)))
		return AG_INDEX_CORRUPT;
	for (uint32_t i = 0; i < g->members_count; i++) {
		const struct ag_index_user *u = user(f, members[i]);
		const char *m;
		bool hidden = false;

		if (!u || !(m = str(f, u->name)))
			return AG_INDEX_CORRUPT;
		if (skip_shadowed && shadowed(ix, true, m, &hidden) != AG_INDEX_OK)
			return AG_INDEX_CORRUPT;
		if (hidden)
			continue;
		if (!(mem[(*n)++] = put(a, m)))
			return AG_INDEX_ERANGE;
	}
	return AG_INDEX_OK;
}

/* The same group (name, same GID) in the other file, or NULL. */
static enum ag_index_status counterpart(const struct ag_index_file *other, const struct ag_index_group *g,
					const char *name, const struct ag_index_group **out)
{
	enum ag_index_status st;
	uint32_t i;

	*out = NULL;
	if (!other->h)
		return AG_INDEX_OK;
	st = by_name(other, false, name, &i);
	if (st == AG_INDEX_CORRUPT)
		return st;
	if (st == AG_INDEX_OK && group(other, i)->gid == g->gid)
		*out = group(other, i);
	return AG_INDEX_OK;
}

enum ag_index_status ag_index_fill_group(const struct ag_index *ix, uint32_t idx, struct group *gr, char *buf,
					 size_t len)
{
	const struct ag_index_file *f;
	const struct ag_index_group *g, *bg, *dg;
	struct arena a = { buf, len, 0 };
	enum ag_index_status st = record(ix, false, idx, &f, &idx);
	uint64_t most;
	uintptr_t mis;
	const char *name;
	uint32_t n = 0;
	char **mem;

	if (st != AG_INDEX_OK)
		return st;
	g = group(f, idx);
	if (!g || g->gid == 0 || !(name = str(f, g->name)))
		return AG_INDEX_CORRUPT;
	/* Members: the base's, less the users the delta has, and the delta's. */
	bg = f == &ix->f ? g : NULL;
	dg = f == &ix->d ? g : NULL;
	st = f == &ix->f ? counterpart(&ix->d, g, name, &dg) : counterpart(&ix->f, g, name, &bg);
	if (st != AG_INDEX_OK)
		return st;
	most = (uint64_t)(bg ? bg->members_count : 0) + (dg ? dg->members_count : 0);
	/* The gr_mem pointer array first, aligned, then the strings. */
	mis = (uintptr_t)buf % alignof(char *);
	a.used = mis ? alignof(char *) - mis : 0;
	if (a.used > len || (most + 1) * sizeof(char *) > len - a.used)
		return AG_INDEX_ERANGE;
	mem = (char **)(void *)(buf + a.used);
	a.used += ((size_t)most + 1) * sizeof(char *);
	gr->gr_gid = g->gid;
	if (!(gr->gr_name = put(&a, name)) || !(gr->gr_passwd = put(&a, "*")))
		return AG_INDEX_ERANGE;
	if ((st = put_members(ix, &ix->f, bg, ix->d.h != NULL, &a, mem, &n)) != AG_INDEX_OK ||
	    (st = put_members(ix, &ix->d, dg, false, &a, mem, &n)) != AG_INDEX_OK)
		return st;
	mem[n] = NULL;
	gr->gr_mem = mem;
	return AG_INDEX_OK;
}

enum ag_index_status ag_index_group_local(const struct ag_index *ix, uint32_t idx, bool *local)
{
	const struct ag_index_file *f;
	const struct ag_index_group *g;
	enum ag_index_status st = record(ix, false, idx, &f, &idx);

	if (st != AG_INDEX_OK)
		return st;
	if (!(g = group(f, idx)))
		return AG_INDEX_CORRUPT;
	*local = (g->flags & AG_INDEX_GROUP_LOCAL) != 0;
	return AG_INDEX_OK;
}

enum ag_index_status ag_index_group_gid(const struct ag_index *ix, uint32_t idx, uint32_t *gid)
{
	const struct ag_index_file *f;
	const struct ag_index_group *g;
	enum ag_index_status st = record(ix, false, idx, &f, &idx);

	if (st != AG_INDEX_OK)
		return st;
	if (!(g = group(f, idx)) || g->gid == 0)
		return AG_INDEX_CORRUPT;
	*gid = g->gid;
	return AG_INDEX_OK;
}

enum ag_index_status ag_index_user_gids(const struct ag_index *ix, uint32_t idx, const uint32_t **gids, uint32_t *n)
{
	const struct ag_index_file *f;
	const struct ag_index_user *u;
	const uint32_t *g;
	enum ag_index_status st = record(ix, true, idx, &f, &idx);

	if (st != AG_INDEX_OK)
		return st;
	if (!(u = user(f, idx)) || !(g = id_range(f, u->gids_first, u->gids_count)))
		return AG_INDEX_CORRUPT;
	for (uint32_t i = 0; i < u->gids_count; i++)
		if (g[i] == 0)
			return AG_INDEX_CORRUPT;
	*gids = g;
	*n = u->gids_count;
	return AG_INDEX_OK;
}

static const struct ag_index_pin *pins(const struct ag_index_file *f)
{
	return (const struct ag_index_pin *)(const void *)(f->base + f->h->pins.off);
}

static const char *pin_name(const void *f, size_t i)
{
	return str(f, pins(f)[i].name);
}

static enum ag_index_status pinned_uid(const struct ag_index *ix, const char *name, uint32_t *uid)
{
	long pos = ag_name_search(ix->f.h->pins.count, name, pin_name, &ix->f);

	if (pos == -2)
		return AG_INDEX_CORRUPT;
	if (pos < 0)
		return AG_INDEX_NOTFOUND;
	*uid = pins(&ix->f)[pos].uid;
	return AG_INDEX_OK;
}

/* The provisional UID of name, and the templates; NOTFOUND unless the index
 * gives name a provisional entry: valid, allowed, not root, not bound. The
 * one rule for lookups by name, by UID and by GID. */
struct provisional {
	uint32_t uid, gid;
	const char *home_tmpl, *shell;
};

/* by_pattern: whether a name only a pattern of the allow-list matches
 * counts (the NSS module answers those only to sshd); a name listed by
 * itself or pinned always does. */
static enum ag_index_status provisional_of(const struct ag_index *ix, const char *name, bool by_pattern,
					   struct provisional *p)
{
	const struct ag_index_header *h = ix->f.h;
	struct ag_id_range range = { h->uid_min, h->uid_max };
	enum ag_index_status st;
	const char *allow;
	uint32_t idx;

	if (h->allow == AG_INDEX_NONE || h->home == AG_INDEX_NONE || h->shell == AG_INDEX_NONE)
		return AG_INDEX_NOTFOUND;
	allow = str(&ix->f, h->allow);
	p->home_tmpl = str(&ix->f, h->home);
	p->shell = str(&ix->f, h->shell);
	if (!allow || !p->home_tmpl || !p->shell || range.min < AG_UID_MIN_ALLOWED || range.min >= range.max)
		return AG_INDEX_CORRUPT;
	if (!ag_name_valid(name) || strcmp(name, "root") == 0 || !ag_name_allowed(allow, name))
		return AG_INDEX_NOTFOUND;
	st = ag_index_user_by_name(ix, name, &idx);
	if (st != AG_INDEX_NOTFOUND)
		return st == AG_INDEX_OK ? AG_INDEX_NOTFOUND : st; /* bound: the real entry answers */
	st = pinned_uid(ix, name, &p->uid);
	if (st == AG_INDEX_CORRUPT)
		return st;
	if (!by_pattern && st == AG_INDEX_NOTFOUND && !ag_name_listed(allow, name))
		return AG_INDEX_NOTFOUND;
	if (st == AG_INDEX_NOTFOUND)
		p->uid = ag_id_first(AG_ID_USER, name, &range);
	p->gid = h->primary_gid ? h->primary_gid : p->uid;
	return AG_INDEX_OK;
}

bool ag_index_names(const struct ag_index *ix, const char *name)
{
	const char *allow = ix->f.h->allow == AG_INDEX_NONE ? NULL : str(&ix->f, ix->f.h->allow);
	uint32_t idx, uid;

	if (!ag_name_valid(name))
		return false;
	return ag_index_user_by_name(ix, name, &idx) == AG_INDEX_OK || pinned_uid(ix, name, &uid) == AG_INDEX_OK ||
	       (allow && ag_name_listed(allow, name));
}

static enum ag_index_status fill_provisional(const struct provisional *p, const char *name, struct passwd *pw,
					     char *buf, size_t len)
{
	char home[4096];

	if (!ag_name_expand(p->home_tmpl, name, home, sizeof home))
		return AG_INDEX_CORRUPT;
	return fill_pw(pw, buf, len, name, p->uid, p->gid, home, p->shell);
}

enum ag_index_status ag_index_provisional_for(const struct ag_index *ix, const char *name, bool by_pattern,
					      struct passwd *pw, char *buf, size_t len)
{
	struct provisional p;
	enum ag_index_status st = provisional_of(ix, name, by_pattern, &p);

	return st == AG_INDEX_OK ? fill_provisional(&p, name, pw, buf, len) : st;
}

enum ag_index_status ag_index_provisional(const struct ag_index *ix, const char *name, struct passwd *pw, char *buf,
					  size_t len)
{
	return ag_index_provisional_for(ix, name, true, pw, buf, len);
}

/* The name whose provisional UID is uid: the pinned names and the plain
 * names of the allow-list (a pattern names nobody in particular, so a UID
 * cannot lead back to it). *name is copied into namebuf. */
static enum ag_index_status provisional_name_by_uid(const struct ag_index *ix, uint32_t uid, char *namebuf,
						    size_t namelen, struct provisional *p)
{
	const struct ag_index_pin *pins = (const struct ag_index_pin *)(const void *)(ix->f.base + ix->f.h->pins.off);
	const char *allow, *cur, *item;
	enum ag_index_status st;
	size_t n;

	for (uint32_t i = 0; i < ix->f.h->pins.count; i++) {
		const char *s = str(&ix->f, pins[i].name);

		if (!s)
			return AG_INDEX_CORRUPT;
		if (pins[i].uid != uid || strlen(s) >= namelen)
			continue;
		st = provisional_of(ix, s, false, p);
		if (st == AG_INDEX_CORRUPT)
			return st;
		if (st == AG_INDEX_OK && p->uid == uid) {
			memcpy(namebuf, s, strlen(s) + 1);
			return AG_INDEX_OK;
		}
	}
	if (ix->f.h->allow == AG_INDEX_NONE || !(allow = str(&ix->f, ix->f.h->allow)))
		return ix->f.h->allow == AG_INDEX_NONE ? AG_INDEX_NOTFOUND : AG_INDEX_CORRUPT;
	cur = allow;
	while ((item = ag_list_next(&cur, &n))) {
		if (n >= namelen || memchr(item, '*', n) || memchr(item, '?', n) || memchr(item, '[', n))
			continue;
		memcpy(namebuf, item, n);
		namebuf[n] = '\0';
		st = provisional_of(ix, namebuf, false, p);
		if (st == AG_INDEX_CORRUPT)
			return st;
		if (st == AG_INDEX_OK && p->uid == uid)
			return AG_INDEX_OK;
	}
	return AG_INDEX_NOTFOUND;
}

enum ag_index_status ag_index_provisional_by_uid(const struct ag_index *ix, uint32_t uid, struct passwd *pw, char *buf,
						 size_t len)
{
	char name[AG_NAME_MAX + 1];
	struct provisional p;
	enum ag_index_status st = provisional_name_by_uid(ix, uid, name, sizeof name, &p);

	return st == AG_INDEX_OK ? fill_provisional(&p, name, pw, buf, len) : st;
}

/* A user-private group with no members. */
static enum ag_index_status fill_private_group(struct group *gr, char *buf, size_t len, const char *name, uint32_t gid)
{
	uintptr_t mis = (uintptr_t)buf % alignof(char *);
	struct arena a = { buf, len, mis ? alignof(char *) - mis : 0 };
	char **mem;

	if (a.used > len || sizeof(char *) > len - a.used)
		return AG_INDEX_ERANGE;
	mem = (char **)(void *)(buf + a.used);
	a.used += sizeof(char *);
	mem[0] = NULL;
	gr->gr_gid = gid;
	gr->gr_mem = mem;
	if (!(gr->gr_name = put(&a, name)) || !(gr->gr_passwd = put(&a, "*")))
		return AG_INDEX_ERANGE;
	return AG_INDEX_OK;
}

enum ag_index_status ag_index_provisional_group(const struct ag_index *ix, const char *name, struct group *gr,
						char *buf, size_t len)
{
	struct provisional p;
	enum ag_index_status st;

	if (ix->f.h->primary_gid) /* a shared primary group: no private ones */
		return AG_INDEX_NOTFOUND;
	st = provisional_of(ix, name, false, &p); /* as by UID: named ones only */
	return st == AG_INDEX_OK ? fill_private_group(gr, buf, len, name, p.gid) : st;
}

enum ag_index_status ag_index_provisional_group_by_gid(const struct ag_index *ix, uint32_t gid, struct group *gr,
						       char *buf, size_t len)
{
	char name[AG_NAME_MAX + 1];
	struct provisional p;
	enum ag_index_status st;

	if (ix->f.h->primary_gid)
		return AG_INDEX_NOTFOUND;
	st = provisional_name_by_uid(ix, gid, name, sizeof name, &p);
	return st == AG_INDEX_OK ? fill_private_group(gr, buf, len, name, p.gid) : st;
}
