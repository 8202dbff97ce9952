/* The OIDC client context (see oidc.h). */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/secret.h"
#include "jose/jwk.h"
#include "oidc/oidc.h"

#define CLIENT_SECRET_MAX 1024

static enum ag_err read_client_secret(struct ag_oidc *o)
{
	const char *path = o->cfg->client_secret_file;
	char why[256];
	enum ag_err err;
	size_t len;
	char *buf;

	if (!path)
		return AG_OK;
	err = ag_file_read_secret(path, CLIENT_SECRET_MAX, &buf, &len, why, sizeof why);
	if (err != AG_OK) {
		ag_log(o->log, LOG_ERR, "client_secret_file %s: %s", path, why);
		return err == AG_ERR_NOMEM ? err : AG_ERR_CONFIG;
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (buf[i] <= 0x20 || buf[i] == 0x7f) {
			ag_free_secret_n(buf, len);
			ag_log(o->log, LOG_ERR, "client_secret_file %s: must hold one line of printable characters", path);
			return AG_ERR_CONFIG;
		}
	if (len == 0) {
		free(buf);
		ag_log(o->log, LOG_ERR, "client_secret_file %s: empty", path);
		return AG_ERR_CONFIG;
	}
	o->client_secret = buf;
	return AG_OK;
}

enum ag_err ag_oidc_open(const struct ag_config *cfg, const struct ag_log *log, struct ag_oidc **out)
{
	return ag_oidc_open_until(cfg, log, NULL, out);
}

enum ag_err ag_oidc_open_until(const struct ag_config *cfg, const struct ag_log *log, const struct timespec *deadline,
			       struct ag_oidc **out)
{
	struct ag_http_opts opts = {
		.ca_file = cfg->ca_file,
		.proxy = cfg->proxy,
		.connect_timeout = cfg->connect_timeout,
		.timeout = cfg->timeout,
		.login_timeout = cfg->login_timeout,
		.deadline = deadline,
		.insecure_loopback = cfg->insecure_loopback_for_tests,
	};
	char private_dir[PATH_MAX];
	struct ag_oidc *o;
	enum ag_err err;

	*out = NULL;
	err = ag_state_private_dir(cfg->state_dir, log, private_dir, sizeof private_dir);
	if (err != AG_OK)
		return err;
	o = calloc(1, sizeof *o);
	if (!o)
		return AG_ERR_NOMEM;
	o->cfg = cfg;
	o->log = log;
	o->clock = &ag_clock_system;
	o->private_dir = strdup(private_dir);
	err = o->private_dir ? AG_OK : AG_ERR_NOMEM;
	if (err == AG_OK)
		err = read_client_secret(o);
	if (err == AG_OK)
		err = ag_http_new(&opts, log, &o->http);
	if (err != AG_OK) {
		ag_oidc_close(o);
		return err;
	}
	*out = o;
	return AG_OK;
}

void ag_oidc_close(struct ag_oidc *o)
{
	if (!o)
		return;
	ag_discovery_free(o->disc);
	ag_jwks_free(o->jwks);
	ag_http_free(o->http);
	ag_free_secret(o->client_secret);
	free(o->private_dir);
	free(o);
}
