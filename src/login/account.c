/* The account check (account.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "login/account.h"

static enum ag_err join(char *const *v, size_t n, char **out)
{
	struct ag_buf b = AG_BUF_INIT(64 * 1024);

	for (size_t i = 0; i < n; i++)
		ag_buf_join(&b, ",", v[i]);
	*out = ag_buf_str(&b) ? strdup(ag_buf_str(&b)) : NULL;
	ag_buf_free(&b);
	return *out ? AG_OK : AG_ERR_NOMEM;
}

enum ag_err ag_account_cache_from(struct ag_token_cache *c, const struct ag_tokens *tokens,
				  const struct ag_claims *claims, long long now, bool login)
{
	enum ag_err err;

	memset(c, 0, sizeof *c);
	c->refresh_token = tokens->refresh_token;
	c->access_token = tokens->access_token;
	c->id_token = tokens->id_token;
	c->access_expires = tokens->expires_in > 0 ? now + tokens->expires_in : 0;
	c->sub = claims->sub;
	c->auth_time = claims->auth_time;
	c->login_at = login ? now : 0;
	c->checked_at = now;
	c->check_ok_at = now;
	snprintf(c->check_result, sizeof c->check_result, "%s", login ? "login" : "ok");
	err = join(claims->amr, claims->n_amr, &c->amr);
	if (err == AG_OK)
		err = join(claims->roles, claims->n_roles, &c->roles);
	if (err != AG_OK)
		ag_account_cache_release(c);
	return err;
}

void ag_account_cache_release(struct ag_token_cache *c)
{
	free(c->amr);
	free(c->roles);
	memset(c, 0, sizeof *c);
}

/* --- the check ------------------------------------------------------------- */

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "accounts/identity.h"
#include "accounts/stamp.h"
#include "base/http.h"
#include "common/names.h"
#include "login/policy.h"
#include "oidc/oidc.h"

static bool offline(enum ag_err err)
{
	return err == AG_ERR_NETWORK || err == AG_ERR_TIMEOUT || err == AG_ERR_SERVER || err == AG_ERR_TLS;
}

static bool fresh(const struct ag_token_cache *t, long long since)
{
	return t->check_ok_at > since && t->refresh_token &&
	       (strcmp(t->check_result, "ok") == 0 || strcmp(t->check_result, "login") == 0);
}

/* One refresh per user at a time: a per-user lock file (no database lock
 * is held across the network). The name is part of the path: only a valid
 * Unix name (the CLI passes what it was given, "../x" included). */
int ag_account_lock_user(const char *state_dir, const char *user, const struct timespec *deadline)
{
	const struct timespec pause = { 0, 20 * 1000 * 1000 };
	char path[4096];
	int fd;

	if (!ag_name_valid(user)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof path, "%s/private/check-%s.lock", state_dir, user);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* with a deadline polled: flock has no timeout (the holder is a check
	 * or a login whose requests a deadline of their own bounds) */
	for (;;) {
		int e;

		if (flock(fd, deadline ? LOCK_EX | LOCK_NB : LOCK_EX) == 0)
			return fd;
		e = errno;
		if (deadline && e == EWOULDBLOCK && ag_http_ms_until(deadline) > 0) {
			nanosleep(&pause, NULL);
			continue;
		}
		close(fd);
		errno = deadline && e == EWOULDBLOCK ? ETIMEDOUT : e;
		return -1;
	}
}

static enum ag_err ended(struct ag_store *s, const struct ag_log *log, const char *user, struct ag_token_cache *t,
			 long long now, const char *why, char *line, size_t line_len)
{
	bool found;

	ag_log(log, LOG_NOTICE, "account: %s: Authgear session ended (%s); cached tokens dropped", user, why);
	if (ag_tokens_drop(s, user, &found) != AG_OK)
		ag_log(log, LOG_ERR, "account: %s: cannot drop the cached tokens", user);
	/* Keep a mark without tokens, so offline grace never follows a revocation. */
	ag_token_cache_clear(t);
	t->checked_at = now;
	snprintf(t->check_result, sizeof t->check_result, "revoked");
	/* This check denies either way; without the mark the next one finds no
	 * row, which account_check_without_token = allow lets in. */
	if (ag_tokens_put(s, user, t) != AG_OK)
		ag_log(log, LOG_ERR, "account: %s: cannot record the revocation; the next account check finds no "
				     "token (account_check_without_token decides)", user);
	snprintf(line, line_len, "%s", AG_ACCOUNT_ENDED);
	return AG_ERR_DENIED;
}

