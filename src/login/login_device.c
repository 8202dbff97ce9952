/* The device-code login (RFC 8628) as the person sees it, and the choice
 * between the login methods. The protocol is in device.c, the drawing of the
 * QR code in qr.c, the checks every login ends with in login.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/addr.h"
#include "base/json.h"
#include "base/secret.h"
#include "common/names.h"
#include "login/login.h"
#include "login/qr.h"
#include "oidc/device.h"
#include "oidc/oidc.h"
#include "oidc/token.h"

#define DEVICE_NEW_CODES_MAX 3 /* "new" answers honoured in one attempt */
#define PRESS_ENTER "Press Enter once you have approved the sign-in (or type 'new' for a new code): "

/* device_from: whoever starts a device login chooses where the approval
 * lands (RFC 8628 §5.4: an attacker's `ssh victim@host` forwards the code to
 * the victim), so the admin may allow it only from the console or known
 * networks. */
static bool device_allowed_here(const struct ag_login *l)
{
	return !l->cfg->device_from || ag_addr_list_match(l->cfg->device_from, l->rhost);
}

static const char *where(const struct ag_login *l)
{
	return l->rhost && l->rhost[0] ? l->rhost : "the console";
}

enum ag_err ag_login_choose_method(struct ag_login *l, bool *device)
{
	int choice = 1;
	enum ag_err err;

	*device = ag_config_has_method(l->cfg, "device");
	if (!*device || !ag_config_has_method(l->cfg, "password"))
		return AG_OK;
	if (!device_allowed_here(l)) {
		ag_log(l->log, LOG_INFO, "device: not offered to %s from %.64s (device_from)", l->user, where(l));
		*device = false;
		return AG_OK;
	}
	err = ag_login_choose(l, "Sign in: 1) Approve on your phone (QR)  2) Password and code", 2, &choice);
	if (err == AG_OK && choice == 2)
		*device = false;
	return err;
}

/* The first message: where to go and the code to type, spaced out so that
 * it reads at a glance, and on the same line as the issuer wrote it, for
 * copying into a browser field that may not accept the spaced form; its own
 * message, short enough for any conversation. */
static enum ag_err show_code(struct ag_login *l, const struct ag_device_auth *a)
{
	char spaced[2 * AG_DEVICE_USER_CODE_MAX + 1], host[256] = "", *text;
	size_t n = 0, len;
	enum ag_err err;

	/* Where and as whom: a person asked to approve someone else's request
	 * (device-code phishing) can see that it is not their own sign-in. */
	if (gethostname(host, sizeof host) != 0 || !host[0])
		snprintf(host, sizeof host, "this host");
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';

	for (const char *c = a->user_code; *c; c++) {
		if (n)
			spaced[n++] = ' ';
		spaced[n++] = *c;
	}
	spaced[n] = '\0';
	len = strlen(a->verification_uri) + n + strlen(a->user_code) + strlen(host) + strlen(l->user) + 128;
	text = malloc(len);
	if (!text) {
		ag_wipe(spaced, sizeof spaced);
		return AG_ERR_NOMEM;
	}
	snprintf(text, len, "To sign in to %s as %s, open %s\nand enter the code:\n\n    %s   (%s)", host, l->user,
		 a->verification_uri, spaced, a->user_code);
	err = ag_login_tell(l, text);
	ag_free_secret_n(text, len);
	ag_wipe(spaced, sizeof spaced);
	return err;
}

/* The second message: the QR code of the complete URI (the code filled in),
 * else of the URI; left out when off or wider than a terminal. */
static enum ag_err show_qr(struct ag_login *l, const struct ag_device_auth *a)
{
	const char *target = a->verification_uri_complete ? a->verification_uri_complete : a->verification_uri;
	size_t columns = 0;
	char *qr = NULL;
	enum ag_err err;

