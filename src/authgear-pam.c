/* authgear-pam: the administrator's command line. A thin shell over the core:
 * it parses arguments, runs core functions and prints their results. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "accounts/identity.h"
#include "accounts/store.h"
#include "admin/check.h"
#include "base/buf.h"
#include "base/conf.h"
#include "base/log.h"
#include "base/secret.h"
#include "common/names.h"
#include "common/uid.h"
#include "login/conv.h"
#include "accounts/sessions.h"
#include "accounts/tokens.h"
#include "login/account.h"
#include "login/login.h"
#include "login/qr.h"
#include "login/session.h"

#define EXIT_USAGE 2
#define GROUPS_SHOWN_MAX 65536 /* the users table shows every group up to this */

static const char usage_text[] =
	"Usage: authgear-pam COMMAND [OPTIONS]\n"
	"\n"
	"Administer pam_authgear, the PAM and NSS modules that sign people in to\n"
	"Linux with their Authgear accounts.\n"
	"\n"
	"Commands:\n"
	"  check [--config FILE] [--json]\n"
	"        Check what a login needs, one line each: the configuration (syntax,\n"
	"        known keys, owner and mode; unknown keys are errors here, the PAM\n"
	"        module logs and ignores them), state_dir, the issuer (discovery,\n"
	"        clock, JWKS, algorithms), an authorize request with client_id and\n"
	"        redirect_uri (the server's error verbatim) and the Authentication\n"
	"        Flow API; and on this host the pam.d lines that name the module\n"
	"        and whether libpam finds it, nsswitch.conf, the NSS index against\n"
	"        the configuration and sshd's settings (sshd -T). No credential is\n"
	"        ever sent. Prints one line per check with the fix, or a JSON object\n"
	"        with --json. Exits 0 only when every required check passes.\n"
	"\n"
	"  login [--config FILE] [--device | --reauth] USER\n"
	"        Sign USER in with password and second factor exactly as the PAM\n"
	"        module does (so USER must resolve through NSS, 'getent passwd USER',\n"
	"        or nothing is sent), from this terminal and without PAM, printing\n"
	"        each step and its duration (never a secret). Exits 0 when the login\n"
	"        succeeds.\n"
	"        A successful login is a real one: it binds USER to the Authgear\n"
	"        account and gives USER its UID for good ('forget USER' undoes it).\n"
	"        --device: the device-code login instead (URL, code and QR code to\n"
	"        approve on a phone), whatever methods says. --reauth: sudo's\n"
	"        reauthentication of USER instead (the module argument reauth),\n"
	"        asking what reauth_with says; USER must have signed in here before\n"
	"        (its binding and cached ID token), or it runs a full login.\n"
	"\n"
	"  qr [--invert] TEXT\n"
	"        Print TEXT as a QR code the way the device login draws it, to check\n"
	"        a terminal's rendering and a phone's scan. --invert draws the light\n"
	"        modules (qr_invert = yes, for light text on a dark background).\n"
	"        Exits 1 when the code would be wider than 80 columns.\n"
	"\n"
	"  users [--config FILE]\n"
	"        List the Authgear users this host knows: name, UID, Unix groups\n"
	"        granted by their roles at their last login, last login (UTC). UIDs\n"
	"        pinned ahead of a first login are listed too.\n"
	"\n"
	"  status [--config FILE] USER\n"
	"        Show what this host knows of USER: the Authgear account it is bound\n"
	"        to, UID, groups, roles, last login, the last account check and its\n"
	"        result, whether tokens are cached (sealed or not) and when the access\n"
	"        token expires, and the open sessions. Never prints a token.\n"
	"\n"
	"  check-account [--config FILE] USER\n"
	"        Run pam_sm_acct_mgmt's check of USER (account_check) from this\n"
	"        terminal, printing each step with its duration and the result.\n"
	"        It is a real check: it may refresh and re-cache USER's tokens, and\n"
	"        a revocation it sees drops them. Exits 0 when USER would be let in.\n"
	"\n"
	"  forget [--config FILE] USER\n"
	"        Revoke USER's cached refresh token at Authgear (the whole session\n"
	"        there), then remove USER's binding to its Authgear account, its\n"
	"        UID, groups, cached tokens and sessions. Its next login is a first\n"
	"        login again. When Authgear cannot be reached it says so, removes\n"
	"        everything here anyway and exits 1.\n"
	"\n"
	"  pin [--config FILE] USER UID\n"
	"        Pin USER's UID ahead of its first login (e.g. the UID it had in\n"
	"        /etc/passwd or LDAP, so its files stay its own). A UID, once given,\n"
	"        never changes: pinning a user that already has another one fails.\n"
	"\n"
	"  import [--config FILE] FILE\n"
	"        Pin many UIDs at once from FILE: 'name:uid' lines (blank lines and\n"
	"        # comments allowed; 'getent passwd | cut -d: -f1,3' has this form).\n"
	"        All lines or none are applied.\n"
	"\n"
	"  reindex [--config FILE]\n"
	"        Rebuild the NSS index from the store and the configuration, e.g.\n"
	"        after changing users, [roles], [uids], home, shell or uid_range.\n"
	"        users, forget, pin and import rebuild it too.\n"
	"\n"
	"  throttle [--config FILE] [--clear] USER\n"
	"        Show USER's login attempts of the last minute and whether the local\n"
	"        throttle (max_attempts_per_minute) refuses USER now; --clear forgets\n"
	"        them, e.g. after fixing a misconfiguration that made logins fail.\n"
	"\n"
	"Options:\n"
	"  --config FILE   configuration file (default " AG_CONFIG_DEFAULT_PATH ")\n"
	"  --json          machine-readable output (check)\n"
	"  --device        device-code login (login)\n"
	"  --reauth        sudo's reauthentication (login)\n"
	"  --clear         forget the login attempts (throttle)\n"
	"  --invert        light modules drawn (qr)\n"
	"  -h, --help      show this help and exit\n"
	"  -V, --version   show the version and exit\n"
	"\n"
	"Exit status: 0 success, 1 a check or the login failed, 2 usage error.\n";

