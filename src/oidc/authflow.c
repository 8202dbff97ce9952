/* Authentication Flow API client (see authflow.h). */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/secret.h"
#include "oidc/authflow.h"

#define STATE_TOKEN_MAX 256

static const struct {
	const char *reason;
	enum ag_err err;
} reasons[] = {
	{ "InvalidCredentials", AG_ERR_CREDENTIALS },
	{ "UserNotFound", AG_ERR_USER_UNKNOWN },
	{ "DisabledUser", AG_ERR_DISABLED },
	{ "UserOutsideValidPeriod", AG_ERR_DISABLED },
	{ "AnonymizedUser", AG_ERR_DISABLED },
	{ "ScheduledDeletionByAdmin", AG_ERR_DISABLED },
	{ "ScheduledDeletionByEndUser", AG_ERR_DISABLED },
	{ "ScheduledAnonymizationByAdmin", AG_ERR_DISABLED },
	{ "AccountLockout", AG_ERR_LOCKED },
	{ "RateLimited", AG_ERR_RATE_LIMITED },
	{ "TooManyRequest", AG_ERR_RATE_LIMITED },
	{ "InvariantViolated", AG_ERR_DENIED },
};

enum ag_err ag_flow_reason_err(const char *reason)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (strcmp(reason, reasons[i].reason) == 0)
			return reasons[i].err;
	return AG_ERR_PROTOCOL;
}

static void copy_field(char *dst, size_t n, const json_t *obj, const char *key)
{
	const char *v = ag_json_string(obj, key, n - 1);

	snprintf(dst, n, "%s", v ? v : "");
}

/* s starts with pattern: 'd' is a digit, anything else itself. */
static bool shaped(const char *s, const char *pattern)
{
	for (; *pattern; s++, pattern++)
		if (*pattern == 'd' ? !isdigit((unsigned char)*s) : *s != *pattern)
			return false;
	return true;
}

