/* Authgear's Authentication Flow API (authgear-protocol.md §3). */
#ifndef AG_AUTHFLOW_H
#define AG_AUTHFLOW_H

#include "error.h"
#include "oidc.h"

#define AG_AUTHFLOW_PATH "/api/v1/authentication_flows"

/* Check that the issuer serves the Flow API without creating a flow: an
 * empty create request must come back as Authgear's JSON error envelope
 * (400 with error.name). */
enum ag_err ag_authflow_probe(struct ag_oidc *o);

#endif