static void quiet_sink(void *sink_ctx, int priority, const char *line)
{
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "authgear-pam: %s\nTry 'authgear-pam --help'.\n", msg);
	return EXIT_USAGE;
}

/* Whether user, given on the command line, is a Unix name pam_authgear
 * could ever handle; says so in one line when not. Checked before anything
 * else so no lock, store or request ever sees it, and escaped: a newline or
 * a terminal escape in it must not reach the output raw. */
static bool user_arg_ok(const char *cmd, const char *user)
{
	char shown[4 * AG_NAME_MAX + 8];

	if (ag_name_valid(user))
		return true;
	ag_text_escape(user, shown, sizeof shown);
	fprintf(stderr, "authgear-pam %s: '%s' is not a valid user name (lower case [a-z_][a-z0-9_.-]*, at most %d "
			"bytes)\n", cmd, shown, AG_NAME_MAX);
	return false;
}

/* What a command accepts: --config FILE (unless no_config), up to two
 * flags (each its long name, and its letter or 0), --help; then exactly
 * n_args arguments, takes saying which ("one USER"). */
struct cmd_opts {
	const char *cmd;
	const char *flag, *flag2;
	char letter, letter2;
	bool no_config;
	int n_args;
	const char *takes;
	/* parsed */
	const char *config_path;
	bool flag_set, flag2_set;
	char **args;
};

/* -1 to go on with o's parsed part set, or the exit status (--help, a
 * usage error). */
