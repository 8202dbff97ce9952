/* Signing a Unix user in with Authgear: whose login it is, the password +
 * TOTP path through the Authentication Flow API (authgear-protocol.md §12),
 * and the checks every login method ends with. */
#ifndef AG_LOGIN_H
#define AG_LOGIN_H

#include <stdbool.h>

#include "accounts/store.h"
#include "base/conf.h"
#include "base/error.h"
#include "base/log.h"
#include "jose/claims.h"
#include "login/conv.h"
#include "login/policy.h"
#include "oidc/clock.h"
#include "oidc/token.h"

#define AG_LOGIN_LINE_MAX 256
/* The throttle: max_attempts_per_minute per (name, PAM_RHOST), and this
 * many times that per name from all sources together. */
#define AG_LOGIN_NAME_CAP_FACTOR 4

struct ag_oidc;
struct ag_store;

struct ag_login {
	/* set by the caller */
	const struct ag_config *cfg;
	const struct ag_log *log;
	const struct ag_conv *conv;
	const char *user;                  /* the Unix name, already checked to be ours */
	const char *rhost;                 /* PAM_RHOST (the throttle's key, device_from); NULL or "": local */
	/* optional: called after each step with its name, its duration and the
	 * part of it (or, prewarmed, of the typing before it) spent waiting on
	 * the network (CLI) */
	void (*on_step)(void *ctx, const char *step, double ms, double network_ms);
	void *step_ctx;
	/* optional: the clock (NULL: ag_clock_system); tests set their own */
	const struct ag_clock *clock;

	/* the outcome */
	char line[AG_LOGIN_LINE_MAX];      /* one plain line for the person when it failed */
	char method[16];                   /* "password", "device" */
	char tracking_id[128];             /* Authgear's, when a response had one */
	struct ag_claims claims;           /* the verified ID token's claims on success */
	long requests;                     /* HTTPS requests made */
	long connections;                  /* TLS connections opened */
	double network_ms;                 /* time inside HTTPS requests */

	/* sudo reauthentication (ag_login_reauth): every method asks Authgear
	 * for a fresh authentication (prompt=login, max_age=0) and
	 * ag_login_finish checks it (sub = bound_sub, auth_time from
	 * reauth_start, reauth_max_age) */
	bool reauth;
	const char *reauth_mode;           /* reauth_with as run: "code", "password", "full", "device" */
	long long reauth_start;
	char *bound_sub;
	const char *reauth_scopes;         /* NULL: the configured scopes (scopes, device_scopes) */

	/* internal */
	struct ag_oidc *o;
	struct ag_store *store;
	/* login_timeout's end (CLOCK_MONOTONIC), set at the call's first wait:
	 * the store's lock waits and every request draw from it */
	struct timespec deadline;
	bool deadline_set;
	double t_step;
	double network_step;               /* network time at the last step */
};

/* How a login method proved who signed in, for ag_login_finish. */
struct ag_login_proof {
	const char *nonce;          /* the authorization request's; NULL when it had none */
	bool second_factor_proven;  /* the client saw a second factor pass */
	enum ag_mfa_rule rule;
	/* No login ID was typed (device): the account that approved must be the
	 * Unix name's, username_claim at userinfo with the ID token's sub. */
	bool name_from_userinfo;
	/* The second factor the client saw pass, remembered for the next login's
	 * order (NULL: this method cannot tell; the remembered one stays). */
	const enum ag_store_factor *factor;
	/* A reauthentication with one factor: the amr value it must show ("otp":
	 * "otp" or "mfa"; "pwd"), instead of the login policy. */
	const char *reauth_amr;
};

/* Whether user is handled by pam_authgear: a valid name that is allow-listed
 * (users = ...) or already bound in the store. No network, no prompt. */
bool ag_login_is_ours(const struct ag_config *cfg, const struct ag_log *log, const char *user);

