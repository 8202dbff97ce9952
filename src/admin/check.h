/* The checks behind `authgear-pam check`: each reports a name, whether it is
 * required, whether it passed, and one line of detail. */
#ifndef AG_CHECK_H
#define AG_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/log.h"

#define AG_CHECK_DETAIL_MAX 512
#define AG_CHECK_MAX 40

struct ag_check_result {
	const char *name;
	bool required;
	bool ok;
	char detail[AG_CHECK_DETAIL_MAX];
};

struct ag_check_report {
	struct ag_check_result results[AG_CHECK_MAX];
	size_t n_results;
};

struct ag_config;

/* Add one result (check.c); the detail is printf-formatted. */
void ag_check_add(struct ag_check_report *r, const char *name, bool required, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The host's side (check_host.c): the pam.d lines that name pam_authgear.so
 * and whether libpam finds the module, nsswitch.conf, the NSS index against
 * the configuration, and sshd's settings (sshd -T). */
void ag_check_host(const struct ag_config *cfg, struct ag_check_report *r);

/* Run every check against the configuration at config_path. Returns true when
 * all required checks passed. */
bool ag_check_run(const char *config_path, const struct ag_log *log, struct ag_check_report *report);

#endif
