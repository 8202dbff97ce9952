/* Prewarm: authorize in a worker thread while the person types (see
 * prewarm.h). */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/store.h"
#include "base/http.h"
#include "common/names.h"
#include "login/prewarm.h"
#include "oidc/oidc.h"

/* Exact names only: a pattern ("dev-*") would let anyone make us talk. */
static bool listed_by_name(const char *list, const char *user)
{
	size_t n;

	for (const char *cur = list, *p; (p = ag_list_next(&cur, &n));)
		if (n == strlen(user) && memcmp(p, user, n) == 0 && !memchr(p, '*', n) && !memchr(p, '?', n) &&
		    !memchr(p, '[', n))
			return true;
	return false;
}

bool ag_prewarm_wanted(const struct ag_login *l)
{
	char *sub = NULL;
	bool bound;

	if (listed_by_name(l->cfg->users, l->user))
		return true;
	bound = l->store && ag_store_bound_sub(l->store, l->user, &sub) == AG_OK && sub;
	free(sub);
	return bound;
}

static void *worker(void *arg)
{
	struct ag_prewarm *p = arg;

	p->err = ag_pkce_new(&p->pk);
	if (p->err == AG_OK)
		p->err = ag_authorize(p->o, &p->opts, &p->pk, &p->url_query);
	return NULL;
}

bool ag_prewarm_start(struct ag_prewarm *p, struct ag_login *l, const struct ag_authorize_opts *opts)
{
	sigset_t all, old;
	int rc;

	memset(p, 0, sizeof *p);
	atomic_init(&p->cancel, false);
	p->err = AG_ERR_INVALID_ARG;
	if (!ag_prewarm_wanted(l) || (!l->o && ag_login_oidc(l) != AG_OK))
		return false;
	p->o = l->o;
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
		ag_log(l->log, LOG_WARNING, "prewarm: cannot start a thread (%s); authorizing after the password",
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
