/* RFC 8628 device authorization grant (see device.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/secret.h"
#include "oidc/device.h"

void ag_device_auth_clear(struct ag_device_auth *a)
{
	if (!a)
		return;
	ag_free_secret(a->device_code);
	ag_free_secret(a->user_code);
	free(a->verification_uri);
	free(a->verification_uri_complete);
	memset(a, 0, sizeof *a);
}

/* Printable ASCII without spaces: what may reach the terminal. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

/* A string member of 1..max bytes, printable ASCII, copied to *slot. */
static enum ag_err copy_member(const json_t *body, const char *key, size_t max, bool required,
			       const struct ag_log *log, char **slot)
{
	const json_t *v = json_object_get(body, key);
	const char *s = ag_json_string(body, key, max);

	if (!v && !required)
		return AG_OK;
	if (!s || !printable(s)) {
		ag_log(log, LOG_ERR, "device: authorization response %s %s", key,
		       !v ? "missing" : "malformed, too long or not printable ASCII");
		return AG_ERR_PROTOCOL;
	}
	*slot = strdup(s);
	return *slot ? AG_OK : AG_ERR_NOMEM;
}

enum ag_err ag_device_auth_parse(const struct ag_http_response *resp, const struct ag_http *http,
				 const struct ag_log *log, struct ag_device_auth *out)
{
	json_t *body;
	enum ag_err err;

	memset(out, 0, sizeof *out);
	err = ag_http_json(resp, log, "device authorization", &body);
	if (err != AG_OK)
		return err;
	err = copy_member(body, "device_code", AG_TOKEN_MAX, true, log, &out->device_code);
	if (err == AG_OK)
		err = copy_member(body, "user_code", AG_DEVICE_USER_CODE_MAX, true, log, &out->user_code);
	/* verification_url: the name some issuers used before RFC 8628 was final. */
	if (err == AG_OK)
		err = copy_member(body, json_object_get(body, "verification_uri") ? "verification_uri" : "verification_url",
				  AG_DEVICE_URI_MAX, true, log, &out->verification_uri);
	if (err == AG_OK)
		err = copy_member(body, "verification_uri_complete", AG_DEVICE_URI_MAX, false, log,
				  &out->verification_uri_complete);
	/* A person is sent there: https only, like every endpoint. */
	if (err == AG_OK && ag_http_check_url(http, out->verification_uri) != AG_OK)
		err = AG_ERR_PROTOCOL;
	if (err == AG_OK && out->verification_uri_complete &&
	    ag_http_check_url(http, out->verification_uri_complete) != AG_OK)
		err = AG_ERR_PROTOCOL;
	if (err == AG_OK && (!ag_json_integer(body, "expires_in", &out->expires_in) || out->expires_in <= 0)) {
		ag_log(log, LOG_ERR, "device: authorization response expires_in missing or not a positive integer");
		err = AG_ERR_PROTOCOL;
	}
	out->interval = AG_DEVICE_INTERVAL_DEFAULT;
	if (err == AG_OK && json_object_get(body, "interval") &&
	    (!ag_json_integer(body, "interval", &out->interval) || out->interval < 0 || out->interval > 3600)) {
		ag_log(log, LOG_ERR, "device: authorization response interval malformed");
		err = AG_ERR_PROTOCOL;
	}
	/* Never faster than once a second, whatever the issuer says. */
	if (out->interval < 1)
		out->interval = 1;
	ag_json_wipe(body);
	json_decref(body);
	if (err != AG_OK)
		ag_device_auth_clear(out);
	return err;
}

enum ag_err ag_device_authorize(struct ag_oidc *o, const char *scopes, struct ag_device_auth *out)
{
	const char *fields[] = { "scope", scopes, NULL };
	const struct ag_discovery *d;
	struct ag_http_response resp = { 0 };
	enum ag_err err;

