/* Fuzz target: the parsers of the IdP's JSON answers (discovery document,
 * token response, OAuth error response, device authorization response). The
 * first byte picks the parser. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"
#include "base/json.h"
#include "oidc/device.h"
#include "oidc/oidc.h"
#include "oidc/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, int priority, const char *line)
{
}

static const struct ag_log fuzz_log = { .sink = quiet };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ag_http *http;
	static const struct ag_http_opts opts = { .connect_timeout = 1, .timeout = 1 };
	struct ag_http_response resp = { .status = 200, .content_type = (char *)"application/json" };
	struct ag_discovery *d = NULL;
	struct ag_tokens t = { 0 };
	struct ag_device_auth a;
	char code[AG_OAUTH_ERROR_MAX];
	json_t *doc = NULL;

	if (size < 1)
		return 0;
	if (!http && ag_http_new(&opts, &fuzz_log, &http) != AG_OK)
		abort();
	/* The parsers expect a NUL-terminated body, as the HTTP client gives them. */
	resp.body = malloc(size);
	if (!resp.body)
		return 0;
	memcpy(resp.body, data + 1, size - 1);
	resp.body[size - 1] = '\0';
	resp.body_len = size - 1;
	switch (data[0] % 4) {
	case 0:
		if (ag_json_parse_object(resp.body, resp.body_len, &fuzz_log, "fuzz", &doc) == AG_OK &&
		    ag_discovery_from_json(doc, "https://auth.example.com", http, &fuzz_log, &d) == AG_OK) {
			if (!d->token_endpoint || !d->jwks_uri || strcmp(d->issuer, "https://auth.example.com") != 0)
				__builtin_trap();
		}
		ag_discovery_free(d);
		json_decref(doc);
		break;
	case 1:
		if (ag_tokens_parse(&resp, &fuzz_log, &t) == AG_OK && !t.access_token)
			__builtin_trap();
		ag_tokens_clear(&t);
		break;
	case 3:
		if (ag_device_auth_parse(&resp, http, &fuzz_log, &a) == AG_OK &&
		    (!a.device_code || !a.user_code || !a.verification_uri || a.expires_in <= 0 || a.interval < 1))
			__builtin_trap();
		ag_device_auth_clear(&a);
		break;
	default:
		resp.status = 400;
		if (ag_oauth_error_parse(&resp, &fuzz_log, "fuzz", code) != AG_ERR_PROTOCOL && !code[0])
			__builtin_trap();
		break;
	}
	free(resp.body);
	return 0;
}
