/* Password + TOTP login through Authgear's Authentication Flow API
 * (authgear-protocol.md §2, §3, §12), and the checks that end every login. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/identity.h"
#include "accounts/store.h"
#include "base/http.h"
#include "base/json.h"
#include "base/secret.h"
#include "common/names.h"
#include "login/login.h"
#include "oidc/authflow.h"
#include "oidc/oidc.h"
#include "oidc/pkce.h"
#include "oidc/token.h"

#define LOGIN_ID_MAX 320 /* bytes of an expanded login_id template */
#define MAX_FLOW_STEPS 8 /* actions handled in one login before giving up */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void step_done(struct ag_login *l, const char *step)
{
	double t = now_ms();

	if (l->on_step)
		l->on_step(l->step_ctx, step, t - l->t_step);
	l->t_step = t;
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
	struct ag_store *store = NULL;
	char *sub = NULL;
	bool ours;

	if (!ag_name_valid(user) || ag_identity_reserved(user, NULL))
		return false; /* root and the host's system accounts are never ours */
	if (ag_name_allowed(cfg->users, user))
		return true;
	/* Bound names stay ours after they leave the allow-list. */
	ours = ag_store_open(cfg->state_dir, log, &store) == AG_OK && ag_store_bound_sub(store, user, &sub) == AG_OK &&
	       sub != NULL;
	free(sub);
	ag_store_close(store);
	return ours;
}

static enum ag_err ask(struct ag_login *l, enum ag_conv_style style, const char *prompt, char **answer)
{
	enum ag_err err = l->conv->talk(l->conv->ctx, style, prompt, answer);

	if (err == AG_OK && !*answer)
		err = AG_ERR_CONV;
	return err;
}

static void tell(struct ag_login *l, const char *text)
{
	l->conv->talk(l->conv->ctx, AG_CONV_INFO, text, NULL); /* a line: no answer (conv.h) */
}

/* The person's line for an Authgear error; lockout says when to come back. */
static enum ag_err flow_denied(struct ag_login *l, enum ag_err err, const struct ag_flow_error *ferr)
{
	char line[AG_LOGIN_LINE_MAX];

	if (ferr->tracking_id[0])
		snprintf(l->tracking_id, sizeof l->tracking_id, "%s", ferr->tracking_id);
	if ((err == AG_ERR_LOCKED || err == AG_ERR_RATE_LIMITED) && ferr->until) {
		long minutes = (long)((ferr->until - time(NULL) + 59) / 60);
		snprintf(line, sizeof line, "Too many attempts; try again in %ld minute%s.", minutes < 1 ? 1 : minutes,
			 minutes > 1 ? "s" : "");
		return deny(l, err, line);
	}
	return deny(l, err, NULL);
}

/* authorize → 302 whose Location carries x_ref (§2.5): returns its query. */
static enum ag_err authorize(struct ag_login *l, const struct ag_pkce *pk, char **url_query)
{
	const struct ag_discovery *d;
	struct ag_http_response resp = { 0 };
	char *url = NULL, *x_ref = NULL, *error = NULL, max_age[24] = "";
	const char *params[] = {
		"client_id", l->cfg->client_id,
		"redirect_uri", l->cfg->redirect_uri,
		"response_type", "code",
		"scope", l->cfg->scopes,
		"code_challenge", pk->challenge,
		"code_challenge_method", "S256",
		"state", pk->state,
		"nonce", pk->nonce,
		"x_sso_enabled", "false",
		l->cfg->max_age >= 0 ? "max_age" : NULL, max_age,
		NULL,
	};
	size_t len;
	enum ag_err err;

