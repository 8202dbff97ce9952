/* pam_authgear.so: the PAM entry points. A thin shell: it reads the module
 * arguments, routes logging to pam_syslog and the conversation to
 * pam_prompt, asks the core, and turns the core's error into a PAM code
 * through pam_codes.c. */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "accounts/identity.h"
#include "base/conf.h"
#include "base/error.h"
#include "base/log.h"
#include "login/account.h"
#include "login/conv.h"
#include "common/index.h"
#include "login/login.h"
#include "login/session.h"

struct module_args {
	const char *config_path;
	bool debug;
	bool use_first_pass;
	bool try_first_pass;
	bool reauth;            /* sudo: reauthenticate the invoking user (ag_login_reauth) */
};

static void pam_log_sink(void *sink_ctx, int priority, const char *line)
{
	pam_syslog((pam_handle_t *)sink_ctx, priority, "%s", line);
}

static enum ag_err pam_talk(void *ctx, enum ag_conv_style style, const char *text, char **answer)
{
	static const int styles[] = {
		[AG_CONV_SECRET] = PAM_PROMPT_ECHO_OFF,
		[AG_CONV_VISIBLE] = PAM_PROMPT_ECHO_ON,
		[AG_CONV_INFO] = PAM_TEXT_INFO,
		[AG_CONV_ERROR] = PAM_ERROR_MSG,
	};
	char *resp = NULL;
	int rc;

	rc = pam_prompt((pam_handle_t *)ctx, styles[style], answer ? &resp : NULL, "%s", text);
	if (answer)
		*answer = resp;
	else
		free(resp);
	return rc == PAM_SUCCESS ? AG_OK : AG_ERR_CONV;
}

static void parse_args(const struct ag_log *log, int argc, const char **argv, struct module_args *args)
{
	memset(args, 0, sizeof *args);
	args->config_path = AG_CONFIG_DEFAULT_PATH;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "config=", 7) == 0)
			args->config_path = argv[i] + 7;
		else if (strcmp(argv[i], "debug") == 0)
			args->debug = true;
		else if (strcmp(argv[i], "use_first_pass") == 0)
			args->use_first_pass = true;
		else if (strcmp(argv[i], "try_first_pass") == 0)
			args->try_first_pass = true;
		else if (strcmp(argv[i], "reauth") == 0)
			args->reauth = true;
		else
			ag_log(log, LOG_WARNING, "unknown module argument '%s' ignored", argv[i]);
	}
}

/* Arguments, logging and configuration; the reason is logged on failure. A
 * broken configuration says nothing to the person: the account may be a
 * local one that the next module signs in. */
static enum ag_err setup(pam_handle_t *pamh, int argc, const char **argv, struct ag_log *log,
			 struct module_args *args, struct ag_config **cfg)
{
	enum ag_err err;

	*cfg = NULL;
	log->sink = pam_log_sink;
	log->sink_ctx = pamh;
	log->debug = false;
	parse_args(log, argc, argv, args);
	log->debug = args->debug;
	err = ag_config_load(args->config_path, AG_CONFIG_LENIENT, log, cfg, NULL, 0);
	if (err == AG_OK && (*cfg)->debug)
		log->debug = true;
	return err;
}

/* The user name, if it is one pam_authgear handles; NULL otherwise. */
static const char *our_user(pam_handle_t *pamh, const struct ag_config *cfg, const struct ag_log *log)
{
	const char *user = NULL;

	if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || !user)
		return NULL;
	if (!ag_login_is_ours(cfg, log, user)) {
		ag_log(log, LOG_DEBUG, "%.64s is not an Authgear user here; ignored", user);
		return NULL;
	}
	return user;
}

/* The configuration file exists but cannot be used (unsafe, invalid): names
 * the NSS index names by themselves (bound, pinned, listed by exact name)
 * are Authgear users whose login must not fall through to a local password
 * (an account being migrated may still have one: its MFA would be gone);
 * everyone else goes on to the next module. No file at all: nobody is ours. */
static int config_fault(pam_handle_t *pamh, const struct ag_log *log, enum ag_err err)
{
	const char *user = NULL;

	if (err == AG_ERR_NOT_CONFIGURED || pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || !user)
		return PAM_IGNORE;
	if (!ag_identity_index_names(ag_index_path(), user))
		return PAM_IGNORE;
	ag_log(log, LOG_ERR, "%.64s is an Authgear user here, but the configuration cannot be used (see above); "
			     "refusing instead of passing to the next module", user);
	pam_error(pamh, "Sign-in is unavailable: this host's Authgear configuration is broken.");
	return PAM_AUTHINFO_UNAVAIL;
}

