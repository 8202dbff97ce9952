/* Signing a Unix user in with Authgear: whose login it is, the password +
 * TOTP path through the Authentication Flow API (authgear-protocol.md §12),
 * and the checks every login method ends with. */
#ifndef AG_LOGIN_H
#define AG_LOGIN_H

#include <stdbool.h>

#include "claims.h"
#include "conf.h"
#include "conv.h"
#include "error.h"
#include "log.h"

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
};

/* Whether user is handled by pam_authgear: a valid name that is allow-listed
 * (users = ...) or already bound in the store. No network, no prompt. */
bool ag_login_is_ours(const struct ag_config *cfg, const struct ag_log *log, const char *user);

/* The password + TOTP login. first_password (may be NULL) is the password an
 * earlier module collected (use_first_pass / try_first_pass); without one the
 * person is asked. On failure l->line says why in one line. */
enum ag_err ag_login_password(struct ag_login *l, const char *first_password);

/* The end of every login method: verify the ID token (nonce when not NULL),
 * refuse anonymous users, require_roles, require_mfa (second_factor_proven
 * says whether the client saw a second factor pass; the token's amr must
 * prove it too), then bind or check the name <-> sub binding. */
enum ag_err ag_login_finish(struct ag_login *l, const char *id_token, const char *nonce,
			    bool second_factor_proven);

/* Release what l holds (claims, connections). */
void ag_login_clear(struct ag_login *l);

#endif
