/* The OAuth 2.0 Device Authorization Grant (RFC 8628): the device
 * authorization request (§3.1, §3.2) and the polling of the token endpoint
 * (§3.4, §3.5). The device code and the user code are secrets while pending:
 * they are wiped with the structure and never logged. */
#ifndef AG_DEVICE_H
#define AG_DEVICE_H

#include "base/error.h"
#include "base/http.h"
#include "oidc/oidc.h"
#include "oidc/token.h"

#define AG_DEVICE_GRANT_TYPE "urn:ietf:params:oauth:grant-type:device_code"
#define AG_DEVICE_INTERVAL_DEFAULT 5   /* seconds, §3.2 */
#define AG_DEVICE_SLOW_DOWN 5          /* seconds added on every slow_down, §3.5 */
#define AG_DEVICE_USER_CODE_MAX 64     /* bytes of a user code we show */
#define AG_DEVICE_URI_MAX 1024         /* bytes of a verification URI we show */

struct ag_device_auth {
	char *device_code;                 /* secret */
	char *user_code;                   /* secret while pending */
	char *verification_uri;
	char *verification_uri_complete;   /* NULL when the response has none */
	long long expires_in;              /* seconds */
	long long interval;                /* seconds, AG_DEVICE_INTERVAL_DEFAULT when absent */
};

/* How the polling ended when it did not end with tokens or a transport error. */
enum ag_device_outcome {
	AG_DEVICE_APPROVED,
	AG_DEVICE_DENIED,      /* access_denied */
	AG_DEVICE_EXPIRED,     /* expired_token */
	AG_DEVICE_TIMED_OUT,   /* our deadline came first */
	AG_DEVICE_FAILED,      /* any other error; see the returned code */
};

/* Ask the issuer's device_authorization_endpoint for a device code with
 * scopes. AG_ERR_UNSUPPORTED when discovery advertises none. */
enum ag_err ag_device_authorize(struct ag_oidc *o, const char *scopes, struct ag_device_auth *out);

/* Parse and check a device authorization response (exposed for fuzzing):
 * required members present and bounded, codes and URIs printable ASCII (they
 * reach a terminal), URIs https (http only to loopback when http allows it). */
enum ag_err ag_device_auth_parse(const struct ag_http_response *resp, const struct ag_http *http,
				 const struct ag_log *log, struct ag_device_auth *out);

void ag_device_auth_clear(struct ag_device_auth *a);

/* Poll the token endpoint for a's tokens until they come, the person denies,
 * the code expires, or o->clock's monotonic clock reaches
 * deadline_ms; polls never come closer than the interval, which grows by
 * AG_DEVICE_SLOW_DOWN on every slow_down. AG_OK with *outcome APPROVED and
 * out filled; AG_ERR_DENIED (DENIED), AG_ERR_INVALID_GRANT (EXPIRED,
 * TIMED_OUT), or the transport or protocol error (FAILED). *polls counts the
 * requests made. */
enum ag_err ag_device_poll(struct ag_oidc *o, const struct ag_device_auth *a, double deadline_ms,
			   struct ag_tokens *out, enum ag_device_outcome *outcome, long *polls);

#endif