/* An access token this close to its expiry counts as expired: it could
 * lapse between the check and its use. */
#define ACCESS_MARGIN 30

/* The refresh grant and the new ID token verified like a login's. */
static enum ag_err refresh_verified(struct ag_oidc *o, const char *refresh_token, struct ag_tokens *tokens,
				    struct ag_claims *claims)
{
	enum ag_err err = ag_token_refresh(o, refresh_token, tokens);

	if (err == AG_OK && !tokens->id_token) {
		ag_log(o->log, LOG_ERR, "account: the refresh answer has no ID token");
		err = AG_ERR_PROTOCOL;
	}
	if (err == AG_OK)
		err = ag_oidc_verify_id_token(o, tokens->id_token, NULL, -1, claims);
	return err;
}

static enum ag_err resolve(struct ag_oidc *o, const char *access_token, struct ag_claims *claims)
{
	const struct ag_config *cfg = o->cfg;
	size_t n = strlen(cfg->issuer);
	char *url = NULL;
	enum ag_err err;

	if (!cfg->resolver_url &&
	    asprintf(&url, "%.*s/_resolver/resolve", (int)(n && cfg->issuer[n - 1] == '/' ? n - 1 : n), cfg->issuer) < 0)
		return AG_ERR_NOMEM;
	err = ag_resolve(o, cfg->resolver_url ? cfg->resolver_url : url, access_token, claims);
	free(url);
	return err;
}

/* Ask as account_check says: claims of the user as Authgear sees them now,
 * and *tokens when a refresh ran. AG_ERR_INVALID_GRANT (*why says how) is a
 * revocation: the session is gone, or it is another user's. */
static enum ag_err ask(struct ag_oidc *o, const struct ag_token_cache *t, const char *sub, long long now,
		       struct ag_tokens *tokens, struct ag_claims *claims, const char **why)
{
	const char *mode = o->cfg->account_check;
	bool expired = !t->access_token || t->access_expires <= now + ACCESS_MARGIN;
	const char *access = t->access_token;
	enum ag_err err = AG_OK;

	*why = "invalid_grant";
	if (strcmp(mode, "refresh") == 0 || expired) {
		err = refresh_verified(o, t->refresh_token, tokens, claims);
		if (err == AG_OK && strcmp(claims->sub, sub) != 0) {
			*why = "another sub";
			err = AG_ERR_INVALID_GRANT;
		}
		if (err != AG_OK || strcmp(mode, "resolver") != 0)
			return err;
		/* The resolver with the new access token, as with a live one. */
		ag_claims_clear(claims);
		access = tokens->access_token;
	}
	if (strcmp(mode, "jwt") == 0) {
		/* Signature and expiry only: Authgear is not asked until the
		 * access token expires (README: medium reliability). */
		err = ag_oidc_verify_access_token(o, access, claims);
		if (err == AG_ERR_UNSUPPORTED)
			ag_log(o->log, LOG_ERR, "account: account_check = jwt needs JWT access tokens "
						"(issue_jwt_access_token on the client); this one is opaque");
	} else {
		*why = "resolver: session not valid";
		err = resolve(o, access, claims);
	}
	if (err == AG_OK && strcmp(claims->sub, sub) != 0) {
		*why = "another sub";
		err = AG_ERR_INVALID_GRANT;
	}
	return err;
}

/* One account check's state: the store, the user's binding and row. */
struct check {
	const struct ag_config *cfg;
	const struct ag_log *log;
	const char *user;
	long long now;
	struct timespec deadline; /* login_timeout bounds the whole call */
	struct ag_store *s;
	char *sub;
	struct ag_token_cache t;
	struct ag_stamp_fp before; /* the store before the row was read (stamp.h) */
	bool stampable;
	char *line;
	size_t line_len;
};

static enum ag_err deny(struct check *c, const char *line)
{
	snprintf(c->line, c->line_len, "%s", line);
	return AG_ERR_DENIED;
}

/* The store opened and the user's binding and row read; the store's and
 * the per-user lock's waits and the requests draw from one deadline. */
static enum ag_err read_state(struct check *c, bool *found)
{
	enum ag_err err;

