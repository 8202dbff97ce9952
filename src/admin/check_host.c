/* The host's side of `authgear-pam check` (check.h): what an administrator
 * gets wrong outside our configuration file. Each finding is one line with
 * the fix in words. */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/check.h"
#include "base/conf.h"
#include "common/index.h"

#define PAM_D "/etc/pam.d"
#define NSSWITCH "/etc/nsswitch.conf"
#define SSHD "/usr/sbin/sshd"
#define MODULE_NAME "pam_authgear.so"
#define NSS_MODULE_NAME "libnss_authgear.so.2"
#define LINE_MAX_LEN 4096
#define LINES_MAX 10000 /* lines read from one file */
#define PAM_LINES_REPORTED 8

static const char *skip_blanks(const char *p)
{
	return p + strspn(p, " \t");
}

/* The next blank-separated word of *p into out; false when there is none or
 * it does not fit. */
static bool next_word(const char **p, char *out, size_t len)
{
	const char *s = skip_blanks(*p);
	size_t n = strcspn(s, " \t\r\n");

	if (n == 0 || n >= len)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	*p = s + n;
	return true;
}

/* Read the next line of f without its newline and with comments ('#' to the
 * end) removed; false at the end or after LINES_MAX lines. */
static bool read_line(FILE *f, char *buf, size_t len, unsigned *lineno)
{
	if (*lineno >= LINES_MAX || !fgets(buf, (int)len, f))
		return false;
	(*lineno)++;
	buf[strcspn(buf, "#\r\n")] = '\0';
	return true;
}

/* --- pam.d ---------------------------------------------------------------- */

struct pam_line {
	char type[32];
	char control[512];
	char module[PATH_MAX];
	bool uses_config; /* config= names the checked file, or none and it is the default */
};

/* "type control module args": a control in brackets may hold blanks. */
static bool parse_pam_line(const char *line, const char *config_path, struct pam_line *out)
{
	const char *p = skip_blanks(line);
	char arg[PATH_MAX + 16];
	bool has_config = false;

	if (*p == '@' || !next_word(&p, out->type, sizeof out->type))
		return false;
	p = skip_blanks(p);
	if (*p == '[') {
		const char *end = strchr(p, ']');
		size_t n;

		if (!end || (n = (size_t)(end - p) + 1) >= sizeof out->control)
			return false;
		memcpy(out->control, p, n);
		out->control[n] = '\0';
		p = end + 1;
	} else if (!next_word(&p, out->control, sizeof out->control)) {
		return false;
	}
	if (!next_word(&p, out->module, sizeof out->module))
		return false;
	out->uses_config = false;
	while (next_word(&p, arg, sizeof arg))
		if (strncmp(arg, "config=", 7) == 0) {
			has_config = true;
			out->uses_config = strcmp(arg + 7, config_path) == 0;
		}
	if (!has_config)
		out->uses_config = strcmp(config_path, AG_CONFIG_DEFAULT_PATH) == 0;
	return true;
}

static bool names_our_module(const struct pam_line *pl)
{
	const char *base = strrchr(pl->module, '/');

	return strcmp(base ? base + 1 : pl->module, MODULE_NAME) == 0;
}

/* Whether a module libpam cannot load leaves the rest of the stack alone:
 * libpam reports it as "module unknown", which required, requisite and
 * [... default=die] turn into a refusal of everyone. */
static bool survives_missing_module(const char *control)
{
	if (control[0] != '[')
		return strcmp(control, "optional") == 0 || strcmp(control, "sufficient") == 0;
	if (strstr(control, "module_unknown="))
		return strstr(control, "module_unknown=ignore") != NULL;
	return strstr(control, "default=ignore") != NULL;
}

struct pam_scan {
	unsigned n_lines;       /* lines naming the module */
	unsigned n_this_config; /* ... that use the checked configuration */
	bool sshd_uses;         /* /etc/pam.d/sshd names the module */
};

static void check_pam_line(struct ag_check_report *r, const char *path, unsigned lineno, const struct pam_line *pl,
			   struct pam_scan *scan)
{
	char loaded[PATH_MAX * 2];
	struct stat st;

