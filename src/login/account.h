/* The account check (pam_sm_acct_mgmt, authgear-pam check-account): does
 * Authgear still stand behind a user signed in here (issue 13), from the
 * token cache (accounts/tokens.h) the logins fill. */
#ifndef AG_ACCOUNT_H
#define AG_ACCOUNT_H

#include <stdbool.h>

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

#endif
