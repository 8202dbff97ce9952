/* Lists of strings (see strv.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/strv.h"

void ag_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

bool ag_strv_add_unique(const char *item, void *ctx)
{
	struct ag_strv *s = ctx;
	char **v;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], item) == 0)
			return true;
	v = realloc(s->v, (s->n + 1) * sizeof *v);
	if (!v || !(v[s->n] = strdup(item))) {
		if (v)
			s->v = v;
		s->failed = true;
		return false;
	}
	s->v = v;
	s->n++;
	return true;
}
