/* The host's groups listed once (see host_groups.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/host_groups.h"
#include "common/names.h"

/* A group's entry (its member list included) larger than this stops the
 * list: a [roles] group of 1,000,000 members with 32-byte names fits. */
#define ENTRY_MAX (64 * 1024 * 1024)

static enum ag_err add(struct ag_host_groups *g, size_t *cap, const char *name, uint32_t gid)
{
	if (g->n == *cap) {
		size_t grow = *cap ? *cap * 2 : 256;
		struct ag_host_group *v = realloc(g->v, grow * sizeof *v);

		if (!v)
			return AG_ERR_NOMEM;
		g->v = v;
		*cap = grow;
	}
	if (!(g->v[g->n].name = strdup(name)))
		return AG_ERR_NOMEM;
	g->v[g->n].gid = gid;
	g->v[g->n].seq = g->n;
	g->n++;
	return AG_OK;
}

static int by_name_seq(const void *a, const void *b)
{
	const struct ag_host_group *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sort by name and keep each name's first entry. */
static void first_of_each(struct ag_host_groups *g)
{
	size_t k = 0;

	if (g->n == 0)
		return;
	qsort(g->v, g->n, sizeof *g->v, by_name_seq);
	for (size_t i = 1; i < g->n; i++) {
		if (strcmp(g->v[i].name, g->v[k].name) == 0)
			free(g->v[i].name);
		else
			g->v[++k] = g->v[i];
	}
	g->n = k + 1;
}

enum ag_err ag_host_groups_list(struct ag_host_groups *out, bool *complete)
{
	size_t len = 16384, cap = 0;
	char *buf = malloc(len);
	enum ag_err err = AG_OK;

	memset(out, 0, sizeof *out);
	*complete = false;
	if (!buf)
		return AG_ERR_NOMEM;
	setgrent();
	while (err == AG_OK) {
		struct group gr, *grr = NULL;
		int rc = getgrent_r(&gr, buf, len, &grr);

		if (rc == ERANGE && len < ENTRY_MAX) {
			/* the same entry again (getgrent_r keeps its place) */
			free(buf);
			if (!(buf = malloc(len *= 2)))
				err = AG_ERR_NOMEM;
			continue;
		}
		if (rc == ENOENT || (rc == 0 && !grr))
			*complete = true;
		if (rc != 0 || !grr)
			break;
		err = add(out, &cap, grr->gr_name, (uint32_t)grr->gr_gid);
	}
	endgrent();
	free(buf);
	if (err != AG_OK) {
		ag_host_groups_free(out);
		return err;
	}
	first_of_each(out);
	return AG_OK;
}

static const char *group_name(const void *g, size_t i)
{
	return ((const struct ag_host_groups *)g)->v[i].name;
}

bool ag_host_groups_gid(const struct ag_host_groups *g, const char *name, uint32_t *gid)
{
	long at = ag_name_search(g->n, name, group_name, g);

	if (at < 0)
		return false;
	*gid = g->v[at].gid;
	return true;
}

void ag_host_groups_free(struct ag_host_groups *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].name);
	free(g->v);
	memset(g, 0, sizeof *g);
}
