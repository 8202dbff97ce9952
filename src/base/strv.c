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

bool ag_strv_push(char ***v, size_t *n, const char *item)
{
	char **nv = realloc(*v, (*n + 1) * sizeof *nv);

	if (!nv)
		return false;
	*v = nv;
	if (!(nv[*n] = strdup(item)))
		return false;
	(*n)++;
	return true;
}

bool ag_strv_set(char ***v, size_t *n, char *const *items, size_t n_items)
{
	char **nv = calloc(n_items ? n_items : 1, sizeof *nv);

	if (!nv)
		return false;
	for (size_t i = 0; i < n_items; i++)
		if (!(nv[i] = strdup(items[i]))) {
			ag_strv_free(nv, i);
			return false;
		}
	ag_strv_free(*v, *n);
	*v = nv;
	*n = n_items;
	return true;
}

bool ag_strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

bool ag_strv_add_unique(const char *item, void *ctx)
{
	struct ag_strv *s = ctx;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], item) == 0)
			return true;
	if (!ag_strv_push(&s->v, &s->n, item)) {
		s->failed = true;
		return false;
	}
	return true;
}
