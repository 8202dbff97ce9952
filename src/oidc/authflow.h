/* Authgear's Authentication Flow API (authgear-protocol.md §3, errors §4):
 * create a flow bound to an OAuth session (x_ref), feed it inputs, follow its
 * state token, and read its actions. Any flow type ("login", "reauth"). */
#ifndef AG_AUTHFLOW_H
#define AG_AUTHFLOW_H

#include <time.h>

#include <jansson.h>

#include "base/error.h"
#include "oidc/oidc.h"

#define AG_AUTHFLOW_PATH "/api/v1/authentication_flows"

/* The error envelope of a failed call: {"error": {name, reason, code, info}}. */
struct ag_flow_error {
	char name[64];          /* "Unauthorized" */
	char reason[64];        /* "InvalidCredentials"; "" when the call did not fail with an envelope */
	long code;              /* HTTP status */
	char auth_type[32];     /* info.AuthenticationType, e.g. "totp" */
	time_t until;           /* info.until of AccountLockout, 0 when absent */
	char tracking_id[128];
};

struct ag_flow {
	struct ag_oidc *o;
	char *state_token;      /* the latest one: a changed state mints a new token */
	json_t *result;         /* the latest "result" object */
	char tracking_id[128];  /* the last tracking_id seen, for the audit line */
};

/* An RFC 3339 date-time as Go's time.Time marshals it (AccountLockout's
 * info.until): 2026-08-21T10:00:00[.fraction](Z|+hh:mm|-hh:mm), fraction of
 * any length (dropped). 0 when s is not one. */
time_t ag_flow_parse_time(const char *s);

/* Create a flow; batch (may be NULL) is a JSON array of inputs fed in order.
 * On an error envelope the result is the reason's ag_err and *ferr is filled;
 * when the server also returned the flow's (unchanged) state, *out is set. */
enum ag_err ag_flow_create(struct ag_oidc *o, const char *type, const char *name, const char *url_query,
			   json_t *batch, struct ag_flow **out, struct ag_flow_error *ferr);

/* Feed one input object (not stolen) to the current state. */
enum ag_err ag_flow_input(struct ag_flow *f, const json_t *input, struct ag_flow_error *ferr);

/* The current action's type ("identify", "authenticate", "finished", ...). */
const char *ag_flow_action(const struct ag_flow *f);
/* The current action's data object (never NULL for a live flow). */
const json_t *ag_flow_data(const struct ag_flow *f);
/* The option strings "authentication" (or "identification") offered now. */
bool ag_flow_offers(const struct ag_flow *f, const char *key, const char *value);

/* An option offered now requires bot protection (a captcha response in the
 * input, §3.13), which no PAM prompt can give. */
bool ag_flow_needs_bot_protection(const struct ag_flow *f);

void ag_flow_free(struct ag_flow *f);

/* Take a Flow API response apart (call() and the fuzz target): a 5xx other
 * than 503 is AG_ERR_SERVER; a 200 envelope's result becomes f's state;
 * an error envelope fills *ferr and gives the reason's ag_err, and a result
 * beside it (the unchanged state) is kept. */
enum ag_err ag_flow_parse_response(struct ag_flow *f, const struct ag_http_response *resp,
				   struct ag_flow_error *ferr);


/* The core error for an Authgear error reason (InvalidCredentials ->
 * AG_ERR_CREDENTIALS, DisabledUser -> AG_ERR_DISABLED, ...). */
enum ag_err ag_flow_reason_err(const char *reason);

/* Check that the issuer serves the Flow API without creating a flow: an
 * empty create request must come back as Authgear's JSON error envelope
 * (400 with error.name). */
enum ag_err ag_authflow_probe(struct ag_oidc *o);

#endif