/* For the entry points that only need to know whether the user is ours. */
static bool is_ours(pam_handle_t *pamh, int argc, const char **argv, struct ag_config **cfg)
{
	struct module_args args;
	struct ag_log log;

	return setup(pamh, argc, argv, &log, &args, cfg) == AG_OK && our_user(pamh, *cfg, &log);
}

/* A configuration with unknown keys or sections (read leniently): a
 * mistyped key (require_role = ...) would silently drop a rule, so our
 * users are refused until it is fixed (the reason logged, one line said). */
static bool unknown_keys(pam_handle_t *pamh, const struct ag_config *cfg, const struct ag_log *log)
{
	if (!cfg->n_ignored)
		return false;
	ag_log(log, LOG_ERR, "%s: %u unknown key%s or section%s (see above); Authgear users cannot sign in "
			     "until it is fixed (authgear-pam check)", cfg->path, cfg->n_ignored,
	       cfg->n_ignored > 1 ? "s" : "", cfg->n_ignored > 1 ? "s" : "");
	pam_error(pamh, "Sign-in is unavailable: this host's Authgear configuration is broken.");
	return true;
}

#define AUTH_USER_DATA "pam_authgear_auth_user"

static void free_auth_user(pam_handle_t *pamh, void *data, int error_status)
{
	free(data);
}

/* The name pam_authgear authenticated in this handle: acct_mgmt and
 * open_session must not vouch for another one (an application or a later
 * module that changed PAM_USER would otherwise get someone else's account
 * check, e.g. one with a fresh token cache). */
static void remember_auth_user(pam_handle_t *pamh, const char *user)
{
	char *copy = strdup(user);

	if (copy && pam_set_data(pamh, AUTH_USER_DATA, copy, free_auth_user) != PAM_SUCCESS)
		free(copy);
}

static bool user_changed(pam_handle_t *pamh, const struct ag_log *log)
{
	const void *authed = NULL;
	const char *user = NULL;

	if (pam_get_data(pamh, AUTH_USER_DATA, &authed) != PAM_SUCCESS || !authed)
		return false;
	if (pam_get_user(pamh, &user, NULL) == PAM_SUCCESS && user && strcmp(user, authed) == 0)
		return false;
	ag_log(log, LOG_ERR, "PAM_USER changed from %.64s to %.64s after authentication; denied", (const char *)authed,
	       user ? user : "(none)");
	return true;
}

/* The prologue of the entry points after authenticate: the configuration
 * and the user when the user is ours; NULL otherwise, with *rc the answer
 * and the configuration freed. fail_closed: a configuration fault refuses
 * the users the NSS index names (config_fault) instead of ignoring them.
 * Unknown keys refuse our users with refused (as authenticate does: the
 * rule a typo dropped would be missing from this step too); a PAM_USER
 * other than the one authenticated in this handle is answered with changed
 * (0: not checked). */
static const char *begin(pam_handle_t *pamh, int argc, const char **argv, struct ag_log *log,
			 struct ag_config **cfg, bool fail_closed, int refused, int changed, int *rc)
{
	struct module_args args;
	enum ag_err err = setup(pamh, argc, argv, log, &args, cfg);
	const char *user = err == AG_OK ? our_user(pamh, *cfg, log) : NULL;

	*rc = err != AG_OK && fail_closed ? config_fault(pamh, log, err) : PAM_IGNORE;
	if (user && unknown_keys(pamh, *cfg, log)) {
		user = NULL;
		*rc = refused;
	}
	if (changed && user_changed(pamh, log)) {
		user = NULL;
		*rc = changed;
	}
	if (!user) {
		ag_config_free(*cfg);
		*cfg = NULL;
	}
	return user;
}

/* sudo's stack with the reauth argument: PAM_USER is the invoking user
 * (sudo sets PAM_RUSER to the same name). Under targetpw or rootpw PAM_USER
 * is the target user: not supported, the next module answers. */
