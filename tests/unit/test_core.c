/* cmocka tests for the error table, the PAM mapping, logging, wiping, and the
 * Flow API's RFC 3339 timestamps. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <security/_pam_types.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "oidc/authflow.h"

static void test_error_table_complete(void **state)
{
	for (int i = 0; i < AG_ERR__COUNT; i++) {
		assert_non_null(ag_err_name(i));
		assert_true(strlen(ag_err_name(i)) > 0);
		assert_true(strlen(ag_err_reason(i)) > 0);
		assert_non_null(ag_err_user_line(i));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ag_err_name(i), ag_err_name(j));
	}
	assert_string_equal(ag_err_name(AG_ERR_INVALID_GRANT), "invalid_grant");
	assert_string_equal(ag_err_user_line(AG_ERR_CREDENTIALS), "Incorrect password or code.");
	assert_string_equal(ag_err_user_line(AG_ERR_DISABLED), "This account is disabled.");
	/* Out-of-range codes never crash and never read as success. */
	assert_string_equal(ag_err_name((enum ag_err)9999), "invalid_arg");
	assert_string_equal(ag_err_name((enum ag_err)-1), "invalid_arg");
}

static void test_pam_mapping(void **state)
{
	assert_int_equal(ag_err_to_pam(AG_OK), PAM_SUCCESS);
	assert_int_equal(ag_err_to_pam(AG_ERR_NOT_OURS), PAM_IGNORE);
	assert_int_equal(ag_err_to_pam(AG_ERR_CREDENTIALS), PAM_AUTH_ERR);
	assert_int_equal(ag_err_to_pam(AG_ERR_USER_UNKNOWN), PAM_AUTH_ERR);
	assert_int_equal(ag_err_to_pam(AG_ERR_LOCKED), PAM_MAXTRIES);
	assert_int_equal(ag_err_to_pam(AG_ERR_NETWORK), PAM_AUTHINFO_UNAVAIL);
	assert_int_equal(ag_err_to_pam(AG_ERR_TIMEOUT), PAM_AUTHINFO_UNAVAIL);
	assert_int_equal(ag_err_to_pam(AG_ERR_CONFIG), PAM_AUTHINFO_UNAVAIL);
	assert_int_equal(ag_err_to_pam(AG_ERR_NOMEM), PAM_BUF_ERR);
	assert_int_equal(ag_err_to_pam((enum ag_err)9999), PAM_SERVICE_ERR);
	/* Only AG_OK may ever map to success. */
	for (int i = 1; i < AG_ERR__COUNT; i++)
		assert_int_not_equal(ag_err_to_pam(i), PAM_SUCCESS);
}

struct captured {
	int n;
	int priority;
	char line[AG_LOG_LINE_MAX];
};

static void capture_sink(void *ctx, int priority, const char *line)
{
	struct captured *c = ctx;

	c->n++;
	c->priority = priority;
	snprintf(c->line, sizeof c->line, "%s", line);
}

static void test_log_sink_and_sanitizing(void **state)
{
	struct captured c = { 0 };
	struct ag_log log = { .sink = capture_sink, .sink_ctx = &c };

	ag_log(&log, LOG_NOTICE, "user %s denied", "evil\nDec 1 forged: line\x7f");
	assert_int_equal(c.n, 1);
	assert_int_equal(c.priority, LOG_NOTICE);
	assert_string_equal(c.line, "user evil?Dec 1 forged: line? denied");

	ag_log(&log, LOG_DEBUG, "hidden");
	assert_int_equal(c.n, 1);
	log.debug = true;
	ag_log(&log, LOG_DEBUG, "shown %d", 42);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.line, "shown 42");
}

static void test_log_truncates_long_lines(void **state)
{
	struct captured c = { 0 };
	struct ag_log log = { .sink = capture_sink, .sink_ctx = &c };
	char *big = malloc(10000);

	assert_non_null(big);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	ag_log(&log, LOG_ERR, "%s", big);
	assert_int_equal(strlen(c.line), AG_LOG_LINE_MAX - 1);
	free(big);
}

static void test_log_test_file(void **state)
{
	char path[] = "/tmp/test_core_log.XXXXXX";
	struct captured c = { 0 };
	struct ag_log log = { .sink = capture_sink, .sink_ctx = &c };
	char buf[256] = "";
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	setenv("AUTHGEAR_TEST_LOG", path, 1);
	ag_log(&log, LOG_WARNING, "first %s", "line");
	ag_log(&log, LOG_ERR, "second\nline");
	unsetenv("AUTHGEAR_TEST_LOG");
	ag_log(&log, LOG_ERR, "not in the file");
	f = fopen(path, "r");
	assert_non_null(f);
#ifdef AG_TEST_HOOKS
	assert_int_equal(fread(buf, 1, sizeof buf - 1, f), strlen("warning first line\nerr second?line\n"));
	assert_string_equal(buf, "warning first line\nerr second?line\n");
#else
	/* A default build has no environment hook: the file stays empty. */
	assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 0);
#endif
	fclose(f);
	unlink(path);
	assert_int_equal(c.n, 3);
}

