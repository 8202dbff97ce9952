/* Fuzz target: the parsers of the IdP's JSON answers (discovery document,
 * token response, OAuth error response, device authorization response, the
 * Flow API envelope) and the lockout's info.until timestamp. The first byte
 * picks the parser: below 0xf0 its value mod 4 (the older corpus entries),
 * from 0xf0 on even for the envelope (0xf0, 0xf4, ...: status 200; 0xf2,
 * 0xf6, ...: 400), odd for the timestamp. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"
#include "base/json.h"
#include "base/secret.h"
#include "oidc/authflow.h"
#include "oidc/device.h"
#include "oidc/oidc.h"
#include "oidc/token.h"
#include "seam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The envelope parser on a flow that has a state: a result always leaves one
 * (the old or the new), and the reason's error only with a reason. */
static void flow_envelope(struct ag_http_response *resp, long status)
{
	static const struct ag_config cfg = { .issuer = (char *)"https://auth.example.com" };
	struct ag_oidc o = { .cfg = &cfg, .log = &fuzz_log };
	struct ag_flow f = { .o = &o };
	struct ag_flow_error ferr;
	enum ag_err err;

	resp->status = status;
	err = ag_flow_parse_response(&f, resp, &ferr);
	if (err == AG_OK && (!f.state_token || !ag_flow_action(&f)))
		__builtin_trap();
	if (ferr.reason[0] && err == AG_OK)
		__builtin_trap();
	ag_free_secret(f.state_token);
	json_decref(f.result);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_http *http = fuzz_http_answer(NULL);
	struct ag_http_response resp = { .status = 200, .content_type = (char *)"application/json" };
	struct ag_discovery *d = NULL;
	struct ag_tokens t = { 0 };
	struct ag_device_auth a;
	char code[AG_OAUTH_ERROR_MAX];
	json_t *doc = NULL;

	if (size < 1)
		return 0;
	/* The parsers expect a NUL-terminated body, as the HTTP client gives them. */
	resp.body = malloc(size);
	if (!resp.body)
		return 0;
	memcpy(resp.body, data + 1, size - 1);
	resp.body[size - 1] = '\0';
	resp.body_len = size - 1;
	switch (data[0] >= 0xf0 ? 4 + data[0] % 2 : data[0] % 4) {
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
	case 4:
		flow_envelope(&resp, data[0] & 2 ? 400 : 200);
		break;
	case 5:
		/* 0 unless it looked like date T time */
		if (ag_flow_parse_time(resp.body) != 0 && (!strchr(resp.body, 'T') || !strchr(resp.body, ':')))
			__builtin_trap();
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
