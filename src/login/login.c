/* Password + TOTP login through Authgear's Authentication Flow API
 * (authgear-protocol.md §2, §3, §12), and the checks that end every login. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts/identity.h"
#include "accounts/store.h"
#include "base/buf.h"
#include "base/http.h"
#include "base/json.h"
#include "base/secret.h"
#include "common/index.h"
#include "common/names.h"
#include "login/account.h"
#include "login/login.h"
#include "login/prewarm.h"
#include "oidc/authflow.h"
#include "oidc/authorize.h"
#include "oidc/oidc.h"
#include "oidc/pkce.h"
#include "oidc/token.h"

#define LOGIN_ID_MAX 320 /* bytes of an expanded login_id template */
#define MAX_FLOW_STEPS 8 /* actions handled in one login before giving up */

/* login_timeout bounds the whole PAM call: one deadline, from its first
 * wait on (the store's lock, or the first request), that every lock wait and
 * every request draw from. The milliseconds left of it. */
static long deadline_left(struct ag_login *l)
{
	if (!l->deadline_set) {
		clock_gettime(CLOCK_MONOTONIC, &l->deadline);
		l->deadline.tv_sec += l->cfg->login_timeout;
		l->deadline_set = true;
	}
	return ag_http_ms_until(&l->deadline);
}

/* Record the line for the person; the first one set wins. */
static enum ag_err deny(struct ag_login *l, enum ag_err err, const char *line)
{
	if (!l->line[0])
		snprintf(l->line, sizeof l->line, "%s", line ? line : ag_err_user_line(err));
	return err;
}

bool ag_login_is_ours(const struct ag_config *cfg, const struct ag_log *log, const char *user)
{
	return ag_identity_is_ours(cfg, log, user, NULL);
}

/* A fresh install: no NSS index has been written yet (the first login
 * writes it), so nothing can answer any name of users. */
static bool no_index_yet(void)
{
	struct stat st;

	return lstat(ag_index_path(), &st) != 0 && errno == ENOENT;
}

bool ag_login_resolves(const struct ag_config *cfg, const struct ag_log *log, const char *user)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	int rc = getpwnam_r(user, &pw, buf, sizeof buf, &found);

	if ((rc == 0 && found) || rc == ERANGE)
		return true; /* ERANGE: there is an entry, longer than buf */
	/* A name only a pattern of users matches resolves, before its first
	 * login, only in sshd; a console login or su of it must still work. In
	 * sshd the NSS module was asked already, so nothing more is accepted
	 * there. Before any index exists, the configuration says what it will
	 * show. (ag_login_is_ours has made sure the host has no account or
	 * group of that name.) */
	if ((rc == 0 || rc == ENOENT || rc == ESRCH) /* not found (getpwnam_r(3)), not a failing source */ &&
	    !ag_index_caller_is_sshd()) {
		if (ag_identity_index_pattern_only(ag_index_path(), user)) {
			ag_log(log, LOG_DEBUG, "%s: first login of a name a pattern of users matches (the NSS module "
					       "shows it to sshd only)", user);
			return true;
		}
		if (ag_name_allowed(cfg->users, user) && no_index_yet()) {
			ag_log(log, LOG_NOTICE, "%s: first login on this host, which has no NSS index %s yet (the login "
						"writes it)", user, ag_index_path());
			return true;
		}
	}
	ag_log(log, LOG_ERR, "%s does not resolve through NSS: add authgear to the passwd and group lines of "
	       "/etc/nsswitch.conf or run authgear-pam reindex (no request sent)", user);
	return false;
}

/* The person's line for an Authgear error; lockout says when to come back. */
static enum ag_err flow_denied(struct ag_login *l, enum ag_err err, const struct ag_flow_error *ferr)
{
	char line[AG_LOGIN_LINE_MAX];

	if (ferr->tracking_id[0])
		snprintf(l->tracking_id, sizeof l->tracking_id, "%s", ferr->tracking_id);
	if (strcmp(ferr->reason, "AuthenticationFlowFlowNotFound") == 0) {
		ag_log(l->log, LOG_ERR, "authflow: the project has no flow named '%s' (flow_name): add it in Authgear or "
					"set flow_name to one it has", l->cfg->flow_name);
		return deny(l, AG_ERR_CONFIG, NULL);
	}
	if ((err == AG_ERR_LOCKED || err == AG_ERR_RATE_LIMITED) && ferr->until) {
		/* rounded up, less a second: until has lost its fraction here, and
		 * time() is the kernel's coarse clock (up to a tick behind the
		 * IdP's); 300 s read as 301 said "6 minutes" */
		long minutes = (long)((ferr->until - ag_clock_wall(l->clock) + 58) / 60);
		snprintf(line, sizeof line, "Too many attempts; try again in %ld minute%s.", minutes < 1 ? 1 : minutes,
			 minutes > 1 ? "s" : "");
		return deny(l, err, line);
	}
	return deny(l, err, NULL);
}

/* A flow asking for a captcha (bot protection, §3.13) cannot be finished
 * at a PAM prompt: refused before any answer is sent for that step. */
