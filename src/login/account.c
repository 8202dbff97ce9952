/* The account check (account.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "login/account.h"

static enum ag_err join(char *const *v, size_t n, char **out)
{
	struct ag_buf b = AG_BUF_INIT(64 * 1024);

	for (size_t i = 0; i < n; i++)
		ag_buf_join(&b, ",", v[i]);
	*out = ag_buf_str(&b) ? strdup(ag_buf_str(&b)) : NULL;
	ag_buf_free(&b);
	return *out ? AG_OK : AG_ERR_NOMEM;
}

enum ag_err ag_account_cache_from(struct ag_token_cache *c, const struct ag_tokens *tokens,
				  const struct ag_claims *claims, long long now, bool login)
{
	enum ag_err err;

	memset(c, 0, sizeof *c);
	c->refresh_token = tokens->refresh_token;
	c->access_token = tokens->access_token;
	c->id_token = tokens->id_token;
	c->access_expires = tokens->expires_in > 0 ? now + tokens->expires_in : 0;
	c->sub = claims->sub;
	c->auth_time = claims->auth_time;
	c->login_at = login ? now : 0;
	c->checked_at = now;
	c->check_ok_at = now;
	snprintf(c->check_result, sizeof c->check_result, "%s", login ? "login" : "ok");
	err = join(claims->amr, claims->n_amr, &c->amr);
	if (err == AG_OK)
		err = join(claims->roles, claims->n_roles, &c->roles);
	if (err != AG_OK)
		ag_account_cache_release(c);
	return err;
}

void ag_account_cache_release(struct ag_token_cache *c)
{
	free(c->amr);
	free(c->roles);
	memset(c, 0, sizeof *c);
}
