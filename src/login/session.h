/* Sessions and logout (issue 13): pam_sm_open_session records a session of
 * an Authgear user, pam_sm_close_session removes it and, with
 * revoke_on_logout, revokes the user's refresh token at the issuer's
 * revocation_endpoint (RFC 7009; Authgear ends the whole offline grant,
 * authgear-protocol.md §5.4) when the user's last session here closes, and
 * drops the cached tokens. authgear-pam forget revokes the same way. */
#ifndef AG_SESSION_H
#define AG_SESSION_H

#include <stdbool.h>

#include "accounts/store.h"
#include "base/conf.h"
#include "base/error.h"
#include "base/log.h"

/* Record user's session (tty, rhost: PAM_TTY, PAM_RHOST; NULL allowed);
 * *id: its row, for ag_session_close (0 when nothing was recorded: a user
 * never signed in here). */
enum ag_err ag_session_open(const struct ag_config *cfg, const struct ag_log *log, const char *user,
			    const char *tty, const char *rhost, long long now, long long *id);

/* Remove session id (0: the newest this process opened), drop user's stale
 * sessions, and with revoke_on_logout, when none is left, log out. */
enum ag_err ag_session_close(const struct ag_config *cfg, const struct ag_log *log, const char *user, long long id);

/* Revoke user's cached refresh token at Authgear, then drop the cached
 * tokens (also when Authgear could not be reached: the host forgets them
 * either way; the error says the revocation did not happen). *had: a
 * refresh token was cached. only_current: skip (AG_OK, *had false) when a
 * login since the last session's open has not opened its own session yet
 * (its token is not this logout's). */
enum ag_err ag_session_logout(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log,
			      const char *user, bool only_current, bool *had);

#endif
