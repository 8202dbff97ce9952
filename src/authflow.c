/* Authentication Flow API client (see authflow.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "authflow.h"
#include "json.h"

enum ag_err ag_authflow_probe(struct ag_oidc *o)
{
	char url[2400];
	struct ag_http_response resp;
	json_t *body = NULL;
	enum ag_err err;

	if (snprintf(url, sizeof url, "%s%s", o->cfg->issuer, AG_AUTHFLOW_PATH) >= (int)sizeof url)
		return AG_ERR_CONFIG;
	err = ag_http_post_json(o->http, url, "{}", &resp);
	if (err != AG_OK)
		return err;
	if (resp.status >= 500) {
		ag_log(o->log, LOG_ERR, "authflow: server error %ld", resp.status);
		err = AG_ERR_SERVER;
	} else if (resp.status != 400 ||
		   ag_json_parse_object(resp.body, resp.body_len, o->log, "authflow", &body) != AG_OK ||
		   !ag_json_string(json_object_get(body, "error"), "name", 128)) {
		ag_log(o->log, LOG_ERR, "authflow: %s does not answer like Authgear's Flow API (status %ld)",
		       AG_AUTHFLOW_PATH, resp.status);
		err = AG_ERR_PROTOCOL;
	}
	json_decref(body);
	ag_http_response_clear(&resp);
	return err;
}
