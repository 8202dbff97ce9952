/* The one error type of the core: every core function returns an ag_err.
 *
 * Each code has a short name and a reason for the log (never a secret), a line
 * for the person at the terminal, and exactly one PAM return code (pam_codes.c).
 */
#ifndef AG_ERROR_H
#define AG_ERROR_H

#include <stddef.h>

#define AG_ERR_LIST(X) \
	X(AG_OK,              "ok",              "success",                                   "") \
	X(AG_ERR_NOMEM,       "nomem",           "out of memory",                             "Sign-in failed: the system is out of memory.") \
	X(AG_ERR_INVALID_ARG, "invalid_arg",     "invalid argument",                          "Sign-in failed: internal error.") \
	X(AG_ERR_IO,          "io",              "file or system call failed",                "Sign-in failed: a local file could not be read or written.") \
	X(AG_ERR_NOT_FOUND,   "not_found",       "file not found",                            "Sign-in with Authgear is not configured on this system.") \
	X(AG_ERR_CORRUPT,     "corrupt",         "local file corrupt",                        "Sign-in failed: a local file could not be read or written.") \
	X(AG_ERR_STALE,       "stale",           "cached copy expired",                       "The sign-in service answered unexpectedly; ask your administrator.") \
	X(AG_ERR_CONFIG,      "config",          "configuration invalid",                     "Sign-in with Authgear is not configured correctly; ask your administrator.") \
	X(AG_ERR_CONFIG_PERM, "config_perm",     "configuration file has unsafe owner or mode", "Sign-in with Authgear is not configured correctly; ask your administrator.") \
	X(AG_ERR_NOT_CONFIGURED, "not_configured", "not configured",                          "Sign-in with Authgear is not configured on this system.") \
	X(AG_ERR_UNSUPPORTED, "unsupported",     "operation not supported",                   "This sign-in method is not available.") \
	X(AG_ERR_NETWORK,     "network",         "identity provider unreachable",             "Cannot reach the sign-in service; try again later.") \
	X(AG_ERR_TLS,         "tls",             "TLS handshake or certificate verification failed", "Cannot reach the sign-in service securely; ask your administrator.") \
	X(AG_ERR_TIMEOUT,     "timeout",         "identity provider did not answer in time",  "The sign-in service did not answer in time; try again later.") \
	X(AG_ERR_SERVER,      "server",          "identity provider returned a server error", "The sign-in service failed; try again later.") \
	X(AG_ERR_PROTOCOL,    "protocol",        "unexpected response from identity provider", "The sign-in service answered unexpectedly; ask your administrator.") \
	X(AG_ERR_PARSE,       "parse",           "malformed input",                           "The sign-in service answered unexpectedly; ask your administrator.") \
	X(AG_ERR_TOO_LARGE,   "too_large",       "input over the size limit",                 "The sign-in service answered unexpectedly; ask your administrator.") \
	X(AG_ERR_SIGNATURE,   "signature",       "token signature invalid",                   "Sign-in failed: the sign-in service's answer could not be verified.") \
	X(AG_ERR_KEY_NOT_FOUND, "key_not_found", "no signing key with the token's kid",   "Sign-in failed: the sign-in service's answer could not be verified.") \
	X(AG_ERR_CLAIMS,      "claims",          "token claims invalid",                      "Sign-in failed: the sign-in service's answer could not be verified.") \
	X(AG_ERR_INVALID_GRANT, "invalid_grant", "grant invalid, expired or revoked",        "Your sign-in is no longer valid; sign in again.") \
	X(AG_ERR_OAUTH,       "oauth",           "OAuth error response",                      "The sign-in service refused the request; ask your administrator.") \
	X(AG_ERR_CREDENTIALS, "credentials",     "incorrect password or code",                "Incorrect password or code.") \
	X(AG_ERR_USER_UNKNOWN, "user_unknown",   "no such user at the identity provider",     "Incorrect password or code.") \
	X(AG_ERR_DISABLED,    "disabled",        "account disabled",                          "This account is disabled.") \
	X(AG_ERR_LOCKED,      "locked",          "account locked after too many attempts",    "Too many attempts; try again later.") \
	X(AG_ERR_RATE_LIMITED, "rate_limited",   "rate limited",                              "Too many attempts; try again later.") \
	X(AG_ERR_PASSWORD_EXPIRED, "password_expired", "password expired at the identity provider", "Your password has expired; change it in your Authgear account settings, then sign in again.") \
	X(AG_ERR_MFA_REQUIRED, "mfa_required",   "second factor required but not proven",     "This account needs a second factor (authenticator app) to sign in here.") \
	X(AG_ERR_DENIED,      "denied",          "access denied by policy",                   "You are not allowed to sign in here.") \
	X(AG_ERR_CONV,        "conv",            "PAM conversation failed",                   "") \
	X(AG_ERR_NOT_OURS,    "not_ours",        "user is not handled by this module",        "")

enum ag_err {
#define AG_X_ENUM(code, name, reason, line) code,
	AG_ERR_LIST(AG_X_ENUM)
#undef AG_X_ENUM
	AG_ERR__COUNT
};

/* Short stable name ("invalid_grant"), for logs, JSON and tests. */
const char *ag_err_name(enum ag_err err);
/* Reason for the log: what went wrong, never a secret. */
const char *ag_err_reason(enum ag_err err);
/* One plain line for the person at the terminal; "" when nothing should be said. */
const char *ag_err_user_line(enum ag_err err);
/* The PAM return code for this error; the only mapping in the project (pam_codes.c). */
int ag_err_to_pam(enum ag_err err);
/* The same for a login's result: AG_ERR_USER_UNKNOWN becomes PAM_USER_UNKNOWN
 * only when the admin chose to reveal unknown users. */
int ag_err_to_pam_login(enum ag_err err, _Bool reveal_unknown_users);

/* Write a reason into why (when not NULL) and return err: for functions
 * that report their reason to the caller instead of the log. */
enum ag_err ag_why(char *why, size_t why_len, enum ag_err err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
