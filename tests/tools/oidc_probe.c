/* oidc_probe: a test-only driver of the OIDC core, so shell tests can run
 * each core operation against the real test IdP and assert its result and
 * its log reason (AUTHGEAR_TEST_LOG).
 *
 *   oidc_probe CONFIG discovery
 *   oidc_probe CONFIG get URL
 *   oidc_probe CONFIG redirect URL      (GET, then check the redirect's Location)
 *   oidc_probe CONFIG exchange CODE VERIFIER NONCE TOKENS_FILE  (then verifies the ID token)
 *   oidc_probe CONFIG refresh TOKENS_FILE
 *   oidc_probe CONFIG revoke TOKENS_FILE
 *   oidc_probe CONFIG userinfo TOKENS_FILE
 *   oidc_probe CONFIG jwks
 *   oidc_probe CONFIG verify-at TOKENS_FILE     (the access token, when it is a JWT)
 *
 * TOKENS_FILE holds "access_token", "refresh_token", "id_token" as a JSON
 * object (test data; mode 0600). Prints "key=value" lines and, last,
 * "result=<error name>"; exits 0 on AG_OK, 1 otherwise.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/conf.h"
#include "base/http.h"
#include "jose/claims.h"
#include "jose/jwk.h"
#include "oidc/oidc.h"
#include "oidc/token.h"

static void stderr_sink(void *ctx, int priority, const char *line)
{
	fprintf(stderr, "log: %s\n", line);
}

static const struct ag_log probe_log = { .sink = stderr_sink, .debug = true };

static enum ag_err save_tokens(const char *path, const struct ag_tokens *t)
{
	json_t *j = json_object();
	FILE *f;

	if (t->access_token)
		json_object_set_new(j, "access_token", json_string(t->access_token));
	if (t->refresh_token)
		json_object_set_new(j, "refresh_token", json_string(t->refresh_token));
	if (t->id_token)
		json_object_set_new(j, "id_token", json_string(t->id_token));
	umask(077);
	f = fopen(path, "w");
	if (!f || json_dumpf(j, f, JSON_COMPACT) != 0) {
		json_decref(j);
		if (f)
			fclose(f);
		return AG_ERR_IO;
	}
	fclose(f);
	json_decref(j);
	return AG_OK;
}

/* The string key of the JSON file at path, or NULL. Caller frees. */
static char *load_token(const char *path, const char *key)
{
	json_t *j = json_load_file(path, 0, NULL);
	const char *s = json_string_value(json_object_get(j, key));
	char *copy = s ? strdup(s) : NULL;

	json_decref(j);
	return copy;
}

static enum ag_err cmd_get(struct ag_oidc *o, const char *url)
{
	struct ag_http_response resp;
	enum ag_err err = ag_http_get(o->http, url, NULL, &resp);

	if (err == AG_OK) {
		printf("status=%ld\nbytes=%zu\n", resp.status, resp.body_len);
		if (resp.location)
			printf("location=%s\n", resp.location);
	}
	ag_http_response_clear(&resp);
	return err;
}

static enum ag_err cmd_redirect(struct ag_oidc *o, const char *url)
{
	struct ag_http_response resp;
	const char *target;
	enum ag_err err = ag_http_get(o->http, url, NULL, &resp);

	if (err == AG_OK)
		err = ag_http_redirect_target(o->http, &resp, NULL, &target);
	if (err == AG_OK)
		printf("target_scheme=%.*s\n", (int)strcspn(target, ":"), target);
	ag_http_response_clear(&resp);
	return err;
}

static enum ag_err cmd_discovery(struct ag_oidc *o)
{
	const struct ag_discovery *d;
	enum ag_err err = ag_oidc_discovery(o, &d);

	if (err == AG_OK) {
		printf("issuer=%s\ntoken_endpoint=%s\njwks_uri=%s\n", d->issuer, d->token_endpoint, d->jwks_uri);
		printf("device_authorization_endpoint=%s\n",
		       d->device_authorization_endpoint ? d->device_authorization_endpoint : "");
	}
	return err;
}

static void print_claims(const struct ag_claims *c)
{
	printf("sub=%s\nanonymous=%s\nroles=%zu\namr=", c->sub, c->is_anonymous ? "yes" : "no", c->n_roles);
	for (size_t i = 0; i < c->n_amr; i++)
		printf("%s%s", i ? "," : "", c->amr[i]);
	printf("\n");
}

static enum ag_err cmd_exchange(struct ag_oidc *o, char **argv)
{
	struct ag_claims claims = { 0 };
	struct ag_tokens t;
	enum ag_err err = ag_token_exchange_code(o, argv[0], argv[1], &t);

	if (err == AG_OK) {
		printf("refresh_token=%s\n", t.refresh_token ? "present" : "absent");
		err = save_tokens(argv[3], &t);
	}
	if (err == AG_OK)
		err = ag_oidc_verify_id_token(o, t.id_token, argv[2], -1, &claims);
	if (err == AG_OK)
		print_claims(&claims);
	ag_claims_clear(&claims);
	ag_tokens_clear(&t);
	return err;
}