static int parse_options(int argc, char **argv, struct cmd_opts *o)
{
	struct option opts[5] = { { NULL } };
	char optstring[8] = "", msg[128];
	size_t n = 0;
	int c, flag_val = o->letter ? o->letter : 1, flag2_val = o->letter2 ? o->letter2 : 2;

	if (!o->no_config) {
		opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
		strcat(optstring, "c:");
	}
	if (o->flag) {
		opts[n++] = (struct option){ o->flag, no_argument, NULL, flag_val };
		if (o->letter)
			strncat(optstring, &o->letter, 1);
	}
	if (o->flag2) {
		opts[n++] = (struct option){ o->flag2, no_argument, NULL, flag2_val };
		if (o->letter2)
			strncat(optstring, &o->letter2, 1);
	}
	opts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	strcat(optstring, "h");
	o->config_path = AG_CONFIG_DEFAULT_PATH;
	o->flag_set = o->flag2_set = false;
	while ((c = getopt_long(argc, argv, optstring, opts, NULL)) != -1) {
		if (c == 'c') {
			o->config_path = optarg;
		} else if (o->flag && c == flag_val) {
			o->flag_set = true;
		} else if (o->flag2 && c == flag2_val) {
			o->flag2_set = true;
		} else if (c == 'h') {
			fputs(usage_text, stdout);
			return EXIT_SUCCESS;
		} else {
			snprintf(msg, sizeof msg, "invalid option for %s", o->cmd);
			return usage_error(msg);
		}
	}
	if (argc - optind != o->n_args) {
		snprintf(msg, sizeof msg, "%s takes %s", o->cmd, o->takes);
		return usage_error(msg);
	}
	o->args = argv + optind;
	return -1;
}

static void print_report_text(const struct ag_check_report *r)
{
	for (size_t i = 0; i < r->n_results; i++) {
		const struct ag_check_result *c = &r->results[i];
		printf("%-5s %-10s %s\n", c->ok ? "ok" : (c->required ? "FAIL" : "warn"), c->name, c->detail);
	}
}

static int print_report_json(const struct ag_check_report *r, bool all_ok)
{
	json_t *root = json_object(), *checks = json_array();
	char *text;

	if (!root || !checks)
		goto fail;
	for (size_t i = 0; i < r->n_results; i++) {
		const struct ag_check_result *c = &r->results[i];
		if (json_array_append_new(checks, json_pack("{s:s, s:b, s:b, s:s}", "name", c->name,
							     "required", c->required, "ok", c->ok,
							     "detail", c->detail)) != 0)
			goto fail;
	}
	if (json_object_set_new(root, "ok", json_boolean(all_ok)) != 0 ||
	    json_object_set(root, "checks", checks) != 0)
		goto fail;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text)
		goto fail;
	puts(text);
	free(text);
	json_decref(checks);
	json_decref(root);
	return 0;
fail:
	json_decref(checks);
	json_decref(root);
	fprintf(stderr, "authgear-pam: out of memory\n");
	return -1;
}

