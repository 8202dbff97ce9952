/* Signing a Unix user in with Authgear: whose login it is, the password +
 * TOTP path through the Authentication Flow API (authgear-protocol.md §12),
 * and the checks every login method ends with. */
#ifndef AG_LOGIN_H
#define AG_LOGIN_H

#include <stdbool.h>

#include "base/conf.h"
#include "base/error.h"
#include "base/log.h"
#include "jose/claims.h"
#include "login/conv.h"

#define AG_LOGIN_LINE_MAX 256

struct ag_oidc;
struct ag_store;

struct ag_login {
	/* set by the caller */
	const struct ag_config *cfg;
	const struct ag_log *log;
	const struct ag_conv *conv;
	const char *user;                  /* the Unix name, already checked to be ours */
	/* optional: called after each step with its name and duration (CLI) */
	void (*on_step)(void *ctx, const char *step, double ms);
	void *step_ctx;

	/* the outcome */
	char line[AG_LOGIN_LINE_MAX];      /* one plain line for the person when it failed */
	char method[16];                   /* "password", "device" */
	char tracking_id[128];             /* Authgear's, when a response had one */
	struct ag_claims claims;           /* the verified ID token's claims on success */
	long requests;                     /* HTTPS requests made */
	long connections;                  /* TLS connections opened */

	/* internal */
	struct ag_oidc *o;
	struct ag_store *store;
	double t_step;
	/* a method's own check, run by ag_login_finish after the policy checks
	 * and before the name is bound (device: the username claim) */
	enum ag_err (*before_bind)(struct ag_login *l, void *ctx);
	void *before_bind_ctx;
};

/* What proves a second factor for require_mfa. */
enum ag_mfa_rule {
	/* the client saw a second factor pass AND amr contains "mfa" (password path) */
	AG_MFA_SEEN_AND_AMR,
	/* amr alone, against the configuration's mfa_amr combinations (default
	 * RFC 8176 §2: "mfa", or "pwd" with "otp", "hwk", "swk" or "sms"); the
	 * device path, where the factors were proven at the issuer */
	AG_MFA_AMR_FACTORS,
};

/* Whether user is handled by pam_authgear: a valid name that is allow-listed
 * (users = ...) or already bound in the store. No network, no prompt. */
bool ag_login_is_ours(const struct ag_config *cfg, const struct ag_log *log, const char *user);

/* The password + TOTP login. first_password (may be NULL) is the password an
 * earlier module collected (use_first_pass / try_first_pass); without one the
 * person is asked. On failure l->line says why in one line. */
enum ag_err ag_login_password(struct ag_login *l, const char *first_password);

/* The end of every login method: verify the ID token (nonce when not NULL),
 * refuse anonymous users, require_roles, require_mfa by rule
 * (second_factor_proven says whether the client saw a second factor pass),
 * the method's before_bind check, then bind or check the name <-> sub
 * binding. */
enum ag_err ag_login_finish(struct ag_login *l, const char *id_token, const char *nonce,
			    bool second_factor_proven, enum ag_mfa_rule rule);

/* For the login methods: open the store and apply the local throttle
 * (ag_login_begin), then count a failure, log the audit line and set the
 * person's line (ag_login_end; a lost conversation counts only when
 * count_conv). ag_login_deny records the person's line; the first one wins. */
enum ag_err ag_login_begin(struct ag_login *l, const char *method);
void ag_login_end(struct ag_login *l, enum ag_err err, bool count_conv);
enum ag_err ag_login_deny(struct ag_login *l, enum ag_err err, const char *line);

/* The device-code login (RFC 8628): URL and user code, then the QR code, as
 * info messages, "Press Enter" (or "new" for a new code), polling, the
 * verified tokens, and username_claim from userinfo against the Unix name. */
enum ag_err ag_login_device(struct ag_login *l);

/* With methods = password, device: ask which one (a short numbered choice).
 * *device says whether the person chose the device login. */
enum ag_err ag_login_choose_method(struct ag_login *l, bool *device);

/* Release what l holds (claims, connections). */
void ag_login_clear(struct ag_login *l);

#endif