	if (scan->n_lines++ >= PAM_LINES_REPORTED)
		return;
	if (pl->module[0] == '/') {
		snprintf(loaded, sizeof loaded, "%s", pl->module);
	} else if (AG_SYSTEM_PAM_DIR[0]) {
		snprintf(loaded, sizeof loaded, "%s/%s", AG_SYSTEM_PAM_DIR, pl->module);
	} else {
		ag_check_add(r, "pam", false, false,
			     "%s:%u names %s, and where this system's libpam loads modules from is unknown "
			     "(configure found no pam_unix.so): check that the module is there",
			     path, lineno, pl->module);
		return;
	}
	if (stat(loaded, &st) != 0 || !S_ISREG(st.st_mode))
		ag_check_add(r, "pam", true, false,
			     "%s:%u names %s, but libpam loads it from %s, which does not exist: install the module "
			     "there (make install; ./configure prints where it goes) or write its full path in the line",
			     path, lineno, pl->module, loaded);
	else
		ag_check_add(r, "pam", true, true, "%s:%u: libpam loads %s", path, lineno, loaded);
	if (strcmp(pl->type, "auth") == 0 && !survives_missing_module(pl->control))
		ag_check_add(r, "pam", false, false,
			     "%s:%u: with %s a module libpam cannot load refuses every login, local users too: use "
			     "[success=done ignore=ignore module_unknown=ignore default=die]",
			     path, lineno, pl->control);
}

static void scan_pam_file(struct ag_check_report *r, const char *config_path, const char *name,
			  struct pam_scan *scan)
{
	char path[PATH_MAX], line[LINE_MAX_LEN];
	struct pam_line pl;
	unsigned lineno = 0;
	struct stat st;
	FILE *f;

	if (name[0] == '.' || snprintf(path, sizeof path, "%s/%s", PAM_D, name) >= (int)sizeof path)
		return;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fopen(path, "re")))
		return;
	while (read_line(f, line, sizeof line, &lineno)) {
		if (!parse_pam_line(line, config_path, &pl) || !names_our_module(&pl))
			continue;
		check_pam_line(r, path, lineno, &pl, scan);
		if (pl.uses_config)
			scan->n_this_config++;
		if (strcmp(name, "sshd") == 0)
			scan->sshd_uses = true;
	}
	fclose(f);
}

static void check_pam(const struct ag_config *cfg, struct ag_check_report *r, struct pam_scan *scan)
{
	struct dirent **list = NULL;
	int n;

	memset(scan, 0, sizeof *scan);
	/* alphasort: the report reads the same on every run. */
	n = scandir(PAM_D, &list, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		scan_pam_file(r, cfg->path, list[i]->d_name, scan);
		free(list[i]);
	}
	free(list);
	if (scan->n_lines == 0)
		ag_check_add(r, "pam", false, false,
			     "no file in %s names %s: add its auth line to each service that should sign in with "
			     "Authgear (README, pam.d/sshd)", PAM_D, MODULE_NAME);
	else if (scan->n_this_config == 0)
		ag_check_add(r, "pam", false, false, "no line in %s that names %s uses %s%s", PAM_D, MODULE_NAME,
			     cfg->path,
			     strcmp(cfg->path, AG_CONFIG_DEFAULT_PATH) ? " (add config=PATH to the line)" : "");
}

/* --- NSS -------------------------------------------------------------------- */

/* The rest of the database line "db:" in nsswitch.conf, trimmed, into out;
 * whether authgear is one of its sources. False when there is no such line. */