time_t ag_flow_parse_time(const char *s)
{
	struct tm tm = { 0 };
	int oh = 0, om = 0;
	long off = 0;
	time_t t;

	if (!s || !shaped(s, "dddd-dd-ddTdd:dd:dd") ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec) != 6)
		return 0;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return 0;
	s += 19;
	if (*s == '.') { /* Go writes up to 9 digits; whole seconds are enough here */
		size_t n = strspn(s + 1, "0123456789");
		if (n == 0)
			return 0;
		s += 1 + n;
	}
	if (s[0] == 'Z' && s[1] == '\0') {
		off = 0;
	} else if ((s[0] == '+' || s[0] == '-') && shaped(s + 1, "dd:dd") && s[6] == '\0' &&
		   sscanf(s + 1, "%2d:%2d", &oh, &om) == 2 && oh <= 23 && om <= 59) {
		off = (s[0] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
	} else {
		return 0;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	return t == (time_t)-1 ? 0 : t - off;
}

static void parse_error(const json_t *error, struct ag_flow_error *ferr)
{
	const json_t *info = json_object_get(error, "info");
	const char *until = ag_json_string(info, "until", 64);
	long long code = 0;

	copy_field(ferr->name, sizeof ferr->name, error, "name");
	copy_field(ferr->reason, sizeof ferr->reason, error, "reason");
	copy_field(ferr->auth_type, sizeof ferr->auth_type, info, "AuthenticationType");
	copy_field(ferr->tracking_id, sizeof ferr->tracking_id, error, "tracking_id");
	if (ag_json_integer(error, "code", &code))
		ferr->code = (long)code;
	if (until) {
		time_t t = ag_flow_parse_time(until);
		ferr->until = t > 0 ? t : 0;
	}
}

/* Take the "result" of a response into the flow (new state token, action). */
static enum ag_err take_result(struct ag_flow *f, json_t *result)
{
	const char *token = ag_json_string(result, "state_token", STATE_TOKEN_MAX);
	const json_t *action = json_object_get(result, "action");
	char *copy;

	if (!token || !ag_json_string(action, "type", 64)) {
		ag_log(f->o->log, LOG_ERR, "authflow: result without state_token or action.type");
		return AG_ERR_PROTOCOL;
	}
	copy = strdup(token);
	if (!copy)
		return AG_ERR_NOMEM;
	ag_free_secret(f->state_token);
	f->state_token = copy;
	json_decref(f->result);
	f->result = json_incref(result);
	return AG_OK;
}

enum ag_err ag_flow_parse_response(struct ag_flow *f, const struct ag_http_response *resp, struct ag_flow_error *ferr)
{
	struct ag_oidc *o = f->o;
	json_t *env = NULL, *result, *error;
	enum ag_err err;

	memset(ferr, 0, sizeof *ferr);
	if (resp->status >= 500 && resp->status != 503) {
		ag_log(o->log, LOG_ERR, "authflow: server error %ld", resp->status);
		return AG_ERR_SERVER;
	}
	err = ag_json_parse_object(resp->body, resp->body_len, o->log, "authflow", &env);
	if (err != AG_OK)
		return err;
	result = json_object_get(env, "result");
	error = json_object_get(env, "error");
	if (resp->status == 200 && json_is_object(result) && !error) {
		err = take_result(f, result);
		copy_field(f->tracking_id, sizeof f->tracking_id, env, "tracking_id");
		goto out;
	}
	if (!json_is_object(error) || !ag_json_string(error, "reason", 63)) {
		ag_log(o->log, LOG_ERR, "authflow: status %ld without Authgear's error envelope", resp->status);
		err = ag_http_unexpected(resp->status);
		goto out;
	}
	parse_error(error, ferr);
	if (ferr->tracking_id[0])
		snprintf(f->tracking_id, sizeof f->tracking_id, "%s", ferr->tracking_id);
	err = ag_flow_reason_err(ferr->reason);
	ag_log(o->log, err == AG_ERR_PROTOCOL ? LOG_ERR : LOG_NOTICE, "authflow: %s/%s (%ld)%s%s", ferr->name,
	       ferr->reason, resp->status, ferr->auth_type[0] ? " for " : "", ferr->auth_type);
	/* A failed input comes back with the unchanged state: keep following it. */
	if (json_is_object(result) && take_result(f, result) != AG_OK)
		ag_log(o->log, LOG_WARNING, "authflow: error response with an unusable result");
out:
	json_decref(env);
	return err;
}

/* POST body to path and take the envelope apart. */
static enum ag_err call(struct ag_flow *f, const char *path, json_t *body, struct ag_flow_error *ferr)
{
	struct ag_oidc *o = f->o;
	struct ag_http_response resp;
	char url[2400], *text;
	enum ag_err err;

	memset(ferr, 0, sizeof *ferr);
	if (snprintf(url, sizeof url, "%s%s%s", o->cfg->issuer, AG_AUTHFLOW_PATH, path) >= (int)sizeof url)
		return AG_ERR_CONFIG;
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return AG_ERR_NOMEM;
	err = ag_http_post_json(o->http, url, text, &resp);
	ag_free_secret(text);
	if (err != AG_OK)
		return err;
	err = ag_flow_parse_response(f, &resp, ferr);
	ag_http_response_clear(&resp);
	return err;
}

enum ag_err ag_flow_create(struct ag_oidc *o, const char *type, const char *name, const char *url_query,
			   json_t *batch, struct ag_flow **out, struct ag_flow_error *ferr)
{
	struct ag_flow *f;
	json_t *body;
	enum ag_err err;

	*out = NULL;
	f = calloc(1, sizeof *f);
	if (!f)
		return AG_ERR_NOMEM;
	f->o = o;
	body = json_pack("{s:s, s:s, s:s}", "type", type, "name", name, "url_query", url_query);
	if (!body || (batch && json_object_set(body, "batch_input", batch) != 0)) {
		json_decref(body);
		free(f);
		return AG_ERR_NOMEM;
	}
	err = call(f, "", body, ferr);
	json_decref(body);
	if (f->result)
		*out = f;
	else
		ag_flow_free(f);
	return err;
}

enum ag_err ag_flow_input(struct ag_flow *f, const json_t *input, struct ag_flow_error *ferr)
{
	json_t *body = json_pack("{s:s, s:O}", "state_token", f->state_token, "input", input);
	enum ag_err err;

	if (!body)
		return AG_ERR_NOMEM;
	err = call(f, "/states/input", body, ferr);
	json_decref(body);
	return err;
}

const char *ag_flow_action(const struct ag_flow *f)
{
	return ag_json_string(json_object_get(f->result, "action"), "type", 64);
}

const json_t *ag_flow_data(const struct ag_flow *f)
{
	const json_t *data = json_object_get(json_object_get(f->result, "action"), "data");

	return json_is_object(data) ? data : NULL;
}

bool ag_flow_offers(const struct ag_flow *f, const char *key, const char *value)
{
	const json_t *options = json_object_get(ag_flow_data(f), "options");
	const char *v;
	json_t *opt;
	size_t i;

	json_array_foreach(options, i, opt) {
		v = ag_json_string(opt, key, 64);
		if (v && strcmp(v, value) == 0)
			return true;
	}
	return false;
}

bool ag_flow_needs_bot_protection(const struct ag_flow *f)
{
	const json_t *options = json_object_get(ag_flow_data(f), "options");
	bool on;
	json_t *opt;
	size_t i;

	json_array_foreach(options, i, opt) {
		if (ag_json_bool(json_object_get(opt, "bot_protection"), "enabled", &on) && on)
			return true;
	}
	return false;
}

void ag_flow_free(struct ag_flow *f)
{
	if (!f)
		return;
	ag_free_secret(f->state_token);
	json_decref(f->result);
	free(f);
}

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