static int cmd_check(int argc, char **argv)
{
	struct cmd_opts o = { .cmd = "check", .flag = "json", .letter = 'j', .takes = "no arguments" };
	/* Every reason is in the report; the log would only repeat it. */
	struct ag_log log = { .sink = quiet_sink };
	struct ag_check_report report;
	int rc = parse_options(argc, argv, &o);
	bool ok;

	if (rc >= 0)
		return rc;
	ok = ag_check_run(o.config_path, &log, &report);
	if (o.flag_set) {
		if (print_report_json(&report, ok) != 0)
			return EXIT_FAILURE;
	} else {
		print_report_text(&report);
	}
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

static void stderr_sink(void *ctx, int priority, const char *line)
{
	fprintf(stderr, "  log: %s\n", line);
}

/* A line from the terminal, without echo for secrets. */
static enum ag_err term_talk(void *ctx, enum ag_conv_style style, const char *text, char **answer)
{
	struct termios old, quiet;
	bool hide = style == AG_CONV_SECRET && isatty(STDIN_FILENO);
	char buf[1024];

	if (!answer) {
		fprintf(style == AG_CONV_ERROR ? stderr : stdout, "%s\n", text);
		return AG_OK;
	}
	fputs(text, stdout);
	fflush(stdout);
	if (hide && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else {
		hide = false;
	}
	*answer = fgets(buf, sizeof buf, stdin) ? strndup(buf, strcspn(buf, "\r\n")) : NULL;
	ag_wipe(buf, sizeof buf);
	if (hide)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (hide || !isatty(STDIN_FILENO))
		fputc('\n', stdout); /* the newline the person typed was not echoed */
	return *answer ? AG_OK : AG_ERR_CONV;
}

static void print_step(void *ctx, const char *step, double ms, double network_ms)
{
	printf("  step %-22s %8.1f ms  network %8.1f ms\n", step, ms, network_ms);
}

static int cmd_login(int argc, char **argv)
{
	struct cmd_opts o = {
		.cmd = "login", .flag = "device", .letter = 'd', .flag2 = "reauth", .letter2 = 'r', .n_args = 1,
		.takes = "one USER"
	};
	struct ag_log log = { .sink = stderr_sink };
	struct ag_conv conv = { .talk = term_talk };
	struct ag_login l = { 0 };
	struct ag_config *cfg = NULL;
	char why[512];
	enum ag_err err;
	int rc = parse_options(argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (o.flag_set && o.flag2_set) /* reauth_with says what --reauth runs */
		return usage_error("login takes --device or --reauth, not both");
	if (!user_arg_ok("login", o.args[0]))
		return EXIT_FAILURE;
	err = ag_config_load(o.config_path, AG_CONFIG_LENIENT, &log, &cfg, why, sizeof why);
	if (err != AG_OK)
		return EXIT_FAILURE;
	log.debug = cfg->debug;
	if (!ag_login_is_ours(cfg, &log, o.args[0])) {
		printf("%s is not an Authgear user here (not in users = ..., not bound): PAM would ignore it\n",
		       o.args[0]);
		ag_config_free(cfg);
		return EXIT_FAILURE;
	}
	if (!ag_login_resolves(cfg, &log, o.args[0])) {
		printf("refused: %s does not resolve through NSS (see above); nothing sent to Authgear\n", o.args[0]);
		ag_config_free(cfg);
		return EXIT_FAILURE;
	}
	l.cfg = cfg;
	l.log = &log;
	l.conv = &conv;
	l.user = o.args[0];
	l.on_step = print_step;
	/* --reauth: the module's reauth argument (sudo's stack), the same call */
	err = o.flag2_set ? ag_login_reauth(&l) : o.flag_set ? ag_login_device(&l) : ag_login_password(&l, NULL);
	printf("  network total %.1f ms in %ld request%s\n", l.network_ms, l.requests, l.requests == 1 ? "" : "s");
	if (err == AG_OK)
		printf("%s: %s is Authgear user %s; %ld requests on %ld connection%s\n",
		       o.flag2_set ? "reauthenticated" : "signed in", l.user, l.claims.sub, l.requests, l.connections,
		       l.connections == 1 ? "" : "s");
	else
		printf("refused (%s): %s\n", ag_err_name(err), l.line[0] ? l.line : ag_err_reason(err));
	ag_login_clear(&l);
	ag_config_free(cfg);
	return err == AG_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int cmd_qr(int argc, char **argv)
{
	struct cmd_opts o = {
		.cmd = "qr", .flag = "invert", .letter = 'i', .no_config = true, .n_args = 1, .takes = "one TEXT"
	};
	size_t columns = 0, lines = 0;
	char *text = NULL;
	enum ag_err err;
	int rc = parse_options(argc, argv, &o);

	if (rc >= 0)
		return rc;
	err = ag_qr_text(o.args[0], o.flag_set, AG_QR_MAX_COLUMNS, &text, &columns, &lines);
	if (err == AG_ERR_TOO_LARGE) {
		if (columns)
			fprintf(stderr, "authgear-pam: the QR code would be %zu columns wide, over %d: left out\n",
				columns, AG_QR_MAX_COLUMNS);
		else
			fprintf(stderr, "authgear-pam: the text is too long for a QR code\n");
		return EXIT_FAILURE;
	}
	if (err != AG_OK) {
		fprintf(stderr, "authgear-pam: cannot draw a QR code: %s\n",
			err == AG_ERR_UNSUPPORTED ? ag_qr_unavailable() : ag_err_reason(err));
		return EXIT_FAILURE;
	}
	puts(text);
	free(text);
	return EXIT_SUCCESS;
}

/* --- accounts ------------------------------------------------------------ */

/* Options of an accounts command: --config FILE, then exactly n_args
 * arguments. Loads the configuration and opens the store. */
/* Warnings and errors of the core, for the administrator. */
static void admin_sink(void *ctx, int priority, const char *line)
{
	if ((priority & LOG_PRIMASK) <= LOG_WARNING)
		fprintf(stderr, "authgear-pam: %s\n", line);
}

struct admin {
	struct ag_log log;
	struct ag_config *cfg;
	struct ag_store *store;
	char **args;
	bool clear; /* --clear (throttle) */
};

static int admin_open(int argc, char **argv, const char *cmd, int n_args, struct admin *a)
{
	struct cmd_opts o = { .cmd = cmd,
			      .flag = strcmp(cmd, "throttle") == 0 ? "clear" : NULL,
			      .n_args = n_args,
			      .takes = n_args == 0 ? "no arguments" : n_args == 1 ? "one argument" : "two arguments" };
	const char *config_path;
	char why[512];
	int rc;

	memset(a, 0, sizeof *a);
	a->log.sink = admin_sink;
	rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	config_path = o.config_path;
	a->args = o.args;
	a->clear = o.flag_set;
	/* every command with arguments but import names a USER first */
	if (n_args > 0 && strcmp(cmd, "import") != 0 && !user_arg_ok(cmd, a->args[0]))
		return EXIT_FAILURE;
	if (geteuid() != 0) {
		fprintf(stderr, "authgear-pam %s: must run as root (the store is root's)\n", cmd);
		return EXIT_FAILURE;
	}
	if (ag_config_load(config_path, AG_CONFIG_LENIENT, &a->log, &a->cfg, why, sizeof why) != AG_OK)
		return EXIT_FAILURE;
	a->log.debug = a->cfg->debug;
	if (ag_store_open(a->cfg->state_dir, &a->log, &a->store) != AG_OK) {
		ag_config_free(a->cfg);
		a->cfg = NULL;
		return EXIT_FAILURE;
	}
	return -1; /* go on */
}

/* Close a; the command's exit status: ok or not. */
static int admin_close(struct admin *a, bool ok)
{
	ag_store_close(a->store);
	ag_config_free(a->cfg);
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int cmd_users(int argc, char **argv)
{
	struct ag_store_db db;
	struct admin a;
	int rc = admin_open(argc, argv, "users", 0, &a);

	if (rc >= 0)
		return rc;
	if (ag_store_read(a.store, &db) != AG_OK) {
		return admin_close(&a, false);
	}
	printf("%-32s %-10s %-32s %s\n", "NAME", "UID", "GROUPS", "LAST LOGIN");
	for (size_t i = 0; i < db.n_users; i++) {
		const struct ag_store_user *u = &db.users[i];
		struct ag_buf groups = AG_BUF_INIT(GROUPS_SHOWN_MAX);
		char uid[16] = "-", when[32] = "-";
		time_t t = (time_t)u->last_login;
		struct tm tm;

		for (size_t g = 0; g < u->n_groups; g++)
			if (ag_identity_grantable(a.cfg, u->groups[g]))
				ag_buf_join(&groups, ",", u->groups[g]);
		if (u->uid)
			snprintf(uid, sizeof uid, "%u", u->uid);
		if (u->last_login && gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%-32s %-10s %-32s %s%s\n", u->name, uid, ag_buf_shown(&groups), when,
		       u->sub ? "" : " (pinned; no login yet)");
		ag_buf_free(&groups);
	}
	ag_store_db_free(&db);
	return admin_close(&a, true);
}

static void print_time(const char *label, long long t, const char *extra)
{
	char when[32] = "never";
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > 0 && gmtime_r(&tt, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-14s %s%s\n", label, when, extra ? extra : "");
}

static void print_list(const char *label, char *const *v, size_t n)
{
	printf("%-14s ", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? "," : "", v[i]);
	printf("%s\n", n ? "" : "-");
}

static int cmd_status(int argc, char **argv)
{
	struct ag_store_db db = { 0 };
	struct ag_token_info ti;
	struct ag_session *sess = NULL;
	const struct ag_store_user *u;
	struct admin a;
	size_t n_sess = 0;
	bool found = false;
	char extra[128];
	int rc = admin_open(argc, argv, "status", 1, &a);

	if (rc >= 0)
		return rc;
	if (ag_store_read(a.store, &db) != AG_OK || ag_tokens_info(a.store, a.args[0], &ti, &found) != AG_OK ||
	    ag_sessions_list(a.store, a.args[0], &sess, &n_sess) != AG_OK) {
		rc = EXIT_FAILURE;
		goto out;
	}
	u = ag_store_db_user(&db, a.args[0]);
	if (!u) {
		fprintf(stderr, "authgear-pam status: no user %s in the store\n", a.args[0]);
		rc = EXIT_FAILURE;
		goto out;
	}
	printf("%-14s %s\n", "user", u->name);
	printf("%-14s %s\n", "binding", u->sub ? u->sub : "none (UID pinned ahead of a first login)");
	if (u->uid)
		printf("%-14s %u\n", "uid", u->uid);
	else
		printf("%-14s -\n", "uid");
	print_list("groups", u->groups, u->n_groups);
	print_list("roles", u->roles, u->n_roles);
	print_time("last login", u->last_login, NULL);
	if (!found) {
		printf("%-14s never\n%-14s none cached\n", "last check", "tokens");
	} else {
		snprintf(extra, sizeof extra, " (%s)", ti.check_result[0] ? ti.check_result : "-");
		print_time("last check", ti.checked_at, extra);
		print_time("last check ok", ti.check_ok_at, NULL);
		if (ti.refresh) {
			printf("%-14s refresh token cached%s%s\n", "tokens", ti.sealed ? ", sealed (token_key_file)" : "",
			       ti.access ? ", access token cached" : "");
			if (ti.access_expires)
				print_time("access expiry", ti.access_expires, ti.access_expires < (long long)time(NULL)
										 ? " (expired)" : NULL);
		} else {
			printf("%-14s none cached (%s)\n", "tokens",
			       strcmp(ti.check_result, "revoked") == 0 ? "revoked at Authgear" : "logged out or never cached");
		}
	}
	printf("%-14s %zu\n", "sessions", n_sess);
	for (size_t i = 0; i < n_sess; i++) {
		char since[32] = "?", tty[sizeof sess[i].tty], rhost[sizeof sess[i].rhost];
		time_t t = (time_t)sess[i].started_at;
		struct tm tm;

		if (gmtime_r(&t, &tm))
			strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
		/* rows an older version stored unescaped must not reach the terminal raw */
		ag_text_escape(sess[i].tty, tty, sizeof tty);
		ag_text_escape(sess[i].rhost, rhost, sizeof rhost);
		printf("  pid %-8ld tty %-10s from %-20s since %s%s\n", sess[i].pid, tty[0] ? tty : "-",
		       rhost[0] ? rhost : "-", since,
		       ag_session_alive(&sess[i]) ? "" : " (stale: its process is gone)");
	}
	rc = EXIT_SUCCESS;
out:
	free(sess);
	ag_store_db_free(&db);
	admin_close(&a, true);
	return rc;
}

/* check-account: each log line of the check is a step, shown with the
 * time since the previous one. */
struct steps {
	double t0, last;
};

static void step_sink(void *ctx, int priority, const char *line)
{
	struct steps *st = ctx;
	double now = ag_clock_ms(NULL);

	printf("  %8.1f ms  %s\n", now - st->last, line);
	st->last = now;
}

static int cmd_check_account(int argc, char **argv)
{
	struct steps st;
	struct admin a;
	char line[512];
	long requests = 0;
	enum ag_err err;
	int rc = admin_open(argc, argv, "check-account", 1, &a);

	if (rc >= 0)
		return rc;
	ag_store_close(a.store); /* the check opens its own */
	a.store = NULL;
	if (!ag_login_is_ours(a.cfg, &a.log, a.args[0])) {
		printf("%s is not an Authgear user here: PAM would ignore it\n", a.args[0]);
		return admin_close(&a, false);
	}
	st.t0 = st.last = ag_clock_ms(NULL);
	a.log.sink = step_sink;
	a.log.sink_ctx = &st;
	a.log.debug = true;
	printf("checking %s (account_check = %s)\n", a.args[0], a.cfg->account_check);
	err = ag_account_check(a.cfg, &a.log, a.args[0], NULL, line, sizeof line, &requests);
	if (err == AG_OK)
		printf("allowed: %ld request%s, %.1f ms\n", requests, requests == 1 ? "" : "s",
		       ag_clock_ms(NULL) - st.t0);
	else
		printf("denied (%s): %s; %ld request%s, %.1f ms\n", ag_err_name(err), line[0] ? line : ag_err_reason(err),
		       requests, requests == 1 ? "" : "s", ag_clock_ms(NULL) - st.t0);
	return admin_close(&a, err == AG_OK);
}

static int cmd_forget(int argc, char **argv)
{
	unsigned char key[AG_STORE_TOKEN_KEY_LEN];
	struct admin a;
	enum ag_err err, revoke = AG_OK;
	bool had = false;
	int rc = admin_open(argc, argv, "forget", 1, &a);

	if (rc >= 0)
		return rc;
	/* Authgear first: once the row is gone, nothing here knows the token. */
	if (a.cfg->token_key_file) {
		revoke = ag_tokens_key_load(a.cfg->token_key_file, &a.log, key);
		if (revoke == AG_OK)
			ag_store_set_token_key(a.store, key);
		ag_wipe(key, sizeof key);
	}
	if (revoke == AG_OK)
		revoke = ag_session_logout(a.store, a.cfg, &a.log, a.args[0], false, &had);
	if (revoke != AG_OK)
		fprintf(stderr, "authgear-pam forget: could not revoke %s's refresh token at Authgear (%s): it stays "
				"valid there until it expires; end the user's sessions in the Authgear portal\n",
			a.args[0], ag_err_reason(revoke));
	else if (had)
		printf("revoked %s's refresh token at Authgear\n", a.args[0]);
	err = ag_identity_forget(a.store, a.cfg, &a.log, a.args[0]);
	if (err == AG_OK)
		printf("forgot %s: binding, UID, groups, cached tokens and sessions removed\n", a.args[0]);
	else if (err == AG_ERR_NOT_OURS || err == AG_ERR_INVALID_ARG)
		fprintf(stderr, "authgear-pam forget: no user %s in the store\n", a.args[0]);
	return admin_close(&a, err == AG_OK && revoke == AG_OK);
}

static int cmd_pin(int argc, char **argv)
{
	struct admin a;
	enum ag_err err;
	uint32_t uid;
	char why[512] = "", shown[64];
	int rc = admin_open(argc, argv, "pin", 2, &a);

	if (rc >= 0)
		return rc;
	if (!ag_id_parse(a.args[1], &uid)) {
		ag_text_escape(a.args[1], shown, sizeof shown);
		fprintf(stderr, "authgear-pam pin: '%s' is not a UID from %u to %u (not %u)\n", shown,
			AG_UID_MIN_ALLOWED, AG_UID_MAX_ALLOWED, AG_UID_NOBODY);
		return admin_close(&a, false);
	}
	err = ag_identity_pin(a.store, a.cfg, &a.log, a.args[0], uid, why, sizeof why);
	if (err == AG_OK)
		printf("pinned %s to UID %u\n", a.args[0], uid);
	else
		fprintf(stderr, "authgear-pam pin: %s\n", why[0] ? why : ag_err_reason(err));
	return admin_close(&a, err == AG_OK);
}

static int cmd_import(int argc, char **argv)
{
	struct admin a;
	enum ag_err err;
	char why[512] = "", shown[2048];
	int rc = admin_open(argc, argv, "import", 1, &a);

	if (rc >= 0)
		return rc;
	err = ag_identity_import(a.store, a.cfg, &a.log, a.args[0], why, sizeof why);
	/* the file's name (also in why) escaped, as any argument shown */
	if (err == AG_OK) {
		ag_text_escape(a.args[0], shown, sizeof shown);
		printf("imported the UIDs of %s\n", shown);
	} else {
		ag_text_escape(why[0] ? why : ag_err_reason(err), shown, sizeof shown);
		fprintf(stderr, "authgear-pam import: %s; nothing imported\n", shown);
	}
	return admin_close(&a, err == AG_OK);
}

static int cmd_reindex(int argc, char **argv)
{
	struct admin a;
	enum ag_err err;
	int rc = admin_open(argc, argv, "reindex", 0, &a);

	if (rc >= 0)
		return rc;
	err = ag_identity_reindex(a.store, a.cfg, &a.log);
	if (err == AG_OK)
		printf("rebuilt %s/nss.index\n", a.cfg->state_dir);
	return admin_close(&a, err == AG_OK);
}

static int cmd_throttle(int argc, char **argv)
{
	struct ag_store_throttle t;
	struct admin a;
	enum ag_err err;
	long per_source, per_name;
	int rc = admin_open(argc, argv, "throttle", 1, &a);

	if (rc >= 0)
		return rc;
	per_source = a.cfg->max_attempts_per_minute;
	per_name = per_source * AG_LOGIN_NAME_CAP_FACTOR;
	err = ag_store_throttle_read(a.store, a.args[0], time(NULL), a.clear, &t);
	if (err != AG_OK)
		fprintf(stderr, "authgear-pam throttle: %s\n", ag_err_reason(err));
	else if (a.clear)
		printf("%s: cleared %ld attempt%s of the last minute; the next login is not refused locally\n",
		       a.args[0], t.attempts, t.attempts == 1 ? "" : "s");
	else if (t.max_per_source >= per_source || t.attempts >= per_name)
		printf("%s: %ld attempts in the last minute (at most %ld from one address, %ld from all): refused "
		       "locally for %ld more seconds; 'authgear-pam throttle --clear %s' ends it now\n",
		       a.args[0], t.attempts, per_source, per_name,
		       AG_STORE_THROTTLE_WINDOW - t.oldest_age > 1 ? AG_STORE_THROTTLE_WINDOW - t.oldest_age : 1,
		       a.args[0]);
	else
		printf("%s: %ld attempt%s in the last minute (at most %ld from one address, %ld from all): not refused\n",
		       a.args[0], t.attempts, t.attempts == 1 ? "" : "s", per_source, per_name);
	return admin_close(&a, err == AG_OK);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "check", cmd_check },
	{ "login", cmd_login },
	{ "qr", cmd_qr },
	{ "users", cmd_users },
	{ "status", cmd_status },
	{ "check-account", cmd_check_account },
	{ "forget", cmd_forget },
	{ "pin", cmd_pin },
	{ "import", cmd_import },
	{ "reindex", cmd_reindex },
	{ "throttle", cmd_throttle },
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("missing command");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("authgear-pam %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "authgear-pam: unknown command '%s'\n", argv[1]);
	return usage_error("see the list of commands");
}