static enum ag_err cmd_jwks(struct ag_oidc *o)
{
	const struct ag_jwks *keys;
	enum ag_err err = ag_oidc_jwks(o, &keys);

	if (err == AG_OK)
		printf("keys=%zu\n", ag_jwks_count(keys));
	return err;
}

static enum ag_err cmd_verify_at(struct ag_oidc *o, const char *file)
{
	char *at = load_token(file, "access_token");
	struct ag_claims claims = { 0 };
	enum ag_err err;

	if (!at)
		return AG_ERR_INVALID_ARG;
	err = ag_oidc_verify_access_token(o, at, &claims);
	if (err == AG_OK)
		print_claims(&claims);
	ag_claims_clear(&claims);
	free(at);
	return err;
}

static enum ag_err cmd_refresh(struct ag_oidc *o, const char *file)
{
	char *rt = load_token(file, "refresh_token");
	struct ag_tokens t;
	enum ag_err err;

	if (!rt)
		return AG_ERR_INVALID_ARG;
	err = ag_token_refresh(o, rt, &t);
	if (err == AG_OK) {
		struct ag_claims claims = { 0 };

		printf("rotated=%s\n", t.refresh_token ? "yes" : "no");
		printf("id_token=%s\n", t.id_token ? "present" : "absent");
		/* Refresh ID tokens carry no nonce: none is expected. */
		if (t.id_token)
			err = ag_oidc_verify_id_token(o, t.id_token, NULL, -1, &claims);
		if (err == AG_OK && t.id_token)
			print_claims(&claims);
		ag_claims_clear(&claims);
	}
	if (err == AG_OK) {
		if (!t.refresh_token)
			t.refresh_token = strdup(rt); /* Authgear without rotation: the old one stays valid */
		err = save_tokens(file, &t);
	}
	ag_tokens_clear(&t);
	free(rt);
	return err;
}

static enum ag_err cmd_revoke(struct ag_oidc *o, const char *file)
{
	char *rt = load_token(file, "refresh_token");
	enum ag_err err;

	if (!rt)
		return AG_ERR_INVALID_ARG;
	err = ag_token_revoke(o, rt, "refresh_token");
	free(rt);
	return err;
}

static enum ag_err cmd_userinfo(struct ag_oidc *o, const char *file)
{
	char *at = load_token(file, "access_token");
	json_t *claims = NULL;
	enum ag_err err;

	if (!at)
		return AG_ERR_INVALID_ARG;
	err = ag_userinfo(o, at, &claims);
	if (err == AG_OK) {
		printf("sub=%s\n", json_string_value(json_object_get(claims, "sub")));
		printf("roles=%zu\n", json_array_size(json_object_get(claims, "https://authgear.com/claims/user/roles")));
	}
	json_decref(claims);
	free(at);
	return err;
}

int main(int argc, char **argv)
{
	struct ag_config *cfg = NULL;
	struct ag_oidc *o = NULL;
	enum ag_err err;
	const char *cmd;

	if (argc < 3) {
		fprintf(stderr, "usage: oidc_probe CONFIG COMMAND [ARGS]\n");
		return 2;
	}
	cmd = argv[2];
	err = ag_config_load(argv[1], AG_CONFIG_STRICT, &probe_log, &cfg, NULL, 0);
	if (err == AG_OK)
		err = ag_oidc_open(cfg, &probe_log, &o);
	if (err != AG_OK)
		goto out;
	if (strcmp(cmd, "discovery") == 0)
		err = cmd_discovery(o);
	else if (strcmp(cmd, "get") == 0 && argc == 4)
		err = cmd_get(o, argv[3]);
	else if (strcmp(cmd, "redirect") == 0 && argc == 4)
		err = cmd_redirect(o, argv[3]);
	else if (strcmp(cmd, "exchange") == 0 && argc == 7)
		err = cmd_exchange(o, argv + 3);
	else if (strcmp(cmd, "refresh") == 0 && argc == 4)
		err = cmd_refresh(o, argv[3]);
	else if (strcmp(cmd, "revoke") == 0 && argc == 4)
		err = cmd_revoke(o, argv[3]);
	else if (strcmp(cmd, "jwks") == 0)
		err = cmd_jwks(o);
	else if (strcmp(cmd, "verify-at") == 0 && argc == 4)
		err = cmd_verify_at(o, argv[3]);
	else if (strcmp(cmd, "userinfo") == 0 && argc == 4)
		err = cmd_userinfo(o, argv[3]);
	else {
		fprintf(stderr, "oidc_probe: bad command or arguments\n");
		err = AG_ERR_INVALID_ARG;
	}
	printf("connections=%ld\n", ag_http_connections(o->http));
out:
	printf("result=%s\n", ag_err_name(err));
	ag_oidc_close(o);
	ag_config_free(cfg);
	return err == AG_OK ? 0 : 1;
}
