/* The claims-only login policy (see policy.h). */
#include "config.h"

#include <string.h>

#include "common/names.h"
#include "login/policy.h"

static bool has_value(char *const *values, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(values[i], v) == 0)
			return true;
	return false;
}

/* require_roles: any one of the listed role keys suffices. */
static bool has_required_role(const struct ag_config *cfg, const struct ag_claims *claims)
{
	char role[256];
	size_t n;

	if (!cfg->require_roles)
		return true;
	for (const char *cur = cfg->require_roles, *p; (p = ag_list_next(&cur, &n));) {
		if (n < sizeof role) {
			memcpy(role, p, n);
			role[n] = '\0';
			if (has_value(claims->roles, claims->n_roles, role))
				return true;
		}
	}
	return false;
}

/* The password path: the client saw the factor AND amr has "mfa". Where the
 * factors were proven at the issuer: one of mfa_amr's combinations (by
 * default RFC 8176 §2: "mfa", or a knowledge factor with a possession one). */
static bool mfa_proven(const struct ag_config *cfg, const struct ag_claims *claims, bool second_factor_proven,
		       enum ag_mfa_rule rule)
{
	if (rule == AG_MFA_SEEN_AND_AMR)
		return second_factor_proven && has_value(claims->amr, claims->n_amr, "mfa");
	return ag_config_amr_proves_mfa(cfg, claims->amr, claims->n_amr);
}

enum ag_err ag_policy_check(const struct ag_config *cfg, const struct ag_log *log, const char *user,
			    const struct ag_claims *claims, bool second_factor_proven, enum ag_mfa_rule rule,
			    const char **line)
{
	*line = NULL;
	if (claims->is_anonymous) {
		ag_log(log, LOG_NOTICE, "login: %s: anonymous Authgear user refused", user);
		*line = "Anonymous Authgear accounts cannot sign in here.";
		return AG_ERR_DENIED;
	}
	if (!has_required_role(cfg, claims)) {
		ag_log(log, LOG_NOTICE, "login: %s: none of the required roles (%s)", user, cfg->require_roles);
		return AG_ERR_DENIED;
	}
	/* Never let a password-only login satisfy require_mfa: the client must
	 * have seen a second factor pass AND the server must say so (§8); or,
	 * where the factors were proven at the issuer, its amr must say so. */
	if (cfg->require_mfa && !mfa_proven(cfg, claims, second_factor_proven, rule)) {
		if (rule == AG_MFA_AMR_FACTORS)
			ag_log(log, LOG_NOTICE,
			       "login: %s: second factor required but not proven (amr matches none of mfa_amr = %s)", user,
			       cfg->mfa_amr);
		else
			ag_log(log, LOG_NOTICE,
			       "login: %s: second factor required but not proven (client saw %s, amr %s mfa)", user,
			       second_factor_proven ? "one" : "none",
			       has_value(claims->amr, claims->n_amr, "mfa") ? "has" : "lacks");
		return AG_ERR_MFA_REQUIRED;
	}
	return AG_OK;
}
