/* Writing the NSS index (see index_write.h and the format in index.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts/index_write.h"
#include "base/file.h"
#include "common/index.h"
#include "common/names.h"

#define DROPPED UINT32_MAX

/* Strings, each stored once. */
struct strtab {
	char *buf;
	size_t len, cap;
	uint32_t *slots; /* offset + 1, 0 = empty */
	size_t n_slots, n_used;
};

static enum ag_err strtab_grow_slots(struct strtab *t)
{
	size_t n = t->n_slots ? t->n_slots * 2 : 1024;
	uint32_t *slots = calloc(n, sizeof *slots);

	if (!slots)
		return AG_ERR_NOMEM;
	for (size_t i = 0; i < t->n_slots; i++) {
		uint32_t v = t->slots[i];
		const char *s;
		size_t j;

		if (!v)
			continue;
		s = t->buf + v - 1;
		for (j = ag_fnv1a64(s, strlen(s)) & (n - 1); slots[j]; j = (j + 1) & (n - 1))
			;
		slots[j] = v;
	}
	free(t->slots);
	t->slots = slots;
	t->n_slots = n;
	return AG_OK;
}

static enum ag_err strtab_add(struct strtab *t, const char *s, uint32_t *off)
{
	size_t n = strlen(s) + 1, j;

	if (t->n_used * 2 >= t->n_slots && strtab_grow_slots(t) != AG_OK)
		return AG_ERR_NOMEM;
	for (j = ag_fnv1a64(s, n - 1) & (t->n_slots - 1); t->slots[j]; j = (j + 1) & (t->n_slots - 1))
		if (strcmp(t->buf + t->slots[j] - 1, s) == 0) {
			*off = t->slots[j] - 1;
			return AG_OK;
		}
	if (t->len + n > AG_INDEX_SIZE_MAX)
		return AG_ERR_TOO_LARGE;
	if (t->len + n > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *buf;

		while (cap < t->len + n)
			cap *= 2;
		buf = realloc(t->buf, cap);
		if (!buf)
			return AG_ERR_NOMEM;
		t->buf = buf;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, s, n);
	*off = (uint32_t)t->len;
	t->slots[j] = (uint32_t)t->len + 1;
	t->n_used++;
	t->len += n;
	return AG_OK;
}

static void strtab_free(struct strtab *t)
{
	free(t->buf);
	free(t->slots);
}

/* qsort_r comparators over the input arrays. */
static int cmp_user_name(const void *a, const void *b, void *ctx)
{
	const struct ag_index_in_user *u = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	int c = strcmp(u[i].name, u[j].name);

	return c ? c : (i > j) - (i < j);
}

static int cmp_group_name(const void *a, const void *b, void *ctx)
{
	const struct ag_index_in_group *g = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	int c = strcmp(g[i].name, g[j].name);

	return c ? c : (i > j) - (i < j);
}

static int cmp_pin_name(const void *a, const void *b, void *ctx)
{
	const struct ag_index_in_pin *p = ctx;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	int c = strcmp(p[i].name, p[j].name);

	return c ? c : (i > j) - (i < j);
}

static int cmp_out_uid(const void *a, const void *b, void *ctx)
{
	const struct ag_index_user *u = ctx;
	uint32_t x = u[*(const uint32_t *)a].uid, y = u[*(const uint32_t *)b].uid;

	return (x > y) - (x < y);
}

