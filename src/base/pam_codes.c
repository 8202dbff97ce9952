/* The one place where core errors become PAM return codes.
 *
 * Only the PAM constants are used, so this file needs the PAM headers but not
 * libpam itself; the CLI shares it to report what a PAM stack would see.
 */
#include "config.h"

#include <security/_pam_types.h>

#include <stdbool.h>

#include "base/error.h"

int ag_err_to_pam(enum ag_err err)
{
	switch (err) {
	case AG_OK:
		return PAM_SUCCESS;
	case AG_ERR_NOMEM:
		return PAM_BUF_ERR;
	case AG_ERR_NOT_OURS:
		return PAM_IGNORE;
	case AG_ERR_CONV:
		return PAM_CONV_ERR;
	case AG_ERR_CREDENTIALS:
	case AG_ERR_MFA_REQUIRED:
	case AG_ERR_PASSWORD_EXPIRED:
	case AG_ERR_DISABLED:
	case AG_ERR_INVALID_GRANT:
	case AG_ERR_SIGNATURE:
	case AG_ERR_KEY_NOT_FOUND:
	case AG_ERR_CLAIMS:
		return PAM_AUTH_ERR;
	case AG_ERR_USER_UNKNOWN:
		/* Login IDs are enumerable (§3.5): unknown users look like wrong
		 * passwords unless reveal_unknown_users (ag_err_to_pam_login). */
		return PAM_AUTH_ERR;
	case AG_ERR_DENIED:
		return PAM_PERM_DENIED;
	case AG_ERR_LOCKED:
	case AG_ERR_RATE_LIMITED:
		return PAM_MAXTRIES;
	case AG_ERR_NETWORK:
	case AG_ERR_TLS:
	case AG_ERR_TIMEOUT:
	case AG_ERR_SERVER:
	case AG_ERR_PROTOCOL:
	case AG_ERR_PARSE:
	case AG_ERR_TOO_LARGE:
	case AG_ERR_OAUTH:
	case AG_ERR_CONFIG:
	case AG_ERR_CONFIG_PERM:
	case AG_ERR_NOT_CONFIGURED:
	case AG_ERR_UNSUPPORTED:
	case AG_ERR_IO:
	case AG_ERR_NOT_FOUND:  /* was AG_ERR_NOT_CONFIGURED */
	case AG_ERR_CORRUPT:    /* was AG_ERR_IO */
	case AG_ERR_STALE:      /* was AG_ERR_INVALID_GRANT (never a login's result) */
		return PAM_AUTHINFO_UNAVAIL;
	case AG_ERR_INVALID_ARG:
	case AG_ERR__COUNT:
		break;
	}
	return PAM_SERVICE_ERR;
}

int ag_err_to_pam_login(enum ag_err err, bool reveal_unknown_users)
{
	if (err == AG_ERR_USER_UNKNOWN && reveal_unknown_users)
		return PAM_USER_UNKNOWN;
	return ag_err_to_pam(err);
}
