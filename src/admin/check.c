/* Checks behind `authgear-pam check` (see check.h). */
#include "config.h"

#include <errno.h>
#include <shadow.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accounts/store.h"
#include "accounts/tokens.h"
#include "admin/check.h"
#include "base/conf.h"
#include "base/secret.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "oidc/authflow.h"
#include "oidc/authorize.h"
#include "oidc/oidc.h"
#include "oidc/pkce.h"

/* The last error line logged by the core, used as a failed check's detail. */
struct last_line {
	const struct ag_log *next;
	char line[AG_CHECK_DETAIL_MAX];
};

static void remember_sink(void *ctx, int priority, const char *line)
{
	struct last_line *l = ctx;

	if ((priority & LOG_PRIMASK) <= LOG_WARNING)
		snprintf(l->line, sizeof l->line, "%s", line);
	if (l->next && l->next->sink)
		l->next->sink(l->next->sink_ctx, priority, line);
}

void ag_check_add(struct ag_check_report *r, const char *name, bool required, bool ok, const char *fmt, ...)
{
	struct ag_check_result *res;
	va_list ap;

	if (r->n_results >= AG_CHECK_MAX)
		return;
	res = &r->results[r->n_results++];
	res->name = name;
	res->required = required;
	res->ok = ok;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof res->detail, fmt, ap);
	va_end(ap);
}

/* A failed required check: the detail is the core's own log reason. */
static void add_failure(struct ag_check_report *r, const char *name, enum ag_err err, struct last_line *l)
{
	ag_check_add(r, name, true, false, "%s", l->line[0] ? l->line : ag_err_reason(err));
	l->line[0] = '\0';
}

static void check_clock(struct ag_check_report *r, const struct ag_oidc *o, time_t server_date)
{
	long skew;

	if (!server_date) {
		ag_check_add(r, "clock", false, false, "the issuer sent no Date header; clock skew unknown");
		return;
	}
	skew = (long)(ag_clock_wall(o->clock) - server_date);
	ag_check_add(r, "clock", true, labs(skew) <= o->cfg->leeway,
	    "skew %+ld s against the issuer's Date header (leeway %ld s)", skew, o->cfg->leeway);
}

/* Reachability, clock and discovery; false when the later checks cannot run. */
static bool check_issuer(struct ag_check_report *r, struct ag_oidc *o, struct last_line *l)
{
	struct ag_discovery *d = NULL;
	time_t server_date = 0;
	json_t *doc = NULL;
	enum ag_err err;

	err = ag_discovery_fetch(o, &doc, &server_date);
	if (err != AG_OK) {
		add_failure(r, "issuer", err, l);
		return false;
	}
	ag_check_add(r, "issuer", true, true, "%s answered the discovery request", o->cfg->issuer);
	check_clock(r, o, server_date);
	err = ag_discovery_from_json(doc, o->cfg->issuer, o->http, o->log, &d);
	json_decref(doc);
	if (err != AG_OK) {
		add_failure(r, "discovery", err, l);
		return false;
	}
	ag_check_add(r, "discovery", true, true, "issuer matches; token endpoint %s", d->token_endpoint);
	if (d->device_authorization_endpoint)
		ag_check_add(r, "device", false, true, "device authorization endpoint advertised: %s",
		    d->device_authorization_endpoint);
	else
		ag_check_add(r, "device", false, true, "no device authorization endpoint advertised (device login unavailable)");
	ag_discovery_free(d);
	return true;
}

static void check_keys(struct ag_check_report *r, struct ag_oidc *o, struct last_line *l)
{
	const struct ag_jwks *keys;
	char detail[AG_CHECK_DETAIL_MAX], algs[128] = "";
	unsigned mask;
	enum ag_err err;
	size_t len;

	err = ag_oidc_jwks(o, &keys);
	if (err != AG_OK) {
		add_failure(r, "jwks", err, l);
		return;
	}
	len = (size_t)snprintf(detail, sizeof detail, "%zu key%s:", ag_jwks_count(keys),
			       ag_jwks_count(keys) == 1 ? "" : "s");
	for (size_t i = 0; i < ag_jwks_count(keys) && len < sizeof detail; i++)
		len += (size_t)snprintf(detail + len, sizeof detail - len, "%s %s (%s)", i ? "," : "",
					ag_jwks_kid(keys, i), ag_jwks_alg_desc(keys, i));
	ag_check_add(r, "jwks", true, true, "%s", detail);
	err = ag_oidc_allowed_algs(o, &mask);
	if (err != AG_OK) {
		add_failure(r, "algs", err, l);
		return;
	}
	for (unsigned bit = 1; bit && bit <= AG_JWS_ALL; bit <<= 1)
		if (mask & bit)
			snprintf(algs + strlen(algs), sizeof algs - strlen(algs), "%s%s", algs[0] ? " " : "",
				 ag_jws_alg_name(bit));
	ag_check_add(r, "algs", true, true, "accepted ID token algs (allowed_algs and the issuer's): %s", algs);
}

