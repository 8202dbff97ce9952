/* Unix names and the allow-list (see names.h). */
#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "common/names.h"

bool ag_name_valid(const char *name)
{
	size_t n = name ? strnlen(name, AG_NAME_MAX + 1) : 0;

	if (n == 0 || n > AG_NAME_MAX)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

const char *ag_list_next(const char **cur, size_t *n)
{
	const char *p = *cur;

	if (!p)
		return NULL;
	p += strspn(p, AG_LIST_SEPARATORS);
	*n = strcspn(p, AG_LIST_SEPARATORS);
	*cur = p + *n;
	return *n ? p : NULL;
}

bool ag_name_allowed(const char *list, const char *name)
{
	char pattern[256];
	size_t n;

	if (!list || !ag_name_valid(name))
		return false;
	for (const char *cur = list, *p; (p = ag_list_next(&cur, &n));) {
		if (n < sizeof pattern) {
			memcpy(pattern, p, n);
			pattern[n] = '\0';
			if (fnmatch(pattern, name, FNM_NOESCAPE) == 0)
				return true;
		}
	}
	return false;
}

struct listed_check {
	const char *name;
	bool found;
};

static bool listed_one(const char *entry, void *ctx)
{
	struct listed_check *c = ctx;

	c->found = strcmp(entry, c->name) == 0;
	return !c->found;
}

bool ag_name_listed(const char *list, const char *name)
{
	struct listed_check c = { name, false };

	if (!list || !ag_name_valid(name))
		return false;
	ag_name_list_each(list, listed_one, &c);
	return c.found;
}

bool ag_name_expand(const char *tmpl, const char *name, char *out, size_t len)
{
	size_t n = 0;

	if (!tmpl || !name || len == 0)
		return false;
	for (const char *p = tmpl; *p; p++) {
		const char *piece = p;
		size_t k = 1;

		if (*p == '%' && p[1] == 'u') {
			piece = name;
			k = strlen(name);
			p++;
		} else if (*p == '%' && p[1] == '%') {
			p++;
		} else if (*p == '%') {
			return false;
		}
		if (k >= len - n)
			return false;
		memcpy(out + n, piece, k);
		n += k;
	}
	out[n] = '\0';
	return true;
}

void ag_name_list_each(const char *list, bool (*fn)(const char *name, void *ctx), void *ctx)
{
	char name[AG_NAME_MAX + 1];
	size_t n;

	for (const char *cur = list, *p; (p = ag_list_next(&cur, &n));) {
		if (n <= AG_NAME_MAX) {
			memcpy(name, p, n);
			name[n] = '\0';
			if (!fn(name, ctx))
				return;
		}
	}
}

struct list_check {
	size_t n;
	bool ok;
};

static bool check_one(const char *name, void *ctx)
{
	struct list_check *c = ctx;

	c->n++;
	c->ok = c->ok && ag_name_valid(name);
	return true;
}

bool ag_name_list_valid(const char *list, size_t max)
{
	struct list_check c = { 0, true };
	size_t n;

	if (!list)
		return false;
	/* A piece longer than a name is skipped by ag_name_list_each: count it here. */
	for (const char *cur = list; ag_list_next(&cur, &n);)
		if (n > AG_NAME_MAX)
			return false;
	ag_name_list_each(list, check_one, &c);
	return c.ok && c.n > 0 && c.n <= max;
}

long ag_name_search(size_t n, const char *name, const char *(*name_at)(const void *ctx, size_t i), const void *ctx)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *s = name_at(ctx, mid);
		int c;

		if (!s)
			return -2;
		c = strcmp(s, name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