static enum ag_err bot_protected(struct ag_login *l, const struct ag_flow *f)
{
	ag_log(l->log, LOG_ERR, "authflow: the flow '%s' requires bot protection (a captcha) at '%.64s', which a PAM "
				"prompt cannot solve: turn it off for this flow, or give this client a flow without it "
				"(flow_name); denying", l->cfg->flow_name, ag_flow_action(f));
	return deny(l, AG_ERR_CONFIG, NULL);
}

#define TOTP_DIGITS 6          /* Authgear's TOTP (RFC 6238, 6 digits) */
#define RECOVERY_CODE_CHARS 10 /* Authgear's recovery codes: 10 letters and digits, often shown XXXXX-XXXXX */

/* Check a second-factor answer's form before it costs an attempt at
 * Authgear (and a step towards its lockout of the real account). A TOTP code
 * keeps its digits only (blanks dropped, in place); a recovery code may
 * carry blanks and dashes (left as typed: Authgear drops them). */
static bool code_form_ok(bool recovery, char *answer)
{
	bool bad = false;
	size_t n = 0;

	for (const char *p = answer; *p && !bad; p++) {
		bool digit = *p >= '0' && *p <= '9';
		bool letter = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z');

		if (*p == ' ' || *p == '\t' || (recovery && *p == '-'))
			continue;
		if (!(digit || (recovery && letter)) || n >= 64)
			bad = true;
		else if (recovery)
			n++;
		else
			answer[n++] = *p; /* in place: n never passes p */
	}
	if (!recovery && !bad)
		answer[n] = '\0';
	return !bad && n == (recovery ? RECOVERY_CODE_CHARS : TOTP_DIGITS);
}

/* An answer equal to the password is what sshd sends under password
 * authentication: it answers every prompt with the password. */
static bool answer_is_password(struct ag_login *l, const char *answer, const char *password)
{
	if (!password || strcmp(answer, password) != 0)
		return false;
	ag_log(l->log, LOG_WARNING, "login: %s: the answer to the code prompt is the password: sshd answers every "
	       "prompt with it under password authentication; set AuthenticationMethods keyboard-interactive in "
	       "sshd_config (not sent to Authgear)", l->user);
	return true;
}

static enum ag_err check_code_form(struct ag_login *l, bool recovery, char *answer, const char *password)
{
	if (answer_is_password(l, answer, password))
		return AG_ERR_CREDENTIALS;
	if (!code_form_ok(recovery, answer)) {
		ag_log(l->log, LOG_NOTICE, "login: %s: the %s is not %s; not sent to Authgear (no attempt used)", l->user,
		       recovery ? "recovery code" : "verification code",
		       recovery ? "10 letters and digits" : "6 digits");
		return AG_ERR_CREDENTIALS;
	}
	return AG_OK;
}

/* Pick the second factor: the authenticator app, or a recovery code; a short
 * numbered choice only when both are offered. */
static enum ag_err second_factor(struct ag_login *l, struct ag_flow *f, const char *password,
				 enum ag_store_factor *used, struct ag_flow_error *ferr)
{
	bool totp = ag_flow_offers(f, "authentication", "secondary_totp");
	bool recovery = ag_flow_offers(f, "authentication", "recovery_code");
	const char *kind = "secondary_totp";
	char *answer = NULL;
	json_t *input;
	enum ag_err err;

	if (!totp && !recovery) {
		ag_log(l->log, LOG_ERR, "login: the flow offers no second factor this module supports "
					"(authenticator app or recovery code)");
		return deny(l, AG_ERR_MFA_REQUIRED, "This account's second factor cannot be used here; "
						    "add an authenticator app to your Authgear account.");
	}
	if (totp && recovery) {
		int choice;

		err = ag_login_choose(l, "Second factor: 1) Authenticator app code  2) Recovery code", 2, &choice);
		if (err != AG_OK)
			return err;
		if (choice == 2)
			kind = "recovery_code";
	} else if (!totp) {
		kind = "recovery_code";
	}
	err = ag_login_ask(l, AG_CONV_SECRET,
			   strcmp(kind, "recovery_code") == 0 ? "Recovery code: " : "Verification code: ", &answer);
	if (err != AG_OK)
		return err;
	err = check_code_form(l, strcmp(kind, "recovery_code") == 0, answer, password);
	if (err != AG_OK) {
		ag_free_secret(answer);
		return deny(l, err, NULL);
	}
	input = json_pack("{s:s, s:s}", "authentication", kind,
			  strcmp(kind, "recovery_code") == 0 ? "recovery_code" : "code", answer);
	ag_free_secret(answer);
	if (!input)
		return AG_ERR_NOMEM;
	err = ag_flow_input(f, input, ferr);
	ag_json_wipe(input);
	json_decref(input);
	if (err == AG_OK)
		*used = strcmp(kind, "recovery_code") == 0 ? AG_STORE_FACTOR_RECOVERY_CODE : AG_STORE_FACTOR_TOTP;
	return err;
}

/* Drive the flow from after the password to "finished"; returns the
 * finish_redirect_uri (points into the flow). */
static enum ag_err drive_flow(struct ag_login *l, struct ag_flow *f, const char *password,
			      enum ag_store_factor *factor, const char **finish_uri)
{
	struct ag_flow_error ferr = { 0 };
	enum ag_err err = AG_OK;