	*url_query = NULL;
	snprintf(max_age, sizeof max_age, "%ld", l->cfg->max_age);
	err = ag_oidc_discovery(l->o, &d);
	if (err != AG_OK)
		return err;
	len = strlen(d->authorization_endpoint) + 2;
	for (size_t i = 0; params[i]; i += 2)
		len += strlen(params[i]) + 3 * strlen(params[i + 1]) + 2;
	url = malloc(len);
	if (!url)
		return AG_ERR_NOMEM;
	strcpy(url, d->authorization_endpoint);
	for (size_t i = 0; params[i]; i += 2) {
		char *v = ag_http_escape(l->o->http, params[i + 1]);
		if (!v) {
			err = AG_ERR_NOMEM;
			goto out;
		}
		strcat(url, i == 0 ? (strchr(url, '?') ? "&" : "?") : "&");
		strcat(url, params[i]);
		strcat(url, "=");
		strcat(url, v);
		free(v);
	}
	err = ag_http_get(l->o->http, url, NULL, &resp);
	if (err != AG_OK)
		goto out;
	if (resp.status != 302 && resp.status != 303) {
		ag_log(l->log, LOG_ERR, "authorize: status %ld, expected a redirect", resp.status);
		err = resp.status >= 500 ? AG_ERR_SERVER : AG_ERR_PROTOCOL;
		goto out;
	}
	if (!resp.location || ag_http_query_param(resp.location, "error", &error) != AG_OK) {
		ag_log(l->log, LOG_ERR, "authorize: redirect without a usable Location");
		err = AG_ERR_PROTOCOL;
		goto out;
	}
	if (error) {
		ag_log(l->log, LOG_ERR, "authorize: refused with %.64s (check client_id, redirect_uri and scopes)", error);
		err = AG_ERR_OAUTH;
		goto out;
	}
	/* The sign-in page is never fetched, but a downgrade to http is a sign of trouble. */
	err = ag_http_check_url(l->o->http, resp.location);
	if (err == AG_OK)
		err = ag_http_query_param(resp.location, "x_ref", &x_ref);
	if (err == AG_OK && !x_ref) {
		ag_log(l->log, LOG_ERR, "authorize: Location has no x_ref");
		err = AG_ERR_PROTOCOL;
	}
	if (err == AG_OK && !(*url_query = ag_http_query(resp.location)))
		err = AG_ERR_NOMEM;
out:
	free(url);
	free(x_ref);
	free(error);
	ag_http_response_clear(&resp);
	return err;
}

/* Pick the second factor: the authenticator app, or a recovery code; a short
 * numbered choice only when both are offered. */
static enum ag_err second_factor(struct ag_login *l, struct ag_flow *f, struct ag_flow_error *ferr)
{
	bool totp = ag_flow_offers(f, "authentication", "secondary_totp");
	bool recovery = ag_flow_offers(f, "authentication", "recovery_code");
	const char *kind = "secondary_totp";
	char *answer = NULL, *choice = NULL;
	json_t *input;
	enum ag_err err;

	if (!totp && !recovery) {
		ag_log(l->log, LOG_ERR, "login: the flow offers no second factor this module supports "
					"(authenticator app or recovery code)");
		return deny(l, AG_ERR_MFA_REQUIRED, "This account's second factor cannot be used here; "
						    "add an authenticator app to your Authgear account.");
	}
	if (totp && recovery) {
		tell(l, "Second factor: 1) Authenticator app code  2) Recovery code");
		err = ask(l, AG_CONV_VISIBLE, "Choose 1 or 2 [1]: ", &choice);
		if (err != AG_OK)
			return err;
		if (strcmp(choice, "2") == 0)
			kind = "recovery_code";
		else if (choice[0] && strcmp(choice, "1") != 0)
			err = deny(l, AG_ERR_CREDENTIALS, "Please answer 1 or 2.");
		free(choice);
		if (err != AG_OK)
			return err;
	} else if (!totp) {
		kind = "recovery_code";
	}
	err = ask(l, AG_CONV_SECRET, strcmp(kind, "recovery_code") == 0 ? "Recovery code: " : "Verification code: ",
		  &answer);
	if (err != AG_OK)
		return err;
	input = json_pack("{s:s, s:s}", "authentication", kind,
			  strcmp(kind, "recovery_code") == 0 ? "recovery_code" : "code", answer);
	ag_free_secret(answer);
	if (!input)
		return AG_ERR_NOMEM;
	err = ag_flow_input(f, input, ferr);
	ag_json_wipe(input);
	json_decref(input);
	return err;
}

/* Drive the flow from after the password to "finished"; returns the
 * finish_redirect_uri (points into the flow). */
