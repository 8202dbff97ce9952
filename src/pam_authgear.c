/* pam_authgear.so: the PAM entry points. A thin shell: it reads the module
 * arguments, routes logging to pam_syslog, asks the core, and turns the
 * core's error into a PAM code through ag_err_to_pam(). */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "conf.h"
#include "error.h"
#include "log.h"

struct module_args {
	const char *config_path;
	bool debug;
};

static void pam_log_sink(void *sink_ctx, int priority, const char *line)
{
	pam_syslog((pam_handle_t *)sink_ctx, priority, "%s", line);
}

static void parse_args(const struct ag_log *log, int argc, const char **argv,
		       struct module_args *args)
{
	args->config_path = AG_CONFIG_DEFAULT_PATH;
	args->debug = false;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "config=", 7) == 0)
			args->config_path = argv[i] + 7;
		else if (strcmp(argv[i], "debug") == 0)
			args->debug = true;
		else
			ag_log(log, LOG_WARNING, "unknown module argument '%s' ignored", argv[i]);
	}
}

/* Load the configuration named by the arguments; logs the reason on failure. */
static enum ag_err load_config(pam_handle_t *pamh, int argc, const char **argv,
			       struct ag_log *log, struct ag_config **cfg)
{
	struct module_args args;
	enum ag_err err;

	log->sink = pam_log_sink;
	log->sink_ctx = pamh;
	log->debug = false;
	parse_args(log, argc, argv, &args);
	log->debug = args.debug;
	err = ag_config_load(args.config_path, AG_CONFIG_LENIENT, log, cfg, NULL, 0);
	if (err == AG_OK && (*cfg)->debug)
		log->debug = true;
	return err;
}

static int finish(pam_handle_t *pamh, const struct ag_log *log, const char *what, enum ag_err err)
{
	const char *line = ag_err_user_line(err);

	if (err != AG_OK && err != AG_ERR_NOT_OURS)
		ag_log(log, LOG_NOTICE, "%s: %s (%s)", what, ag_err_reason(err), ag_err_name(err));
	if (*line)
		pam_info(pamh, "%s", line);
	return ag_err_to_pam(err);
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct ag_config *cfg = NULL;
	struct ag_log log = { 0 };
	enum ag_err err;
	int rc;

	err = load_config(pamh, argc, argv, &log, &cfg);
	if (err == AG_OK)
		err = AG_ERR_NOT_IMPLEMENTED; /* the login paths arrive with the next issues */
	rc = finish(pamh, &log, "authenticate", err);
	ag_config_free(cfg);
	return rc;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}

PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_IGNORE;
}