static int reauth(pam_handle_t *pamh, const struct ag_config *cfg, const struct ag_log *log,
		  const struct ag_conv *conv, const char *user)
{
	struct ag_login l = { .cfg = cfg, .log = log, .conv = conv, .user = user };
	const void *ruser = NULL;
	enum ag_err err;
	int rc;

	if (pam_get_item(pamh, PAM_RUSER, &ruser) == PAM_SUCCESS && ruser && strcmp(ruser, user) != 0) {
		ag_log(log, LOG_NOTICE, "reauth: %s asks for %s's authentication (sudo targetpw or rootpw): not supported; "
		       "ignored", (const char *)ruser, user);
		return PAM_IGNORE;
	}
	err = ag_login_reauth(&l);
	if (err != AG_OK && l.line[0])
		pam_error(pamh, "%s", l.line);
	rc = ag_err_to_pam_login(err, cfg->reveal_unknown_users);
	ag_login_clear(&l);
	return rc;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct ag_conv conv = { .talk = pam_talk, .ctx = pamh };
	struct ag_login l = { 0 };
	struct module_args args;
	struct ag_config *cfg;
	struct ag_log log;
	const void *authtok = NULL, *rhost = NULL;
	char rhost_shown[256];
	const char *user;
	bool device = false;
	enum ag_err err;
	int rc;

	err = setup(pamh, argc, argv, &log, &args, &cfg);
	if (err != AG_OK)
		return config_fault(pamh, &log, err);
	user = our_user(pamh, cfg, &log);
	if (!user) {
		ag_config_free(cfg);
		return PAM_IGNORE; /* root, pam_unix users, unknown names: no prompt, no network */
	}
	if (unknown_keys(pamh, cfg, &log)) {
		ag_config_free(cfg);
		return PAM_AUTHINFO_UNAVAIL;
	}
	if (!ag_login_resolves(cfg, &log, user)) {
		rc = ag_err_to_pam_login(AG_ERR_USER_UNKNOWN, cfg->reveal_unknown_users);
		ag_config_free(cfg);
		return rc;
	}
	if (args.reauth) {
		rc = reauth(pamh, cfg, &log, &conv, user);
		if (rc == PAM_SUCCESS)
			remember_auth_user(pamh, user);
		ag_config_free(cfg);
		return rc;
	}
	if (args.use_first_pass || args.try_first_pass)
		pam_get_item(pamh, PAM_AUTHTOK, &authtok);
	if (args.use_first_pass && !authtok) {
		ag_log(&log, LOG_ERR, "use_first_pass: no password from an earlier module");
		ag_config_free(cfg);
		return PAM_AUTH_ERR;
	}
	l.cfg = cfg;
	l.log = &log;
	l.conv = &conv;
	l.user = user;
	/* The throttle's key with the name, and device_from (pam_get_item: sshd
	 * sets the client's address; NULL or "" for a local login). */
	if (pam_get_item(pamh, PAM_RHOST, &rhost) == PAM_SUCCESS && rhost) {
		/* whatever the caller set: escaped before the store or a log line holds it */
		ag_text_escape(rhost, rhost_shown, sizeof rhost_shown);
		l.rhost = rhost_shown;
	}
	/* methods: an earlier module's password means the password method;
	 * otherwise the configured one, or the person's choice of both. */
	if (authtok && ag_config_has_method(cfg, "password"))
		err = ag_login_password(&l, authtok);
	else if ((err = ag_login_choose_method(&l, &device)) == AG_OK)
		err = device ? ag_login_device(&l) : ag_login_password(&l, authtok);
	if (err != AG_OK && l.line[0])
		pam_error(pamh, "%s", l.line);
	rc = ag_err_to_pam_login(err, cfg->reveal_unknown_users);
	if (rc == PAM_SUCCESS)
		remember_auth_user(pamh, user);
	ag_login_clear(&l);
	ag_config_free(cfg);
	return rc;
}

/* Nothing to establish: the groups come from NSS initgroups (the index the
 * login wrote). Success for our users, so a stack whose auth is
 * pam_authgear alone passes setcred. */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct ag_config *cfg = NULL;
	int rc = is_ours(pamh, argc, argv, &cfg) ? PAM_SUCCESS : PAM_IGNORE;

	ag_config_free(cfg);
	return rc;
}

#ifdef AG_TEST_HOOKS
/* Test builds: AUTHGEAR_TEST_CLOCK_OFFSET=SECONDS moves the account check's
 * wall clock (offline_grace windows, token expiry) without waiting. */
static time_t offset_wall(void *ctx)
{
	return time(NULL) + *(const long long *)ctx;
}

static double offset_mono_ms(void *ctx)
{
	(void)ctx;
	return ag_clock_ms(NULL);
}

static void offset_sleep(void *ctx, double ms)
{
	(void)ctx;
	ag_clock_sleep_until(NULL, ms);
}
#endif

/* Does Authgear still stand behind the user (login/account.c)? The only
 * gate of logins that skip auth (sshd public keys). */
PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	int rc;
	struct ag_config *cfg;
	struct ag_log log;
	char line[AG_LOGIN_LINE_MAX];
	const char *user;
	const struct ag_clock *clock = NULL;
	long requests;
	enum ag_err err;
#ifdef AG_TEST_HOOKS
	const char *shift = secure_getenv("AUTHGEAR_TEST_CLOCK_OFFSET");
	long long offset = shift ? strtoll(shift, NULL, 10) : 0;
	struct ag_clock shifted = { offset_wall, offset_mono_ms, offset_sleep, &offset };
#endif

	/* for a public-key login this is the only gate: a broken configuration
	 * must not wave an Authgear user through */
	user = begin(pamh, argc, argv, &log, &cfg, true, PAM_AUTHINFO_UNAVAIL, PAM_PERM_DENIED, &rc);
	if (!user)
		return rc;
#ifdef AG_TEST_HOOKS
	if (offset)
		clock = &shifted;
#endif
	err = ag_account_check(cfg, &log, user, clock, line, sizeof line, &requests);
	ag_log(&log, LOG_NOTICE, "audit: user=%s account_check result=%s requests=%ld", user,
	       err == AG_OK ? "success" : ag_err_name(err), requests);
	if (err != AG_OK && line[0])
		pam_error(pamh, "%s", line);
	ag_config_free(cfg);
	return err == AG_OK ? PAM_SUCCESS
	       : err == AG_ERR_NETWORK || err == AG_ERR_TIMEOUT || err == AG_ERR_SERVER || err == AG_ERR_TLS
		       ? PAM_AUTHINFO_UNAVAIL
		       : PAM_PERM_DENIED;
}

#define SESSION_DATA "pam_authgear_session"

static void free_session_id(pam_handle_t *pamh, void *data, int error_status)
{
	free(data);
}

/* Record the session (login/session.c): the last one's close may revoke
 * the user's refresh token (revoke_on_logout). */
PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	int rc;
	struct ag_config *cfg;
	struct ag_log log;
	const void *tty = NULL, *rhost = NULL;
	const char *user;
	long long id = 0, *kept;
	enum ag_err err;

	user = begin(pamh, argc, argv, &log, &cfg, false, PAM_SESSION_ERR, PAM_SESSION_ERR, &rc);
	if (!user)
		return rc;
	pam_get_item(pamh, PAM_TTY, &tty);
	pam_get_item(pamh, PAM_RHOST, &rhost);
	err = ag_session_open(cfg, &log, user, tty, rhost, time(NULL), &id);
	/* close_session in this handle removes exactly this row */
	if (err == AG_OK && id && (kept = malloc(sizeof *kept))) {
		*kept = id;
		if (pam_set_data(pamh, SESSION_DATA, kept, free_session_id) != PAM_SUCCESS)
			free(kept);
	}
	if (err != AG_OK)
		ag_log(&log, LOG_ERR, "session: %s: cannot record the session (%s)", user, ag_err_reason(err));
	ag_config_free(cfg);
	return err == AG_OK ? PAM_SUCCESS : PAM_SESSION_ERR;
}

/* Remove the session; with revoke_on_logout the last one's close revokes
 * the refresh token at Authgear and drops the cached tokens. Authgear
 * being unreachable does not fail the close (the reason is logged). */
PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	int rc;
	struct ag_config *cfg;
	struct ag_log log;
	const void *data = NULL;
	const char *user;
	enum ag_err err;

	user = begin(pamh, argc, argv, &log, &cfg, false, PAM_SESSION_ERR, 0, &rc);
	if (!user)
		return rc;
	if (pam_get_data(pamh, SESSION_DATA, &data) != PAM_SUCCESS)
		data = NULL;
	err = ag_session_close(cfg, &log, user, data ? *(const long long *)data : 0);
	ag_config_free(cfg);
	return err == AG_OK || err == AG_ERR_NETWORK || err == AG_ERR_TIMEOUT || err == AG_ERR_SERVER ||
			       err == AG_ERR_TLS
		       ? PAM_SUCCESS
		       : PAM_SESSION_ERR;
}

/* Passwords live at Authgear: say where to change one, and fail so passwd
 * does not report a change that did not happen. Other users: not ours. */
PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct ag_config *cfg = NULL;
	int rc = PAM_IGNORE;

	if (is_ours(pamh, argc, argv, &cfg)) {
		if (flags & PAM_PRELIM_CHECK)
			pam_error(pamh, "Your password is managed by Authgear; change it at %s/settings", cfg->issuer);
		rc = PAM_AUTHTOK_ERR;
	}
	ag_config_free(cfg);
	return rc;
}