static bool nsswitch_sources(const char *db, char *out, size_t len, bool *has_authgear)
{
	char line[LINE_MAX_LEN], word[256];
	size_t dblen = strlen(db);
	unsigned lineno = 0;
	bool found = false;
	FILE *f = fopen(NSSWITCH, "re");

	*has_authgear = false;
	out[0] = '\0';
	while (f && !found && read_line(f, line, sizeof line, &lineno)) {
		const char *p = skip_blanks(line);
		size_t n;

		if (strncmp(p, db, dblen) != 0 || p[dblen] != ':')
			continue;
		found = true;
		p = skip_blanks(p + dblen + 1);
		n = strlen(p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		snprintf(out, len, "%.*s", (int)n, p);
		while (next_word(&p, word, sizeof word))
			if (strcmp(word, "authgear") == 0)
				*has_authgear = true;
	}
	if (f)
		fclose(f);
	return found;
}

/* README's line for db with authgear added to sources (the others kept):
 * passwd appends it (`files systemd authgear`); group puts it right after
 * files with files' [SUCCESS=merge] (`files [SUCCESS=merge] authgear
 * systemd`): the merge reaches only the source that follows. */
static void nsswitch_fix(const char *db, const char *sources, char *out, size_t len)
{
	const char *p = sources, *end = NULL;
	bool merge = false;
	char word[256];

	if (strcmp(db, "group") == 0) {
		while (!end && next_word(&p, word, sizeof word))
			if (strcmp(word, "files") == 0)
				end = p;
	}
	if (!end) {
		snprintf(out, len, "%s: %s%sauthgear", db, sources, sources[0] ? " " : "");
		return;
	}
	p = skip_blanks(end);
	if (*p == '[' && strchr(p, ']')) {
		/* files' own actions: add SUCCESS=merge inside them */
		end = strchr(p, ']');
		snprintf(word, sizeof word, "%.*s", (int)(end - p), p);
		merge = strcasestr(word, "SUCCESS=merge") != NULL;
		snprintf(out, len, "%s: %.*s%s] authgear%s", db, (int)(end - sources), sources, merge ? "" : " SUCCESS=merge",
			 end + 1);
		return;
	}
	snprintf(out, len, "%s: %.*s [SUCCESS=merge] authgear%s", db, (int)(end - sources), sources, end);
}

/* passwd and group name authgear; glibc can load the module. */
static void check_nsswitch(struct ag_check_report *r, bool required)
{
	static const char *const dbs[] = { "passwd", "group" };
	char sources[512], fix[600];
	bool ours, all = true;
	void *h;

	for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
		if (!nsswitch_sources(dbs[i], sources, sizeof sources, &ours)) {
			nsswitch_fix(dbs[i], "files", fix, sizeof fix);
			ag_check_add(r, "nsswitch", required, false,
				     "%s has no '%s:' line: Authgear users do not resolve (sshd says 'Invalid user'); "
				     "add '%s'", NSSWITCH, dbs[i], fix);
			all = false;
		} else if (!ours) {
			nsswitch_fix(dbs[i], sources, fix, sizeof fix);
			ag_check_add(r, "nsswitch", required, false,
				     "%s: '%s: %s' has no authgear: Authgear users do not resolve (sshd says 'Invalid "
				     "user'); add it, keeping the others: '%s'",
				     NSSWITCH, dbs[i], sources, fix);
			all = false;
		}
	}
	if (!all)
		return;
	ag_check_add(r, "nsswitch", required, true, "%s: passwd and group name authgear", NSSWITCH);
	/* glibc skips a module it cannot load without a word. */
	h = dlopen(NSS_MODULE_NAME, RTLD_LAZY | RTLD_LOCAL);
	if (!h) {
		ag_check_add(r, "nss", required, false,
			     "nsswitch.conf names authgear, but glibc cannot load %s (%s): install it beside libc.so.6 "
			     "(make install; ./configure prints where it goes), then run ldconfig",
			     NSS_MODULE_NAME, dlerror());
		return;
	}
	dlclose(h);
	ag_check_add(r, "nss", required, true, "glibc loads %s", NSS_MODULE_NAME);
}

