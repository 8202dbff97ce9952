/* The account check (pam_sm_acct_mgmt, authgear-pam check-account): does
 * Authgear still stand behind a user signed in here (issue 13), from the
 * token cache (accounts/tokens.h) the logins fill. */
#ifndef AG_ACCOUNT_H
#define AG_ACCOUNT_H

#include <stdbool.h>
#include <time.h>

#include "accounts/tokens.h"
#include "jose/claims.h"
#include "oidc/token.h"

/* A cache row for what a login or a refresh got: the tokens and sub are
 * borrowed from tokens and claims (not copied), amr and roles joined;
 * ag_account_cache_release frees only what this made. login: the row
 * records a login (login_at = now). */
enum ag_err ag_account_cache_from(struct ag_token_cache *c, const struct ag_tokens *tokens,
				  const struct ag_claims *claims, long long now, bool login);
void ag_account_cache_release(struct ag_token_cache *c);



#include "base/conf.h"
#include "base/log.h"
#include "oidc/clock.h"

#define AG_ACCOUNT_ENDED "Your Authgear session has ended; sign in again with your password and code."
#define AG_ACCOUNT_NO_TOKEN "Sign in once with your password and code."

/* pam_sm_acct_mgmt's check of user (ours) on clock (NULL: the system's;
 * account_check says how Authgear is asked): AG_OK to let
 * in; AG_ERR_DENIED (revoked, another sub, no token) or another error, with
 * the person's line in line; network, timeout or 5xx without offline grace:
 * AG_ERR_NETWORK / AG_ERR_TIMEOUT / AG_ERR_SERVER. *requests: HTTPS made. */
enum ag_err ag_account_check(const struct ag_config *cfg, const struct ag_log *log, const char *user,
			     const struct ag_clock *clock, char *line, size_t line_len, long *requests);

/* One refresh of user's tokens at a time (the check, a logout's revoke): a
 * per-user lock file under state_dir/private, released when the returned
 * descriptor closes; -1 on failure (errno ETIMEDOUT: still held at
 * deadline, CLOCK_MONOTONIC; NULL: wait as long as it takes). No database
 * lock is held meanwhile. */
int ag_account_lock_user(const char *state_dir, const char *user, const struct timespec *deadline);
#endif