	*finish_uri = NULL;
	for (int steps = 0; steps < MAX_FLOW_STEPS; steps++) {
		const char *action = ag_flow_action(f);
		json_t *input = NULL;

		if (strcmp(action, "finished") == 0) {
			*finish_uri = ag_json_string(ag_flow_data(f), "finish_redirect_uri", 4096);
			if (!*finish_uri) {
				ag_log(l->log, LOG_ERR, "authflow: finished without finish_redirect_uri (OAuth session lost)");
				return AG_ERR_PROTOCOL;
			}
			return AG_OK;
		}
		if (ag_flow_needs_bot_protection(f))
			return bot_protected(l, f);
		if (strcmp(action, "authenticate") == 0) {
			err = second_factor(l, f, password, factor, &ferr);
			if (err != AG_OK)
				return ferr.reason[0] ? flow_denied(l, err, &ferr) : err;
			ag_login_step(l, "second factor");
			continue;
		}
		if (strcmp(action, "change_password") == 0) {
			/* §3.9: the password expired; a flow we cannot finish here. */
			ag_log(l->log, LOG_NOTICE, "login: %s must change the password at Authgear", l->user);
			return deny(l, AG_ERR_PASSWORD_EXPIRED, NULL);
		}
		if (strcmp(action, "terminate_other_sessions") == 0) {
			/* Confirming signs the person out of their other Authgear
			 * sessions without asking them: only when the admin chose it. */
			if (!l->cfg->terminate_other_sessions) {
				ag_log(l->log, LOG_NOTICE, "login: %s is signed in elsewhere and the client allows one session; "
							   "terminate_other_sessions = no: refusing", l->user);
				return deny(l, AG_ERR_DENIED, "You are signed in elsewhere; sign out there first, then try again.");
			}
			input = json_pack("{s:b}", "confirm_terminate_other_sessions", 1);
		} else if (strcmp(action, "prompt_create_passkey") == 0)
			input = json_pack("{s:b}", "skip", 1);
		else {
			ag_log(l->log, LOG_ERR, "authflow: unknown action '%.64s'; denying", action);
			return deny(l, AG_ERR_PROTOCOL, "Sign-in needs a step this system cannot do; sign in on the web first.");
		}
		if (!input)
			return AG_ERR_NOMEM;
		err = ag_flow_input(f, input, &ferr);
			json_decref(input);
		if (err != AG_OK)
			return ferr.reason[0] ? flow_denied(l, err, &ferr) : err;
	}
	ag_log(l->log, LOG_ERR, "authflow: more than %d steps; denying", MAX_FLOW_STEPS);
	return AG_ERR_PROTOCOL;
}

#define REAUTH_NOT_FRESH "Authgear did not confirm a fresh sign-in; try again."

/* A reauthentication's ID token: the bound user's (never anyone else's,
 * whatever Authgear returned), and authenticated by this run, not earlier. */
static enum ag_err reauth_check(struct ag_login *l)
{
	long long now = ag_clock_wall(l->clock), at = l->claims.auth_time;

	if (l->bound_sub && strcmp(l->claims.sub, l->bound_sub) != 0) {
		ag_log(l->log, LOG_ERR, "reauth: %s: the ID token is for another Authgear account (sub %s, %s is bound to "
		       "%s); refused", l->user, l->claims.sub, l->user, l->bound_sub);
		return deny(l, AG_ERR_DENIED, "This user name is linked to another Authgear account.");
	}
	if (at < l->reauth_start - l->cfg->leeway || at > now + l->cfg->leeway) {
		ag_log(l->log, LOG_ERR, "reauth: %s: auth_time %lld is not this reauthentication's (started %lld, now %lld, "
		       "leeway %ld s): not a fresh authentication; refused", l->user, at, l->reauth_start, now, l->cfg->leeway);
		return deny(l, AG_ERR_DENIED, REAUTH_NOT_FRESH);
	}
	return AG_OK;
}

/* Whether amr shows factor; "otp" is also shown by "mfa". */
static bool shows_factor(const struct ag_claims *c, const char *factor)
{
	for (size_t i = 0; i < c->n_amr; i++)
		if (strcmp(c->amr[i], factor) == 0 || (strcmp(factor, "otp") == 0 && strcmp(c->amr[i], "mfa") == 0))
			return true;
	return false;
}

/* The login's transaction (ag_identity_login) with cache as the user's
 * token row. Each login with offline_access makes a new offline grant at
 * Authgear (authgear-protocol.md §5) and the cache keeps one refresh token
 * per user: the one this login replaces is used by nobody afterwards, so it
 * is revoked (§5.4, the whole earlier grant) once the transaction has
 * committed. Best effort: a revocation that fails is logged and the login
 * stands (the earlier grant then lives until it expires at Authgear). The
 * per-user lock keeps an account check from rotating the earlier token
 * between the read and the commit (it would revoke nothing, and the check
 * would cache the earlier grant over this one). */