static enum ag_err drive_flow(struct ag_login *l, struct ag_flow *f, bool *second_factor_proven,
			      const char **finish_uri)
{
	struct ag_flow_error ferr;
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
		if (strcmp(action, "authenticate") == 0) {
			err = second_factor(l, f, &ferr);
			if (err != AG_OK)
				return ferr.reason[0] ? flow_denied(l, err, &ferr) : err;
			*second_factor_proven = true;
			step_done(l, "second factor");
			continue;
		}
		if (strcmp(action, "change_password") == 0) {
			/* §3.9: the password expired; a flow we cannot finish here. */
			ag_log(l->log, LOG_NOTICE, "login: %s must change the password at Authgear", l->user);
			return deny(l, AG_ERR_PASSWORD_EXPIRED, NULL);
		}
		if (strcmp(action, "terminate_other_sessions") == 0)
			input = json_pack("{s:b}", "confirm_terminate_other_sessions", 1);
		else if (strcmp(action, "prompt_create_passkey") == 0)
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

/* GET finish_redirect_uri without following: 303 to redirect_uri?code&state. */
static enum ag_err consent(struct ag_login *l, const char *finish_uri, const char *state, char **code)
{
	struct ag_http_response resp = { 0 };
	size_t rlen = strlen(l->cfg->redirect_uri);
	char *got_state = NULL, *error = NULL;
	enum ag_err err;

	*code = NULL;
	err = ag_http_get(l->o->http, finish_uri, NULL, &resp);
	if (err != AG_OK)
		return err;
	if ((resp.status != 302 && resp.status != 303) || !resp.location ||
	    strncmp(resp.location, l->cfg->redirect_uri, rlen) != 0 ||
	    (resp.location[rlen] != '?' && resp.location[rlen] != '\0')) {
		ag_log(l->log, LOG_ERR, "consent: status %ld without a redirect to redirect_uri", resp.status);
		err = resp.status >= 500 ? AG_ERR_SERVER : AG_ERR_PROTOCOL;
		goto out;
	}
	err = ag_http_query_param(resp.location, "error", &error);
	if (err == AG_OK && error) {
		ag_log(l->log, LOG_ERR, "consent: refused with %.64s", error);
		err = AG_ERR_OAUTH;
	}
	if (err == AG_OK)
		err = ag_http_query_param(resp.location, "state", &got_state);
	if (err == AG_OK && (!got_state || strcmp(got_state, state) != 0)) {
		ag_log(l->log, LOG_ERR, "consent: state mismatch in the redirect; denying");
		err = AG_ERR_PROTOCOL;
	}
	if (err == AG_OK)
		err = ag_http_query_param(resp.location, "code", code);
	if (err == AG_OK && (!*code || !**code)) {
		ag_log(l->log, LOG_ERR, "consent: redirect without a code");
		err = AG_ERR_PROTOCOL;
	}
	if (err != AG_OK) {
		ag_free_secret(*code);
		*code = NULL;
	}
out:
	free(got_state);
	free(error);
	ag_http_response_clear(&resp);
	return err;
}

static bool has_value(char **values, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(values[i], v) == 0)
			return true;
	return false;
}

/* require_roles: any one of the listed role keys suffices. */
static bool has_required_role(const struct ag_login *l)
{
	char role[256];

	if (!l->cfg->require_roles)
		return true;
	for (const char *p = l->cfg->require_roles; *p;) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n && n < sizeof role) {
			memcpy(role, p, n);
			role[n] = '\0';
			if (has_value(l->claims.roles, l->claims.n_roles, role))
				return true;
		}
		p += n;
	}
	return false;
}

/* The password path: the client saw the factor AND amr has "mfa". Where the
 * factors were proven at the issuer: one of mfa_amr's combinations (by
 * default RFC 8176 §2: "mfa", or a knowledge factor with a possession one). */
static bool mfa_proven(const struct ag_login *l, bool second_factor_proven, enum ag_mfa_rule rule)
{
	if (rule == AG_MFA_SEEN_AND_AMR)
		return second_factor_proven && has_value(l->claims.amr, l->claims.n_amr, "mfa");
	return ag_config_amr_proves_mfa(l->cfg, l->claims.amr, l->claims.n_amr);
}

enum ag_err ag_login_finish(struct ag_login *l, const char *id_token, const char *nonce, bool second_factor_proven,
			    enum ag_mfa_rule rule)
{
	enum ag_err err;

