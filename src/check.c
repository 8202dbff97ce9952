/* Checks behind `authgear-pam check` (see check.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "conf.h"

static struct ag_check_result *add(struct ag_check_report *r, const char *name, bool required, bool ok,
				   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static struct ag_check_result *add(struct ag_check_report *r, const char *name, bool required, bool ok,
				   const char *fmt, ...)
{
	struct ag_check_result *res;
	va_list ap;

	if (r->n_results >= AG_CHECK_MAX)
		return NULL;
	res = &r->results[r->n_results++];
	res->name = name;
	res->required = required;
	res->ok = ok;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof res->detail, fmt, ap);
	va_end(ap);
	return res;
}

bool ag_check_run(const char *config_path, const struct ag_log *log, struct ag_check_report *report)
{
	struct ag_config *cfg = NULL;
	char why[AG_CHECK_DETAIL_MAX];
	enum ag_err err;
	bool all_ok = true;

	memset(report, 0, sizeof *report);
	err = ag_config_load(config_path, AG_CONFIG_STRICT, log, &cfg, why, sizeof why);
	if (err != AG_OK)
		add(report, "config", true, false, "%s", why);
	else
		add(report, "config", true, true, "%s: syntax, keys, owner and mode are valid; issuer %s, client_id %s",
		    cfg->path, cfg->issuer, cfg->client_id);
	ag_config_free(cfg);

	for (size_t i = 0; i < report->n_results; i++)
		if (report->results[i].required && !report->results[i].ok)
			all_ok = false;
	return all_ok;
}