static enum ag_err commit(struct ag_login *l, const struct ag_login_proof *proof, const struct ag_token_cache *cache,
			  bool *again)
{
	struct ag_token_cache old = { 0 };
	bool found = false;
	int fd = -1;
	enum ag_err err;

	if (cache->refresh_token) {
		fd = ag_account_lock_user(ag_store_state_dir(l->store), l->user, &l->deadline);
		if (fd < 0) {
			ag_log(l->log, LOG_ERR, "login: %s: cannot lock the user's token cache", l->user);
			return AG_ERR_IO;
		}
		if (ag_tokens_get(l->store, l->user, &old, &found) != AG_OK)
			ag_log(l->log, LOG_WARNING, "login: %s: cannot read the refresh token this login replaces; "
						    "it is not revoked", l->user);
	}
	err = ag_identity_login(l->store, l->cfg, l->log, l->user, l->claims.sub, l->claims.roles, l->claims.n_roles,
				proof->factor, NULL, cache, again);
	if (fd >= 0)
		close(fd);
	if (err == AG_OK && old.refresh_token && strcmp(old.refresh_token, cache->refresh_token) != 0) {
		enum ag_err rerr = ag_token_revoke(l->o, old.refresh_token, "refresh_token");

		ag_login_step(l, "store + revoke"); /* since verify: the commit and the revocation */
		if (rerr == AG_OK)
			ag_log(l->log, LOG_INFO, "login: %s: the refresh token this login replaced is revoked at Authgear "
						 "(its earlier session there)", l->user);
		else
			ag_log(l->log, LOG_WARNING, "login: %s: could not revoke the refresh token this login replaced (%s); "
						    "it stays valid at Authgear until it expires", l->user, ag_err_reason(rerr));
	}
	ag_token_cache_clear(&old);
	return err;
}

enum ag_err ag_login_finish(struct ag_login *l, const struct ag_tokens *tokens, const struct ag_login_proof *proof)
{
	struct ag_token_cache cache = { 0 };
	const char *line;
	bool again = false;
	enum ag_err err;

	err = ag_oidc_verify_id_token(l->o, tokens->id_token, proof->nonce,
				      l->reauth ? l->cfg->reauth_max_age : l->cfg->max_age, &l->claims);
	ag_login_step(l, "verify");
	if (err != AG_OK)
		return deny(l, err, NULL);
	if (l->reauth && (err = reauth_check(l)) != AG_OK)
		return err;
	if (proof->reauth_amr && !shows_factor(&l->claims, proof->reauth_amr)) {
		ag_log(l->log, LOG_ERR, "reauth: %s: the ID token's amr does not show the factor asked for (%s); refused",
		       l->user, proof->reauth_amr);
		return deny(l, AG_ERR_DENIED, REAUTH_NOT_FRESH);
	}
	if (!proof->reauth_amr) {
		err = ag_policy_check(l->cfg, l->log, l->user, &l->claims, proof->second_factor_proven, proof->rule, &line);
		if (err != AG_OK)
			return deny(l, err, line);
	}
	if (proof->name_from_userinfo) {
		err = ag_login_userinfo_name(l, tokens);
		if (err != AG_OK)
			return deny(l, err, NULL);
	}
	/* One store transaction: the binding, the Unix side (UID at the first
	 * login, roles -> groups), the throttle, the token cache, the NSS index. */
	ag_store_busy_limit(l->store, deadline_left(l)); /* what is left of login_timeout */
	err = ag_account_cache_from(&cache, tokens, &l->claims, ag_clock_wall(l->clock), !l->reauth);
	if (err == AG_OK)
		err = commit(l, proof, &cache, &again);
	ag_account_cache_release(&cache);
	if (err == AG_ERR_DENIED)
		return deny(l, err, again ? "Your Unix account has just been set up; please sign in again."
					  : "This user name is linked to another Authgear account.");
	return err == AG_OK ? AG_OK : deny(l, err, NULL);
}

/* Whether the flow a failed batch left is past the password (§3.3: a failed
 * input returns the newest state): then the step-by-step exchange can go on
 * from it without asking for the password again. */
static bool past_password(const struct ag_flow *f)
{
	const char *action = ag_flow_action(f);

	return strcmp(action, "identify") != 0 &&
	       !(strcmp(action, "authenticate") == 0 && ag_flow_offers(f, "authentication", "primary_password"));
}

/* A flow through to the tokens, once its first input was taken: the
 * tracking ID kept for the audit line, the remaining steps (drive_flow),
 * consent, and the authorization code exchanged with pk's verifier. */
static enum ag_err flow_tokens(struct ag_login *l, struct ag_flow *f, const char *password,
			       enum ag_store_factor *factor, const struct ag_pkce *pk, struct ag_tokens *tokens)
{
	const char *finish_uri;
	char *code = NULL;
	enum ag_err err;

	if (f->tracking_id[0])
		snprintf(l->tracking_id, sizeof l->tracking_id, "%s", f->tracking_id);
	err = drive_flow(l, f, password, factor, &finish_uri);
	if (err == AG_OK)
		err = ag_authorize_consent(l->o, finish_uri, pk->state, &code);
	ag_login_step(l, "consent");
	if (err == AG_OK)
		err = ag_token_exchange_code(l->o, code, pk->verifier, tokens);
	ag_login_step(l, "token");
	ag_free_secret(code);
	return err;
}

/* The whole exchange once the password is known (§12 steps 2-9); the
 * authorization request already sent when pw->used (prewarm.h). code (may
 * be NULL): the second factor the person typed already, sent with identify
 * and password in one batch_input (recovery: a recovery code). When that
 * batch does not fit, the exchange goes on from the state it returned, or,
 * when none came back (the flow finished before the code: §3.3, no state
 * beside AuthenticationFlowNotFound), *again asks for a new exchange
 * without the code. */
