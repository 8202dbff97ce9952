/* Checks of the claims of a verified ID token (OpenID Connect Core §3.1.3.7)
 * and of a JWT access token (RFC 9068 §4; Authgear puts its issuer origin in
 * aud, authgear-protocol.md §6.1), and extraction of what the module uses.
 *
 * The clock is the caller's (now), so tests use a fixed one. Times are JSON
 * integers from 0 to AG_CLAIMS_TIME_MAX; anything else is refused. Every
 * failure is AG_ERR_CLAIMS with its own log line starting "claims: ".
 */
#ifndef AG_CLAIMS_H
#define AG_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "base/error.h"
#include "base/log.h"

#define AG_CLAIMS_SUB_MAX 255         /* bytes of sub */
#define AG_CLAIMS_VALUE_MAX 255       /* bytes of one sid, amr or role value */
#define AG_CLAIMS_AMR_MAX 32          /* entries of amr */
#define AG_CLAIMS_ROLES_MAX 256       /* entries of the roles claim */
#define AG_CLAIMS_AUD_MAX 16          /* entries of aud */
#define AG_CLAIMS_LEEWAY_MAX 600      /* seconds of clock skew a caller may allow */
#define AG_CLAIMS_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

#define AG_CLAIM_ROLES "https://authgear.com/claims/user/roles"
#define AG_CLAIM_IS_ANONYMOUS "https://authgear.com/claims/user/is_anonymous"
#define AG_CLAIM_IS_VERIFIED "https://authgear.com/claims/user/is_verified"
#define AG_CLAIM_CAN_REAUTHENTICATE "https://authgear.com/claims/user/can_reauthenticate"

/* What the caller expects. */
struct ag_claims_expect {
	const char *issuer;     /* exact string: a trailing slash is a different issuer */
	const char *client_id;
	const char *nonce;      /* ID token: must match when set; NULL (refresh) = not checked */
	long long max_age;      /* ID token: >= 0 requires auth_time within max_age; < 0 = no check */
	long leeway;            /* seconds, 0..AG_CLAIMS_LEEWAY_MAX (60 is usual) */
	time_t now;
};

/* What the module uses; strings are malloc'd, freed by ag_claims_clear. */
struct ag_claims {
	char *sub;
	long long exp;
	long long iat;
	long long auth_time;    /* 0 when absent */
	char *sid;              /* NULL when absent */
	char **amr;             /* n_amr strings */
	size_t n_amr;
	char **roles;           /* n_roles role keys; none when the claim is absent */
	size_t n_roles;
	bool is_anonymous;      /* false when absent */
	bool is_verified;
	bool can_reauthenticate;
};

/* Check the claims of an ID token whose signature was verified; typ is its
 * typ header ("" when absent; an at+jwt token is refused here). On failure
 * *out is cleared. */
enum ag_err ag_claims_check_id_token(const json_t *payload, const char *typ, const struct ag_claims_expect *expect,
				     const struct ag_log *log, struct ag_claims *out);

/* Check the claims of a JWT access token whose signature was verified: typ
 * at+jwt (or application/at+jwt), iss, aud containing the issuer, client_id,
 * exp, nbf, iat. nonce and max_age of expect are not used. */
enum ag_err ag_claims_check_access_token(const json_t *payload, const char *typ,
					 const struct ag_claims_expect *expect, const struct ag_log *log,
					 struct ag_claims *out);

/* Free what out holds and zero it; safe on a zeroed or cleared struct. */
void ag_claims_clear(struct ag_claims *c);

#endif
