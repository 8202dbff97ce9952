/* Sessions and logout (session.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "accounts/sessions.h"
#include "accounts/tokens.h"
#include "login/account.h"
#include "login/session.h"
#include "oidc/oidc.h"
#include "oidc/token.h"

struct open_ctx {
	const char *user;
	struct ag_session *s;
	bool recorded;
};

static enum ag_err open_tx(struct ag_store_tx *tx, void *vctx)
{
	struct open_ctx *c = vctx;
	long live;
	enum ag_err err = ag_sessions_tx_prune(tx, c->user, &live);

	if (err == AG_OK)
		err = ag_sessions_tx_add(tx, c->user, c->s, &c->recorded);
	/* The current login now has a session: its token is the one the
	 * last close revokes. */
	if (err == AG_OK && c->recorded)
		err = ag_tokens_tx_session_opened(tx, c->user);
	return err;
}

enum ag_err ag_session_open(const struct ag_config *cfg, const struct ag_log *log, const char *user,
			    const char *tty, const char *rhost, long long now, long long *id)
{
	struct ag_session sess = { .started_at = now };
	struct open_ctx c = { .user = user, .s = &sess };
	struct ag_store *s = NULL;
	enum ag_err err;

	*id = 0;
	/* set by whoever runs PAM: escaped before the store or a log line holds them */
	ag_text_escape(tty, sess.tty, sizeof sess.tty);
	ag_text_escape(rhost, sess.rhost, sizeof sess.rhost);
	ag_session_self(&sess);
	err = ag_tokens_store_open(cfg, log, &s);
	if (err == AG_OK)
		err = ag_store_write(s, open_tx, &c, NULL);
	if (err == AG_OK && c.recorded) {
		*id = sess.id;
		ag_log(log, LOG_INFO, "session: %s: opened (tty %s, from %s, pid %ld)", user, sess.tty[0] ? sess.tty : "-",
		       sess.rhost[0] ? sess.rhost : "-", sess.pid);
	} else if (err == AG_OK) {
		ag_log(log, LOG_DEBUG, "session: %s: not signed in here with Authgear; not recorded", user);
	}
	ag_store_close(s);
	return err;
}

struct close_ctx {
	const char *user;
	long long id;
	bool found;
	long live;
};

static enum ag_err close_tx(struct ag_store_tx *tx, void *vctx)
{
	struct close_ctx *c = vctx;
	enum ag_err err = ag_sessions_tx_remove(tx, c->user, c->id, &c->found);

	if (err == AG_OK)
		err = ag_sessions_tx_prune(tx, c->user, &c->live);
	return err;
}

enum ag_err ag_session_close(const struct ag_config *cfg, const struct ag_log *log, const char *user, long long id)
{
	struct close_ctx c = { .user = user, .id = id };
	struct ag_store *s = NULL;
	bool had = false;
	enum ag_err err;

	err = ag_tokens_store_open(cfg, log, &s);
	if (err == AG_OK)
		err = ag_store_write(s, close_tx, &c, NULL);
	if (err != AG_OK)
		goto out;
	ag_log(log, LOG_INFO, "session: %s: %s; %ld other session%s open here", user,
	       c.found ? "closed" : "closed (no record of its opening)", c.live, c.live == 1 ? "" : "s");
	if (!cfg->revoke_on_logout || c.live > 0)
		goto out;
	err = ag_session_logout(s, cfg, log, user, true, &had);
out:
	ag_store_close(s);
	return err;
}

static enum ag_err clear_tx(struct ag_store_tx *tx, void *vctx)
{
	bool had;

	return ag_tokens_tx_clear_secrets(tx, vctx, &had);
}

enum ag_err ag_session_logout(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log,
			      const char *user, bool only_current, bool *had)
{
	struct ag_token_cache t = { 0 };
	struct ag_oidc *o = NULL;
	bool found = false;
	enum ag_err err, drop;
	int fd;

	*had = false;
	/* Not while an account check refreshes (with rotation it would cache a
	 * token this revocation never saw). */
	fd = ag_account_lock_user(ag_store_state_dir(s), user, NULL);
	if (fd < 0) {
		ag_log(log, LOG_ERR, "logout: %s: cannot lock the user's token cache", user);
		return AG_ERR_IO;
	}
	err = ag_tokens_get(s, user, &t, &found);
	if (err != AG_OK || !found || !t.refresh_token)
		goto out;
	if (only_current && t.logins != t.session_logins) {
		ag_log(log, LOG_NOTICE, "logout: %s: a newer login has not opened its session yet; its refresh token is "
					"kept", user);
		goto out;
	}
	*had = true;
	err = ag_oidc_open(cfg, log, &o);
	if (err == AG_OK)
		err = ag_token_revoke(o, t.refresh_token, "refresh_token");
	if (err == AG_OK)
		ag_log(log, LOG_NOTICE, "logout: %s: refresh token revoked at Authgear (the whole session there)", user);
	else
		ag_log(log, LOG_WARNING, "logout: %s: could not revoke the refresh token at Authgear (%s); it stays valid "
					 "there until it expires", user, ag_err_reason(err));
	drop = ag_store_write(s, clear_tx, (void *)user, NULL);
	if (drop == AG_OK)
		ag_log(log, LOG_INFO, "logout: %s: cached tokens dropped", user);
	if (err == AG_OK)
		err = drop;
out:
	close(fd);
	ag_oidc_close(o);
	ag_token_cache_clear(&t);
	return err;
}