static enum ag_err password_exchange(struct ag_login *l, const char *password, const char *code, bool recovery,
				     const struct ag_authorize_opts *opts, struct ag_prewarm *pw, bool *again)
{
	struct ag_pkce pk = { 0 };
	struct ag_flow *f = NULL;
	struct ag_flow_error ferr = { 0 };
	struct ag_tokens tokens = { 0 };
	char *url_query = NULL;
	char login_id[LOGIN_ID_MAX + 1];
	enum ag_store_factor factor = AG_STORE_FACTOR_NONE;
	json_t *batch = NULL, *second = NULL;
	enum ag_err err;

	if (pw->used) {
		/* its error is this login's: a retry would only double the wait */
		err = pw->err;
		pk = pw->pk, url_query = pw->url_query;
		memset(&pw->pk, 0, sizeof pw->pk), pw->url_query = NULL;
		ag_login_step(l, "authorize (prewarmed)");
	} else {
		err = ag_pkce_new(&pk);
		if (err == AG_OK)
			err = ag_authorize(l->o, opts, &pk, &url_query);
		ag_login_step(l, "authorize");
	}
	/* The template was validated at load: failing here means too long. */
	if (err == AG_OK && !ag_name_expand(l->cfg->login_id, l->user, login_id, sizeof login_id))
		err = AG_ERR_INVALID_ARG;
	if (err != AG_OK)
		goto out;
	/* identify + password (+ the second factor) in one request (batch_input, §3.2). */
	batch = json_pack("[{s:s, s:s}, {s:s, s:s}]", "identification", l->cfg->login_id_type, "login_id", login_id,
			  "authentication", "primary_password", "password", password);
	if (batch && code) {
		second = json_pack("{s:s, s:s}", "authentication", recovery ? "recovery_code" : "secondary_totp",
				   recovery ? "recovery_code" : "code", code);
		if (!second || json_array_append(batch, second) != 0) {
			ag_json_wipe(batch);
			json_decref(batch);
			batch = NULL;
		}
	}
	if (!batch) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	err = ag_flow_create(l->o, ag_flow_type_name(opts->flow), l->cfg->flow_name, url_query, batch, &f, &ferr);
	ag_json_wipe(batch);
	ag_login_step(l, code ? "identify + password + code" : "identify + password");
	if (err == AG_OK && code)
		factor = recovery ? AG_STORE_FACTOR_RECOVERY_CODE : AG_STORE_FACTOR_TOTP;
	if (err == AG_ERR_PROTOCOL && code && ferr.reason[0] && (!f || past_password(f))) {
		/* Not the person's answers: the account's factors changed, or the
		 * flow asks something else. */
		ag_log(l->log, LOG_NOTICE, "login: %s: the one-request login did not fit (%s%s%.64s); %s", l->user,
		       ferr.reason, f ? " at " : "", f ? ag_flow_action(f) : "",
		       f ? "going on step by step" : "starting again step by step");
		if (!f) {
			*again = true;
			goto out;
		}
		memset(&ferr, 0, sizeof ferr);
		err = AG_OK;
	}
	if (err != AG_OK) {
		/* the batch failed where a captcha was wanted (the unchanged state says so) */
		if (f && ag_flow_needs_bot_protection(f))
			err = bot_protected(l, f);
		else if (ferr.reason[0])
			err = flow_denied(l, err, &ferr);
		goto out;
	}
	err = flow_tokens(l, f, password, &factor, &pk, &tokens);
	if (err == AG_OK) {
		const struct ag_login_proof proof = {
			.nonce = pk.nonce, .second_factor_proven = factor != AG_STORE_FACTOR_NONE,
			.rule = AG_MFA_SEEN_AND_AMR, .factor = &factor,
		};
		err = ag_login_finish(l, &tokens, &proof);
	}
out:
	ag_tokens_clear(&tokens);
	free(url_query);
	json_decref(batch);
	json_decref(second);
	ag_flow_free(f);
	ag_pkce_clear(&pk);
	return err;
}

/* password_exchange, and once more without the code when that batch found
 * the flow finished before it (*again). */
static enum ag_err login_exchange(struct ag_login *l, const char *password, const char *code, bool recovery,
				  const struct ag_authorize_opts *opts, struct ag_prewarm *pw)
{
	bool again = false;
	enum ag_err err = password_exchange(l, password, code, recovery, opts, pw, &again);

	if (again) {
		pw->used = false; /* its authorization request went with the first try */
		err = password_exchange(l, password, NULL, false, opts, pw, &again);
	}
	return err;
}

static void audit(struct ag_login *l, enum ag_err err)
{
	struct ag_buf amr = AG_BUF_INIT(1024);

	for (size_t i = 0; i < l->claims.n_amr; i++)
		ag_buf_join(&amr, ",", l->claims.amr[i]);
	ag_log(l->log, LOG_NOTICE, "audit: user=%s sub=%s method=%s amr=%s result=%s%s%s requests=%ld", l->user,
	       l->claims.sub ? l->claims.sub : "-", l->method,
	       ag_buf_shown(&amr),
	       err == AG_OK ? "success" : ag_err_name(err), l->tracking_id[0] ? " tracking_id=" : "", l->tracking_id,
	       l->requests);
	ag_buf_free(&amr);
}

