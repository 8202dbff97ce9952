/* cmocka tests for the configuration parser, including hostile files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/conf.h"

static char tmpdir[4096];
static char last_log[2048];
static int n_logs;

static void capture_sink(void *ctx, int priority, const char *line)
{
	snprintf(last_log, sizeof last_log, "%s", line);
	n_logs++;
}

static const struct ag_log test_log = { .sink = capture_sink };

#define MINIMAL "issuer = https://auth.example.com\nclient_id = pam\nredirect_uri = http://127.0.0.1/cb\n"

static enum ag_err parse(const char *text, size_t len, enum ag_config_mode mode, struct ag_config **cfg,
			 char *why, size_t why_len)
{
	last_log[0] = '\0';
	n_logs = 0;
	return ag_config_parse("test.conf", text, len, mode, &test_log, cfg, why, why_len);
}

/* Parse text that must fail; check the code and that the reason names what. */
static void expect_error(const char *text, enum ag_err want, const char *what)
{
	struct ag_config *cfg = (struct ag_config *)1;
	char why[512];
	enum ag_err err = parse(text, strlen(text), AG_CONFIG_STRICT, &cfg, why, sizeof why);

	if (err != want || !strstr(why, what))
		print_error("text=<%s> err=%s why=<%s> want <%s>\n", text, ag_err_name(err), why, what);
	assert_int_equal(err, want);
	assert_null(cfg);
	assert_non_null(strstr(why, what));
	assert_non_null(strstr(last_log, what)); /* the same reason reached the log */
}