	memset(out, 0, sizeof *out);
	err = ag_oidc_discovery(o, &d);
	if (err != AG_OK)
		return err;
	if (!d->device_authorization_endpoint) {
		ag_log(o->log, LOG_ERR, "device: the issuer advertises no device_authorization_endpoint; "
					"device login is unavailable (password login is not affected)");
		return AG_ERR_UNSUPPORTED;
	}
	/* §3.1: scope, and the client's credentials as at the token endpoint. */
	err = ag_oidc_post_form(o, d->device_authorization_endpoint, fields, &resp);
	if (err != AG_OK)
		return err;
	if (resp.status == 200)
		err = ag_device_auth_parse(&resp, o->http, o->log, out);
	else
		err = ag_oauth_error_parse(&resp, o->log, "device authorization", NULL);
	if (err == AG_OK)
		ag_log(o->log, LOG_DEBUG, "device: code issued, expires in %lld s, interval %lld s", out->expires_in,
		       out->interval);
	ag_http_response_clear(&resp);
	return err;
}

enum ag_err ag_device_poll(struct ag_oidc *o, const struct ag_device_auth *a, double deadline_ms,
			   struct ag_tokens *out, enum ag_device_outcome *outcome, long *polls)
{
	const char *fields[] = {
		"grant_type", AG_DEVICE_GRANT_TYPE,
		"device_code", a->device_code,
		NULL,
	};
	char code[AG_OAUTH_ERROR_MAX];
	long long interval = a->interval;
	enum ag_err err, last = AG_OK;

	memset(out, 0, sizeof *out);
	*outcome = AG_DEVICE_FAILED;
	/* login_timeout bounds the waits between polls too */
	if (ag_clock_ms(o->clock) + (double)ag_http_remaining_ms(o->http) < deadline_ms)
		deadline_ms = ag_clock_ms(o->clock) + (double)ag_http_remaining_ms(o->http);
	*polls = 0;
	for (;;) {
		double next;

		if (ag_clock_ms(o->clock) >= deadline_ms)
			break;
		err = ag_token_request(o, fields, out, code);
		(*polls)++;
		if (err == AG_OK) {
			if (!out->id_token) {
				ag_log(o->log, LOG_ERR, "device: token response without an id_token (is openid in device_scopes?)");
				ag_tokens_clear(out);
				return AG_ERR_PROTOCOL;
			}
			*outcome = AG_DEVICE_APPROVED;
			return AG_OK;
		}
		last = err;
		if (err == AG_ERR_OAUTH && strcmp(code, "authorization_pending") == 0) {
			/* §3.5: keep polling at the interval */
		} else if (err == AG_ERR_OAUTH && strcmp(code, "slow_down") == 0) {
			/* RFC 8628 §3.5: slow_down adds 5 s to the interval, for this and every later poll */
			interval += AG_DEVICE_SLOW_DOWN;
		} else if (err == AG_ERR_OAUTH && strcmp(code, "access_denied") == 0) {
			*outcome = AG_DEVICE_DENIED;
			return AG_ERR_DENIED;
		} else if (err == AG_ERR_OAUTH && strcmp(code, "expired_token") == 0) {
			*outcome = AG_DEVICE_EXPIRED;
			return AG_ERR_INVALID_GRANT;
		} else if (err == AG_ERR_TIMEOUT) {
			/* §3.5: back off exponentially after a connection timeout */
			interval *= 2;
		} else {
			return err;
		}
		/* Counted from the answer, so the issuer never sees two polls closer than the interval. */
		next = ag_clock_ms(o->clock) + (double)interval * 1000.0;
		if (next >= deadline_ms)
			break;
		ag_clock_sleep_until(o->clock, next);
	}
	if (last == AG_ERR_TIMEOUT)
		return AG_ERR_TIMEOUT; /* the issuer stopped answering: unavailable, not a refusal */
	ag_log(o->log, LOG_NOTICE, "device: not approved before the deadline (%ld polls)", *polls);
	*outcome = AG_DEVICE_TIMED_OUT;
	return AG_ERR_INVALID_GRANT;
}
