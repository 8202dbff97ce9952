/* cmocka tests of the protocol code through the transport seam
 * (ag_http_set_transport): scripted responses drive the token endpoint and
 * the device grant through what a real server rarely does on purpose — a
 * 5xx, a 429, an HTML 200, a truncated body, a transport error, a missing
 * field — and check what was sent. In addition to the real-IdP tests
 * (tests/test_tokens.sh, tests/test_device.sh), never instead. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/conf.h"
#include "base/http.h"
#include "capture.h"
#include "oidc/clock.h"
#include "oidc/device.h"
#include "oidc/oidc.h"
#include "oidc/token.h"

#define ISSUER "https://idp.test"
#define TOKEN_URL ISSUER "/oauth2/token"
#define DEVICE_URL ISSUER "/oauth2/device_authorization"
#define JSON "application/json"
#define TOKENS "{\"token_type\":\"Bearer\",\"access_token\":\"at-1\",\"refresh_token\":\"rt-1\"," \
	       "\"id_token\":\"a.b.c\",\"expires_in\":1800}"

/* One scripted exchange: what the code must send, and what it gets back. */
struct step {
	const char *method, *url;
	long status;
	const char *content_type, *body;
	enum ag_err transport_err; /* AG_OK: answer with status and body */
};
static const char *x_authgear; /* X-Authgear-* header lines of every answer */

struct script {
	const struct step *steps;
	size_t n, at;
	char sent[4096]; /* the last request body */
	char bearer[64]; /* the last request's bearer token */
	double sent_ms[16]; /* the clock at each request */
};

static struct script script;
static struct ag_oidc oidc;

/* A clock that never waits: sleeping moves it forward (the clock seam). */
static double fake_now_ms;
static time_t fake_wall(void *ctx)
{
	return 1700000000 + (time_t)(fake_now_ms / 1000);
}
static double fake_mono(void *ctx)
{
	return fake_now_ms;
}
static void fake_sleep(void *ctx, double ms)
{
	if (ms > fake_now_ms)
		fake_now_ms = ms;
}
static const struct ag_clock fake_clock = { fake_wall, fake_mono, fake_sleep, NULL };
static struct ag_config *cfg;
#define test_log capture_log

static enum ag_err scripted(void *ctx, const char *method, const char *url, const char *content_type,
			    const char *body, const char *bearer, struct ag_http_response *resp)
{
	struct script *s = ctx;
	const struct step *st;

	assert_true(s->at < s->n); /* no request beyond the script */
	if (s->at < sizeof s->sent_ms / sizeof s->sent_ms[0])
		s->sent_ms[s->at] = ag_clock_ms(oidc.clock);
	st = &s->steps[s->at++];
	assert_string_equal(method, st->method);
	assert_string_equal(url, st->url);
	snprintf(s->sent, sizeof s->sent, "%s", body ? body : "");
	snprintf(s->bearer, sizeof s->bearer, "%s", bearer ? bearer : "");
	if (st->transport_err != AG_OK)
		return st->transport_err;
	resp->status = st->status;
	resp->body = strdup(st->body);
	resp->body_len = strlen(st->body);
	resp->content_type = st->content_type ? strdup(st->content_type) : NULL;
	resp->x_authgear = x_authgear ? strdup(x_authgear) : NULL;
	return AG_OK;
}

static void run(const struct step *steps, size_t n)
{
	script = (struct script){ .steps = steps, .n = n };
	capture_reset();
}