	err = ag_oidc_verify_id_token(l->o, id_token, nonce, l->cfg->max_age, &l->claims);
	step_done(l, "verify");
	if (err != AG_OK)
		return deny(l, err, NULL);
	if (l->claims.is_anonymous) {
		ag_log(l->log, LOG_NOTICE, "login: %s: anonymous Authgear user refused", l->user);
		return deny(l, AG_ERR_DENIED, "Anonymous Authgear accounts cannot sign in here.");
	}
	if (!has_required_role(l)) {
		ag_log(l->log, LOG_NOTICE, "login: %s: none of the required roles (%s)", l->user, l->cfg->require_roles);
		return deny(l, AG_ERR_DENIED, NULL);
	}
	/* Never let a password-only login satisfy require_mfa: the client must
	 * have seen a second factor pass AND the server must say so (§8); or,
	 * where the factors were proven at the issuer, its amr must say so. */
	if (l->cfg->require_mfa && !mfa_proven(l, second_factor_proven, rule)) {
		if (rule == AG_MFA_AMR_FACTORS)
			ag_log(l->log, LOG_NOTICE,
			       "login: %s: second factor required but not proven (amr matches none of mfa_amr = %s)",
			       l->user, l->cfg->mfa_amr);
		else
			ag_log(l->log, LOG_NOTICE,
			       "login: %s: second factor required but not proven (client saw %s, amr %s mfa)", l->user,
			       second_factor_proven ? "one" : "none",
			       has_value(l->claims.amr, l->claims.n_amr, "mfa") ? "has" : "lacks");
		return deny(l, AG_ERR_MFA_REQUIRED, NULL);
	}
	if (l->before_bind) {
		err = l->before_bind(l, l->before_bind_ctx);
		if (err != AG_OK)
			return deny(l, err, NULL);
	}
	err = ag_store_bind(l->store, l->user, l->claims.sub, time(NULL));
	if (err == AG_ERR_DENIED)
		return deny(l, err, "This user name is linked to another Authgear account.");
	/* The Unix side: UID at the first login, roles -> groups, NSS index. */
	if (err == AG_OK)
		err = ag_identity_login(l->store, l->cfg, l->log, l->user, l->claims.roles, l->claims.n_roles, NULL);
	if (err == AG_ERR_DENIED)
		return deny(l, err, "Your Unix account has just been set up; please sign in again.");
	return err == AG_OK ? AG_OK : deny(l, err, NULL);
}

/* The whole exchange once the password is known (§12 steps 2-9). */
static enum ag_err password_exchange(struct ag_login *l, const char *password)
{
	struct ag_pkce pk = { 0 };
	struct ag_flow *f = NULL;
	struct ag_flow_error ferr = { 0 };
	struct ag_tokens tokens = { 0 };
	char *url_query = NULL, *code = NULL;
	char login_id[LOGIN_ID_MAX + 1];
	const char *finish_uri;
	bool proven = false;
	json_t *batch = NULL;
	enum ag_err err;

	err = ag_pkce_new(&pk);
	if (err == AG_OK)
		err = authorize(l, &pk, &url_query);
	step_done(l, "authorize");
	/* The template was validated at load: failing here means too long. */
	if (err == AG_OK && !ag_name_expand(l->cfg->login_id, l->user, login_id, sizeof login_id))
		err = AG_ERR_INVALID_ARG;
	if (err != AG_OK)
		goto out;
	/* identify + password in one request (batch_input, §3.2). */
	batch = json_pack("[{s:s, s:s}, {s:s, s:s}]", "identification", l->cfg->login_id_type, "login_id", login_id,
			  "authentication", "primary_password", "password", password);
	if (!batch) {
		err = AG_ERR_NOMEM;
		goto out;
	}
	err = ag_flow_create(l->o, "login", l->cfg->flow_name, url_query, batch, &f, &ferr);
	ag_json_wipe(batch);
	step_done(l, "identify + password");
	if (err != AG_OK) {
		if (ferr.reason[0])
			err = flow_denied(l, err, &ferr);
		goto out;
	}
	if (f->tracking_id[0])
		snprintf(l->tracking_id, sizeof l->tracking_id, "%s", f->tracking_id);
	err = drive_flow(l, f, &proven, &finish_uri);
	if (err == AG_OK)
		err = consent(l, finish_uri, pk.state, &code);
	step_done(l, "consent");
	if (err == AG_OK)
		err = ag_token_exchange_code(l->o, code, pk.verifier, &tokens);
	step_done(l, "token");
	if (err == AG_OK)
		err = ag_login_finish(l, tokens.id_token, pk.nonce, proven, AG_MFA_SEEN_AND_AMR);
out:
	/* The refresh token is dropped until the token cache keeps it (roadmap). */
	ag_tokens_clear(&tokens);
	ag_free_secret(code);
	free(url_query);
	json_decref(batch);
	ag_flow_free(f);
	ag_pkce_clear(&pk);
	return err;
}