enum ag_err ag_login_begin(struct ag_login *l, const char *method)
{
	long retry_after = 0;
	enum ag_err err;

	if (l->reauth)
		snprintf(l->method, sizeof l->method, "reauth-%s", l->reauth_mode);
	else
		snprintf(l->method, sizeof l->method, "%s", method);
	/* Without libcurl nobody signs in: say so now, not after the person
	 * typed a password and a code (and the prewarm never logs it again). */
	err = ag_http_ready(l->log);
	if (err == AG_OK)
		err = ag_tokens_store_open(l->cfg, l->log, &l->store);
	if (err == AG_OK) {
		/* the call's deadline starts here, before the first request: a
		 * writer's lock takes from the time the requests get */
		ag_store_busy_limit(l->store, deadline_left(l));
		/* Checked and recorded in one transaction, before any network:
		 * concurrent attempts cannot all pass a check that has not seen
		 * the others yet. */
		err = ag_store_throttle_attempt(l->store, l->user, l->rhost, l->cfg->max_attempts_per_minute,
						l->cfg->max_attempts_per_minute * AG_LOGIN_NAME_CAP_FACTOR, ag_clock_wall(l->clock),
						&retry_after);
		if (err == AG_ERR_RATE_LIMITED) {
			char line[AG_LOGIN_LINE_MAX];
			snprintf(line, sizeof line, "Too many attempts; try again in %ld seconds.", retry_after);
			deny(l, err, line);
		}
	}
	/* The network work starts after this (sshd delays a slow first prompt). */
	l->t_step = ag_clock_ms(l->clock);
	return err;
}

void ag_login_end(struct ag_login *l, enum ag_err err, bool count_conv)
{
	/* The attempt was recorded by ag_login_begin and cleared by a success;
	 * a lost conversation the person did not cause is not held against them. */
	if (err == AG_ERR_CONV && !count_conv && l->store && ag_store_throttle_forgive(l->store) != AG_OK)
		ag_log(l->log, LOG_WARNING, "throttle: cannot drop the attempt");
	if (l->o) {
		l->connections = ag_http_connections(l->o->http);
		l->requests = ag_http_requests(l->o->http);
		l->network_ms = ag_http_wait_ms(l->o->http);
	}
	audit(l, err);
	if (err != AG_OK && err != AG_ERR_CONV)
		deny(l, err, NULL);
}

enum ag_err ag_login_deny(struct ag_login *l, enum ag_err err, const char *line)
{
	return deny(l, err, line);
}

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

bool ag_login_prewarm_wanted(const struct ag_login *l)
{
	char *sub = NULL;
	bool bound;

	if (listed_by_name(l->cfg->users, l->user))
		return true;
	bound = l->store && ag_store_bound_sub(l->store, l->user, &sub) == AG_OK && sub;
	free(sub);
	return bound;
}

/* The code prompt asked together with Password: for a user whose last login
 * completed TOTP. A recovery code is taken there too (a lost phone); its
 * form decides which one it is. */
static enum ag_err ask_code(struct ag_login *l, const char *password, char **code, bool *recovery)
{
	enum ag_err err = ag_login_ask(l, AG_CONV_SECRET, "Verification code: ", code);

	if (err != AG_OK)
		return err;
	if (answer_is_password(l, *code, password))
		return deny(l, AG_ERR_CREDENTIALS, NULL);
	/* the recovery form first: the TOTP check compacts the answer */
	*recovery = code_form_ok(true, *code);
	if (!*recovery && !code_form_ok(false, *code)) {
		ag_log(l->log, LOG_NOTICE, "login: %s: the verification code is not 6 digits (nor a recovery code); "
		       "not sent to Authgear (no attempt used)", l->user);
		return deny(l, AG_ERR_CREDENTIALS, NULL);
	}
	return AG_OK;
}

enum ag_err ag_login_password(struct ag_login *l, const char *first_password)
{
	/* A full reauthentication is a login forced to authenticate now. */
	const struct ag_authorize_opts opts = {
		.flow = AG_FLOW_LOGIN,
		.scopes = l->reauth ? l->reauth_scopes : NULL,
		.prompt = l->reauth ? "login" : NULL,
		.max_age = l->reauth ? 0 : l->cfg->max_age,
	};
	struct ag_prewarm pw = { 0 };
	enum ag_store_factor last = AG_STORE_FACTOR_NONE;
	char *password = NULL, *code = NULL;
	bool recovery = false;
	enum ag_err err;

