/* Who may sign in, decided from verified claims alone: no anonymous users,
 * require_roles, require_mfa by rule. No network, no store, no prompt: a
 * login ends with it, and an account check can run it on claims it has. */
#ifndef AG_POLICY_H
#define AG_POLICY_H

#include <stdbool.h>

#include "base/conf.h"
#include "base/error.h"
#include "base/log.h"
#include "jose/claims.h"

/* What proves a second factor for require_mfa. */
enum ag_mfa_rule {
	/* the client saw a second factor pass AND amr contains "mfa" (password path) */
	AG_MFA_SEEN_AND_AMR,
	/* amr alone, against the configuration's mfa_amr combinations (default
	 * RFC 8176 §2: "mfa", or "pwd" with "otp", "hwk", "swk" or "sms"); the
	 * device path, where the factors were proven at the issuer */
	AG_MFA_AMR_FACTORS,
};

/* AG_OK when claims may sign in as user under cfg; else AG_ERR_DENIED or
 * AG_ERR_MFA_REQUIRED, the reason logged, and *line the person's line (NULL:
 * the error's own). second_factor_proven: the client saw a second factor pass. */
enum ag_err ag_policy_check(const struct ag_config *cfg, const struct ag_log *log, const char *user,
			    const struct ag_claims *claims, bool second_factor_proven, enum ag_mfa_rule rule,
			    const char **line);

#endif
