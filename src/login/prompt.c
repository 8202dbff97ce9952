/* The conversation every login method holds with the person, and its step
 * timing (see login.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/http.h"
#include "login/login.h"
#include "oidc/oidc.h"

enum ag_err ag_login_ask(struct ag_login *l, enum ag_conv_style style, const char *prompt, char **answer)
{
	enum ag_err err = l->conv->talk(l->conv->ctx, style, prompt, answer);

	if (err == AG_OK && !*answer)
		err = AG_ERR_CONV;
	return err;
}

enum ag_err ag_login_tell(struct ag_login *l, const char *text)
{
	return l->conv->talk(l->conv->ctx, AG_CONV_INFO, text, NULL); /* a line: no answer (conv.h) */
}

enum ag_err ag_login_choose(struct ag_login *l, const char *menu, int n, int *choice)
{
	char prompt[48], line[48], *answer = NULL, *end;
	long k;
	enum ag_err err;

	*choice = 1;
	if (n == 2) {
		snprintf(prompt, sizeof prompt, "Choose 1 or 2 [1]: ");
		snprintf(line, sizeof line, "Please answer 1 or 2.");
	} else {
		snprintf(prompt, sizeof prompt, "Choose 1 to %d [1]: ", n);
		snprintf(line, sizeof line, "Please answer a number from 1 to %d.", n);
	}
	err = ag_login_tell(l, menu);
	if (err == AG_OK)
		err = ag_login_ask(l, AG_CONV_VISIBLE, prompt, &answer);
	if (err != AG_OK)
		return err;
	if (answer[0]) {
		k = strtol(answer, &end, 10);
		/* digits only: no sign, no spaces, no leading zero */
		if (answer[0] < '1' || answer[0] > '9' || *end || k > n)
			err = ag_login_deny(l, AG_ERR_CREDENTIALS, line);
		else
			*choice = (int)k;
	}
	free(answer);
	return err;
}

void ag_login_step(struct ag_login *l, const char *name)
{
	double t = ag_clock_ms(l->clock), net = l->o ? ag_http_wait_ms(l->o->http) : 0;

	if (l->on_step)
		l->on_step(l->step_ctx, name, t - l->t_step, net - l->network_step);
	l->t_step = t;
	l->network_step = net;
}
