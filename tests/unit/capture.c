/* A log sink for tests (see capture.h). */
#include "config.h"

#include <string.h>

#include "capture.h"

static char text[64 * 1024];
static size_t used;

static void capture_sink(void *ctx, int priority, const char *line)
{
	size_t n = strlen(line);

	if (used + n + 2 > sizeof text)
		return;
	memcpy(text + used, line, n);
	used += n;
	text[used++] = '\n';
	text[used] = '\0';
}

const struct ag_log capture_log = { .sink = capture_sink };

void capture_reset(void)
{
	used = 0;
	text[0] = '\0';
}

bool capture_has(const char *needle)
{
	return strstr(text, needle) != NULL;
}

const char *capture_text(void)
{
	return text;
}
