/* Secret wiping (see secret.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/secret.h"

void ag_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void ag_free_secret(char *s)
{
	if (!s)
		return;
	ag_wipe(s, strlen(s));
	free(s);
}

void ag_free_secret_n(void *p, size_t n)
{
	if (!p)
		return;
	ag_wipe(p, n);
	free(p);
}