/* The authorization request a login makes, with the configured client_id,
 * redirect_uri and scopes (the server's own error verbatim when it refuses);
 * for the password method also the login flow on it, stopped at its first
 * step: no credential is ever sent. */
static void check_authorize(struct ag_check_report *r, struct ag_oidc *o, struct last_line *l)
{
	struct ag_authorize_opts opts = { .flow = AG_FLOW_LOGIN, .max_age = -1 };
	struct ag_flow_error ferr = { 0 };
	struct ag_flow *f = NULL;
	struct ag_pkce pk = { 0 };
	char *url_query = NULL;
	enum ag_err err;

	err = ag_pkce_new(&pk);
	if (err == AG_OK)
		err = ag_authorize(o, &opts, &pk, &url_query);
	if (err != AG_OK) {
		add_failure(r, "authorize", err, l);
		goto out;
	}
	ag_check_add(r, "authorize", true, true, "client %s with redirect_uri %s: the issuer opened a sign-in session",
		     o->cfg->client_id, o->cfg->redirect_uri);
	err = ag_flow_create(o, "login", o->cfg->flow_name, url_query, NULL, &f, &ferr);
	if (err != AG_OK && ferr.reason[0])
		ag_check_add(r, "flow", true, false, "creating the login flow '%s' failed: %s (%s)", o->cfg->flow_name,
			     ferr.reason, ag_err_reason(err));
	else if (err != AG_OK)
		add_failure(r, "flow", err, l);
	else if (strcmp(ag_flow_action(f), "identify") != 0)
		ag_check_add(r, "flow", true, false, "the login flow '%s' starts with '%.64s', not identify",
			     o->cfg->flow_name, ag_flow_action(f));
	else if (ag_flow_needs_bot_protection(f))
		ag_check_add(r, "flow", true, false, "the login flow '%s' requires bot protection (a captcha) to identify, "
			     "which a PAM prompt cannot solve: turn it off for this flow, or give this client a flow "
			     "without it (flow_name)", o->cfg->flow_name);
	else
		ag_check_add(r, "flow", true, true, "login flow '%s' created on it; it asks to identify first (stopped "
			     "there: no credential sent)", o->cfg->flow_name);
out:
	ag_flow_free(f);
	free(url_query);
	ag_pkce_clear(&pk);
}

/* libcurl appends the TLS session keys of every connection to the file
 * SSLKEYLOGFILE names: anyone who reads it decrypts the passwords, codes and
 * tokens of this command's requests (and of any program started with this
 * environment). Only reported: environ is scanned rather than asked with
 * getenv, because no setting of the product comes from the environment. */
static void check_environment(struct ag_check_report *r)
{
	extern char **environ;
	static const char name[] = "SSLKEYLOGFILE=";

	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, name, sizeof name - 1) == 0) {
			ag_check_add(r, "environment", false, false,
			    "SSLKEYLOGFILE is set: libcurl writes the TLS session keys of every request to that file; "
			    "unset it for authgear-pam and for anything that starts sshd or login");
			return;
		}
}

/* A shadow password that pam_unix can still accept: empty (with nullok) or a
 * crypt(3) hash; '!' and '*' (and anything else) lock it. */
static bool password_usable(const char *hash)
{
	return !hash[0] || hash[0] == '$' ||
	       (strlen(hash) == 13 && strspn(hash, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 13);
}

/* Bound users whose local password still works: with a broken module line
 * or stack the next module (pam_unix) would sign them in without Authgear's
 * second factor. A migration locks it (passwd -l USER). */
static void check_local_passwords(struct ag_check_report *r, const struct ag_config *cfg, const struct ag_log *log)
{
	struct ag_store *s = NULL;
	struct ag_store_db db = { 0 };
	char names[AG_CHECK_DETAIL_MAX - 160] = "", buf[4096];
	size_t n = 0, listed = 0;

	if (ag_store_open(cfg->state_dir, log, &s) != AG_OK || ag_store_read(s, &db) != AG_OK) {
		ag_store_close(s);
		return; /* state_dir's own check reports it */
	}
	for (size_t i = 0; i < db.n_users; i++) {
		struct spwd sp, *spr = NULL;

		if (!db.users[i].sub || getspnam_r(db.users[i].name, &sp, buf, sizeof buf, &spr) != 0 || !spr ||
		    !password_usable(spr->sp_pwdp))
			continue;
		n++;
		if (strlen(names) + strlen(db.users[i].name) + 2 < sizeof names) {
			snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "",
				 db.users[i].name);
			listed++;
		}
	}
	explicit_bzero(buf, sizeof buf);
	if (n)
		ag_check_add(r, "passwords", false, false,
		    "%zu Authgear user%s still ha%s a usable local password (%s%s): pam_unix signs %s in without "
		    "Authgear's second factor when pam_authgear is skipped; lock it (passwd -l USER)",
		    n, n > 1 ? "s" : "", n > 1 ? "ve" : "s", names, listed < n ? ", ..." : "", n > 1 ? "them" : "it");
	ag_store_db_free(&db);
	ag_store_close(s);
}