/* Whether user resolves through NSS (getpwnam), checked before any request:
 * sshd runs the stack for a name it cannot resolve ("Invalid user") and
 * answers every prompt with a placeholder, which must not cost an attempt
 * at Authgear (and a step towards its lockout of the real account). Outside
 * sshd, a name only a pattern of users matches also counts before its
 * first login (the NSS module shows it to sshd only), and so does any name
 * of users while the host has no NSS index at all (a fresh install: the
 * first login writes it). False: logged with what to fix. */
bool ag_login_resolves(const struct ag_config *cfg, const struct ag_log *log, const char *user);

/* The password + TOTP login. first_password (may be NULL) is the password an
 * earlier module collected (use_first_pass / try_first_pass); without one the
 * person is asked. On failure l->line says why in one line. */
enum ag_err ag_login_password(struct ag_login *l, const char *first_password);

/* The end of every login method, given the tokens it obtained: verify the
 * ID token (proof->nonce when not NULL), the policy (policy.h), the name at
 * userinfo when proof->name_from_userinfo, then bind or check the name <->
 * sub binding. The one place a login holds all its tokens. */
enum ag_err ag_login_finish(struct ag_login *l, const struct ag_tokens *tokens, const struct ag_login_proof *proof);

/* For ag_login_finish (login_device.c): username_claim at userinfo for the
 * access token must name l->user, with the ID token's sub. */
enum ag_err ag_login_userinfo_name(struct ag_login *l, const struct ag_tokens *tokens);

/* For the login methods: open the store and apply the local throttle
 * (ag_login_begin), then count a failure, log the audit line and set the
 * person's line (ag_login_end; a lost conversation counts only when
 * count_conv). ag_login_deny records the person's line; the first one wins. */
enum ag_err ag_login_begin(struct ag_login *l, const char *method);
void ag_login_end(struct ag_login *l, enum ag_err err, bool count_conv);
enum ag_err ag_login_deny(struct ag_login *l, enum ag_err err, const char *line);

/* sudo's reauthentication of l->user (pam_authgear.so reauth): Authgear's
 * reauth flow with the cached ID token as id_token_hint, asking what
 * reauth_with says (authgear-protocol.md §2.3, §3.11); without a cached ID
 * token a full login. The ID token must be the bound user's, authenticated
 * now; the cache gets the new ID token and auth_time. */
enum ag_err ag_login_reauth(struct ag_login *l);

/* The device-code login (RFC 8628): URL and user code, then the QR code, as
 * info messages, "Press Enter" (or "new" for a new code), polling, the
 * verified tokens, and username_claim from userinfo against the Unix name. */
enum ag_err ag_login_device(struct ag_login *l);

/* With methods = password, device: ask which one (a short numbered choice).
 * *device says whether the person chose the device login. */
enum ag_err ag_login_choose_method(struct ag_login *l, bool *device);

/* The conversation of the login methods (prompt.c). ag_login_ask: a prompt;
 * an answer that did not come is AG_ERR_CONV. ag_login_tell: a line.
 * ag_login_choose: menu as a line, then "Choose 1 or 2 [1]: " (n = 2) or
 * "Choose 1 to n [1]: "; *choice is 1..n, an empty answer 1; anything else is
 * denied with a line saying what to answer. ag_login_step: the step called
 * name ended (on_step gets its duration). */
enum ag_err ag_login_ask(struct ag_login *l, enum ag_conv_style style, const char *prompt, char **answer);
enum ag_err ag_login_tell(struct ag_login *l, const char *text);
enum ag_err ag_login_choose(struct ag_login *l, const char *menu, int n, int *choice);
void ag_login_step(struct ag_login *l, const char *name);

/* Open l->o on l's configuration and clock. */
enum ag_err ag_login_oidc(struct ag_login *l);

/* Whether a password login of l->user may authorize while the person types
 * (login/prewarm.h): listed in users by its exact name (not only by a
 * pattern) or bound in l->store. */
bool ag_login_prewarm_wanted(const struct ag_login *l);

/* Release what l holds (claims, connections). */
void ag_login_clear(struct ag_login *l);

#endif