static int setup(void **state)
{
	static const char text[] = "issuer = " ISSUER "\nclient_id = pam\nredirect_uri = http://127.0.0.1/cb\n";
	static const struct ag_http_opts opts = { .connect_timeout = 1, .timeout = 1 };
	struct ag_http_transport t = { scripted, &script };
	char why[256];

	assert_int_equal(ag_config_parse("t.conf", text, strlen(text), AG_CONFIG_STRICT, &test_log, &cfg, why,
					 sizeof why), AG_OK);
	memset(&oidc, 0, sizeof oidc);
	oidc.cfg = cfg;
	oidc.log = &test_log;
	oidc.clock = &ag_clock_system;
	assert_int_equal(ag_http_new(&opts, &test_log, &oidc.http), AG_OK);
	ag_http_set_transport(oidc.http, &t);
	/* discovery as if cached: the seam drives only the calls under test */
	oidc.disc = calloc(1, sizeof *oidc.disc);
	assert_non_null(oidc.disc);
	oidc.disc->issuer = strdup(ISSUER);
	oidc.disc->token_endpoint = strdup(TOKEN_URL);
	oidc.disc->device_authorization_endpoint = strdup(DEVICE_URL);
	return 0;
}

static int teardown(void **state)
{
	ag_discovery_free(oidc.disc);
	ag_http_free(oidc.http);
	ag_config_free(cfg);
	return 0;
}

static enum ag_err exchange(struct ag_tokens *t)
{
	return ag_token_exchange_code(&oidc, "the-code", "the-verifier", t);
}

static void test_code_exchange_sends_the_form(void **state)
{
	static const struct step steps[] = { { "POST", TOKEN_URL, 200, JSON, TOKENS, AG_OK } };
	struct ag_tokens t = { 0 };

	run(steps, 1);
	assert_int_equal(exchange(&t), AG_OK);
	assert_string_equal(t.access_token, "at-1");
	assert_string_equal(t.refresh_token, "rt-1");
	assert_string_equal(t.id_token, "a.b.c");
	assert_int_equal(t.expires_in, 1800);
	assert_non_null(strstr(script.sent, "grant_type=authorization_code"));
	assert_non_null(strstr(script.sent, "code=the-code"));
	assert_non_null(strstr(script.sent, "code_verifier=the-verifier"));
	assert_non_null(strstr(script.sent, "client_id=pam"));
	assert_null(strstr(script.sent, "client_secret"));
	assert_int_equal(ag_http_requests(oidc.http), 1);
	ag_tokens_clear(&t);
}

/* Each failure maps to its own error, with nothing left in t. */
static void test_code_exchange_failures(void **state)
{
	static const struct {
		struct step step;
		enum ag_err want;
		const char *logged;
	} cases[] = {
		{ { "POST", TOKEN_URL, 502, "text/html", "<html>bad gateway</html>", AG_OK }, AG_ERR_SERVER,
		  "server error 502" },
		{ { "POST", TOKEN_URL, 429, JSON, "{}", AG_OK }, AG_ERR_RATE_LIMITED, "rate limited" },
		{ { "POST", TOKEN_URL, 200, "text/html", "<html>sign in</html>", AG_OK }, AG_ERR_PROTOCOL, NULL },
		{ { "POST", TOKEN_URL, 200, JSON, "{\"token_type\":\"Bearer\",\"access_tok", AG_OK }, AG_ERR_PARSE,
		  "invalid JSON" },
		{ { "POST", TOKEN_URL, 200, JSON, "{\"token_type\":\"mac\",\"access_token\":\"x\"}", AG_OK },
		  AG_ERR_PROTOCOL, "token_type is not Bearer" },
		{ { "POST", TOKEN_URL, 200, JSON, "{\"token_type\":\"Bearer\"}", AG_OK }, AG_ERR_PROTOCOL,
		  "access_token missing" },
		{ { "POST", TOKEN_URL, 200, JSON, "{\"token_type\":\"Bearer\",\"access_token\":\"x\",\"expires_in\":-5}",
		    AG_OK }, AG_ERR_PROTOCOL, "expires_in malformed" },
		{ { "POST", TOKEN_URL, 400, JSON, "{\"error\":\"invalid_grant\",\"error_description\":\"code used\"}",
		    AG_OK }, AG_ERR_INVALID_GRANT, "invalid_grant: code used" },
		{ { "POST", TOKEN_URL, 401, JSON, "{\"error\":\"invalid_client\"}", AG_OK }, AG_ERR_OAUTH,
		  "invalid_client" },
		{ { "POST", TOKEN_URL, 400, "text/html", "<html>no</html>", AG_OK }, AG_ERR_PROTOCOL,
		  "without an OAuth error" },
		{ { "POST", TOKEN_URL, 0, NULL, NULL, AG_ERR_TIMEOUT }, AG_ERR_TIMEOUT, NULL },
		{ { "POST", TOKEN_URL, 0, NULL, NULL, AG_ERR_NETWORK }, AG_ERR_NETWORK, NULL },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ag_tokens t = { 0 };
		enum ag_err err;

		run(&cases[i].step, 1);
		err = exchange(&t);
		if (err != cases[i].want)
			print_error("case %zu: %s, want %s\n", i, ag_err_name(err), ag_err_name(cases[i].want));
		assert_int_equal(err, cases[i].want);
		assert_null(t.access_token);
		assert_null(t.refresh_token);
		if (cases[i].logged)
			assert_logged(cases[i].logged);
		assert_int_equal(script.at, 1); /* one request, no retry */
	}
}

