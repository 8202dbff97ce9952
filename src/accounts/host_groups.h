/* The host's groups listed once: setgrent/getgrent_r through the host's
 * NSS (files, LDAP, ... and ours), so that reindex checks every bound
 * user's name against them with one enumeration instead of one getgrnam
 * per user (identity.c, host_groups_win). Uses the process's one group
 * enumeration: the CLI only, never the PAM or NSS module. */
#ifndef AG_HOST_GROUPS_H
#define AG_HOST_GROUPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct ag_host_group {
	char *name;
	uint32_t gid;
	size_t seq; /* its place in the host's list */
};

/* Sorted by name, one entry per name. */
struct ag_host_groups {
	struct ag_host_group *v;
	size_t n;
};

/* The groups the NSS sources list, in the order of nsswitch.conf's group:
 * line; of two entries of one name the first is kept, the one getgrnam
 * answers. *complete is false when the list stopped early (a source
 * failed, an entry too large): the entries before that point are there. A
 * source that does not list its groups (sssd without enumerate) gives
 * none. AG_ERR_NOMEM. */
enum ag_err ag_host_groups_list(struct ag_host_groups *out, bool *complete);
/* The GID of the host's group name, false when it lists none. */
bool ag_host_groups_gid(const struct ag_host_groups *g, const char *name, uint32_t *gid);
void ag_host_groups_free(struct ag_host_groups *g);

#endif