static void test_buf(void **state)
{
	struct ag_buf b = AG_BUF_INIT(10);
	char *p;
	size_t len;

	assert_string_equal(ag_buf_str(&b), "");
	assert_true(ag_buf_join(&b, ",", "ab"));
	assert_true(ag_buf_join(&b, ",", "cd"));
	assert_string_equal(ag_buf_str(&b), "ab,cd");
	assert_true(ag_buf_append(&b, "xyzw", 4));    /* 9 bytes */
	assert_false(ag_buf_add(&b, "12"));           /* 11 > max */
	assert_true(b.failed);
	assert_null(ag_buf_str(&b));
	assert_false(ag_buf_add(&b, ""));             /* failed stays failed */
	assert_null(ag_buf_steal(&b, &len));
	ag_buf_free(&b);
	assert_false(b.failed);
	assert_int_equal(b.max, 10);

	/* growth past the first block keeps every byte; steal hands it over */
	b.max = 100000;
	for (int i = 0; i < 10000; i++)
		assert_true(ag_buf_add(&b, "0123456789"));
	assert_int_equal(b.len, 100000);
	assert_false(ag_buf_add(&b, "x"));
	b.failed = false;
	p = ag_buf_steal(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 100000);
	assert_int_equal(strlen(p), 100000);
	assert_memory_equal(p + 99990, "0123456789", 10);
	assert_null(b.data);
	ag_free_secret_n(p, len + 1);
	assert_non_null(p = ag_buf_steal(&b, &len)); /* an empty buffer steals "" */
	assert_string_equal(p, "");
	free(p);
	ag_buf_free(&b);
}

static void test_wipe(void **state)
{
	char buf[16];
	char *s = strdup("hunter2");

	memset(buf, 'A', sizeof buf);
	ag_wipe(buf, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[8], 'A');
	ag_wipe(NULL, 10);
	ag_free_secret(NULL);
	ag_free_secret_n(NULL, 10);
	assert_non_null(s);
	ag_free_secret(s);
	s = malloc(32);
	assert_non_null(s);
	ag_free_secret_n(s, 32);
}

static void test_json_errors_never_quote_input(void **state)
{
	static const char *const bad[] = {
		"{\"access_token\":\"SECRETTOKEN",
		"{\"access_token\": SECRETTOKEN}",
		"SECRETTOKEN",
		"{\"a\":1,\"a\":\"SECRETTOKEN\"}",
	};
	struct captured c = { 0 };
	struct ag_log log = { .sink = capture_sink, .sink_ctx = &c };
	json_t *out;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c.n = 0;
		assert_int_equal(ag_json_parse_object(bad[i], strlen(bad[i]), &log, "token", &out), AG_ERR_PARSE);
		assert_null(out);
		assert_int_equal(c.n, 1);
		assert_non_null(strstr(c.line, "token: invalid JSON at line 1"));
		assert_null(strstr(c.line, "SECRET"));
	}
}

/* AccountLockout's info.until as Authgear (Go) writes it: fractions of any
 * length and offsets; anything else is 0 (no "try again in" time). */
static void test_lockout_until_parser(void **state)
{
	static const struct {
		const char *in;
		time_t want;
	} cases[] = {
		{ "2026-08-21T10:00:00Z", 1787306400 },
		{ "2026-08-21T10:00:00.5Z", 1787306400 },
		{ "2026-08-21T10:00:00.123456789Z", 1787306400 }, /* Go's RFC3339Nano */
		{ "2026-08-21T10:00:00.999999999Z", 1787306400 }, /* dropped, not rounded up */
		{ "2026-08-21T12:00:00+02:00", 1787306400 },
		{ "2026-08-21T12:30:00.000001+02:30", 1787306400 },
		{ "2026-08-21T05:15:00.25-04:45", 1787306400 },
		{ "2026-08-21T10:00:00+00:00", 1787306400 },
		{ "2026-08-21T10:00:00", 0 },           /* no zone */
		{ "2026-08-21T10:00:00.Z", 0 },         /* a dot without digits */
		{ "2026-08-21T10:00:00Zjunk", 0 },
		{ "2026-08-21T10:00:00+02:00junk", 0 },
		{ "2026-08-21T10:00:00+2:00", 0 },
		{ "2026-08-21 10:00:00Z", 0 },
		{ "2026-13-21T10:00:00Z", 0 },
		{ "2026-08-21T24:00:00Z", 0 },
		{ "2026-08-21T10:00:00+24:00", 0 },
		{ "+026-08-21T10:00:00Z", 0 },
		{ " 2026-08-21T10:00:00Z", 0 },
		{ "", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		time_t got = ag_flow_parse_time(cases[i].in);
		if (got != cases[i].want)
			fail_msg("'%s': got %lld, want %lld", cases[i].in, (long long)got, (long long)cases[i].want);
	}
	assert_int_equal(ag_flow_parse_time(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table_complete),
		cmocka_unit_test(test_pam_mapping),
		cmocka_unit_test(test_log_sink_and_sanitizing),
		cmocka_unit_test(test_log_truncates_long_lines),
		cmocka_unit_test(test_log_test_file),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_json_errors_never_quote_input),
		cmocka_unit_test(test_lockout_until_parser),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
