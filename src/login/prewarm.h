/* Prewarm: the authorization request of a password login sent while the
 * person types the password (README "How a login goes"). The PAM
 * conversation blocks, so a worker thread opens the TLS connection and sends
 * the authorize request (PKCE, state, nonce: discovery too when its cache is
 * stale) while Password: is on the screen.
 *
 * Only for a name that is bound in the store or listed in users by its exact
 * name: a name that only matches a pattern gets no request before it
 * answers, so a scanner trying names costs the IdP nothing.
 *
 * The thread exists only between ag_prewarm_start and ag_prewarm_join inside
 * one PAM call (sshd forks: no thread outlives the call), and between them it
 * alone uses the login's ag_oidc (one libcurl easy handle is never used by two
 * threads). Its requests have the handle's timeouts; a join with cancel stops
 * the request in flight. When nobody answers, the OAuth session it opened is
 * abandoned: it expires at Authgear. */
#ifndef AG_PREWARM_H
#define AG_PREWARM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/error.h"
#include "base/log.h"
#include "oidc/oidc.h"
#include "oidc/authorize.h"
#include "oidc/pkce.h"

struct ag_prewarm {
	/* the result, valid after ag_prewarm_join when err is AG_OK */
	struct ag_pkce pk;
	char *url_query;   /* the authorize redirect's query: the flow's url_query */
	enum ag_err err;
	bool used;         /* a worker ran (and was joined) */

	/* internal */
	struct ag_oidc *o; /* the worker's between start and join */
	struct ag_authorize_opts opts;
	atomic_bool cancel;
	pthread_t thread;
	bool running;
};

/* Start the worker on o (the caller's until ag_prewarm_join) with opts
 * (copied; its strings must outlive the join). Whom to prewarm is the
 * login's decision (ag_login_prewarm_wanted). Returns whether a worker runs;
 * false leaves the login to authorize itself. */
bool ag_prewarm_start(struct ag_prewarm *p, struct ag_oidc *o, const struct ag_log *log,
		      const struct ag_authorize_opts *opts);

/* Wait for the worker (no-op when none runs); with cancel, stop its request
 * first and discard the result (p->err AG_ERR_CONV). */
void ag_prewarm_join(struct ag_prewarm *p, bool cancel);

/* Join (cancelling) if still running, then wipe and free the result. */
void ag_prewarm_clear(struct ag_prewarm *p);

#endif
