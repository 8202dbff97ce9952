/* The host's groups listed once: setgrent/getgrent_r through the host's
 * NSS (files, LDAP, ... and ours), so that reindex checks every bound
 * user's name against them with one enumeration instead of one getgrnam
 * per user (identity.c, host_groups_win). Uses the process's one group
 * enumeration: the CLI only, never the PAM or NSS module. */
#ifndef AG_HOST_GROUPS_H
#define AG_HOST_GROUPS_H

#include <stdint.h>

/* fn(name, gid, ctx) for each group the NSS sources list, in the order of
 * nsswitch.conf's group: line, so the first entry of a name is the one
 * getgrnam answers. 1 when the list ran to its end, -1 when it stopped
 * early (a source failed, an entry too large, no memory): fn has seen the
 * entries before that point. A source that does not list its groups (sssd
 * without enumerate) contributes none. */
int ag_host_groups_each(void (*fn)(const char *name, uint32_t gid, void *ctx), void *ctx);

#endif
