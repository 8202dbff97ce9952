/* Fuzz target: the userinfo answer (OIDC Core §5.3) as the module reads it:
 * ag_userinfo() through the HTTP transport seam, which hands it the input
 * as the response, then the username_claim lookup a device login does on
 * it (a string claim, a valid Unix name). The first byte picks the status
 * (odd: 401, else 200) and the content type (bit 1: application/jwt, which
 * must be refused); the rest is the body. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/conf.h"
#include "base/http.h"
#include "base/json.h"
#include "common/names.h"
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
	resp->status = in->data[0] & 1 ? 401 : 200;
	resp->content_type = strdup(in->data[0] & 2 ? "application/jwt" : "application/json; charset=utf-8");
	resp->body = malloc(in->size);
	if (!resp->body || !resp->content_type)
		return AG_ERR_NOMEM;
	memcpy(resp->body, in->data + 1, in->size - 1);
	resp->body[in->size - 1] = '\0';
	resp->body_len = in->size - 1;
	return AG_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ag_config cfg = { .issuer = (char *)"https://auth.example.com" };
	static const struct ag_http_opts opts = { .connect_timeout = 1, .timeout = 1 };
	static struct ag_discovery disc = { .issuer = (char *)"https://auth.example.com",
					    .userinfo_endpoint = (char *)"https://auth.example.com/oauth2/userinfo" };
	static struct ag_http *http;
	struct input in = { data, size };
	struct ag_http_transport t = { answer, &in };
	struct ag_oidc o = { .cfg = &cfg, .log = &fuzz_log, .disc = &disc };
	const char *sub, *name;
	json_t *doc = NULL;
	enum ag_err err;

	if (size < 1)
		return 0;
	if (!http && ag_http_new(&opts, &fuzz_log, &http) != AG_OK)
		abort();
	ag_http_set_transport(http, &t);
	o.http = http;
	err = ag_userinfo(&o, "at-fuzz", &doc);
	if ((err == AG_OK) != (doc != NULL))
		__builtin_trap();
	if (err == AG_OK) {
		/* accepted: a 200 JSON object with a string sub of at most 255 bytes */
		sub = ag_json_string(doc, "sub", 255);
		if ((data[0] & 3) != 0 || !sub || !json_is_object(doc))
			__builtin_trap();
		name = ag_json_string(doc, "preferred_username", 255);
		if (name && ag_name_valid(name) && (!*name || strchr(name, ':') || strchr(name, '\n') || strchr(name, '/')))
			__builtin_trap();
	} else if ((data[0] & 1) && err != AG_ERR_INVALID_GRANT) {
		__builtin_trap(); /* a 401 is the grant gone, nothing else */
	}
	json_decref(doc);
	ag_http_set_transport(http, NULL);
	return 0;
}
