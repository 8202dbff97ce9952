/* authgear-pam: the administrator's command line. A thin shell over the core:
 * it parses arguments, runs core functions and prints their results. */
#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "conf.h"
#include "conv.h"
#include "log.h"
#include "login.h"
#include "qr.h"
#include "secret.h"

#define EXIT_USAGE 2

static const char usage_text[] =
	"Usage: authgear-pam COMMAND [OPTIONS]\n"
	"\n"
	"Administer pam_authgear, the PAM and NSS modules that sign people in to\n"
	"Linux with their Authgear accounts.\n"
	"\n"
	"Commands:\n"
	"  check [--config FILE] [--json]\n"
	"        Check the configuration: syntax, known keys, required keys, and that\n"
	"        the file is a regular file owned by root and not writable by group or\n"
	"        others. Unknown keys are errors here (the PAM module logs and ignores\n"
	"        them). Prints one line per check, or a JSON object with --json.\n"
	"        Exits 0 only when every required check passes, 1 otherwise.\n"
	"\n"
	"  login [--config FILE] [--device] USER\n"
	"        Sign USER in with password and second factor exactly as the PAM\n"
	"        module does, from this terminal and without PAM, printing each step\n"
	"        and its duration (never a secret). Exits 0 when the login succeeds.\n"
	"        --device: the device-code login instead (URL, code and QR code to\n"
	"        approve on a phone), whatever methods says.\n"
	"\n"
	"  qr [--invert] TEXT\n"
	"        Print TEXT as a QR code the way the device login draws it, to check\n"
	"        a terminal's rendering and a phone's scan. --invert draws the light\n"
	"        modules (qr_invert = yes, for light text on a dark background).\n"
	"        Exits 1 when the code would be wider than 80 columns.\n"
	"\n"
	"Options:\n"
	"  --config FILE   configuration file (default " AG_CONFIG_DEFAULT_PATH ")\n"
	"  --json          machine-readable output (check)\n"
	"  --device        device-code login (login)\n"
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
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = AG_CONFIG_DEFAULT_PATH;
	/* Every reason is in the report; the log would only repeat it. */
	struct ag_log log = { .sink = quiet_sink };
	struct ag_check_report report;
	bool json = false, ok;
	int c;

	while ((c = getopt_long(argc, argv, "c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(usage_text, stdout); return EXIT_SUCCESS;
		default: return usage_error("invalid option for check");
		}
	}
	if (optind != argc)
		return usage_error("check takes no arguments");
	ok = ag_check_run(config_path, &log, &report);
	if (json) {
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

static void print_step(void *ctx, const char *step, double ms)
{
	printf("  step %-22s %8.1f ms\n", step, ms);
}

static int cmd_login(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "device", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = AG_CONFIG_DEFAULT_PATH;
	struct ag_log log = { .sink = stderr_sink };
	struct ag_conv conv = { .talk = term_talk };
	struct ag_login l = { 0 };
	struct ag_config *cfg = NULL;
	bool device = false;
	char why[512];
	enum ag_err err;
	int c;

	while ((c = getopt_long(argc, argv, "c:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'd': device = true; break;
		case 'h': fputs(usage_text, stdout); return EXIT_SUCCESS;
		default: return usage_error("invalid option for login");
		}
	}
	if (optind != argc - 1)
		return usage_error("login takes one USER");
	err = ag_config_load(config_path, AG_CONFIG_LENIENT, &log, &cfg, why, sizeof why);
	if (err != AG_OK)
		return EXIT_FAILURE;
	log.debug = cfg->debug;
	if (!ag_login_is_ours(cfg, &log, argv[optind])) {
		printf("%s is not an Authgear user here (not in users = ..., not bound): PAM would ignore it\n",
		       argv[optind]);
		ag_config_free(cfg);
		return EXIT_FAILURE;
	}
	l.cfg = cfg;
	l.log = &log;
	l.conv = &conv;
	l.user = argv[optind];
	l.on_step = print_step;
	err = device ? ag_login_device(&l) : ag_login_password(&l, NULL);
	if (err == AG_OK)
		printf("signed in: %s is Authgear user %s; %ld requests on %ld connection%s\n", l.user, l.claims.sub,
		       l.requests, l.connections, l.connections == 1 ? "" : "s");
	else
		printf("refused (%s): %s\n", ag_err_name(err), l.line[0] ? l.line : ag_err_reason(err));
	ag_login_clear(&l);
	ag_config_free(cfg);
	return err == AG_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int cmd_qr(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "invert", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t columns = 0, lines = 0;
	bool invert = false;
	char *text = NULL;
	enum ag_err err;
	int c;

	while ((c = getopt_long(argc, argv, "ih", opts, NULL)) != -1) {
		switch (c) {
		case 'i': invert = true; break;
		case 'h': fputs(usage_text, stdout); return EXIT_SUCCESS;
		default: return usage_error("invalid option for qr");
		}
	}
	if (optind != argc - 1)
		return usage_error("qr takes one TEXT");
	err = ag_qr_text(argv[optind], invert, AG_QR_MAX_COLUMNS, &text, &columns, &lines);
	if (err == AG_ERR_TOO_LARGE) {
		if (columns)
			fprintf(stderr, "authgear-pam: the QR code would be %zu columns wide, over %d: left out\n",
				columns, AG_QR_MAX_COLUMNS);
		else
			fprintf(stderr, "authgear-pam: the text is too long for a QR code\n");
		return EXIT_FAILURE;
	}
	if (err != AG_OK) {
		fprintf(stderr, "authgear-pam: cannot draw a QR code: %s\n", ag_err_reason(err));
		return EXIT_FAILURE;
	}
	puts(text);
	free(text);
	return EXIT_SUCCESS;
}

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
	if (strcmp(argv[1], "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "login") == 0)
		return cmd_login(argc - 1, argv + 1);
	if (strcmp(argv[1], "qr") == 0)
		return cmd_qr(argc - 1, argv + 1);
	fprintf(stderr, "authgear-pam: unknown command '%s'\n", argv[1]);
	return usage_error("see the list of commands");
}
