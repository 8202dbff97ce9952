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

/* Build the file in memory (*out, caller frees). Users with an invalid name,
 * root's IDs or a name or UID seen before are left out with a log line; so
 * are groups with an invalid name, GID 0 or a duplicate name or GID. */
enum ag_err ag_index_build(const struct ag_index_input *in, const struct ag_log *log, void **out, size_t *len);

/* Replace dir/nss.index with data (0644): mark the current file superseded,
 * then write the new one atomically. */
enum ag_err ag_index_install(const char *dir, const void *data, size_t len, const struct ag_log *log);

/* The same in two steps, for the store's critical section: prepare writes
 * and fsyncs dir/.nss.index.new (one writer at a time: the store's write
 * lock), commit marks the current file superseded and renames the new one
 * into place, abandon removes it. */
struct ag_index_pending {
	char dir[4096];
	bool ready;
};
enum ag_err ag_index_prepare(const char *dir, const void *data, size_t len, const struct ag_log *log,
			     struct ag_index_pending *p);
enum ag_err ag_index_commit(struct ag_index_pending *p, const struct ag_log *log);
void ag_index_abandon(struct ag_index_pending *p);

/* The generation in the header of dir/nss.index; false when there is no
 * readable version 2 index. */
bool ag_index_installed_generation(const char *dir, uint64_t *gen);

#endif
