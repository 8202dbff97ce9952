/* The fuzz targets' quiet log and canned HTTP answers (seam.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "seam.h"

static void quiet(void *ctx, int priority, const char *line)
{
}

const struct ag_log fuzz_log = { .sink = quiet };

static enum ag_err answer(void *ctx, const char *method, const char *url, const char *content_type,
			  const char *body, const char *bearer, struct ag_http_response *resp)
{
	const struct fuzz_answer *a = ctx;

	memset(resp, 0, sizeof *resp);
	resp->status = a->status;
	resp->body = malloc(a->body_len + 1);
	if (!resp->body)
		return AG_ERR_NOMEM;
	if (a->body_len)
		memcpy(resp->body, a->body, a->body_len);
	resp->body[a->body_len] = '\0';
	resp->body_len = a->body_len;
	if (a->content_type && !(resp->content_type = strdup(a->content_type)))
		return AG_ERR_NOMEM;
	if (a->headers && !(resp->x_authgear = strndup((const char *)a->headers, a->headers_len)))
		return AG_ERR_NOMEM;
	return AG_OK;
}

struct ag_http *fuzz_http_answer(const struct fuzz_answer *a)
{
	static const struct ag_http_opts opts = { .connect_timeout = 1, .timeout = 1 };
	static struct ag_http_transport t = { answer, NULL };
	static struct ag_http *http;

	if (!http && ag_http_new(&opts, &fuzz_log, &http) != AG_OK)
		abort();
	t.ctx = (void *)a;
	ag_http_set_transport(http, a ? &t : NULL);
	return http;
}