/* A refresh without rotation (no refresh_token in the answer, §5.2 of the
 * protocol reference) leaves refresh_token NULL for the caller to keep the
 * old one. */
static void test_refresh_without_rotation(void **state)
{
	static const struct step steps[] = {
		{ "POST", TOKEN_URL, 200, JSON, "{\"token_type\":\"Bearer\",\"access_token\":\"at-2\",\"expires_in\":60}",
		  AG_OK },
	};
	struct ag_tokens t = { 0 };

	run(steps, 1);
	assert_int_equal(ag_token_refresh(&oidc, "rt-old", &t), AG_OK);
	assert_string_equal(t.access_token, "at-2");
	assert_null(t.refresh_token);
	assert_non_null(strstr(script.sent, "grant_type=refresh_token"));
	assert_non_null(strstr(script.sent, "refresh_token=rt-old"));
	ag_tokens_clear(&t);
}

/* RFC 8628: the authorization, then pending, then tokens; the codes never
 * reach the log. */
static void test_device_grant(void **state)
{
	static const struct step steps[] = {
		{ "POST", DEVICE_URL, 200, JSON,
		  "{\"device_code\":\"DEVCODE-SECRET\",\"user_code\":\"WDJB-MJHT\","
		  "\"verification_uri\":\"https://idp.test/device\",\"expires_in\":60,\"interval\":1}", AG_OK },
		{ "POST", TOKEN_URL, 400, JSON, "{\"error\":\"authorization_pending\"}", AG_OK },
		{ "POST", TOKEN_URL, 200, JSON, TOKENS, AG_OK },
	};
	struct ag_device_auth a = { 0 };
	struct ag_tokens t = { 0 };
	enum ag_device_outcome outcome;
	long polls = 0;

	run(steps, 3);
	assert_int_equal(ag_device_authorize(&oidc, "openid", &a), AG_OK);
	assert_string_equal(a.user_code, "WDJB-MJHT");
	assert_int_equal(a.interval, 1);
	assert_non_null(strstr(script.sent, "scope=openid"));
	assert_int_equal(ag_device_poll(&oidc, &a, ag_clock_ms(oidc.clock) + 30000, &t, &outcome, &polls), AG_OK);
	assert_int_equal(outcome, AG_DEVICE_APPROVED);
	assert_int_equal(polls, 2);
	assert_non_null(strstr(script.sent, "device_code=DEVCODE-SECRET"));
	assert_string_equal(t.access_token, "at-1");
	assert_false(capture_has("DEVCODE-SECRET"));
	assert_false(capture_has("WDJB-MJHT"));
	ag_tokens_clear(&t);
	ag_device_auth_clear(&a);
}

/* access_denied ends at once; a 503 while polling is a server error, not
 * "still pending". */
