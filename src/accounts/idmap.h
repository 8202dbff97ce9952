/* Choosing the UID of a first login and the GID of a new group: the hash
 * candidates of uid.h, in order, skipping every ID the store or the
 * configuration already gives out and every ID another NSS source (files,
 * LDAP, ...) already uses. The first free candidate wins; skipping one is
 * logged (only then can two hosts disagree). Runs in the PAM module and the
 * CLI, never in the NSS module. */
#ifndef AG_IDMAP_H
#define AG_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/idset.h"
#include "base/log.h"
#include "common/index.h"
#include "common/uid.h"

/* What the other NSS sources say. Each function returns 1 when an entry
 * exists (its name or ID written to the out argument), 0 when none does,
 * -1 when a source failed (the answer is unknown). */
struct ag_idmap_probe {
	int (*uid_owner)(void *ctx, uint32_t uid, char *name, size_t len);
	int (*gid_owner)(void *ctx, uint32_t gid, char *name, size_t len);
	int (*user_uid)(void *ctx, const char *name, uint32_t *uid);
	int (*group_gid)(void *ctx, const char *name, uint32_t *gid);
	void *ctx;
};

/* getpwuid_r, getgrgid_r, getpwnam_r, getgrnam_r through the host's NSS
 * (ours included). */
extern const struct ag_idmap_probe ag_idmap_system_probe;

/* The UID for user's first login. With upg (user-private groups, GID = UID)
 * a candidate is also taken when a group other than the user's own has it.
 * AG_ERR_IO when a source failed, AG_ERR_CONFIG when every candidate is
 * taken (uid_range too small). */
enum ag_err ag_idmap_uid(const char *user, const struct ag_id_range *range, struct ag_idset *taken, bool upg,
			 const struct ag_idmap_probe *probe, const struct ag_log *log, uint32_t *out);

/* The GID for a new group served by the NSS module. */
enum ag_err ag_idmap_gid(const char *group, const struct ag_id_range *range, struct ag_idset *taken,
			 const struct ag_idmap_probe *probe, const struct ag_log *log, uint32_t *out);

#endif