static void test_minimal_and_defaults(void **state)
{
	struct ag_config *cfg;
	char why[256];

	assert_int_equal(parse(MINIMAL, strlen(MINIMAL), AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_OK);
	assert_string_equal(cfg->issuer, "https://auth.example.com");
	assert_string_equal(cfg->client_id, "pam");
	assert_string_equal(cfg->redirect_uri, "http://127.0.0.1/cb");
	assert_string_equal(cfg->scopes, "openid offline_access");
	assert_string_equal(cfg->state_dir, "/var/lib/authgear");
	assert_null(cfg->ca_file);
	assert_int_equal(cfg->connect_timeout, 5);
	assert_int_equal(cfg->timeout, 15);
	assert_false(cfg->debug);
	assert_int_equal(cfg->n_tables, 0);
	assert_string_equal(why, "");
	ag_config_free(cfg);
}

static void test_all_keys_tables_comments_crlf(void **state)
{
	const char text[] =
		"# comment\r\n"
		"; another comment\n"
		"   issuer   =   https://auth.example.com   \r\n"
		"client_id=pam_authgear\n"
		"redirect_uri = com.example.pam:/callback\n"
		"scopes = openid offline_access email\n"
		"ca_file = /etc/authgear/ca.pem\n"
		"state_dir = /var/lib/authgear-test\n"
		"connect_timeout = 60\n"
		"timeout = 1\n"
		"debug = yes\n"
		"\n"
		"[roles]\n"
		"unix-admin = sudo\n"
		"https://authgear.com/role:x = docker\n"
		"[uids]\n"
		"alice = 200123\n"
		"bob = 200124"; /* no final newline */
	struct ag_config *cfg;
	const struct ag_config_table *roles, *uids;

	assert_int_equal(parse(text, strlen(text), AG_CONFIG_STRICT, &cfg, NULL, 0), AG_OK);
	assert_string_equal(cfg->issuer, "https://auth.example.com");
	assert_string_equal(cfg->redirect_uri, "com.example.pam:/callback");
	assert_string_equal(cfg->scopes, "openid offline_access email");
	assert_string_equal(cfg->ca_file, "/etc/authgear/ca.pem");
	assert_string_equal(cfg->state_dir, "/var/lib/authgear-test");
	assert_int_equal(cfg->connect_timeout, 60);
	assert_int_equal(cfg->timeout, 1);
	assert_true(cfg->debug);
	assert_int_equal(cfg->n_tables, 2);
	roles = ag_config_table(cfg, "roles");
	uids = ag_config_table(cfg, "uids");
	assert_non_null(roles);
	assert_non_null(uids);
	assert_int_equal(roles->line, 13);
	assert_string_equal(ag_config_table_get(roles, "unix-admin"), "sudo");
	assert_string_equal(ag_config_table_get(roles, "https://authgear.com/role:x"), "docker");
	assert_null(ag_config_table_get(roles, "alice"));
	assert_string_equal(ag_config_table_get(uids, "alice"), "200123");
	assert_string_equal(ag_config_table_get(uids, "bob"), "200124");
	assert_int_equal(uids->entries[1].line, 18);
	assert_null(ag_config_table(cfg, "absent"));
	ag_config_free(cfg);
}

static void test_required_keys(void **state)
{
	expect_error("client_id = pam\nredirect_uri = http://x/cb\n", AG_ERR_CONFIG, "required key 'issuer'");
	expect_error("issuer = https://a\nredirect_uri = http://x/cb\n", AG_ERR_CONFIG, "required key 'client_id'");
	expect_error("issuer = https://a\nclient_id = c\n", AG_ERR_CONFIG,
		     "required key 'redirect_uri' is missing (methods include password)");
	expect_error("issuer = https://a\nclient_id = c\nmethods = device, password\n", AG_ERR_CONFIG,
		     "required key 'redirect_uri'");
	{ /* a device-only configuration redirects nowhere: redirect_uri is optional */
		static const char dev[] = "issuer = https://a\nclient_id = c\nmethods = device\n";
		struct ag_config *cfg = NULL;
		char why[256];

		assert_int_equal(parse(dev, strlen(dev), AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_OK);
		assert_null(cfg->redirect_uri);
		ag_config_free(cfg);
	}
	expect_error("", AG_ERR_CONFIG, "required key 'issuer'");
}

static void test_duplicates(void **state)
{
	expect_error(MINIMAL "client_id = other\n", AG_ERR_CONFIG,
		     "test.conf:4: duplicate key 'client_id' (first at line 2)");
	expect_error(MINIMAL "[roles]\na = b\n[uids]\n[roles]\n", AG_ERR_CONFIG,
		     "test.conf:7: section [roles] repeated (first at line 4)");
	expect_error(MINIMAL "[roles]\nadmin = sudo\nadmin = wheel\n", AG_ERR_CONFIG,
		     "test.conf:6: [roles] duplicate key 'admin' (first at line 5)");
}

/* 9,000 pins (the limit is 10,000): a duplicate key or UID anywhere is found
 * with the line of its first holder, and a table's keys do not clash with
 * another table's. */
static void test_many_uids(void **state)
{
	const size_t n = 9000;
	size_t cap = n * 32 + 256, len;
	char *text = malloc(cap);
	struct ag_config *cfg = NULL;
	char why[256];

	assert_non_null(text);
	len = (size_t)snprintf(text, cap, MINIMAL "[roles]\nu7 = g7\n[uids]\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "u%zu = %zu\n", i, 100000 + i);
	assert_int_equal(parse(text, len, AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_OK);
	assert_int_equal(ag_config_table(cfg, "uids")->n_entries, n);
	assert_string_equal(ag_config_table_get(ag_config_table(cfg, "uids"), "u8999"), "108999");
	ag_config_free(cfg);
	/* the last line repeats the key of line 7 + 5000, then the UID of line 7 + 123 */
	snprintf(text + len, cap - len, "u5000 = 99\n");
	expect_error(text, AG_ERR_CONFIG, "[uids] duplicate key 'u5000' (first at line 5007)");
	snprintf(text + len, cap - len, "z = 100123\n");
	expect_error(text, AG_ERR_CONFIG, "[uids] z: UID 100123 is already pinned to u123 (line 130)");
	free(text);
}

static void test_unknown_keys_strict_and_lenient(void **state)
{
	const char text[] = MINIMAL "future_key = 1\n[future]\nx = y\n[roles]\nadmin = sudo\n";
	struct ag_config *cfg;
	char why[256];

	assert_int_equal(parse(text, strlen(text), AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_ERR_CONFIG);
	assert_string_equal(why, "test.conf:4: unknown key 'future_key'");

	assert_int_equal(parse(text, strlen(text), AG_CONFIG_LENIENT, &cfg, why, sizeof why), AG_OK);
	assert_int_equal(cfg->n_ignored, 2);
	assert_int_equal(n_logs, 2);
	assert_string_equal(last_log, "test.conf:5: unknown section [future] ignored");
	assert_null(ag_config_table(cfg, "future"));
	assert_string_equal(ag_config_table_get(ag_config_table(cfg, "roles"), "admin"), "sudo");
	ag_config_free(cfg);

	expect_error(MINIMAL "[future]\n", AG_ERR_CONFIG, "test.conf:4: unknown section [future]");
}

static void test_syntax_errors(void **state)
{
	expect_error(MINIMAL "just words\n", AG_ERR_CONFIG, "test.conf:4: expected 'key = value'");
	expect_error(MINIMAL " = value\n", AG_ERR_CONFIG, "test.conf:4: missing key before '='");
	expect_error(MINIMAL "timeout =\n", AG_ERR_CONFIG, "test.conf:4: 'timeout' has an empty value");
	expect_error(MINIMAL "Timeout = 5\n", AG_ERR_CONFIG, "test.conf:4: key must be lower case");
	expect_error(MINIMAL "[roles\n", AG_ERR_CONFIG, "test.conf:4: section header must look like [name]");
	expect_error(MINIMAL "[]\n", AG_ERR_CONFIG, "test.conf:4: section header");
	expect_error(MINIMAL "[Roles]\n", AG_ERR_CONFIG, "test.conf:4: section name must be");
	expect_error(MINIMAL "[roles]\nkey with space = x\n", AG_ERR_CONFIG, "test.conf:5: [roles]: key must be");
	expect_error(MINIMAL "state_dir = /var/\x1b[31mlib\n", AG_ERR_CONFIG, "value contains control characters");
}

static void test_bad_values(void **state)
{
	static const char *const bad_seconds[] = {
		"abc", "0", "301", "5x", "-1", "99999999999999999999", " 5 5", "+5", "0x10",
	};
	char text[512];

	for (size_t i = 0; i < sizeof bad_seconds / sizeof bad_seconds[0]; i++) {
		snprintf(text, sizeof text, MINIMAL "timeout = %s\n", bad_seconds[i]);
		expect_error(text, AG_ERR_CONFIG, "test.conf:4: timeout: must be a whole number of seconds from 1 to 300");
	}
	expect_error(MINIMAL "connect_timeout = 61\n", AG_ERR_CONFIG, "connect_timeout: must be a whole number");
	expect_error(MINIMAL "debug = maybe\n", AG_ERR_CONFIG, "test.conf:4: debug: must be yes or no");
	expect_error(MINIMAL "scopes = profile email\n", AG_ERR_CONFIG, "scopes: must be scopes");
	expect_error(MINIMAL "scopes = openid  email\n", AG_ERR_CONFIG, "scopes: must be scopes");
	expect_error(MINIMAL "state_dir = var/lib/authgear\n", AG_ERR_CONFIG, "state_dir: must be an absolute path");
	expect_error(MINIMAL "ca_file = ca.pem\n", AG_ERR_CONFIG, "ca_file: must be an absolute path");
	expect_error("issuer = auth.example.com\nclient_id = c\nredirect_uri = http://x/cb\n", AG_ERR_CONFIG,
		     "test.conf:1: issuer: not a URL");
	expect_error("issuer = https://a b\nclient_id = c\nredirect_uri = http://x/cb\n", AG_ERR_CONFIG,
		     "issuer: not a URL");
	expect_error("issuer = https://a\nclient_id = c\xc3\xa9\nredirect_uri = http://x/cb\n", AG_ERR_CONFIG,
		     "client_id: must be printable ASCII");
}

static void test_core_keys(void **state)
{
	const char text[] = MINIMAL
		"proxy = http://proxy.example:3128\n"
		"allowed_algs = RS256, ES256 EdDSA\n"
		"client_secret_file = /etc/authgear/client_secret\n"
		"leeway = 0\n"
		"cache_ttl = 86400\n"
		"insecure_loopback_for_tests = yes\n";
	struct ag_config *cfg;

	assert_int_equal(parse(MINIMAL, strlen(MINIMAL), AG_CONFIG_STRICT, &cfg, NULL, 0), AG_OK);
	assert_null(cfg->proxy);
	assert_null(cfg->client_secret_file);
	assert_string_equal(cfg->allowed_algs, "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA");
	assert_int_equal(cfg->leeway, 60);
	assert_int_equal(cfg->cache_ttl, 3600);
	assert_false(cfg->insecure_loopback_for_tests);
	ag_config_free(cfg);

	assert_int_equal(parse(text, strlen(text), AG_CONFIG_STRICT, &cfg, NULL, 0), AG_OK);
	assert_string_equal(cfg->proxy, "http://proxy.example:3128");
	assert_string_equal(cfg->allowed_algs, "RS256, ES256 EdDSA");
	assert_string_equal(cfg->client_secret_file, "/etc/authgear/client_secret");
	assert_int_equal(cfg->leeway, 0);
	assert_int_equal(cfg->cache_ttl, 86400);
	assert_true(cfg->insecure_loopback_for_tests);
	ag_config_free(cfg);

	expect_error(MINIMAL "allowed_algs = HS256\n", AG_ERR_CONFIG, "test.conf:4: allowed_algs: must be JWS algorithms");
	expect_error(MINIMAL "allowed_algs = none\n", AG_ERR_CONFIG, "allowed_algs: must be JWS algorithms");
	expect_error(MINIMAL "allowed_algs = RS256 rs512\n", AG_ERR_CONFIG, "allowed_algs: must be JWS algorithms");
	expect_error(MINIMAL "allowed_algs = ,,\n", AG_ERR_CONFIG, "allowed_algs: must be JWS algorithms");
	expect_error(MINIMAL "leeway = 301\n", AG_ERR_CONFIG, "leeway: must be a whole number of seconds from 0 to 300");
	expect_error(MINIMAL "cache_ttl = 59\n", AG_ERR_CONFIG, "cache_ttl: must be a whole number");
	expect_error(MINIMAL "proxy = proxy.example:3128\n", AG_ERR_CONFIG, "proxy: not a URL");
	expect_error(MINIMAL "insecure_loopback_for_tests = sure\n", AG_ERR_CONFIG, "must be yes or no");
	expect_error(MINIMAL "client_secret_file = secret\n", AG_ERR_CONFIG, "client_secret_file: must be an absolute path");
}

static void test_huge_line(void **state)
{
	size_t n = AG_CONFIG_LINE_MAX + 100;
	char *text = malloc(strlen(MINIMAL) + n + 16);

	assert_non_null(text);
	strcpy(text, MINIMAL "scopes = ");
	memset(text + strlen(text), 'a', n);
	strcpy(text + strlen(MINIMAL) + 9 + n, "\n");
	expect_error(text, AG_ERR_CONFIG, "test.conf:4: line longer than 4096 bytes");
	free(text);

	/* A long value within the line limit but over the value limit. */
	text = malloc(strlen(MINIMAL) + 4000);
	assert_non_null(text);
	strcpy(text, MINIMAL "client_secret_hint = ");
	memset(text + strlen(text), 'b', 3000);
	text[strlen(MINIMAL) + 21 + 3000] = '\0';
	expect_error(text, AG_ERR_CONFIG, "value longer than 2048 bytes");
	free(text);
}

static void test_huge_file(void **state)
{
	size_t n = AG_CONFIG_FILE_MAX + 1;
	char *text = malloc(n);
	struct ag_config *cfg;
	char why[256];

	assert_non_null(text);
	memset(text, '\n', n);
	assert_int_equal(parse(text, n, AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_ERR_CONFIG);
	assert_non_null(strstr(why, "file larger than"));
	free(text);
}

static void test_nul_byte(void **state)
{
	const char text[] = MINIMAL "scopes = openid\0evil\n";
	struct ag_config *cfg;
	char why[256];

	assert_int_equal(parse(text, sizeof text - 1, AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_ERR_CONFIG);
	assert_string_equal(why, "test.conf:4: NUL byte in line");
	assert_null(cfg);
}

static void test_why_truncation_and_null_why(void **state)
{
	const char text[] = MINIMAL "unknown_key_with_a_long_name = 1\n";
	struct ag_config *cfg;
	char why[8];

	assert_int_equal(parse(text, strlen(text), AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_ERR_CONFIG);
	assert_int_equal(strlen(why), sizeof why - 1);
	assert_int_equal(parse(text, strlen(text), AG_CONFIG_STRICT, &cfg, NULL, 0), AG_ERR_CONFIG);
}

/* --- files on disk: owner, mode, type ------------------------------------- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static enum ag_err load(const char *path, char *why, size_t why_len)
{
	struct ag_config *cfg = NULL;
	enum ag_err err = ag_config_load(path, AG_CONFIG_STRICT, &test_log, &cfg, why, why_len);

	if (err == AG_OK)
		assert_non_null(cfg);
	else
		assert_null(cfg);
	ag_config_free(cfg);
	return err;
}

static void test_file_ok_and_path(void **state)
{
	char path[4200], link[4200], why[512];
	struct ag_config *cfg;

	snprintf(path, sizeof path, "%s/ok.conf", tmpdir);
	write_file(path, MINIMAL, 0644);
	assert_int_equal(ag_config_load(path, AG_CONFIG_STRICT, &test_log, &cfg, why, sizeof why), AG_OK);
	assert_string_equal(cfg->path, path);
	ag_config_free(cfg);
	write_file(path, MINIMAL, 0600);
	assert_int_equal(load(path, why, sizeof why), AG_OK);

	snprintf(link, sizeof link, "%s/link.conf", tmpdir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(load(link, why, sizeof why), AG_OK);

	assert_int_equal(load("relative.conf", why, sizeof why), AG_ERR_CONFIG);
	assert_non_null(strstr(why, "must be absolute"));
}

static void test_file_missing(void **state)
{
	char path[4200], why[512];

	snprintf(path, sizeof path, "%s/absent.conf", tmpdir);
	assert_int_equal(load(path, why, sizeof why), AG_ERR_NOT_CONFIGURED);
	assert_non_null(strstr(why, "file not found"));
}

static void test_file_wrong_mode(void **state)
{
	char path[4200], why[512];

	snprintf(path, sizeof path, "%s/mode.conf", tmpdir);
	write_file(path, MINIMAL, 0666);
	assert_int_equal(load(path, why, sizeof why), AG_ERR_CONFIG_PERM);
	assert_non_null(strstr(why, "mode 0666 is writable by group or others"));
	write_file(path, MINIMAL, 0620);
	assert_int_equal(load(path, why, sizeof why), AG_ERR_CONFIG_PERM);
	write_file(path, MINIMAL, 0602);
	assert_int_equal(load(path, why, sizeof why), AG_ERR_CONFIG_PERM);
}

static void test_file_wrong_owner(void **state)
{
	char path[4200], why[512];

	snprintf(path, sizeof path, "%s/owner.conf", tmpdir);
	write_file(path, MINIMAL, 0644);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(load(path, why, sizeof why), AG_ERR_CONFIG_PERM);
	assert_non_null(strstr(why, "owned by uid 65534; must be owned by root"));
	/* Root-owned but group nogroup is fine: only the writer matters. */
	assert_int_equal(chown(path, 0, 65534), 0);
	assert_int_equal(load(path, why, sizeof why), AG_OK);
}

static void test_file_not_regular(void **state)
{
	char path[4200], why[512];

	assert_int_equal(load(tmpdir, why, sizeof why), AG_ERR_CONFIG_PERM);
	assert_non_null(strstr(why, "not a regular file"));
	/* A FIFO must neither hang nor be read. */
	snprintf(path, sizeof path, "%s/fifo.conf", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(load(path, why, sizeof why), AG_ERR_CONFIG_PERM);
	assert_int_equal(load("/dev/null", why, sizeof why), AG_ERR_CONFIG_PERM);
}

static void test_file_hostile_content(void **state)
{
	char path[4200], why[512];
	int fd;

	snprintf(path, sizeof path, "%s/nul.conf", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, MINIMAL "x\0y = 1\n", sizeof(MINIMAL "x\0y = 1\n") - 1),
			 (ssize_t)(sizeof(MINIMAL "x\0y = 1\n") - 1));
	close(fd);
	assert_int_equal(load(path, why, sizeof why), AG_ERR_CONFIG);
	assert_non_null(strstr(why, ":4: NUL byte in line"));

	/* 2 MiB file */
	snprintf(path, sizeof path, "%s/big.conf", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * 1024 * 1024), 0);
	close(fd);
	assert_int_equal(load(path, why, sizeof why), AG_ERR_CONFIG);
	assert_non_null(strstr(why, "file larger than"));
}

static int setup_tmpdir(void **state)
{
	const char *base = getenv("TEST_TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/test_config.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[4200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* mfa_amr: validated at load, the default is RFC 8176's rule, an issuer's
 * own names work once configured. */
static void test_mfa_amr(void **state)
{
	static const char *const bad[] = { "pwd++otp", "+otp", "pwd+", "pwd+o/tp", "pwd+ otp", "mfa,,+", "\"mfa\"" };
	char *rfc_pwd_otp[] = { "pwd", "otp" }, *rfc_mfa[] = { "mfa" }, *pwd_only[] = { "pwd", "x_primary_password" };
	char *scheme[] = { "password", "otp" }, *hwk[] = { "pwd", "hwk", "x" };
	struct ag_config *cfg;
	char why[256], text[512];
	(void)state;

	assert_int_equal(parse(MINIMAL, strlen(MINIMAL), AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_OK);
	assert_string_equal(cfg->mfa_amr, "mfa, pwd+otp, pwd+hwk, pwd+swk, pwd+sms");
	assert_true(ag_config_amr_proves_mfa(cfg, rfc_pwd_otp, 2));
	assert_true(ag_config_amr_proves_mfa(cfg, rfc_mfa, 1));
	assert_true(ag_config_amr_proves_mfa(cfg, hwk, 3));
	assert_false(ag_config_amr_proves_mfa(cfg, pwd_only, 2));
	assert_false(ag_config_amr_proves_mfa(cfg, scheme, 2));
	assert_false(ag_config_amr_proves_mfa(cfg, NULL, 0));
	ag_config_free(cfg);

	snprintf(text, sizeof text, "%smfa_amr = password+otp, urn:example:mfa\n", MINIMAL);
	assert_int_equal(parse(text, strlen(text), AG_CONFIG_STRICT, &cfg, why, sizeof why), AG_OK);
	assert_true(ag_config_amr_proves_mfa(cfg, scheme, 2));
	assert_false(ag_config_amr_proves_mfa(cfg, scheme, 1)); /* "password" alone */
	assert_false(ag_config_amr_proves_mfa(cfg, rfc_pwd_otp, 2));
	ag_config_free(cfg);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "%smfa_amr = %s\n", MINIMAL, bad[i]);
		expect_error(text, AG_ERR_CONFIG, "mfa_amr: must be amr combinations like 'mfa, pwd+otp'");
	}
}

int main(void)
{
	const struct CMUnitTest parser_tests[] = {
		cmocka_unit_test(test_minimal_and_defaults),
		cmocka_unit_test(test_all_keys_tables_comments_crlf),
		cmocka_unit_test(test_required_keys),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_unknown_keys_strict_and_lenient),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_core_keys),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_huge_file),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_why_truncation_and_null_why),
	};
	const struct CMUnitTest file_tests[] = {
		cmocka_unit_test(test_file_ok_and_path),
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_file_wrong_mode),
		cmocka_unit_test(test_many_uids),
		cmocka_unit_test(test_file_wrong_owner),
		cmocka_unit_test(test_file_not_regular),
		cmocka_unit_test(test_file_hostile_content),
		cmocka_unit_test(test_mfa_amr),
	};
	int failed = cmocka_run_group_tests_name("config parser", parser_tests, NULL, NULL);

	/* Owner checks need root (chown, and files owned by root). */
	if (geteuid() != 0) {
		printf("SKIP: file owner/mode tests need root\n");
		return failed ? 1 : 77;
	}
	failed += cmocka_run_group_tests_name("config files", file_tests, setup_tmpdir, remove_tmpdir);
	return failed ? 1 : 0;
}
