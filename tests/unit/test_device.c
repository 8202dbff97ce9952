/* cmocka tests for the device login's pure parts: the configuration keys,
 * the device authorization response parser (RFC 8628 §3.2) and the
 * half-block QR drawing. The flows themselves run against the test IdP
 * (tests/test_device.sh). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "base/conf.h"
#include "base/http.h"
#include "login/qr.h"
#include "oidc/device.h"

#define MINIMAL "issuer = https://auth.example.com\nclient_id = pam\nredirect_uri = http://127.0.0.1/cb\n"

static struct ag_http *http;

static int setup_http(void **state)
{
	static const struct ag_http_opts opts = { .connect_timeout = 1, .timeout = 1 };

	return ag_http_new(&opts, &capture_log, &http) == AG_OK ? 0 : -1;
}

static int teardown_http(void **state)
{
	ag_http_free(http);
	return 0;
}

static enum ag_err parse_config(const char *text, struct ag_config **cfg, char *why, size_t why_len)
{
	capture_reset();
	return ag_config_parse("t.conf", text, strlen(text), AG_CONFIG_STRICT, &capture_log, cfg, why, why_len);
}

static void test_config_defaults(void **state)
{
	struct ag_config *cfg;
	char why[256];

	assert_int_equal(parse_config(MINIMAL, &cfg, why, sizeof why), AG_OK);
	assert_string_equal(cfg->methods, "password");
	assert_true(ag_config_has_method(cfg, "password"));
	assert_false(ag_config_has_method(cfg, "device"));
	assert_string_equal(cfg->device_scopes, "openid offline_access");
	assert_true(cfg->qr);
	assert_false(cfg->qr_invert);
	assert_int_equal(cfg->device_max_wait, 110);
	assert_string_equal(cfg->username_claim, "preferred_username");
	ag_config_free(cfg);
}

static void test_config_methods(void **state)
{
	static const char *const good[] = { "device", "password, device", "device,password", " device  password " };
	static const char *const bad[] = { "passwords", "device, device", "password,,device,password", "sms", "," };
	struct ag_config *cfg;
	char text[512], why[256];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(text, sizeof text, MINIMAL "methods = %s\n", good[i]);
		assert_int_equal(parse_config(text, &cfg, why, sizeof why), AG_OK);
		assert_true(ag_config_has_method(cfg, "device"));
		assert_int_equal(ag_config_has_method(cfg, "password"), strchr(good[i], 'p') != NULL);
		assert_false(ag_config_has_method(cfg, "dev"));
		ag_config_free(cfg);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, MINIMAL "methods = %s\n", bad[i]);
		assert_int_equal(parse_config(text, &cfg, why, sizeof why), AG_ERR_CONFIG);
		assert_non_null(strstr(why, "t.conf:4: methods: must be one or more of password|device"));
	}
	assert_int_equal(parse_config(MINIMAL "device_max_wait = 4\n", &cfg, why, sizeof why), AG_ERR_CONFIG);
	assert_int_equal(parse_config(MINIMAL "device_scopes = profile\n", &cfg, why, sizeof why), AG_ERR_CONFIG);
	assert_non_null(strstr(why, "include openid"));
	assert_int_equal(parse_config(MINIMAL "qr = off\nqr_invert = yes\nusername_claim = email\n", &cfg, why, sizeof why),
			 AG_OK);
	assert_false(cfg->qr);
	assert_true(cfg->qr_invert);
	assert_string_equal(cfg->username_claim, "email");
	ag_config_free(cfg);
}

/* Parse body as a 200 application/json device authorization response. */
static enum ag_err parse_auth(const char *body, struct ag_device_auth *a)
{
	struct ag_http_response resp = { .status = 200, .content_type = (char *)"application/json" };

	resp.body = strdup(body);
	resp.body_len = strlen(body);
	capture_reset();
	enum ag_err err = ag_device_auth_parse(&resp, http, &capture_log, a);
	free(resp.body);
	return err;
}