static void test_device_poll_endings(void **state)
{
	static const struct step denied[] = {
		{ "POST", TOKEN_URL, 400, JSON, "{\"error\":\"access_denied\"}", AG_OK },
	};
	static const struct step unavailable[] = {
		{ "POST", TOKEN_URL, 503, "text/html", "down", AG_OK },
	};
	struct ag_device_auth a = { .device_code = (char *)"dc", .user_code = (char *)"uc",
				    .verification_uri = (char *)"https://idp.test/device", .expires_in = 60,
				    .interval = 1 };
	struct ag_tokens t = { 0 };
	enum ag_device_outcome outcome;
	long polls = 0;

	run(denied, 1);
	assert_int_equal(ag_device_poll(&oidc, &a, ag_clock_ms(oidc.clock) + 30000, &t, &outcome, &polls),
			 AG_ERR_DENIED);
	assert_int_equal(outcome, AG_DEVICE_DENIED);
	run(unavailable, 1);
	assert_int_equal(ag_device_poll(&oidc, &a, ag_clock_ms(oidc.clock) + 30000, &t, &outcome, &polls),
			 AG_ERR_SERVER);
	assert_int_equal(outcome, AG_DEVICE_FAILED);
	assert_null(t.access_token);
}

/* RFC 8628 §3.5 on a fake clock: polls keep the interval, slow_down adds
 * 5 s to it, and a code still pending at the deadline ends the wait there
 * without another request. */
static void test_device_poll_timing(void **state)
{
	static const struct step steps[] = {
		{ "POST", TOKEN_URL, 400, JSON, "{\"error\":\"authorization_pending\"}", AG_OK },
		{ "POST", TOKEN_URL, 400, JSON, "{\"error\":\"slow_down\"}", AG_OK },
		{ "POST", TOKEN_URL, 400, JSON, "{\"error\":\"authorization_pending\"}", AG_OK },
		{ "POST", TOKEN_URL, 400, JSON, "{\"error\":\"authorization_pending\"}", AG_OK },
	};
	struct ag_device_auth a = { .device_code = (char *)"dc", .user_code = (char *)"uc",
				    .verification_uri = (char *)"https://idp.test/device", .expires_in = 600,
				    .interval = 2 };
	struct ag_tokens t = { 0 };
	enum ag_device_outcome outcome;
	long polls = 0;
	enum ag_err err;

	oidc.clock = &fake_clock;
	fake_now_ms = 100000;
	run(steps, 4);
	/* deadline 20 s: the first poll at once (the person said they approved),
	 * then +2, then +9 and +16 (slow_down: 7 s); the next would be at +23 */
	err = ag_device_poll(&oidc, &a, fake_now_ms + 20000, &t, &outcome, &polls);
	oidc.clock = &ag_clock_system;
	assert_int_equal(err, AG_ERR_INVALID_GRANT);
	assert_int_equal(outcome, AG_DEVICE_TIMED_OUT);
	assert_int_equal(polls, 4);
	assert_int_equal(script.at, 4);
	assert_true(script.sent_ms[0] - 100000 < 1000);
	assert_true(script.sent_ms[1] - script.sent_ms[0] >= 2000);
	assert_true(script.sent_ms[2] - script.sent_ms[1] >= 7000);
	assert_true(script.sent_ms[3] - script.sent_ms[2] >= 7000);
	assert_true(script.sent_ms[3] - script.sent_ms[2] < 7500); /* not more than the interval */
	assert_true(fake_now_ms <= 100000 + 20000);
}

/* The resolver's headers (authgear-protocol.md §7), names in any case;
 * anything missing, repeated or malformed is refused, never guessed. */
