/* Logging for the core: every line goes to one sink chosen by the shell
 * (pam_syslog in the module, stderr in the CLI, syslog(3) otherwise).
 *
 * Lines never carry secrets; control characters are replaced before they reach
 * a sink, so a hostile user name cannot forge log lines.
 *
 * Tests: when the environment variable AUTHGEAR_TEST_LOG names a file (read
 * with secure_getenv, so never in setuid programs), every line is also
 * appended there as "<priority-name> <line>\n" with one write(2).
 */
#ifndef AG_LOG_H
#define AG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

typedef void (*ag_log_sink_fn)(void *sink_ctx, int priority, const char *line);

struct ag_log {
	ag_log_sink_fn sink;  /* NULL: syslog(3) with LOG_AUTHPRIV */
	void *sink_ctx;
	bool debug;           /* LOG_DEBUG lines are dropped unless set */
};

#define AG_LOG_LINE_MAX 1024

void ag_log(const struct ag_log *log, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* in as printable ASCII for a log line, the store or a terminal (PAM_TTY,
 * PAM_RHOST: whatever the caller of PAM set): every other byte (control
 * characters, DEL, bytes from 0x80 on: terminal escape sequences, C1
 * controls) as \xHH, cut to fit out_len (never inside an escape). A
 * backslash stays as it is, so a second escape changes nothing. NULL: "". */
void ag_text_escape(const char *in, char *out, size_t out_len);

#endif
