/* What the fuzz targets that reach the IdP's answers share: a log that
 * drops every line, and one HTTP client whose transport seam hands back a
 * canned response instead of going to the network. */
#ifndef AG_FUZZ_SEAM_H
#define AG_FUZZ_SEAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/http.h"
#include "base/log.h"

extern const struct ag_log fuzz_log;

/* The response every request gets: status, Content-Type (NULL: none), the
 * body (copied NUL-terminated, as the HTTP client gives it) and the
 * X-Authgear-* header lines (NULL: none). */
struct fuzz_answer {
	long status;
	const char *content_type;
	const uint8_t *body;
	size_t body_len;
	const uint8_t *headers;
	size_t headers_len;
};

/* The one client, made at the first call: answer NULL sends it to the
 * network (never reached by the parsers), else every request gets *answer
 * until fuzz_http_answer(NULL). */
struct ag_http *fuzz_http_answer(const struct fuzz_answer *answer);

#endif
