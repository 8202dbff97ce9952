/* Fuzz target: Authgear's resolver answer (authgear-protocol.md §7), the
 * X-Authgear-* headers, through ag_resolve() and the HTTP transport seam:
 * the input is the block of header lines as the HTTP client keeps them
 * (each "Name: value\r\n"), with status 200. Whatever is accepted must be
 * a valid session with a bounded sub, roles and amr; a refusal leaves no
 * claims behind. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf.h"
#include "base/http.h"
#include "jose/claims.h"
#include "oidc/oidc.h"
#include "oidc/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, int priority, const char *line)
{
}

static const struct ag_log fuzz_log = { .sink = quiet };

struct input {
	const uint8_t *data;
	size_t size;
};

static enum ag_err answer(void *ctx, const char *method, const char *url, const char *content_type,
			  const char *body, const char *bearer, struct ag_http_response *resp)
{
	const struct input *in = ctx;

	memset(resp, 0, sizeof *resp);
	resp->status = 200;
	resp->body = strdup("");
	resp->x_authgear = strndup((const char *)in->data, in->size);
	return resp->body && resp->x_authgear ? AG_OK : AG_ERR_NOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ag_config cfg = { .issuer = (char *)"https://auth.example.com" };
	static const struct ag_http_opts opts = { .connect_timeout = 1, .timeout = 1 };
	static struct ag_http *http;
	struct input in = { data, size };
	struct ag_http_transport t = { answer, &in };
	struct ag_oidc o = { .cfg = &cfg, .log = &fuzz_log };
	struct ag_claims c;
	enum ag_err err;

	if (!http && ag_http_new(&opts, &fuzz_log, &http) != AG_OK)
		abort();
	ag_http_set_transport(http, &t);
	o.http = http;
	err = ag_resolve(&o, "https://auth.example.com/_resolver/resolve", "at-fuzz", &c);
	if (err == AG_OK) {
		if (!c.sub || !*c.sub || strlen(c.sub) > AG_CLAIMS_SUB_MAX || c.n_roles > AG_CLAIMS_ROLES_MAX ||
		    c.n_amr > AG_CLAIMS_AMR_MAX || c.auth_time < 0 || c.auth_time > AG_CLAIMS_TIME_MAX)
			__builtin_trap();
		for (size_t i = 0; i < c.n_roles; i++)
			if (!c.roles[i][0] || strlen(c.roles[i]) > AG_CLAIMS_VALUE_MAX || strchr(c.roles[i], ','))
				__builtin_trap();
		for (size_t i = 0; i < c.n_amr; i++)
			if (!c.amr[i][0] || strlen(c.amr[i]) > AG_CLAIMS_VALUE_MAX || strchr(c.amr[i], ' '))
				__builtin_trap();
	} else if (c.sub || c.roles || c.amr) {
		__builtin_trap();
	}
	ag_claims_clear(&c);
	ag_http_set_transport(http, NULL);
	return 0;
}
