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
#include "seam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ag_config cfg = { .issuer = (char *)"https://auth.example.com" };
	static struct ag_discovery disc = { .issuer = (char *)"https://auth.example.com",
					    .userinfo_endpoint = (char *)"https://auth.example.com/oauth2/userinfo" };
	struct ag_oidc o = { .cfg = &cfg, .log = &fuzz_log, .disc = &disc };
	struct fuzz_answer a;
	const char *sub, *name;
	json_t *doc = NULL;
	enum ag_err err;

	if (size < 1)
		return 0;
	a = (struct fuzz_answer){ .status = data[0] & 1 ? 401 : 200,
				  .content_type = data[0] & 2 ? "application/jwt" : "application/json; charset=utf-8",
				  .body = data + 1, .body_len = size - 1 };
	o.http = fuzz_http_answer(&a);
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
	fuzz_http_answer(NULL);
	return 0;
}
