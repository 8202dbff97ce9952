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

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "accounts/identity.h"
#include "base/http.h"
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
 * is held across the network). */
static int lock_user(const char *state_dir, const char *user)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, "%s/private/check-%s.lock", state_dir, user);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
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
	ag_tokens_put(s, user, t);
	snprintf(line, line_len, "%s", AG_ACCOUNT_ENDED);
	return AG_ERR_DENIED;
}

enum ag_err ag_account_check(const struct ag_config *cfg, const struct ag_log *log, const char *user, long long now,
			     char *line, size_t line_len, long *requests)
{
	struct ag_store *s = NULL;
	struct ag_oidc *o = NULL;
	struct ag_token_cache t = { 0 }, row = { 0 };
	struct ag_tokens fresh_tokens = { 0 };
	struct ag_claims claims = { 0 };
	char *sub = NULL;
	const char *pline = NULL;
	bool found = false;
	long long before;
	int fd = -1;
	enum ag_err err;

	*requests = 0;
	line[0] = '\0';
	err = ag_store_open(cfg->state_dir, log, &s);
	if (err == AG_OK)
		err = ag_store_bound_sub(s, user, &sub);
	if (err == AG_OK)
		err = ag_tokens_get(s, user, &t, &found);
	if (err != AG_OK)
		goto out;
	if (found && strcmp(t.check_result, "revoked") == 0) {
		snprintf(line, line_len, "%s", AG_ACCOUNT_ENDED);
		err = AG_ERR_DENIED;
		goto out;
	}
	if (!sub || !found || !t.refresh_token) {
		if (strcmp(cfg->account_check_without_token, "allow") == 0) {
			ag_log(log, LOG_NOTICE, "account: %s: no cached token; allowed (account_check_without_token)", user);
			goto out;
		}
		ag_log(log, LOG_NOTICE, "account: %s: no cached token; denied", user);
		snprintf(line, line_len, "%s", AG_ACCOUNT_NO_TOKEN);
		err = AG_ERR_DENIED;
		goto out;
	}
	if (fresh(&t, now - cfg->account_check_cache))
		goto out; /* within account_check_cache: no request */
	fd = lock_user(ag_store_state_dir(s), user);
	if (fd < 0) {
		ag_log(log, LOG_ERR, "account: %s: cannot lock the check", user);
		err = AG_ERR_IO;
		goto out;
	}
	/* Another check may have refreshed while this one waited: reuse it. */
	before = t.checked_at;
	ag_token_cache_clear(&t);
	err = ag_tokens_get(s, user, &t, &found);
	if (err != AG_OK)
		goto out;
	if (!found || !t.refresh_token) {
		snprintf(line, line_len, "%s", found ? AG_ACCOUNT_ENDED : AG_ACCOUNT_NO_TOKEN);
		err = AG_ERR_DENIED;
		goto out;
	}
	if (fresh(&t, now - cfg->account_check_cache) || (t.checked_at != before && fresh(&t, before)))
		goto out;
	err = ag_oidc_open(cfg, log, &o);
	if (err == AG_OK)
		err = ag_token_refresh(o, t.refresh_token, &fresh_tokens);
	if (o)
		*requests = ag_http_requests(o->http);
	if (err == AG_ERR_INVALID_GRANT) {
		err = ended(s, log, user, &t, now, "invalid_grant", line, line_len);
		goto out;
	}
	if (offline(err)) {
		if (cfg->offline_grace > 0 && t.check_ok_at > 0 && now - t.check_ok_at < cfg->offline_grace * 3600) {
			ag_log(log, LOG_NOTICE, "account: %s: Authgear unreachable (%s); allowed offline, last check %llds ago "
						"(offline_grace)", user, ag_err_name(err), now - t.check_ok_at);
			err = AG_OK;
		} else {
			ag_log(log, LOG_ERR, "account: %s: Authgear unreachable (%s); denied", user, ag_err_name(err));
		}
		goto out;
	}
	if (err == AG_OK && !fresh_tokens.id_token) {
		ag_log(log, LOG_ERR, "account: %s: the refresh answer has no ID token", user);
		err = AG_ERR_PROTOCOL;
	}
	if (err == AG_OK)
		err = ag_oidc_verify_id_token(o, fresh_tokens.id_token, NULL, -1, &claims);
	if (o)
		*requests = ag_http_requests(o->http);
	if (err != AG_OK) {
		ag_log(log, LOG_ERR, "account: %s: check failed (%s); denied", user, ag_err_name(err));
		goto out;
	}
	if (strcmp(claims.sub, sub) != 0) {
		err = ended(s, log, user, &t, now, "another sub", line, line_len);
		goto out;
	}
	/* Roles re-read, the policy re-checked (the second factor as the login
	 * recorded it: amr of the refreshed token). */
	err = ag_policy_check(cfg, log, user, &claims, false, AG_MFA_AMR_FACTORS, &pline);
	if (err != AG_OK) {
		snprintf(line, line_len, "%s", pline ? pline : ag_err_user_line(err));
		goto out;
	}
	err = ag_account_cache_from(&row, &fresh_tokens, &claims, now, false);
	if (err == AG_OK)
		err = ag_identity_login(s, cfg, log, user, sub, claims.roles, claims.n_roles, NULL, &row, NULL);
	ag_account_cache_release(&row);
	if (err == AG_OK)
		ag_log(log, LOG_INFO, "account: %s: checked at Authgear (refresh%s)", user,
		       fresh_tokens.refresh_token ? ", rotated" : "");
out:
	if (err != AG_OK && !line[0])
		snprintf(line, line_len, "%s", ag_err_user_line(err));
	if (fd >= 0)
		close(fd);
	ag_claims_clear(&claims);
	ag_tokens_clear(&fresh_tokens);
	ag_token_cache_clear(&t);
	ag_oidc_close(o);
	ag_store_close(s);
	free(sub);
	return err;
}