	const struct ag_config *cfg = c->cfg;
	struct ag_stamp_fp key;
	bool key_known = ag_stamp_fingerprint(cfg->state_dir, cfg->token_key_file, &key);

	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += cfg->login_timeout;
	err = ag_tokens_store_open(cfg, c->log, &c->s);
	if (err == AG_OK) {
		ag_store_busy_limit(c->s, ag_http_ms_until(&c->deadline));
		c->stampable = key_known && ag_stamp_fingerprint(cfg->state_dir, cfg->token_key_file, &c->before) &&
			       ag_stamp_same_key(&key, &c->before);
		err = ag_store_bound_sub(c->s, c->user, &c->sub);
	}
	if (err == AG_OK)
		err = ag_tokens_get(c->s, c->user, &c->t, found);
	return err;
}

/* Answered from the row alone? *done when so: a revocation's mark or no
 * token (err says which answer), or a result within account_check_cache. */
static enum ag_err from_row(struct check *c, bool found, bool *done)
{
	const struct ag_config *cfg = c->cfg;

	*done = true;
	if (found && strcmp(c->t.check_result, "revoked") == 0)
		return deny(c, AG_ACCOUNT_ENDED);
	if (!c->sub || !found || !c->t.refresh_token) {
		if (strcmp(cfg->account_check_without_token, "allow") == 0) {
			ag_log(c->log, LOG_NOTICE, "account: %s: no cached token; allowed (account_check_without_token)",
			       c->user);
			return AG_OK;
		}
		ag_log(c->log, LOG_NOTICE, "account: %s: no cached token; denied", c->user);
		return deny(c, AG_ACCOUNT_NO_TOKEN);
	}
	/* within account_check_cache: no request */
	*done = fresh(&c->t, c->now - cfg->account_check_cache);
	return AG_OK;
}

/* The per-user lock taken (*fd) and the row read again: another check may
 * have refreshed while this one waited (*done: reuse its result). */
static enum ag_err lock_and_reread(struct check *c, int *fd, bool *done)
{
	long long before = c->t.checked_at;
	bool found = false;
	enum ag_err err;

	*done = true;
	*fd = ag_account_lock_user(ag_store_state_dir(c->s), c->user, &c->deadline);
	if (*fd < 0) {
		ag_log(c->log, LOG_ERR, "account: %s: cannot lock the check%s", c->user,
		       errno == ETIMEDOUT ? ": another check or login held it until login_timeout" : "");
		return AG_ERR_IO;
	}
	ag_token_cache_clear(&c->t);
	err = ag_tokens_get(c->s, c->user, &c->t, &found);
	if (err != AG_OK)
		return err;
	if (!found || !c->t.refresh_token)
		return deny(c, found ? AG_ACCOUNT_ENDED : AG_ACCOUNT_NO_TOKEN);
	*done = fresh(&c->t, c->now - c->cfg->account_check_cache) ||
		(c->t.checked_at != before && fresh(&c->t, before));
	return AG_OK;
}

/* Authgear asked (ask); a revocation ends the session, Authgear being
 * unreachable is allowed within offline_grace. *done when that decided. */
static enum ag_err ask_authgear(struct check *c, const struct ag_clock *clock, struct ag_tokens *tokens,
				struct ag_claims *claims, long *requests, bool *done)
{
	const struct ag_config *cfg = c->cfg;
	struct ag_oidc *o = NULL;
	const char *why = NULL;
	enum ag_err err;

	*done = true;
	ag_store_busy_limit(c->s, ag_http_ms_until(&c->deadline)); /* what is left, for the final write */
	err = ag_oidc_open_until(cfg, c->log, &c->deadline, &o);
	if (err == AG_OK) {
		o->clock = clock ? clock : &ag_clock_system;
		err = ask(o, &c->t, c->sub, c->now, tokens, claims, &why);
	}
	if (o)
		*requests = ag_http_requests(o->http);
	ag_oidc_close(o);
	if (err == AG_ERR_INVALID_GRANT)
		return ended(c->s, c->log, c->user, &c->t, c->now, why, c->line, c->line_len);
	if (offline(err)) {
		long long since = c->now - c->t.check_ok_at;

		if (cfg->offline_grace > 0 && c->t.check_ok_at > 0 && since < cfg->offline_grace * 3600) {
			ag_log(c->log, LOG_NOTICE, "account: %s: Authgear unreachable (%s); allowed offline, last check "
						   "%llds ago (offline_grace)", c->user, ag_err_name(err), since);
			return AG_OK;
		}
		ag_log(c->log, LOG_ERR, "account: %s: Authgear unreachable (%s); denied", c->user, ag_err_name(err));
		return err;
	}
	if (err != AG_OK) {
		ag_log(c->log, LOG_ERR, "account: %s: check failed (%s); denied", c->user, ag_err_name(err));
		return err;
	}
	*done = false;
	return AG_OK;
}