	if (!l->cfg->qr)
		return AG_OK;
	err = ag_qr_text(target, l->cfg->qr_invert, AG_QR_MAX_COLUMNS, &qr, &columns, NULL);
	if (err == AG_ERR_TOO_LARGE || err == AG_ERR_INVALID_ARG) {
		ag_log(l->log, LOG_INFO, "device: QR code left out (%zu columns, over %d)", columns, AG_QR_MAX_COLUMNS);
		return AG_OK;
	}
	if (err == AG_ERR_UNSUPPORTED) {
		/* the URL and the code above are enough to go on */
		ag_log(l->log, LOG_WARNING, "device: QR code left out: %s", ag_qr_unavailable());
		return AG_OK;
	}
	if (err != AG_OK)
		return err;
	err = ag_login_tell(l, qr);
	ag_free_secret(qr); /* it carries the user code */
	return err;
}

/* A device authorization, shown; "new" asks for another. *answer_new says
 * the person asked for a new code. */
static enum ag_err offer_code(struct ag_login *l, struct ag_device_auth *a, double *issued_ms, bool *answer_new)
{
	char *answer = NULL;
	enum ag_err err;

	*answer_new = false;
	err = ag_device_authorize(l->o, l->reauth_scopes ? l->reauth_scopes : l->cfg->device_scopes, a);
	*issued_ms = ag_clock_ms(l->clock);
	ag_login_step(l, "device authorization");
	if (err == AG_OK)
		err = show_code(l, a);
	if (err == AG_OK)
		err = show_qr(l, a);
	/* sshd shows info text only with the next prompt (OpenSSH bug 2876). */
	if (err == AG_OK)
		err = ag_login_ask(l, AG_CONV_VISIBLE, PRESS_ENTER, &answer);
	if (err == AG_OK) {
		const char *s = answer + strspn(answer, " \t");
		*answer_new = strncasecmp(s, "new", 3) == 0 && s[3 + strspn(s + 3, " \t")] == '\0';
	}
	free(answer);
	ag_login_step(l, "approval");
	return err;
}

/* No login ID was typed, so the account that approved must be the Unix
 * name's (username_claim at userinfo, same sub as the ID token): the claim
 * equals the Unix name; for "email", a verified address equal as a whole to
 * the login_id template filled in with it (the identity the password login
 * names: %u@corp.example), never just its local part, which anyone can
 * have at their own domain. */
enum ag_err ag_login_userinfo_name(struct ag_login *l, const struct ag_tokens *tokens)
{
	const char *claim = l->cfg->username_claim, *value, *sub;
	bool email = strcmp(claim, "email") == 0, verified = false, ok;
	char line[AG_LOGIN_LINE_MAX], want[256];
	json_t *info = NULL;
	enum ag_err err;

	if (!email)
		snprintf(want, sizeof want, "%s", l->user);
	else if (!ag_name_expand(l->cfg->login_id, l->user, want, sizeof want)) {
		ag_log(l->log, LOG_ERR, "device: login_id does not expand for %s", l->user);
		return AG_ERR_CONFIG;
	}
	err = ag_userinfo(l->o, tokens->access_token, &info);
	ag_login_step(l, "userinfo");
	if (err != AG_OK)
		return err;
	sub = ag_json_string(info, "sub", 255);
	if (!sub || strcmp(sub, l->claims.sub) != 0) {
		ag_log(l->log, LOG_ERR, "device: userinfo sub differs from the ID token's; denying");
		err = AG_ERR_PROTOCOL;
		goto out;
	}
	value = ag_json_string(info, claim, 255);
	if (email && value && (!ag_json_bool(info, "email_verified", &verified) || !verified))
		value = NULL;
	ok = value && (email ? strcasecmp(value, want) == 0 : strcmp(value, want) == 0);
	if (!ok) {
		if (email)
			ag_log(l->log, LOG_NOTICE, "device: %s: approved by sub %s whose email (verified) is %s%.64s%s, "
						   "not '%s' (login_id); denying", l->user, l->claims.sub,
			       value ? "'" : "", value ? value : "absent", value ? "'" : "", want);
		else
			ag_log(l->log, LOG_NOTICE, "device: %s: approved by sub %s whose %s is %s%.64s%s; denying", l->user,
			       l->claims.sub, claim, value ? "'" : "", value ? value : "absent", value ? "'" : "");
		snprintf(line, sizeof line, "The account that approved the sign-in is not %s's.", l->user);
		err = ag_login_deny(l, AG_ERR_DENIED, line);
	}
out:
	json_decref(info);
	return err;
}

