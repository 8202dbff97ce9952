/* The OAuth half of an Authentication Flow login (authgear-protocol.md §2,
 * §3.10): the authorization request that opens the OAuth session (x_ref) a
 * flow is bound to, and the consent hop that turns a finished flow into an
 * authorization code. For a first login and for reauthentication (§2.3,
 * §3.11: prompt=login, max_age=0 and the last ID token as id_token_hint). */
#ifndef AG_AUTHORIZE_H
#define AG_AUTHORIZE_H

#include "base/error.h"
#include "oidc/oidc.h"
#include "oidc/pkce.h"

/* What the OAuth session is for: the Flow API type created on it. */
enum ag_flow_type {
	AG_FLOW_LOGIN,  /* "login": identify, then authenticate */
	AG_FLOW_REAUTH, /* "reauth": the user of id_token_hint proves one factor again */
};

struct ag_authorize_opts {
	enum ag_flow_type flow;
	const char *scopes;        /* space-separated; NULL: the configured scopes */
	const char *prompt;        /* NULL: not sent; "login" forces an authentication */
	long max_age;              /* seconds; < 0: not sent */
	const char *id_token_hint; /* NULL: not sent; required for AG_FLOW_REAUTH */
};

/* The Flow API type name of a flow type ("login", "reauth"). */
const char *ag_flow_type_name(enum ag_flow_type flow);

/* GET the authorization endpoint with pk's challenge, state and nonce and
 * opts; the answer must be a redirect whose Location carries x_ref (§2.5).
 * *url_query (caller frees) is that Location's query, the flow's url_query.
 * An OAuth error redirect is AG_ERR_OAUTH. */
enum ag_err ag_authorize(struct ag_oidc *o, const struct ag_authorize_opts *opts, const struct ag_pkce *pk,
			 char **url_query);

/* GET a finished flow's finish_redirect_uri without following it: a redirect
 * to redirect_uri carrying state (checked) and the code (*code, a secret the
 * caller wipes). */
enum ag_err ag_authorize_consent(struct ag_oidc *o, const char *finish_uri, const char *state, char **code);

#endif
