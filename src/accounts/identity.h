/* From an Authgear account to a Unix account: the UID pinned at the first
 * login, the primary group (user-private, GID = UID, or primary_group), home
 * and shell from their templates, and the Unix groups the admin's [roles]
 * table grants for the roles of the last login. Writes the NSS index from
 * the store and the configuration. */
#ifndef AG_IDENTITY_H
#define AG_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accounts/idmap.h"
#include "accounts/store.h"
#include "accounts/tokens.h"
#include "base/conf.h"
#include "base/error.h"
#include "base/log.h"

/* Names pam_authgear never takes over: root, and names the host already
 * resolves to a system account (UID below 1000, or nobody). */
bool ag_identity_reserved(const char *name, const struct ag_idmap_probe *probe);

/* Whether user is pam_authgear's (no network, no prompt): a valid name, not
 * reserved, and either bound in the store, pinned ([uids], pin, import),
 * listed in `users` by its exact name, or matched by a pattern of `users`
 * while the host has neither an account nor a group of that name (nor is it
 * a [roles] group or primary_group). A pattern never takes over what the
 * host already has: those names are the next module's. probe NULL: the
 * host's NSS. */
bool ag_identity_is_ours(const struct ag_config *cfg, const struct ag_log *log, const char *user,
			 const struct ag_idmap_probe *probe);

/* Whether the NSS index at index_path names name by itself (bound, pinned,
 * or listed by its exact name): with an unusable configuration, such a
 * name is still an Authgear user's and must not fall through to the next
 * module. False when there is no usable index. */
bool ag_identity_index_names(const char *index_path, const char *name);

/* Whether the NSS index at index_path gives name a provisional entry only
 * because a pattern of `users` matches it: the NSS module answers such a
 * name to sshd alone (index.h), so elsewhere (login, su, the CLI) it does
 * not resolve before its first login. False when there is no usable index. */
bool ag_identity_index_pattern_only(const char *index_path, const char *name);

/* The Unix groups [roles] grants for these roles, in table order, each once.
 * Caller frees with ag_strv_free (base/strv.h). */
enum ag_err ag_identity_groups_for_roles(const struct ag_config *cfg, char *const *roles, size_t n_roles,
					 char ***groups, size_t *n_groups);

/* The end of a successful login of user, in one store transaction: bind
 * user to sub (sub NULL: user must be bound already; bound to another sub:
 * AG_ERR_DENIED), pin its UID at the first login ([uids], an admin pin, a host entry of the same name, else the
 * hash sequence checked against probe), record its roles and the groups
 * they grant (a role removed at Authgear drops its group now), give new
 * groups a GID, clear the throttle's record of this attempt, and rebuild
 * the NSS index when something it shows changed. factor (NULL: leave it)
 * is the second factor this login completed (ag_store_last_factor). probe
 * NULL: the host's NSS.
 *
 * AG_ERR_DENIED (after the UID is pinned) when this first login got another
 * UID or GID than the provisional entry the index showed: a program that
 * looked the user up before PAM ran (sshd) would start the session with
 * the provisional IDs, possibly another account's. The next login uses the
 * pinned ones; *sign_in_again (may be NULL) tells it from a binding to
 * another sub. */
enum ag_err ag_identity_login(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log,
			      const char *user, const char *sub, char *const *roles, size_t n_roles,
			      const enum ag_store_factor *factor, const struct ag_idmap_probe *probe,
			      const struct ag_token_cache *tokens, bool *sign_in_again);

/* Administration (authgear-pam). Each is one store transaction (a new index
 * when it changed what the index shows; reindex: always). forget: AG_ERR_NOT_OURS when user is unknown. pin: refused
 * (AG_ERR_DENIED) when another user has uid or user already has another UID.
 * import: lines "name:uid" (blank lines and # comments allowed); all or
 * nothing; why gets FILE:LINE: reason. */
enum ag_err ag_identity_forget(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log,
			       const char *user);
enum ag_err ag_identity_pin(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log, const char *user,
			    uint32_t uid, char *why, size_t why_len);
enum ag_err ag_identity_import(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log,
			       const char *path, char *why, size_t why_len);
enum ag_err ag_identity_reindex(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log);

/* Whether [roles] can grant group (the groups a user is shown in). */
bool ag_identity_grantable(const struct ag_config *cfg, const char *group);

#endif