static int cmp_out_gid(const void *a, const void *b, void *ctx)
{
	const struct ag_index_group *g = ctx;
	uint32_t x = g[*(const uint32_t *)a].gid, y = g[*(const uint32_t *)b].gid;

	return (x > y) - (x < y);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static uint32_t table_size(uint32_t n)
{
	uint32_t size = 1;

	if (n == 0)
		return 0;
	while (size < 2 * (uint64_t)n)
		size *= 2;
	return size;
}

static void table_insert(uint32_t *slots, uint32_t size, uint32_t hash, uint32_t idx)
{
	uint32_t j;

	for (j = hash & (size - 1); slots[j]; j = (j + 1) & (size - 1))
		;
	slots[j] = idx + 1;
}

static uint32_t *seq(size_t n)
{
	uint32_t *a = malloc((n ? n : 1) * sizeof *a);

	for (size_t i = 0; a && i < n; i++)
		a[i] = (uint32_t)i;
	return a;
}

static uint32_t user_id(const void *users, uint32_t i)
{
	return ((const struct ag_index_user *)users)[i].uid;
}

static uint32_t group_id(const void *groups, uint32_t i)
{
	return ((const struct ag_index_group *)groups)[i].gid;
}

/* No two of the n entries carry the same ID (what: "UID"/"GID", of whom:
 * "users"/"groups"); cmp orders entry indices by ID. */
static enum ag_err unique_ids(const void *entries, size_t n, int (*cmp)(const void *, const void *, void *),
			      uint32_t (*id)(const void *, uint32_t), const char *what, const char *whom,
			      const struct ag_log *log)
{
	uint32_t *order = seq(n);
	enum ag_err err = AG_OK;

	if (!order)
		return AG_ERR_NOMEM;
	qsort_r(order, n, sizeof *order, cmp, (void *)entries);
	for (size_t k = 1; k < n && err == AG_OK; k++)
		if (id(entries, order[k]) == id(entries, order[k - 1])) {
			ag_log(log, LOG_ERR, "index: %s %u is given to two %s; not writing the index", what,
			       id(entries, order[k]), whom);
			err = AG_ERR_INVALID_ARG;
		}
	free(order);
	return err;
}

/* Everything the builder allocates, freed in one place. */
struct build {
	struct strtab st;
	uint32_t *u_order, *u_map, *g_order, *p_order;
	struct ag_index_user *users;
	struct ag_index_group *groups;
	struct ag_index_pin *pins;
	uint32_t *ids, *u_gid_count, *g_members;
	size_t n_users, n_groups, n_pins, n_ids, n_members;
};

static void build_free(struct build *b)
{
	strtab_free(&b->st);
	free(b->u_order);
	free(b->u_map);
	free(b->g_order);
	free(b->p_order);
	free(b->users);
	free(b->groups);
	free(b->pins);
	free(b->ids);
	free(b->u_gid_count);
	free(b->g_members);
}

static bool valid_entry_name(const char *name)
{
	return ag_name_valid(name) && strcmp(name, "root") != 0;
}

/* Users: valid, sorted by name, unique names and UIDs. */
static enum ag_err build_users(struct build *b, const struct ag_index_input *in, const struct ag_log *log)
{
	enum ag_err err;

	b->u_order = seq(in->n_users);
	b->u_map = malloc((in->n_users ? in->n_users : 1) * sizeof *b->u_map);
	b->users = calloc(in->n_users ? in->n_users : 1, sizeof *b->users);
	if (!b->u_order || !b->u_map || !b->users)
		return AG_ERR_NOMEM;
	qsort_r(b->u_order, in->n_users, sizeof *b->u_order, cmp_user_name, (void *)in->users);
	for (size_t i = 0; i < in->n_users; i++)
		b->u_map[i] = DROPPED;
	for (size_t k = 0; k < in->n_users; k++) {
		uint32_t i = b->u_order[k];
		const struct ag_index_in_user *u = &in->users[i];
		struct ag_index_user *o = &b->users[b->n_users];

		if (!valid_entry_name(u->name) || u->uid == 0 || u->gid == 0 || !u->home || !u->shell) {
			ag_log(log, LOG_ERR, "index: user '%.40s' left out: invalid name or IDs", u->name);
			continue;
		}
		if (b->n_users && strcmp(in->users[b->u_order[k - 1]].name, u->name) == 0) {
			ag_log(log, LOG_ERR, "index: user %s listed twice; the second is left out", u->name);
			continue;
		}
		o->uid = u->uid;
		o->gid = u->gid;
		o->hash = (uint32_t)ag_fnv1a64(u->name, strlen(u->name));
		if ((err = strtab_add(&b->st, u->name, &o->name)) != AG_OK ||
		    (err = strtab_add(&b->st, u->home, &o->home)) != AG_OK ||
		    (err = strtab_add(&b->st, u->shell, &o->shell)) != AG_OK)
			return err;
		b->u_map[i] = (uint32_t)b->n_users++;
	}
	/* UIDs must be unique */
	return unique_ids(b->users, b->n_users, cmp_out_uid, user_id, "UID", "users", log);
}

/* Groups: valid, sorted by name, unique names and GIDs; members mapped to
 * the output user indices. */
static enum ag_err build_groups(struct build *b, const struct ag_index_input *in, const struct ag_log *log)
{
	size_t total = 0;
	enum ag_err err;

	for (size_t i = 0; i < in->n_groups; i++)
		total += in->groups[i].n_members;
	b->g_order = seq(in->n_groups);
	b->groups = calloc(in->n_groups ? in->n_groups : 1, sizeof *b->groups);
	b->g_members = malloc((total ? total : 1) * sizeof *b->g_members);
	if (!b->g_order || !b->groups || !b->g_members)
		return AG_ERR_NOMEM;
	qsort_r(b->g_order, in->n_groups, sizeof *b->g_order, cmp_group_name, (void *)in->groups);
	for (size_t k = 0; k < in->n_groups; k++) {
		const struct ag_index_in_group *g = &in->groups[b->g_order[k]];
		struct ag_index_group *o = &b->groups[b->n_groups];
		size_t first = b->n_members;

		if (!valid_entry_name(g->name) || g->gid == 0) {
			ag_log(log, LOG_ERR, "index: group '%.40s' left out: invalid name or GID", g->name);
			continue;
		}
		if (b->n_groups && strcmp(in->groups[b->g_order[k - 1]].name, g->name) == 0) {
			ag_log(log, LOG_ERR, "index: group %s listed twice; the second is left out", g->name);
			continue;
		}
		for (size_t m = 0; m < g->n_members; m++)
			if (g->members[m] < in->n_users && b->u_map[g->members[m]] != DROPPED)
				b->g_members[b->n_members++] = b->u_map[g->members[m]];
		/* members in user order, each once */
		qsort(b->g_members + first, b->n_members - first, sizeof *b->g_members, cmp_u32);
		size_t w = first;
		for (size_t m = first; m < b->n_members; m++)
			if (m == first || b->g_members[m] != b->g_members[w - 1])
				b->g_members[w++] = b->g_members[m];
		b->n_members = w;
		o->gid = g->gid;
		o->flags = g->local ? AG_INDEX_GROUP_LOCAL : 0;
		o->hash = (uint32_t)ag_fnv1a64(g->name, strlen(g->name));
		o->members_first = (uint32_t)first; /* relative; rebased in layout */
		o->members_count = (uint32_t)(b->n_members - first);
		if ((err = strtab_add(&b->st, g->name, &o->name)) != AG_OK)
			return err;
		b->n_groups++;
	}
	return unique_ids(b->groups, b->n_groups, cmp_out_gid, group_id, "GID", "groups", log);
}

/* Each user's supplementary GIDs, from the groups' members. */
static enum ag_err build_user_gids(struct build *b)
{
	uint32_t *next;

	b->u_gid_count = calloc(b->n_users ? b->n_users : 1, sizeof *b->u_gid_count);
	b->ids = malloc((b->n_members ? b->n_members : 1) * sizeof *b->ids);
	next = calloc(b->n_users ? b->n_users : 1, sizeof *next);
	if (!b->u_gid_count || !b->ids || !next) {
		free(next);
		return AG_ERR_NOMEM;
	}
	for (size_t m = 0; m < b->n_members; m++)
		b->u_gid_count[b->g_members[m]]++;
	for (size_t u = 0, pos = 0; u < b->n_users; u++) {
		b->users[u].gids_first = (uint32_t)pos;
		b->users[u].gids_count = b->u_gid_count[u];
		next[u] = (uint32_t)pos;
		pos += b->u_gid_count[u];
	}
	for (size_t g = 0; g < b->n_groups; g++)
		for (uint32_t m = 0; m < b->groups[g].members_count; m++) {
			uint32_t u = b->g_members[b->groups[g].members_first + m];
			b->ids[next[u]++] = b->groups[g].gid;
		}
	free(next);
	b->n_ids = b->n_members;
	return AG_OK;
}

static enum ag_err build_pins(struct build *b, const struct ag_index_input *in)
{
	enum ag_err err;

	b->p_order = seq(in->n_pins);
	b->pins = calloc(in->n_pins ? in->n_pins : 1, sizeof *b->pins);
	if (!b->p_order || !b->pins)
		return AG_ERR_NOMEM;
	qsort_r(b->p_order, in->n_pins, sizeof *b->p_order, cmp_pin_name, (void *)in->pins);
	for (size_t k = 0; k < in->n_pins; k++) {
		const struct ag_index_in_pin *p = &in->pins[b->p_order[k]];

		if (!valid_entry_name(p->name) || ag_id_reserved(p->uid))
			continue;
		if (b->n_pins && strcmp(in->pins[b->p_order[k - 1]].name, p->name) == 0)
			continue;
		b->pins[b->n_pins].uid = p->uid;
		if ((err = strtab_add(&b->st, p->name, &b->pins[b->n_pins].name)) != AG_OK)
			return err;
		b->n_pins++;
	}
	return AG_OK;
}

static uint32_t place(uint64_t *pos, size_t count, size_t elem)
{
	uint32_t off = (uint32_t)*pos;

	*pos += (uint64_t)count * elem;
	*pos = (*pos + 7) & ~(uint64_t)7;
	return off;
}

/* The header's fixed fields, and its strings added to the table. */
static enum ag_err header_start(struct build *b, const struct ag_index_input *in, const struct ag_index *base,
				struct ag_index_header *h)
{
	enum ag_err err = AG_OK;

	if (base) {
		h->flags = AG_INDEX_FLAG_DELTA;
		h->base_generation = base->f.h->generation;
	}
	memcpy(h->magic, AG_INDEX_MAGIC, sizeof h->magic);
	h->version = AG_INDEX_VERSION;
	h->byte_order = AG_INDEX_BYTE_ORDER;
	h->header_size = sizeof *h;
	h->uid_min = in->range.min;
	h->uid_max = in->range.max;
	h->primary_gid = in->primary_gid;
	h->generation = in->generation;
	h->allow = h->home = h->shell = AG_INDEX_NONE;
	if ((in->allow && (err = strtab_add(&b->st, in->allow, &h->allow)) != AG_OK) ||
	    (in->home_template && (err = strtab_add(&b->st, in->home_template, &h->home)) != AG_OK) ||
	    (in->shell && (err = strtab_add(&b->st, in->shell, &h->shell)) != AG_OK) ||
	    (err = strtab_add(&b->st, "", &(uint32_t){ 0 })) != AG_OK) /* never an empty table */
		return err;
	return AG_OK;
}

/* Where each section goes; the file's size. */
static uint64_t layout(const struct build *b, struct ag_index_header *h)
{
	uint64_t pos = sizeof *h;

	h->users = (struct ag_index_section){ place(&pos, b->n_users, sizeof *b->users), (uint32_t)b->n_users };
	h->user_names.count = table_size((uint32_t)b->n_users);
	h->user_names.off = place(&pos, h->user_names.count, 4);
	h->user_uids.count = table_size((uint32_t)b->n_users);
	h->user_uids.off = place(&pos, h->user_uids.count, 4);
	h->groups = (struct ag_index_section){ place(&pos, b->n_groups, sizeof *b->groups), (uint32_t)b->n_groups };
	h->group_names.count = table_size((uint32_t)b->n_groups);
	h->group_names.off = place(&pos, h->group_names.count, 4);
	h->group_gids.count = table_size((uint32_t)b->n_groups);
	h->group_gids.off = place(&pos, h->group_gids.count, 4);
	h->ids = (struct ag_index_section){ place(&pos, b->n_ids + b->n_members, 4),
					    (uint32_t)(b->n_ids + b->n_members) };
	h->pins = (struct ag_index_section){ place(&pos, b->n_pins, sizeof *b->pins), (uint32_t)b->n_pins };
	h->strings = (struct ag_index_section){ place(&pos, b->st.len, 1), (uint32_t)b->st.len };
	return pos;
}

/* The sections and the hash tables into file (zeroed, h->file_size bytes). */
static void write_sections(struct build *b, const struct ag_index_header *h, unsigned char *file)
{
	uint32_t *slots;

	/* Group members follow the users' GID lists in the pool. */
	for (size_t g = 0; g < b->n_groups; g++)
		b->groups[g].members_first += (uint32_t)b->n_ids;
	memcpy(file + h->users.off, b->users, b->n_users * sizeof *b->users);
	memcpy(file + h->groups.off, b->groups, b->n_groups * sizeof *b->groups);
	memcpy(file + h->ids.off, b->ids, b->n_ids * 4);
	memcpy(file + h->ids.off + b->n_ids * 4, b->g_members, b->n_members * 4);
	memcpy(file + h->pins.off, b->pins, b->n_pins * sizeof *b->pins);
	memcpy(file + h->strings.off, b->st.buf, b->st.len);
	slots = (uint32_t *)(void *)(file + h->user_names.off);
	for (size_t u = 0; u < b->n_users; u++)
		table_insert(slots, h->user_names.count, b->users[u].hash, (uint32_t)u);
	slots = (uint32_t *)(void *)(file + h->group_names.off);
	for (size_t g = 0; g < b->n_groups; g++)
		table_insert(slots, h->group_names.count, b->groups[g].hash, (uint32_t)g);
	slots = (uint32_t *)(void *)(file + h->user_uids.off);
	for (size_t u = 0; u < b->n_users; u++)
		table_insert(slots, h->user_uids.count, ag_index_id_hash(b->users[u].uid), (uint32_t)u);
	slots = (uint32_t *)(void *)(file + h->group_gids.off);
	for (size_t g = 0; g < b->n_groups; g++)
		table_insert(slots, h->group_gids.count, ag_index_id_hash(b->groups[g].gid), (uint32_t)g);
	memcpy(file, h, sizeof *h);
}

/* A full index, or (base set) a delta of base. */
static enum ag_err build_file(const struct ag_index_input *in, const struct ag_index *base, const struct ag_log *log,
			      void **out, size_t *len)
{
	struct build b = { 0 };
	struct ag_index_header h = { 0 };
	uint64_t pos;
	unsigned char *file = NULL;
	enum ag_err err;

	*out = NULL;
	*len = 0;
	if ((err = build_users(&b, in, log)) != AG_OK || (err = build_groups(&b, in, log)) != AG_OK ||
	    (err = build_user_gids(&b)) != AG_OK || (err = build_pins(&b, in)) != AG_OK ||
	    (err = header_start(&b, in, base, &h)) != AG_OK)
		goto out;
	pos = layout(&b, &h);
	if (pos > AG_INDEX_SIZE_MAX) {
		ag_log(log, LOG_ERR, "index: %llu bytes is over the limit", (unsigned long long)pos);
		err = AG_ERR_TOO_LARGE;
		goto out;
	}
	h.file_size = pos;
	file = calloc(1, (size_t)pos);
	if (!file) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	write_sections(&b, &h, file);
	*out = file;
	*len = (size_t)pos;
	file = NULL;
out:
	free(file);
	build_free(&b);
	return err;
}

enum ag_err ag_index_build(const struct ag_index_input *in, const struct ag_log *log, void **out, size_t *len)
{
	return build_file(in, NULL, log, out, len);
}

bool ag_index_delta_room(const struct ag_index *base, size_t n_users)
{
	return n_users <= AG_INDEX_DELTA_MAX && n_users <= base->f.h->users.count / 8 + AG_INDEX_DELTA_SLACK;
}

/* Whether the base has record name under id, or neither: by_name and by_id
 * find the same record or none. */
static bool base_agrees(const struct ag_index *base, bool users, const char *name, uint32_t id)
{
	enum ag_index_status a, b;
	uint32_t i = 0, j = 0, have = 0;

	a = users ? ag_index_user_by_name(base, name, &i) : ag_index_group_by_name(base, name, &i);
	b = users ? ag_index_user_by_uid(base, id, &j) : ag_index_group_by_gid(base, id, &j);
	if (a == AG_INDEX_NOTFOUND && b == AG_INDEX_NOTFOUND)
		return true;
	if (a != AG_INDEX_OK || b != AG_INDEX_OK || i != j)
		return false;
	if (users) {
		struct passwd pw;
		char buf[4096];

		return ag_index_fill_passwd(base, i, &pw, buf, sizeof buf) == AG_INDEX_OK && pw.pw_uid == id;
	}
	return ag_index_group_gid(base, i, &have) == AG_INDEX_OK && have == id;
}

enum ag_err ag_index_build_delta(const struct ag_index_input *in, const struct ag_index *installed,
				 const struct ag_log *log, void **out, size_t *len)
{
	const struct ag_index_header *h = installed->f.h;
	struct ag_index base = { installed->f, { 0 } }; /* the base alone */
	struct ag_index_input delta = *in;
	bool local;
	uint32_t i;

	*out = NULL;
	*len = 0;
	if (!h || h->version < 3 || h->primary_gid != in->primary_gid || h->uid_min != in->range.min ||
	    h->uid_max != in->range.max)
		return AG_ERR_UNSUPPORTED;
	for (size_t k = 0; k < in->n_users; k++)
		if (!base_agrees(&base, true, in->users[k].name, in->users[k].uid))
			return AG_ERR_UNSUPPORTED;
	for (size_t k = 0; k < in->n_groups; k++) {
		const struct ag_index_in_group *g = &in->groups[k];

		if (!base_agrees(&base, false, g->name, g->gid))
			return AG_ERR_UNSUPPORTED;
		if (ag_index_group_by_name(&base, g->name, &i) == AG_INDEX_OK &&
		    (ag_index_group_local(&base, i, &local) != AG_INDEX_OK || local != g->local))
			return AG_ERR_UNSUPPORTED;
	}
	/* A group of the installed delta that the new one lacks (its last
	 * member here left it) would vanish, GID and all, if only the delta
	 * had it: a full rebuild keeps it, as it keeps every store group. */
	for (uint32_t k = 0; installed->d.h && k < installed->d.h->groups.count; k++) {
		const char *name = ag_index_delta_group_name(installed, k);
		size_t j = 0;

		while (name && j < in->n_groups && strcmp(in->groups[j].name, name) != 0)
			j++;
		if (!name || j == in->n_groups)
			return AG_ERR_UNSUPPORTED;
	}
	delta.pins = NULL;
	delta.n_pins = 0;
	return build_file(&delta, &base, log, out, len);
}

/* Write one 32-bit header field of the installed index in place (readers
 * load it as an atomic): only into a root-owned regular file that is an
 * index of this byte order, and of this version when current_only (the
 * field is new in it). A failure only costs readers up to a second: they
 * also stat the paths. */
static void poke_header(const char *dir, size_t offset, uint32_t value, bool current_only, const struct ag_log *log)
{
	char path[PATH_MAX];
	struct ag_index_header h;
	struct stat st;
	int fd;

	if (snprintf(path, sizeof path, "%s/%s", dir, AG_INDEX_FILE) >= (int)sizeof path)
		return;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	    pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && memcmp(h.magic, AG_INDEX_MAGIC, sizeof h.magic) == 0 &&
	    h.byte_order == AG_INDEX_BYTE_ORDER &&
	    (!current_only || (h.version == AG_INDEX_VERSION && h.header_size == sizeof h)) &&
	    pwrite(fd, &value, sizeof value, (off_t)offset) != (ssize_t)sizeof value)
		ag_log(log, LOG_WARNING, "index: cannot update %s: %s", path, strerror(errno));
	close(fd);
}

