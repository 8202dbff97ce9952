/* The conversation with the person signing in, as the core sees it: the PAM
 * module implements it with pam_prompt(), the CLI with the terminal. */
#ifndef AG_CONV_H
#define AG_CONV_H

#include "base/error.h"

enum ag_conv_style {
	AG_CONV_SECRET,   /* a prompt whose answer is not echoed (password, code) */
	AG_CONV_VISIBLE,  /* a prompt whose answer is echoed */
	AG_CONV_INFO,     /* a line to show */
	AG_CONV_ERROR,    /* a line to show as an error */
};

struct ag_conv {
	/* For prompts *answer receives a malloc'd string the core wipes and
	 * frees; for lines answer is NULL. AG_ERR_CONV when the person or the
	 * conversation is gone. */
	enum ag_err (*talk)(void *ctx, enum ag_conv_style style, const char *text, char **answer);
	void *ctx;
};

#endif