	err = ag_login_begin(l, "password");
	/* A bound user whose last login completed TOTP is asked both prompts
	 * first, and the exchange is one batch (README "How a login goes"); a
	 * store that cannot tell only costs the one-request order. */
	if (err == AG_OK && ag_store_last_factor(l->store, l->user, &last) != AG_OK)
		last = AG_STORE_FACTOR_NONE;
	if (err == AG_OK) {
		/* A returning or named user: authorize while the person types.
		 * Otherwise the network work starts only after the first answer
		 * (sshd delays the prompt otherwise). */
		if ((!first_password || last == AG_STORE_FACTOR_TOTP) && ag_login_prewarm_wanted(l) &&
		    (l->o || ag_login_oidc(l) == AG_OK))
			ag_prewarm_start(&pw, l->o, l->log, &opts);
		if (first_password)
			password = strdup(first_password);
		else
			err = ag_login_ask(l, AG_CONV_SECRET, "Password: ", &password);
		if (err == AG_OK && !password)
			err = AG_ERR_NOMEM;
	}
	if (err == AG_OK && last == AG_STORE_FACTOR_TOTP)
		err = ask_code(l, password, &code, &recovery);
	l->t_step = ag_clock_ms(l->clock); /* the steps below are the module's own time */
	ag_prewarm_join(&pw, err != AG_OK); /* l->o is the worker's until here */
	if (err == AG_OK && !l->o)
		err = ag_login_oidc(l);
	if (err == AG_OK)
		err = login_exchange(l, password, code, recovery, &opts, &pw);
	ag_prewarm_clear(&pw);
	ag_free_secret(code);
	ag_free_secret(password);
	ag_login_end(l, err, false);
	return err;
}

enum ag_err ag_login_oidc(struct ag_login *l)
{
	enum ag_err err;

	deadline_left(l); /* set when the handle is the call's first wait */
	err = ag_oidc_open_until(l->cfg, l->log, &l->deadline, &l->o);
	if (err == AG_OK && l->clock)
		l->o->clock = l->clock;
	return err;
}

void ag_login_clear(struct ag_login *l)
{
	ag_claims_clear(&l->claims);
	ag_oidc_close(l->o);
	ag_store_close(l->store);
	free(l->bound_sub);
	l->bound_sub = NULL;
	l->o = NULL;
	l->store = NULL;
}

/* --- sudo reauthentication (authgear-protocol.md §2.3, §3.11) ------------------ */

/* The answer to the one factor a reauth flow asks: a TOTP code (its form
 * checked first: no attempt wasted) or the password. *code_typed (may be
 * NULL): the code the person typed already (ask_code), taken over. */
static enum ag_err reauth_ask(struct ag_login *l, bool code, char **code_typed, json_t **input)
{
	char *answer = NULL;
	enum ag_err err = AG_OK;

	*input = NULL;
	if (code && code_typed && *code_typed)
		answer = *code_typed, *code_typed = NULL;
	else
		err = ag_login_ask(l, AG_CONV_SECRET, code ? "Verification code: " : "Password: ", &answer);
	if (err == AG_OK && code && (err = check_code_form(l, false, answer, NULL)) != AG_OK)
		deny(l, err, NULL);
	if (err == AG_OK && !(*input = json_pack("{s:s, s:s}", "authentication", code ? "secondary_totp" : "primary_password",
						 code ? "code" : "password", answer)))
		err = AG_ERR_NOMEM;
	ag_free_secret(answer);
	return err;
}

/* A recovery code typed at the reauthentication's "Verification code:" (a
 * lost phone). Authgear's reauth flow takes no recovery code (§3.11), so a
 * login flow on the same OAuth session (prompt=login, max_age=0) takes it
 * with the password, in the login's one batch: the bound user's full
 * sign-in, checked as every reauthentication (sub, auth_time) and as a
 * login (require_mfa). */
static enum ag_err reauth_recovery(struct ag_login *l, const struct ag_authorize_opts *reauth_opts, struct ag_pkce *pk,
				   char **url_query, const char *code)
{
	struct ag_authorize_opts opts = *reauth_opts;
	struct ag_prewarm pw = { .pk = *pk, .url_query = *url_query, .err = AG_OK, .used = true };
	char *password = NULL;
	enum ag_err err;

	opts.flow = AG_FLOW_LOGIN;
	memset(pk, 0, sizeof *pk), *url_query = NULL; /* pw's now */
	err = ag_login_tell(l, "A recovery code is taken together with your password.");
	if (err == AG_OK)
		err = ag_login_ask(l, AG_CONV_SECRET, "Password: ", &password);
	if (err == AG_OK)
		err = login_exchange(l, password, code, true, &opts, &pw);
	ag_prewarm_clear(&pw);
	ag_free_secret(password);
	return err;
}

/* The reauth flow on the cached ID token: authorize (scope openid only: with
 * offline_access Authgear would create a new offline grant), the answer fed
 * with the create request (the identify step is pre-filled from the hint),
 * consent, token: the fewest requests the protocol allows. code: the second
 * factor, unless the last login showed none (the password then), asked as
 * the login asks it (ask_code: a recovery code is taken too, by its form). */
static enum ag_err reauth_exchange(struct ag_login *l, const char *id_token, bool code)
{
	const struct ag_authorize_opts opts = {
		.flow = AG_FLOW_REAUTH, .scopes = "openid", .prompt = "login", .max_age = 0, .id_token_hint = id_token,
	};
	struct ag_pkce pk = { 0 };
	struct ag_flow *f = NULL;
	struct ag_flow_error ferr = { 0 };
	struct ag_tokens tokens = { 0 };
	char *url_query = NULL;
	enum ag_store_factor seen = AG_STORE_FACTOR_NONE; /* the amr check below decides */
	json_t *input = NULL, *batch = NULL;
	char *typed = NULL;
	bool recovery = false;
	enum ag_err err;

