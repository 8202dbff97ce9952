/* The checks behind `authgear-pam check`: each reports a name, whether it is
 * required, whether it passed, and one line of detail. */
#ifndef AG_CHECK_H
#define AG_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/log.h"

#define AG_CHECK_DETAIL_MAX 512
#define AG_CHECK_MAX 16

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

/* Run every check against the configuration at config_path. Returns true when
 * all required checks passed. */
bool ag_check_run(const char *config_path, const struct ag_log *log, struct ag_check_report *report);

#endif