static bool newer(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* Whether the NSS module serves this configuration's state_dir; the index
 * there is at least as new as the configuration. */
static bool check_index(const struct ag_config *cfg, struct ag_check_report *r)
{
	const char *index = ag_index_path();
	char dir[PATH_MAX], real_dir[PATH_MAX], real_state[PATH_MAX];
	struct stat ist, cst;
	const char *slash = strrchr(index, '/');

	snprintf(dir, sizeof dir, "%.*s", (int)(slash - index), index);
	if (!realpath(dir, real_dir) || !realpath(cfg->state_dir, real_state) || strcmp(real_dir, real_state) != 0) {
		ag_check_add(r, "nss_index", false, false,
			     "the NSS module reads %s, outside this configuration's state_dir %s: it does not serve "
			     "these users (make %s a symlink to %s); the NSS lines below are advice only",
			     index, cfg->state_dir, dir, cfg->state_dir);
		return false;
	}
	if (stat(index, &ist) != 0) {
		ag_check_add(r, "nss_index", true, false,
			     "no NSS index %s: nobody resolves through the NSS module; run authgear-pam reindex", index);
		return true;
	}
	if (stat(cfg->path, &cst) == 0 && newer(&cst.st_mtim, &ist.st_mtim)) {
		ag_check_add(r, "nss_index", true, false,
			     "%s is older than %s: the NSS module still answers with the old users, uid_range, home, "
			     "shell, primary_group and [uids]; run authgear-pam reindex", index, cfg->path);
		return true;
	}
	ag_check_add(r, "nss_index", true, true, "%s is newer than the configuration", index);
	return true;
}

/* --- sshd ------------------------------------------------------------------- */

struct sshd_settings {
	char usepam[16], kbdint[16], password[16], methods[512];
};

static bool read_sshd_settings(struct sshd_settings *s, char *first_line, size_t len)
{
	char line[LINE_MAX_LEN], key[64];
	bool any = false;
	FILE *p;

	memset(s, 0, sizeof *s);
	first_line[0] = '\0';
	/* A fixed command line: nothing of the configuration reaches the shell. */
	p = popen(SSHD " -T 2>&1", "re");
	if (!p)
		return false;
	while (fgets(line, sizeof line, p)) {
		const char *v = line;

		line[strcspn(line, "\r\n")] = '\0';
		if (!first_line[0])
			snprintf(first_line, len, "%.200s", line);
		if (!next_word(&v, key, sizeof key))
			continue;
		v = skip_blanks(v);
		if (strcmp(key, "usepam") == 0)
			snprintf(s->usepam, sizeof s->usepam, "%.15s", v), any = true;
		else if (strcmp(key, "kbdinteractiveauthentication") == 0)
			snprintf(s->kbdint, sizeof s->kbdint, "%.15s", v);
		else if (strcmp(key, "passwordauthentication") == 0)
			snprintf(s->password, sizeof s->password, "%.15s", v);
		else if (strcmp(key, "authenticationmethods") == 0)
			snprintf(s->methods, sizeof s->methods, "%.511s", v);
	}
	pclose(p);
	return any;
}

/* Whether every method list of AuthenticationMethods includes
 * keyboard-interactive (its lists are separated by blanks, their methods by
 * commas); "any" does not. */
static bool methods_require_kbdint(const char *methods)
{
	char list[512];
	const char *p = methods;

	if (!methods[0] || strcmp(methods, "any") == 0)
		return false;
	while (next_word(&p, list, sizeof list))
		if (!strstr(list, "keyboard-interactive"))
			return false;
	return true;
}

static bool methods_allow_kbdint(const char *methods)
{
	return !methods[0] || strcmp(methods, "any") == 0 || strstr(methods, "keyboard-interactive") != NULL;
}

static void check_sshd(struct ag_check_report *r, const struct pam_scan *scan)
{
	struct sshd_settings s;
	char first[256];
	bool ok = true;

	if (!scan->sshd_uses) {
		if (access(SSHD, X_OK) == 0)
			ag_check_add(r, "sshd", false, true, "%s/sshd does not name %s: SSH logins do not use Authgear "
				     "(sshd settings not checked)", PAM_D, MODULE_NAME);
		return;
	}
	if (access(SSHD, X_OK) != 0) {
		ag_check_add(r, "sshd", false, false, "%s/sshd names %s, but %s is not installed", PAM_D, MODULE_NAME,
			     SSHD);
		return;
	}
	if (!read_sshd_settings(&s, first, sizeof first)) {
		ag_check_add(r, "sshd", true, false, "%s -T failed (%s): fix sshd_config first", SSHD, first);
		return;
	}
	if (strcmp(s.usepam, "yes") != 0) {
		ag_check_add(r, "sshd", true, false, "UsePAM %s: sshd never runs the PAM stack; set UsePAM yes in "
			     "/etc/ssh/sshd_config", s.usepam);
		ok = false;
	}
	if (strcmp(s.kbdint, "yes") != 0) {
		ag_check_add(r, "sshd", true, false, "KbdInteractiveAuthentication %s: sshd cannot ask the second factor; "
			     "set KbdInteractiveAuthentication yes in /etc/ssh/sshd_config", s.kbdint[0] ? s.kbdint : "no");
		ok = false;
	}
	if (!methods_allow_kbdint(s.methods)) {
		ag_check_add(r, "sshd", true, false, "AuthenticationMethods %s never asks keyboard-interactive: add "
			     "keyboard-interactive (or publickey,keyboard-interactive)", s.methods);
		ok = false;
	}
	if (strcmp(s.password, "yes") == 0 && !methods_require_kbdint(s.methods)) {
		ag_check_add(r, "sshd", false, false, "PasswordAuthentication yes with AuthenticationMethods %s: a client "
			     "that uses password authentication answers the code prompt with the password; set "
			     "AuthenticationMethods keyboard-interactive (or publickey,keyboard-interactive) or "
			     "PasswordAuthentication no", s.methods[0] ? s.methods : "any");
		ok = false;
	}
	if (ok)
		ag_check_add(r, "sshd", true, true, "sshd -T: UsePAM yes, KbdInteractiveAuthentication yes, "
			     "AuthenticationMethods %s", s.methods);
}

void ag_check_host(const struct ag_config *cfg, struct ag_check_report *r)
{
	struct pam_scan scan;
	bool nss_ours;

	check_pam(cfg, r, &scan);
	nss_ours = check_index(cfg, r);
	check_nsswitch(r, nss_ours);
	check_sshd(r, &scan);
}