/* Roles re-read, the policy re-checked (the second factor as the login
 * recorded it: amr of the refreshed token, the resolver's Session-Amr or
 * the access token's), and the result written to the store. */
static enum ag_err record(struct check *c, struct ag_tokens *tokens, const struct ag_claims *claims)
{
	const struct ag_config *cfg = c->cfg;
	struct ag_token_cache row = { 0 };
	const char *pline = NULL;
	enum ag_err err;

	err = ag_policy_check(cfg, c->log, c->user, claims, false, AG_MFA_AMR_FACTORS, &pline);
	if (err != AG_OK) {
		snprintf(c->line, c->line_len, "%s", pline ? pline : ag_err_user_line(err));
		return err;
	}
	if (!tokens->access_token) {
		/* no refresh ran: the cached access token stays, with its expiry */
		tokens->access_token = c->t.access_token;
		c->t.access_token = NULL;
		tokens->expires_in = c->t.access_expires - c->now;
	}
	err = ag_account_cache_from(&row, tokens, claims, c->now, false);
	if (err == AG_OK)
		err = ag_identity_login(c->s, cfg, c->log, c->user, c->sub, claims->roles, claims->n_roles, NULL, NULL,
					&row, NULL);
	ag_account_cache_release(&row);
	if (err == AG_OK)
		ag_log(c->log, LOG_INFO, "account: %s: checked %s (%s%s%s)", c->user,
		       strcmp(cfg->account_check, "jwt") == 0 && !tokens->id_token ? "locally" : "at Authgear",
		       cfg->account_check,
		       tokens->id_token && strcmp(cfg->account_check, "refresh") != 0 ? ", refreshed" : "",
		       tokens->refresh_token ? ", rotated" : "");
	return err;
}

enum ag_err ag_account_check(const struct ag_config *cfg, const struct ag_log *log, const char *user,
			     const struct ag_clock *clock, char *line, size_t line_len, long *requests)
{
	struct check c = { .cfg = cfg, .log = log, .user = user, .now = ag_clock_wall(clock), .line = line,
			   .line_len = line_len };
	struct ag_tokens fresh_tokens = { 0 };
	struct ag_claims claims = { 0 };
	bool found = false, done = false;
	int fd = -1;
	enum ag_err err;

	*requests = 0;
	line[0] = '\0';
	if (ag_stamp_allows(cfg->state_dir, cfg->token_key_file, user, c.now - cfg->account_check_cache)) {
		ag_log(log, LOG_DEBUG, "account: %s: within account_check_cache (check stamp)", user);
		return AG_OK;
	}
	err = read_state(&c, &found);
	if (err == AG_OK)
		err = from_row(&c, found, &done);
	if (err == AG_OK && done && found && c.sub && fresh(&c.t, c.now - cfg->account_check_cache)) {
		if (c.stampable)
			ag_stamp_put(cfg->state_dir, cfg->token_key_file, user, &c.before, c.t.check_ok_at, log);
	} else {
		ag_stamp_drop(cfg->state_dir, user);
	}
	if (err == AG_OK && !done)
		err = lock_and_reread(&c, &fd, &done);
	if (err == AG_OK && !done)
		err = ask_authgear(&c, clock, &fresh_tokens, &claims, requests, &done);
	if (err == AG_OK && !done)
		err = record(&c, &fresh_tokens, &claims);
	if (err != AG_OK && !line[0])
		snprintf(line, line_len, "%s", ag_err_user_line(err));
	if (fd >= 0)
		close(fd);
	ag_claims_clear(&claims);
	ag_tokens_clear(&fresh_tokens);
	ag_token_cache_clear(&c.t);
	ag_store_close(c.s);
	free(c.sub);
	return err;
}