static void audit(struct ag_login *l, enum ag_err err)
{
	char amr[256] = "";

	for (size_t i = 0; i < l->claims.n_amr; i++) {
		if (i)
			strncat(amr, ",", sizeof amr - strlen(amr) - 1);
		strncat(amr, l->claims.amr[i], sizeof amr - strlen(amr) - 1);
	}
	ag_log(l->log, LOG_NOTICE, "audit: user=%s sub=%s method=%s amr=%s result=%s%s%s requests=%ld", l->user,
	       l->claims.sub ? l->claims.sub : "-", l->method, amr[0] ? amr : "-",
	       err == AG_OK ? "success" : ag_err_name(err), l->tracking_id[0] ? " tracking_id=" : "", l->tracking_id,
	       l->requests);
}

enum ag_err ag_login_begin(struct ag_login *l, const char *method)
{
	long retry_after = 0;
	enum ag_err err;

	snprintf(l->method, sizeof l->method, "%s", method);
	err = ag_store_open(l->cfg->state_dir, l->log, &l->store);
	if (err == AG_OK) {
		err = ag_store_throttle_check(l->store, l->user, l->cfg->max_attempts_per_minute, time(NULL),
					      &retry_after);
		if (err == AG_ERR_RATE_LIMITED) {
			char line[AG_LOGIN_LINE_MAX];
			snprintf(line, sizeof line, "Too many attempts; try again in %ld seconds.", retry_after);
			deny(l, err, line);
		}
	}
	/* The network work starts after this (sshd delays a slow first prompt). */
	l->t_step = now_ms();
	return err;
}

void ag_login_end(struct ag_login *l, enum ag_err err, bool count_conv)
{
	/* Count failures the person could have caused; not our own refusals. */
	if (err != AG_OK && err != AG_ERR_RATE_LIMITED && (err != AG_ERR_CONV || count_conv) && l->store &&
	    ag_store_throttle_failed(l->store, l->user, time(NULL)) != AG_OK)
		ag_log(l->log, LOG_WARNING, "throttle: cannot record the failed attempt");
	if (l->o) {
		l->connections = ag_http_connections(l->o->http);
		l->requests = ag_http_requests(l->o->http);
	}
	audit(l, err);
	if (err != AG_OK && err != AG_ERR_CONV)
		deny(l, err, NULL);
}

enum ag_err ag_login_deny(struct ag_login *l, enum ag_err err, const char *line)
{
	return deny(l, err, line);
}

enum ag_err ag_login_password(struct ag_login *l, const char *first_password)
{
	char *password = NULL;
	enum ag_err err;

	err = ag_login_begin(l, "password");
	if (err == AG_OK) {
		if (first_password)
			password = strdup(first_password);
		else
			err = ask(l, AG_CONV_SECRET, "Password: ", &password);
		if (err == AG_OK && !password)
			err = AG_ERR_NOMEM;
	}
	/* The network work starts only after the first answer (sshd delays the
	 * prompt otherwise). */
	l->t_step = now_ms(); /* the steps below are the module's own time */
	if (err == AG_OK)
		err = ag_oidc_open(l->cfg, l->log, &l->o);
	if (err == AG_OK)
		err = password_exchange(l, password);
	ag_free_secret(password);
	ag_login_end(l, err, false);
	return err;
}

void ag_login_clear(struct ag_login *l)
{
	ag_claims_clear(&l->claims);
	ag_oidc_close(l->o);
	ag_store_close(l->store);
	l->o = NULL;
	l->store = NULL;
}
