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

bool ag_name_allowed(const char *list, const char *name)
{
	char pattern[256];

	if (!list || !ag_name_valid(name))
		return false;
	for (const char *p = list; *p;) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (n < sizeof pattern) {
			memcpy(pattern, p, n);
			pattern[n] = '\0';
			if (fnmatch(pattern, name, FNM_NOESCAPE) == 0)
				return true;
		}
		p += n;
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

	for (const char *p = list; p && *p;) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (n <= AG_NAME_MAX) {
			memcpy(name, p, n);
			name[n] = '\0';
			if (!fn(name, ctx))
				return;
		}
		p += n;
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

	if (!list)
		return false;
	/* A piece longer than a name is skipped by ag_name_list_each: count it here. */
	for (const char *p = list; *p;) {
		size_t n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n > AG_NAME_MAX)
			return false;
		p += n;
	}
	ag_name_list_each(list, check_one, &c);
	return c.ok && c.n > 0 && c.n <= max;
}