/* The accounts database opens (owner, mode, schema) and passes quick_check. */
static void check_store(struct ag_check_report *r, const struct ag_config *cfg, const struct ag_log *log,
			struct last_line *l)
{
	struct ag_store *s = NULL;
	char why[AG_CHECK_DETAIL_MAX];
	enum ag_err err;

	l->line[0] = '\0';
	err = ag_store_open(cfg->state_dir, log, &s);
	if (err != AG_OK) {
		add_failure(r, "store", err, l);
		return;
	}
	err = ag_store_check(s, why, sizeof why);
	if (err != AG_OK)
		ag_check_add(r, "store", true, false, "%s/private/" AG_STORE_FILE ": %s", cfg->state_dir, why);
	else
		ag_check_add(r, "store", true, true, "%s/private/" AG_STORE_FILE ": schema %d, quick_check ok", cfg->state_dir,
		    AG_STORE_SCHEMA_VERSION);
	ag_store_close(s);
}

/* token_key_file, when set, is usable (root's, 0600 or 0400, 32 bytes):
 * otherwise every Authgear login and account check is refused. */
static void check_token_key(struct ag_check_report *r, const struct ag_config *cfg, const struct ag_log *log,
			    struct last_line *l)
{
	unsigned char key[AG_STORE_TOKEN_KEY_LEN];
	enum ag_err err;

	if (!cfg->token_key_file)
		return;
	l->line[0] = '\0';
	err = ag_tokens_key_load(cfg->token_key_file, log, key);
	ag_wipe(key, sizeof key);
	if (err != AG_OK)
		add_failure(r, "token_key", err, l);
	else
		ag_check_add(r, "token_key", true, true, "%s: %d bytes, root's, not readable by others: the token cache is "
			     "sealed", cfg->token_key_file, AG_STORE_TOKEN_KEY_LEN);
}

bool ag_check_run(const char *config_path, const struct ag_log *log, struct ag_check_report *report)
{
	struct last_line last = { .next = log };
	struct ag_log check_log = { .sink = remember_sink, .sink_ctx = &last, .debug = log && log->debug };
	struct ag_config *cfg = NULL;
	struct ag_oidc *o = NULL;
	char why[AG_CHECK_DETAIL_MAX];
	enum ag_err err;
	bool all_ok = true;

	memset(report, 0, sizeof *report);
	check_environment(report);
	err = ag_config_load(config_path, AG_CONFIG_STRICT, &check_log, &cfg, why, sizeof why);
	if (err != AG_OK) {
		ag_check_add(report, "config", true, false, "%s", why);
		goto out;
	}
	ag_check_add(report, "config", true, true, "%s: syntax, keys, owner and mode are valid", cfg->path);
	last.line[0] = '\0';

	err = ag_oidc_open(cfg, &check_log, &o);
	if (err != AG_OK) {
		add_failure(report, "state_dir", err, &last);
		goto out;
	}
	ag_check_add(report, "state_dir", true, true, "%s is usable (private part %s)", cfg->state_dir, o->private_dir);
	check_store(report, cfg, &check_log, &last);
	check_token_key(report, cfg, &check_log, &last);
	check_local_passwords(report, cfg, &check_log);

	if (!check_issuer(report, o, &last))
		goto out;
	check_keys(report, o, &last);
	if (ag_config_has_method(cfg, "device") && cfg->require_mfa)
		ag_check_add(report, "mfa_amr", false, true, "device logins prove a second factor with amr holding all of one of: %s",
		    cfg->mfa_amr);
	/* Only the password method runs the Flow API: an RFC 8628 issuer that
	 * is not Authgear serves device logins without one. */
	if (!ag_config_has_method(cfg, "password"))
		ag_check_add(report, "authflow", false, true, "Authentication Flow API not required (methods = %s)", cfg->methods);
	else if ((err = ag_authflow_probe(o)) != AG_OK)
		add_failure(report, "authflow", err, &last);
	else
		ag_check_add(report, "authflow", true, true, "Authentication Flow API answers at %s%s", cfg->issuer,
			     AG_AUTHFLOW_PATH);
	if (ag_config_has_method(cfg, "password"))
		check_authorize(report, o, &last); /* a device login never authorizes (no redirect_uri needed) */
out:
	/* The host's side does not need the issuer: run it whenever the file loads. */
	if (cfg)
		ag_check_host(cfg, report);
	ag_oidc_close(o);
	ag_config_free(cfg);
	for (size_t i = 0; i < report->n_results; i++)
		if (report->results[i].required && !report->results[i].ok)
			all_ok = false;
	return all_ok;
}