#define RESOLVER_URL ISSUER "/_resolver/resolve"
static void test_resolver(void **state)
{
	static const struct {
		long status;
		const char *headers;
		enum ag_err want;
	} cases[] = {
		{ 200, "X-Authgear-Session-Valid: false\r\n", AG_ERR_INVALID_GRANT },
		{ 200, NULL, AG_ERR_PROTOCOL },
		{ 200, "X-Authgear-Session-Valid: true\r\nX-Authgear-Session-Valid: false\r\n", AG_ERR_PROTOCOL },
		{ 200, "X-Authgear-Session-Valid: yes\r\n", AG_ERR_PROTOCOL },
		{ 200, "X-Authgear-Session-Valid: true\r\nX-Authgear-User-Anonymous: false\r\n", AG_ERR_PROTOCOL },
		{ 200, "X-Authgear-Session-Valid: true\r\nX-Authgear-User-Id: u-1\r\n", AG_ERR_PROTOCOL },
		{ 200, "X-Authgear-Session-Valid: true\r\nX-Authgear-User-Id: u-1\r\nX-Authgear-User-Anonymous: false\r\n"
		       "X-Authgear-User-Roles: a,,b\r\n", AG_ERR_PROTOCOL },
		{ 200, "X-Authgear-Session-Valid: true\r\nX-Authgear-User-Id: u-1\r\nX-Authgear-User-Anonymous: false\r\n"
		       "X-Authgear-Session-Authenticated-At: 12x\r\n", AG_ERR_PROTOCOL },
		{ 503, NULL, AG_ERR_SERVER },
	};
	struct step step = { "GET", RESOLVER_URL, 200, NULL, "", AG_OK };
	const char *valid = "x-authgear-session-valid: true\r\nX-Authgear-User-Id: u-1\r\n"
			     "X-Authgear-User-Anonymous: false\r\nX-Authgear-User-Verified: true\r\n"
			     "X-Authgear-User-Roles: unix-admin,unix-user\r\n"
			     "X-Authgear-Session-Amr: mfa otp pwd\r\nX-Authgear-Session-Authenticated-At: 1755770400\r\n";
	struct ag_claims c;

	x_authgear = valid;
	run(&step, 1);
	assert_int_equal(ag_resolve(&oidc, RESOLVER_URL, "at-1", &c), AG_OK);
	assert_string_equal(script.bearer, "at-1");
	assert_string_equal(c.sub, "u-1");
	assert_false(c.is_anonymous);
	assert_int_equal(c.n_roles, 2);
	assert_string_equal(c.roles[0], "unix-admin");
	assert_string_equal(c.roles[1], "unix-user");
	assert_int_equal(c.n_amr, 3);
	assert_string_equal(c.amr[2], "pwd");
	assert_int_equal(c.auth_time, 1755770400);
	ag_claims_clear(&c);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		step.status = cases[i].status;
		x_authgear = cases[i].headers;
		run(&step, 1);
		assert_int_equal(ag_resolve(&oidc, RESOLVER_URL, "at-1", &c), cases[i].want);
		assert_null(c.sub);
		assert_int_equal(c.n_roles, 0);
	}
	step.transport_err = AG_ERR_NETWORK;
	run(&step, 1);
	assert_int_equal(ag_resolve(&oidc, RESOLVER_URL, "at-1", &c), AG_ERR_NETWORK);
	x_authgear = NULL;
}

/* The URL rules still apply with a transport set: nothing is sent. */
static void test_url_rules_before_the_seam(void **state)
{
	struct ag_http_response resp;

	run(NULL, 0);
	assert_int_not_equal(ag_http_get(oidc.http, "http://idp.test/x", NULL, &resp), AG_OK);
	assert_int_equal(script.at, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_exchange_sends_the_form),
		cmocka_unit_test(test_code_exchange_failures),
		cmocka_unit_test(test_refresh_without_rotation),
		cmocka_unit_test(test_device_grant),
		cmocka_unit_test(test_device_poll_endings),
		cmocka_unit_test(test_device_poll_timing),
		cmocka_unit_test(test_url_rules_before_the_seam),
		cmocka_unit_test(test_resolver),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