static void test_auth_parse(void **state)
{
	struct ag_device_auth a;

	assert_int_equal(parse_auth("{\"device_code\":\"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS\",\"user_code\":\"WDJB-MJHT\","
				    "\"verification_uri\":\"https://example.com/device\","
				    "\"verification_uri_complete\":\"https://example.com/device?user_code=WDJB-MJHT\","
				    "\"expires_in\":1800,\"interval\":7}", &a),
			 AG_OK);
	assert_string_equal(a.user_code, "WDJB-MJHT");
	assert_string_equal(a.verification_uri, "https://example.com/device");
	assert_string_equal(a.verification_uri_complete, "https://example.com/device?user_code=WDJB-MJHT");
	assert_int_equal(a.expires_in, 1800);
	assert_int_equal(a.interval, 7);
	/* the codes are secrets: never in the log */
	assert_false(capture_has("WDJB"));
	assert_false(capture_has("GmRhmh"));
	ag_device_auth_clear(&a);
	assert_null(a.device_code);

	/* §3.2: interval absent → 5 s; verification_uri_complete optional; the
	 * pre-RFC name verification_url accepted */
	assert_int_equal(parse_auth("{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_url\":\"https://e.x/d\","
				    "\"expires_in\":600}", &a),
			 AG_OK);
	assert_int_equal(a.interval, AG_DEVICE_INTERVAL_DEFAULT);
	assert_null(a.verification_uri_complete);
	assert_string_equal(a.verification_uri, "https://e.x/d");
	ag_device_auth_clear(&a);
	/* an interval of 0 is never obeyed: at most one poll a second */
	assert_int_equal(parse_auth("{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\","
				    "\"expires_in\":600,\"interval\":0}", &a),
			 AG_OK);
	assert_int_equal(a.interval, 1);
	ag_device_auth_clear(&a);
}

static void test_auth_parse_refusals(void **state)
{
	static const struct {
		const char *body, *log;
	} cases[] = {
		{ "{\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":600}", "device_code missing" },
		{ "{\"device_code\":\"d\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":600}", "user_code missing" },
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"expires_in\":600}", "verification_url missing" },
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\"}", "expires_in missing" },
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":0}",
		  "expires_in missing or not a positive integer" },
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":\"600\"}",
		  "expires_in" },
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":60,"
		  "\"interval\":-1}", "interval malformed" },
		/* a terminal escape in what is shown to the person */
		{ "{\"device_code\":\"d\",\"user_code\":\"U\\u001b[2J\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":60}",
		  "user_code malformed, too long or not printable ASCII" },
		{ "{\"device_code\":\"d\",\"user_code\":\"WD JB\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":60}",
		  "user_code malformed" },
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\\n\",\"expires_in\":60}",
		  "verification_uri malformed" },
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":60,"
		  "\"verification_uri_complete\":\"https://e.x/d?\\u00e9\"}", "verification_uri_complete malformed" },
		/* a person is never sent to plain http */
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"http://e.x/d\",\"expires_in\":60}",
		  "only https is allowed" },
		{ "{\"device_code\":\"d\",\"user_code\":\"U\",\"verification_uri\":\"https://e.x/d\",\"expires_in\":60,"
		  "\"verification_uri_complete\":\"javascript:alert(1)\"}", "javascript:alert(1): not a valid URL" },
		{ "{\"device_code\":\"d\",\"user_code\":\"UUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUUU\","
		  "\"verification_uri\":\"https://e.x/d\",\"expires_in\":60}", "user_code malformed, too long" },
		{ "[]", "" },
	};
	struct ag_device_auth a;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum ag_err err = parse_auth(cases[i].body, &a);
		if (err == AG_OK || !capture_has(cases[i].log))
			print_error("case %zu: %s\nlog:\n%s", i, ag_err_name(err), capture_text());
		assert_int_not_equal(err, AG_OK);
		assert_logged(cases[i].log);
		assert_null(a.device_code);
		assert_null(a.user_code);
	}
}

/* The module rows of a drawing: top half of line k is row 2k. */
static int ink(const char *qr, size_t columns, size_t row, size_t col)
{
	const char *line = qr;

	for (size_t k = 0; k < row / 2; k++)
		line = strchr(line, '\n') + 1;
	/* each character is 3 bytes (a half block) or 1 (space) */
	const char *p = line;
	for (size_t c = 0; c < col; c++)
		p += *p == ' ' ? 1 : 3;
	if (*p == ' ')
		return 0;
	if (strncmp(p, "\xe2\x96\x88", 3) == 0)
		return 1;
	if (strncmp(p, "\xe2\x96\x80", 3) == 0)
		return row % 2 == 0;
	if (strncmp(p, "\xe2\x96\x84", 3) == 0)
		return row % 2 == 1;
	fail_msg("unexpected character at row %zu col %zu", row, col);
	return -1;
}