/* Tell readers that mapped the current file to map the new one. */
static void mark_superseded(const char *dir, const struct ag_log *log)
{
	poke_header(dir, offsetof(struct ag_index_header, superseded), 1, false, log);
}

enum ag_err ag_index_install(const char *dir, const void *data, size_t len, const struct ag_log *log)
{
	char delta[PATH_MAX];
	enum ag_err err;

	mark_superseded(dir, log);
	err = ag_file_write_atomic(dir, AG_INDEX_FILE, data, len, 0644, log);
	if (err == AG_OK && snprintf(delta, sizeof delta, "%s/" AG_INDEX_DELTA_FILE, dir) < (int)sizeof delta)
		unlink(delta); /* another index's */
	return err;
}

#define PENDING_FILE "." AG_INDEX_FILE ".new"
#define PENDING_DELTA "." AG_INDEX_DELTA_FILE ".new"

static void fsync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

#define WRITE_PIECE (64 * 1024)

enum ag_err ag_index_prepare(const char *dir, const void *data, size_t len, bool delta, const struct ag_log *log,
			     struct ag_index_pending *p)
{
	char path[PATH_MAX];
	const char *c = data;
	size_t left = len;
	int fd;

	p->ready = false;
	p->delta = delta;
	if (snprintf(p->dir, sizeof p->dir, "%s", dir) >= (int)sizeof p->dir ||
	    snprintf(path, sizeof path, "%s/%s", dir, delta ? PENDING_DELTA : PENDING_FILE) >= (int)sizeof path)
		return AG_ERR_INVALID_ARG;
	/* A file a crashed writer left is simply replaced. */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || ag_file_own_by_root(fd) != 0) {
		ag_log(log, LOG_ERR, "index: cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return AG_ERR_IO;
	}
	while (left) {
		/* In pieces: one write of a 12 MB index made 2 MB page-cache
		 * folios, and a process that maps the index and reads three
		 * entries then had most of the file in its RSS. */
		ssize_t n = write(fd, c, left < WRITE_PIECE ? left : WRITE_PIECE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		c += n;
		left -= (size_t)n;
	}
	if (left || fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		int e = errno ? errno : ENOSPC;
		ag_log(log, LOG_ERR, "index: cannot write %s: %s%s", path, strerror(e),
		       e == ENOSPC ? " (disk full)" : "");
		close(fd);
		unlink(path);
		return AG_ERR_IO;
	}
	if (close(fd) != 0) {
		ag_log(log, LOG_ERR, "index: cannot write %s: %s", path, strerror(errno));
		unlink(path);
		return AG_ERR_IO;
	}
	p->ready = true;
	return AG_OK;
}

/* Tell the base's readers which delta is now installed on it. */
static void set_delta_hint(const char *dir, uint64_t generation, const struct ag_log *log)
{
	poke_header(dir, offsetof(struct ag_index_header, delta_hint), (uint32_t)generation, true, log);
}

enum ag_err ag_index_commit(struct ag_index_pending *p, const struct ag_log *log)
{
	char from[PATH_MAX + 32], to[PATH_MAX + 32];
	struct ag_index_header h;
	int fd;

	if (!p->ready)
		return AG_OK;
	p->ready = false;
	snprintf(from, sizeof from, "%s/%s", p->dir, p->delta ? PENDING_DELTA : PENDING_FILE);
	snprintf(to, sizeof to, "%s/%s", p->dir, p->delta ? AG_INDEX_DELTA_FILE : AG_INDEX_FILE);
	if (!p->delta)
		mark_superseded(p->dir, log);
	if (rename(from, to) != 0) {
		ag_log(log, LOG_ERR, "index: cannot replace %s: %s", to, strerror(errno));
		unlink(from);
		return AG_ERR_IO;
	}
	if (p->delta) {
		fsync_dir(p->dir);
		/* (the generation from the file just written) */
		fd = open(to, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h)
			set_delta_hint(p->dir, h.generation, log);
		if (fd >= 0)
			close(fd);
		return AG_OK;
	}
	/* The old delta belongs to the old base: readers of the new one ignore
	 * it (base_generation), so a crash before this unlink is harmless. */
	snprintf(to, sizeof to, "%s/" AG_INDEX_DELTA_FILE, p->dir);
	if (unlink(to) != 0 && errno != ENOENT)
		ag_log(log, LOG_WARNING, "index: cannot remove %s: %s", to, strerror(errno));
	fsync_dir(p->dir);
	return AG_OK;
}

void ag_index_abandon(struct ag_index_pending *p)
{
	char path[PATH_MAX + 32];

	if (!p->ready)
		return;
	p->ready = false;
	snprintf(path, sizeof path, "%s/%s", p->dir, p->delta ? PENDING_DELTA : PENDING_FILE);
	unlink(path);
}

/* Map one file read-only; false when it is missing or unusable. */
static bool map_one(const char *path, void **map, size_t *size)
{
	struct stat st;
	int fd;

	*map = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)AG_INDEX_HEADER_V1_SIZE ||
	    (unsigned long long)st.st_size > AG_INDEX_SIZE_MAX) {
		close(fd);
		return false;
	}
	*size = (size_t)st.st_size;
	*map = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (*map == MAP_FAILED)
		*map = NULL;
	return *map != NULL;
}

