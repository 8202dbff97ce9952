/* Logging (see log.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

/* Replace bytes below 0x20 and DEL so a line stays one line. */
static void sanitize(char *line)
{
	for (unsigned char *p = (unsigned char *)line; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
}

void ag_text_escape(const char *in, char *out, size_t out_len)
{
	size_t n = 0;

	if (!out_len)
		return;
	for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p; p++) {
		bool plain = *p >= 0x20 && *p < 0x7f;

		if (n + (plain ? 1 : 4) >= out_len)
			break;
		if (plain)
			out[n++] = (char)*p;
		else
			n += (size_t)snprintf(out + n, out_len - n, "\\x%02x", *p);
	}
	out[n] = '\0';
}

#ifdef AG_TEST_HOOKS
/* Test builds only (./configure --enable-test-hooks): every line is also
 * appended to the file AUTHGEAR_TEST_LOG names, so tests can read what a
 * module inside sshd or pamtester logged. A default build has no such
 * environment hook: a root process that inherits a caller's environment
 * (login -p under a network daemon) must not create a file it chooses. */
static const char *priority_name(int priority)
{
	switch (priority & LOG_PRIMASK) {
	case LOG_EMERG: return "emerg";
	case LOG_ALERT: return "alert";
	case LOG_CRIT: return "crit";
	case LOG_ERR: return "err";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

static void write_test_log(int priority, const char *line)
{
	const char *path = secure_getenv("AUTHGEAR_TEST_LOG");
	char buf[AG_LOG_LINE_MAX + 16];
	int fd, n;

	if (!path || !*path)
		return;
	n = snprintf(buf, sizeof buf, "%s %s\n", priority_name(priority), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) < 0) {
		/* nothing to do: a test log is best effort */
	}
	close(fd);
}
#else
static void write_test_log(int priority, const char *line)
{
}
#endif

void ag_log(const struct ag_log *log, int priority, const char *fmt, ...)
{
	char line[AG_LOG_LINE_MAX];
	int saved_errno = errno;
	va_list ap;

	if ((priority & LOG_PRIMASK) == LOG_DEBUG && !(log && log->debug))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	sanitize(line);

	write_test_log(priority, line);
	if (log && log->sink)
		log->sink(log->sink_ctx, priority, line);
	else
		syslog(LOG_AUTHPRIV | (priority & LOG_PRIMASK), "pam_authgear: %s", line);
	errno = saved_errno;
}
