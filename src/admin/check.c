/* Checks behind `authgear-pam check` (see check.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/store.h"
#include "admin/check.h"
#include "base/conf.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "oidc/authflow.h"
#include "oidc/oidc.h"

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

static void add(struct ag_check_report *r, const char *name, bool required, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void add(struct ag_check_report *r, const char *name, bool required, bool ok, const char *fmt, ...)
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
	add(r, name, true, false, "%s", l->line[0] ? l->line : ag_err_reason(err));
	l->line[0] = '\0';
}

static void check_clock(struct ag_check_report *r, const struct ag_oidc *o, time_t server_date)
{
	long skew;

	if (!server_date) {
		add(r, "clock", false, false, "the issuer sent no Date header; clock skew unknown");
		return;
	}
	skew = (long)(ag_clock_wall(o->clock) - server_date);
	add(r, "clock", true, labs(skew) <= o->cfg->leeway,
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
	add(r, "issuer", true, true, "%s answered the discovery request", o->cfg->issuer);
	check_clock(r, o, server_date);
	err = ag_discovery_from_json(doc, o->cfg->issuer, o->http, o->log, &d);
	json_decref(doc);
	if (err != AG_OK) {
		add_failure(r, "discovery", err, l);
		return false;
	}
	add(r, "discovery", true, true, "issuer matches; token endpoint %s", d->token_endpoint);
	if (d->device_authorization_endpoint)
		add(r, "device", false, true, "device authorization endpoint advertised: %s",
		    d->device_authorization_endpoint);
	else
		add(r, "device", false, true, "no device authorization endpoint advertised (device login unavailable)");
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
	add(r, "jwks", true, true, "%s", detail);
	err = ag_oidc_allowed_algs(o, &mask);
	if (err != AG_OK) {
		add_failure(r, "algs", err, l);
		return;
	}
	for (unsigned bit = 1; bit && bit <= AG_JWS_ALL; bit <<= 1)
		if (mask & bit)
			snprintf(algs + strlen(algs), sizeof algs - strlen(algs), "%s%s", algs[0] ? " " : "",
				 ag_jws_alg_name(bit));
	add(r, "algs", true, true, "accepted ID token algs (allowed_algs and the issuer's): %s", algs);
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
		add(r, "store", true, false, "%s/private/" AG_STORE_FILE ": %s", cfg->state_dir, why);
	else
		add(r, "store", true, true, "%s/private/" AG_STORE_FILE ": schema %d, quick_check ok", cfg->state_dir,
		    AG_STORE_SCHEMA_VERSION);
	ag_store_close(s);
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
	err = ag_config_load(config_path, AG_CONFIG_STRICT, &check_log, &cfg, why, sizeof why);
	if (err != AG_OK) {
		add(report, "config", true, false, "%s", why);
		goto out;
	}
	add(report, "config", true, true, "%s: syntax, keys, owner and mode are valid", cfg->path);
	last.line[0] = '\0';

	err = ag_oidc_open(cfg, &check_log, &o);
	if (err != AG_OK) {
		add_failure(report, "state_dir", err, &last);
		goto out;
	}
	add(report, "state_dir", true, true, "%s is usable (private part %s)", cfg->state_dir, o->private_dir);
	check_store(report, cfg, &check_log, &last);

	if (!check_issuer(report, o, &last))
		goto out;
	check_keys(report, o, &last);
	err = ag_authflow_probe(o);
	if (err != AG_OK)
		add_failure(report, "authflow", err, &last);
	else
		add(report, "authflow", true, true, "Authentication Flow API answers at %s%s", cfg->issuer,
		    AG_AUTHFLOW_PATH);
out:
	ag_oidc_close(o);
	ag_config_free(cfg);
	for (size_t i = 0; i < report->n_results; i++)
		if (report->results[i].required && !report->results[i].ok)
			all_ok = false;
	return all_ok;
}