void ag_index_unmap(struct ag_index_mapped *m)
{
	if (m->map)
		munmap(m->map, m->size);
	if (m->dmap)
		munmap(m->dmap, m->dsize);
	memset(m, 0, sizeof *m);
}

bool ag_index_map(const char *path, struct ag_index_mapped *m)
{
	char dpath[PATH_MAX];

	memset(m, 0, sizeof *m);
	if (snprintf(dpath, sizeof dpath, "%s" AG_INDEX_DELTA_SUFFIX, path) >= (int)sizeof dpath)
		return false;
	/* the same rule as the NSS module's map_file */
	for (int tries = 0;; tries++) {
		enum ag_index_status ds = AG_INDEX_NOTFOUND;

		if (!map_one(path, &m->map, &m->size) || !ag_index_open(m->map, m->size, &m->ix, NULL)) {
			ag_index_unmap(m);
			return false;
		}
		if (map_one(dpath, &m->dmap, &m->dsize))
			ds = ag_index_attach_delta(&m->ix, m->dmap, m->dsize, NULL);
		m->delta_bad = ds == AG_INDEX_CORRUPT;
		if (ds == AG_INDEX_OK || !ag_index_superseded(&m->ix) || tries == 2)
			return true;
		ag_index_unmap(m);
	}
}

bool ag_index_installed_generation(const char *dir, uint64_t *gen)
{
	struct ag_index_mapped m;
	char path[PATH_MAX];
	bool ok;

	*gen = 0;
	if (snprintf(path, sizeof path, "%s/" AG_INDEX_FILE, dir) >= (int)sizeof path || !ag_index_map(path, &m))
		return false;
	ok = m.ix.f.h->version == AG_INDEX_VERSION && !m.delta_bad;
	if (ok)
		*gen = m.ix.d.h ? m.ix.d.h->generation : m.ix.f.h->generation;
	ag_index_unmap(&m);
	return ok;
}
