/* Prewarm: authorize in a worker thread while the person types (see
 * prewarm.h). */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"
#include "login/prewarm.h"
#include "oidc/oidc.h"

static void *worker(void *arg)
{
	struct ag_prewarm *p = arg;

	p->err = ag_pkce_new(&p->pk);
	if (p->err == AG_OK)
		p->err = ag_authorize(p->o, &p->opts, &p->pk, &p->url_query);
	return NULL;
}

bool ag_prewarm_start(struct ag_prewarm *p, struct ag_oidc *o, const struct ag_log *log,
		      const struct ag_authorize_opts *opts)
{
	sigset_t all, old;
	int rc;

	memset(p, 0, sizeof *p);
	atomic_init(&p->cancel, false);
	p->err = AG_ERR_INVALID_ARG;
	p->o = o;
	p->opts = *opts;
	ag_http_set_cancel(p->o->http, &p->cancel);
	/* Signals (sshd's LoginGraceTime alarm, a TERM) stay with the caller's
	 * thread, which is the one PAM and the application expect them on. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		ag_http_set_cancel(p->o->http, NULL);
		ag_log(log, LOG_WARNING, "prewarm: cannot start a thread (%s); authorizing after the password",
		       strerror(rc));
		return false;
	}
	p->running = true;
	return true;
}

void ag_prewarm_join(struct ag_prewarm *p, bool cancel)
{
	if (!p->running)
		return;
	if (cancel)
		atomic_store(&p->cancel, true);
	pthread_join(p->thread, NULL);
	p->running = false;
	p->used = true;
	ag_http_set_cancel(p->o->http, NULL);
	if (cancel && p->err == AG_OK)
		p->err = AG_ERR_CONV; /* nobody will use it: abandoned at Authgear */
}

void ag_prewarm_clear(struct ag_prewarm *p)
{
	ag_prewarm_join(p, true);
	ag_pkce_clear(&p->pk);
	free(p->url_query);
	p->url_query = NULL;
}
