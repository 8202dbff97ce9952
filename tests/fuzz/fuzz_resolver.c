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
#include "seam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ag_config cfg = { .issuer = (char *)"https://auth.example.com" };
	struct fuzz_answer a = { .status = 200, .headers = data, .headers_len = size };
	struct ag_oidc o = { .cfg = &cfg, .log = &fuzz_log, .http = fuzz_http_answer(&a) };
	struct ag_claims c;
	enum ag_err err;

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
	fuzz_http_answer(NULL);
	return 0;
}