	err = ag_pkce_new(&pk);
	if (err == AG_OK)
		err = ag_authorize(l->o, &opts, &pk, &url_query);
	ag_login_step(l, "authorize");
	if (err == AG_OK && code)
		err = ask_code(l, NULL, &typed, &recovery);
	if (err == AG_OK && recovery) {
		err = reauth_recovery(l, &opts, &pk, &url_query, typed);
		goto out;
	}
	if (err == AG_OK)
		err = reauth_ask(l, code, &typed, &input);
	if (err == AG_OK && !(batch = json_pack("[O]", input)))
		err = AG_ERR_NOMEM;
	if (err != AG_OK)
		goto out;
	err = ag_flow_create(l->o, ag_flow_type_name(opts.flow), l->cfg->flow_name, url_query, batch, &f, &ferr);
	ag_json_wipe(batch);
	/* The second factor was removed since the last login: the flow offers
	 * the password only (Authgear's reauth takes any one factor). */
	if (err != AG_OK && code && f && strcmp(ferr.reason, "ValidationFailed") == 0 &&
	    strcmp(ag_flow_action(f), "authenticate") == 0 && !ag_flow_offers(f, "authentication", "secondary_totp") &&
	    ag_flow_offers(f, "authentication", "primary_password")) {
		ag_log(l->log, LOG_NOTICE, "reauth: %s has no second factor now; asking the password", l->user);
		code = false;
		ag_json_wipe(input);
		json_decref(input);
		memset(&ferr, 0, sizeof ferr);
		err = reauth_ask(l, false, NULL, &input);
		if (err == AG_OK)
			err = ag_flow_input(f, input, &ferr);
	}
	ag_login_step(l, code ? "code" : "password");
	if (err != AG_OK) {
		if (ferr.reason[0])
			err = flow_denied(l, err, &ferr);
		goto out;
	}
	err = flow_tokens(l, f, NULL, &seen, &pk, &tokens);
	if (err == AG_OK) {
		/* a TOTP code passed: the next login's order asks it again first
		 * (a recovery code's login, or an older login, may have said otherwise) */
		const enum ag_store_factor totp = AG_STORE_FACTOR_TOTP;
		const struct ag_login_proof proof = { .nonce = pk.nonce, .reauth_amr = code ? "otp" : "pwd",
						      .factor = code ? &totp : NULL };
		err = ag_login_finish(l, &tokens, &proof);
	}
out:
	ag_free_secret(typed);
	ag_tokens_clear(&tokens);
	free(url_query);
	if (input)
		ag_json_wipe(input);
	json_decref(input);
	json_decref(batch);
	ag_flow_free(f);
	ag_pkce_clear(&pk);
	return err;
}

/* Whether a comma-separated amr list shows a second factor. */
static bool amr_list_has_otp(const char *amr)
{
	const char *p = amr;

	while (p && *p) {
		size_t n = strcspn(p, ",");
		if ((n == 3 && strncmp(p, "otp", 3) == 0) || (n == 3 && strncmp(p, "mfa", 3) == 0))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

enum ag_err ag_login_reauth(struct ag_login *l)
{
	struct ag_store *s = NULL;
	struct ag_token_cache t = { 0 };
	bool found = false, code;
	char *hint = NULL;
	enum ag_err err;

	l->reauth = true;
	l->reauth_mode = l->cfg->reauth_with;
	l->reauth_start = ag_clock_wall(l->clock);
	/* What the last login here left: the binding and the cached ID token. */
	err = ag_store_open(l->cfg->state_dir, l->log, &s);
	if (err == AG_OK)
		ag_store_busy_limit(s, deadline_left(l)); /* the call's deadline starts here */
	if (err == AG_OK)
		err = ag_store_bound_sub(s, l->user, &l->bound_sub);
	if (err == AG_OK)
		err = ag_tokens_get(s, l->user, &t, &found);
	ag_store_close(s);
	if (err != AG_OK) {
		ag_login_end(l, err, false);
		return err;
	}
	code = amr_list_has_otp(t.amr);
	l->reauth_scopes = found && t.refresh_token ? "openid" : NULL; /* keep the cached grant */
	if (found && t.id_token && l->bound_sub && t.id_token[0])
		hint = t.id_token, t.id_token = NULL;
	ag_token_cache_clear(&t);
	if (!hint && (strcmp(l->reauth_mode, "code") == 0 || strcmp(l->reauth_mode, "password") == 0)) {
		ag_log(l->log, LOG_NOTICE, "reauth: %s: no cached ID token (never signed in here, or the session ended); "
		       "running a full login (reauth_with = full)", l->user);
		ag_login_tell(l, "No Authgear sign-in is remembered here for you: sign in fully.");
		l->reauth_mode = "full";
	}
	if (strcmp(l->reauth_mode, "full") == 0)
		err = ag_login_password(l, NULL);
	else if (strcmp(l->reauth_mode, "device") == 0) {
		/* openid only, whatever device_scopes says: offline_access would
		 * make a new offline grant at each sudo (the cached one stays) */
		l->reauth_scopes = "openid";
		err = ag_login_device(l);
	}
	else {
		err = ag_login_begin(l, l->reauth_mode);
		if (err == AG_OK)
			err = ag_login_oidc(l);
		if (err == AG_OK)
			err = reauth_exchange(l, hint, strcmp(l->reauth_mode, "code") == 0 && code);
		ag_login_end(l, err, false);
	}
	ag_free_secret(hint);
	return err;
}