static enum ag_err device_exchange(struct ag_login *l)
{
	/* the factors were proven at the issuer; no login ID was typed */
	const struct ag_login_proof proof = { .rule = AG_MFA_AMR_FACTORS, .name_from_userinfo = true };
	struct ag_device_auth a = { 0 };
	struct ag_tokens tokens = { 0 };
	enum ag_device_outcome outcome = AG_DEVICE_FAILED;
	double start = ag_clock_ms(l->clock), issued, deadline;
	/* device_max_wait bounds the whole attempt: sshd's LoginGraceTime does. */
	double wait_deadline = start + (double)l->cfg->device_max_wait * 1000.0;
	bool again = false;
	long polls = 0;
	enum ag_err err;

	for (int codes = 0;; codes++) {
		err = offer_code(l, &a, &issued, &again);
		if (err != AG_OK || !again)
			break;
		ag_device_auth_clear(&a);
		if (codes + 1 > DEVICE_NEW_CODES_MAX) {
			err = ag_login_deny(l, AG_ERR_RATE_LIMITED, "Too many new codes; sign in again.");
			break;
		}
		if (ag_clock_ms(l->clock) >= wait_deadline) {
			err = ag_login_deny(l, AG_ERR_INVALID_GRANT, "The sign-in was not approved in time; sign in again "
								     "for a new code.");
			break;
		}
		ag_log(l->log, LOG_INFO, "device: %s asked for a new code", l->user);
	}
	if (err == AG_ERR_UNSUPPORTED)
		err = ag_login_deny(l, err, "Approving the sign-in on your phone is not available with this "
					    "sign-in service; use your password and code.");
	if (err != AG_OK)
		goto out;
	deadline = issued + (double)a.expires_in * 1000.0;
	if (deadline > wait_deadline)
		deadline = wait_deadline;
	err = ag_device_poll(l->o, &a, deadline, &tokens, &outcome, &polls);
	ag_device_auth_clear(&a); /* done with the codes, whatever happened */
	ag_login_step(l, "poll");
	ag_log(l->log, LOG_INFO, "device: %s: %ld poll%s", l->user, polls, polls == 1 ? "" : "s");
	switch (outcome) {
	case AG_DEVICE_DENIED:
		err = ag_login_deny(l, err, "The sign-in was denied.");
		break;
	case AG_DEVICE_EXPIRED:
		err = ag_login_deny(l, err, "The code has expired; sign in again for a new one.");
		break;
	case AG_DEVICE_TIMED_OUT:
		err = ag_login_deny(l, err, "The sign-in was not approved in time; sign in again for a new code.");
		break;
	default:
		break;
	}
	if (err != AG_OK)
		goto out;
	err = ag_login_finish(l, &tokens, &proof);
out:
	/* The refresh token is dropped until the token cache keeps it (roadmap). */
	ag_tokens_clear(&tokens);
	ag_device_auth_clear(&a);
	return err;
}

enum ag_err ag_login_device(struct ag_login *l)
{
	enum ag_err err;

	err = ag_login_begin(l, "device");
	if (err == AG_OK && !device_allowed_here(l)) {
		ag_log(l->log, LOG_NOTICE, "device: %s: a device login from %.64s is outside device_from; refused", l->user,
		       where(l));
		err = ag_login_deny(l, AG_ERR_DENIED, "Approving the sign-in on your phone is not allowed from here.");
	}
	if (err == AG_OK)
		err = ag_login_oidc(l);
	if (err == AG_OK)
		err = device_exchange(l);
	/* Every attempt made the issuer issue a code: a conversation dropped at
	 * the prompt (a scanner, sshd's junk answers) counts too. */
	ag_login_end(l, err, l->o != NULL);
	return err;
}
