/* cmocka tests of the prewarm (login/prewarm.c) through the transport seam:
 * who gets one (exact names, not patterns), that the authorize request runs
 * on the worker thread and its result reaches the login, and that a join
 * with cancel discards it and leaves the handle usable. In addition to
 * tests/test_latency.sh (real libpam, real IdP), never instead. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/conf.h"
#include "base/http.h"
#include "capture.h"
#include "login/login.h"
#include "login/prewarm.h"
#include "oidc/oidc.h"

#define ISSUER "https://idp.test"
#define AUTHZ ISSUER "/oauth2/authorize"
#define ENTRY ISSUER "/_internals/oauth_entrypoint?client_id=pam&state=s&x_ref=ref-1"

static struct ag_oidc oidc;
static struct ag_config *cfg;
static pthread_t main_thread, request_thread;
static int requests;
static long delay_ms;

static enum ag_err authorize_302(void *ctx, const char *method, const char *url, const char *content_type,
				 const char *body, const char *bearer, struct ag_http_response *resp)
{
	struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };

	requests++;
	request_thread = pthread_self();
	nanosleep(&ts, NULL);
	if (strcmp(url, ISSUER "/after") == 0) {
		resp->status = 200;
		resp->body = strdup("");
		return AG_OK;
	}
	assert_string_equal(method, "GET");
	assert_true(strncmp(url, AUTHZ "?", strlen(AUTHZ) + 1) == 0);
	assert_non_null(strstr(url, "code_challenge_method=S256"));
	assert_non_null(strstr(url, "&nonce="));
	resp->status = 302;
	resp->body = strdup("");
	resp->location = strdup(ENTRY);
	return AG_OK;
}

static int setup(void **state)
{
	static const char text[] = "issuer = " ISSUER "\nclient_id = pam\nredirect_uri = http://127.0.0.1/cb\n"
				   "users = alice, dev-*, b?b, [c]arol\n";
	static const struct ag_http_opts opts = { .connect_timeout = 1, .timeout = 1 };
	struct ag_http_transport t = { authorize_302, NULL };
	char why[256];

	assert_int_equal(ag_config_parse("t.conf", text, strlen(text), AG_CONFIG_STRICT, &capture_log, &cfg, why,
					 sizeof why), AG_OK);
	memset(&oidc, 0, sizeof oidc);
	oidc.cfg = cfg;
	oidc.log = &capture_log;
	oidc.clock = &ag_clock_system;
	assert_int_equal(ag_http_new(&opts, &capture_log, &oidc.http), AG_OK);
	ag_http_set_transport(oidc.http, &t);
	oidc.disc = calloc(1, sizeof *oidc.disc);
	assert_non_null(oidc.disc);
	oidc.disc->issuer = strdup(ISSUER);
	oidc.disc->authorization_endpoint = strdup(AUTHZ);
	main_thread = pthread_self();
	requests = 0;
	delay_ms = 0;
	return 0;
}

static int teardown(void **state)
{
	ag_discovery_free(oidc.disc);
	ag_http_free(oidc.http);
	ag_config_free(cfg);
	return 0;
}

static struct ag_login login_of(const char *user)
{
	return (struct ag_login){ .cfg = cfg, .log = &capture_log, .user = user, .o = &oidc };
}

/* Exact names only; a pattern (even one that names one user) never. */
static void test_wanted(void **state)
{
	const char *yes[] = { "alice" }, *no[] = { "dev-x", "bob", "carol", "alic", "alice2" };

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		struct ag_login l = login_of(yes[i]);
		assert_true(ag_login_prewarm_wanted(&l));
	}
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		struct ag_login l = login_of(no[i]);
		assert_false(ag_login_prewarm_wanted(&l));
	}
	assert_int_equal(requests, 0);
}

/* The worker sends authorize on its own thread; the join hands over x_ref. */
static void test_worker_authorizes(void **state)
{
	struct ag_login l = login_of("alice");
	struct ag_prewarm p;

	delay_ms = 50;
	assert_true(ag_prewarm_start(&p, l.o, l.log, &(struct ag_authorize_opts){ .max_age = -1 }));
	ag_prewarm_join(&p, false);
	assert_true(p.used);
	assert_int_equal(p.err, AG_OK);
	assert_int_equal(requests, 1);
	assert_false(pthread_equal(request_thread, main_thread));
	assert_non_null(p.url_query);
	assert_non_null(strstr(p.url_query, "x_ref=ref-1"));
	assert_non_null(p.pk.verifier);
	assert_non_null(p.pk.nonce);
	ag_prewarm_clear(&p);
	assert_null(p.url_query);
	assert_null(p.pk.verifier);
}

/* No answer: the result is discarded and the handle works without the flag. */
static void test_cancel(void **state)
{
	struct ag_login l = login_of("alice");
	struct ag_http_response resp;
	struct ag_prewarm p;

	delay_ms = 100;
	assert_true(ag_prewarm_start(&p, l.o, l.log, &(struct ag_authorize_opts){ .max_age = -1 }));
	ag_prewarm_join(&p, true);
	assert_true(p.used);
	assert_int_equal(p.err, AG_ERR_CONV);
	ag_prewarm_clear(&p);
	delay_ms = 0;
	assert_int_equal(ag_http_get(oidc.http, ISSUER "/after", NULL, &resp), AG_OK);
	assert_int_equal(resp.status, 200);
	ag_http_response_clear(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_wanted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worker_authorizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
