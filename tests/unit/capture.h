/* A log sink for tests: keeps every line so a test can assert the reason. */
#ifndef TEST_CAPTURE_H
#define TEST_CAPTURE_H

#include <stdbool.h>

#include "base/log.h"

extern const struct ag_log capture_log;

/* Forget the lines captured so far. */
void capture_reset(void);
/* Whether some captured line contains needle. */
bool capture_has(const char *needle);
/* All captured lines, each ending in '\n'. */
const char *capture_text(void);

/* Assert that a line containing needle was logged; print the log otherwise. */
#define assert_logged(needle) do { \
		if (!capture_has(needle)) \
			print_error("no log line with \"%s\"; log was:\n%s", (needle), capture_text()); \
		assert_true(capture_has(needle)); \
	} while (0)

#endif