static void test_qr_drawing(void **state)
{
	const char *url = "https://example.com/device?user_code=WDJB-MJHT";
	size_t columns, lines, inv_columns;
	char *qr, *inv;

	assert_int_equal(ag_qr_text(url, false, AG_QR_MAX_COLUMNS, &qr, &columns, &lines), AG_OK);
	assert_int_equal(ag_qr_text(url, true, AG_QR_MAX_COLUMNS, &inv, &inv_columns, NULL), AG_OK);
	assert_int_equal(columns, inv_columns);
	assert_int_equal((columns - 2 * AG_QR_QUIET_ZONE - 17) % 4, 0); /* a QR symbol is 17 + 4v modules */
	assert_int_equal(lines, (columns + 1) / 2);
	/* lines joined by '\n', none at the end */
	size_t n = 1;
	for (const char *p = qr; *p; p++)
		n += *p == '\n';
	assert_int_equal(n, lines);
	assert_int_not_equal(qr[strlen(qr) - 1], '\n');
	/* the quiet zone: no ink in the 4 outer modules (default polarity) ... */
	for (size_t i = 0; i < columns; i++)
		for (size_t q = 0; q < AG_QR_QUIET_ZONE; q++) {
			assert_int_equal(ink(qr, columns, q, i), 0);
			assert_int_equal(ink(qr, columns, columns - 1 - q, i), 0);
			assert_int_equal(ink(qr, columns, i, q), 0);
			assert_int_equal(ink(qr, columns, i, columns - 1 - q), 0);
		}
	/* ... and the finder pattern's corner right inside it */
	assert_int_equal(ink(qr, columns, AG_QR_QUIET_ZONE, AG_QR_QUIET_ZONE), 1);
	assert_int_equal(ink(qr, columns, AG_QR_QUIET_ZONE, columns - 1 - AG_QR_QUIET_ZONE), 1);
	assert_int_equal(ink(qr, columns, columns - 1 - AG_QR_QUIET_ZONE, AG_QR_QUIET_ZONE), 1);
	/* inverted: the characters draw the light modules, quiet zone included */
	for (size_t r = 0; r < columns; r++)
		for (size_t c = 0; c < columns; c++)
			assert_int_equal(ink(inv, columns, r, c), !ink(qr, columns, r, c));
	free(qr);
	free(inv);
}

static void test_qr_limits(void **state)
{
	char url[1200];
	size_t columns = 0;
	char *qr = (char *)1;

	memset(url, 'a', sizeof url - 1);
	url[sizeof url - 1] = '\0';
	memcpy(url, "https://", 8);
	/* the 80-column rule */
	url[500] = '\0';
	assert_int_equal(ag_qr_text(url, false, AG_QR_MAX_COLUMNS, &qr, &columns, NULL), AG_ERR_TOO_LARGE);
	assert_null(qr);
	assert_true(columns > AG_QR_MAX_COLUMNS);
	url[420] = '\0';
	assert_int_equal(ag_qr_text(url, false, AG_QR_MAX_COLUMNS, &qr, &columns, NULL), AG_OK);
	assert_true(columns <= AG_QR_MAX_COLUMNS);
	free(qr);
	/* a narrower limit is honoured too */
	assert_int_equal(ag_qr_text("https://example.com/device", false, 30, &qr, &columns, NULL), AG_ERR_TOO_LARGE);
	assert_int_equal(ag_qr_text("", false, 80, &qr, NULL, NULL), AG_ERR_INVALID_ARG);
	url[sizeof url - 1] = '\0';
	memset(url, 'a', sizeof url - 1);
	assert_int_equal(ag_qr_text(url, false, 1000, &qr, NULL, NULL), AG_ERR_INVALID_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_methods),
		cmocka_unit_test(test_auth_parse),
		cmocka_unit_test(test_auth_parse_refusals),
		cmocka_unit_test(test_qr_drawing),
		cmocka_unit_test(test_qr_limits),
	};

	return cmocka_run_group_tests(tests, setup_http, teardown_http);
}
