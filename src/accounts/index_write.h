/* Writing the NSS index (format: index.h). The store calls this under its
 * lock after every change of the users file; tests and the benchmark call
 * it directly. */
#ifndef AG_INDEX_WRITE_H
#define AG_INDEX_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/log.h"
#include "common/index.h"
#include "common/uid.h"

struct ag_index_in_user {
	const char *name;
	uint32_t uid, gid;
	const char *home, *shell;
};

struct ag_index_in_group {
	const char *name;
	uint32_t gid;
	bool local;               /* exists on the host: we only add members */
	const uint32_t *members;  /* indices into ag_index_input.users */
	size_t n_members;
};

struct ag_index_in_pin {
	const char *name;
	uint32_t uid;
};

struct ag_index_input {
	const struct ag_index_in_user *users;
	size_t n_users;
	const struct ag_index_in_group *groups;
	size_t n_groups;
	const struct ag_index_in_pin *pins;
	size_t n_pins;
	/* for provisional entries; allow NULL: none */
	const char *allow;
	struct ag_id_range range;
	uint32_t primary_gid;     /* 0: user-private groups */
	const char *home_template;
	const char *shell;
	uint64_t generation;      /* the store's (header) */
};

/* A delta holds at most this many users, and at most an eighth of the
 * base's (plus AG_INDEX_DELTA_SLACK); past that a write is a full rebuild,
 * so a first login at any size costs a bounded delta, and the full
 * rebuilds are amortized over many first logins. */
#define AG_INDEX_DELTA_MAX 256u
#define AG_INDEX_DELTA_SLACK 8u
bool ag_index_delta_room(const struct ag_index *base, size_t n_users);

/* Build the file in memory (*out, caller frees). Users with an invalid name,
 * root's IDs or a name or UID seen before are left out with a log line; so
 * are groups with an invalid name, GID 0 or a duplicate name or GID. */
enum ag_err ag_index_build(const struct ag_index_input *in, const struct ag_log *log, void **out, size_t *len);

/* The same as a delta of base (its generation in base_generation; pins are
 * not carried: the base's stay). AG_ERR_UNSUPPORTED, without a log line,
 * when a delta cannot express the change: a user of the base under another
 * UID or a UID of the base under another name, the same for groups and
 * GIDs (or a group's host flag), another primary group or UID range. */
enum ag_err ag_index_build_delta(const struct ag_index_input *in, const struct ag_index *base,
				 const struct ag_log *log, void **out, size_t *len);

/* Replace dir/nss.index with data (0644): mark the current file superseded,
 * then write the new one atomically, and remove a delta (nss.index.delta). */
enum ag_err ag_index_install(const char *dir, const void *data, size_t len, const struct ag_log *log);

/* The same in two steps, for the store's critical section: prepare writes
 * and fsyncs dir/.nss.index.new, or with delta dir/.nss.index.delta.new
 * (one writer at a time: the store's write lock); commit renames it into
 * place: a full index after marking the current one superseded, and then
 * removes the delta; a delta, and then tells the base's readers
 * (delta_hint). abandon removes the new file. */
struct ag_index_pending {
	char dir[4096];
	bool ready, delta;
};
enum ag_err ag_index_prepare(const char *dir, const void *data, size_t len, bool delta, const struct ag_log *log,
			     struct ag_index_pending *p);
enum ag_err ag_index_commit(struct ag_index_pending *p, const struct ag_log *log);
void ag_index_abandon(struct ag_index_pending *p);

/* The index at path and its delta (path + ".delta") mapped read-only, as
 * the NSS module sees them: a delta of another base is ignored (and the
 * pair mapped again when the base was superseded meanwhile); a malformed
 * delta is left out and sets delta_bad. false: no readable index. */
struct ag_index_mapped {
	struct ag_index ix;
	void *map, *dmap;
	size_t size, dsize;
	bool delta_bad;
};
bool ag_index_map(const char *path, struct ag_index_mapped *m);
void ag_index_unmap(struct ag_index_mapped *m);

/* The generation dir's index shows: its delta's, else the base's; false
 * when there is no readable version 3 index or its delta is malformed
 * (either way a writer rebuilds it). */
bool ag_index_installed_generation(const char *dir, uint64_t *gen);

#endif
