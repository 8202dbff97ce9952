/* console and address ranges (see addr.h). */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "common/names.h"

#define WORD_MAX 64

struct range {
	int family;
	unsigned char addr[16];
	unsigned bits;
};

/* "ADDR" or "ADDR/BITS" (the host bits need not be zero). */
static bool parse_range(const char *word, struct range *r)
{
	char buf[WORD_MAX];
	char *slash, *end;
	unsigned long bits;
	unsigned max;

	if (snprintf(buf, sizeof buf, "%s", word) >= (int)sizeof buf)
		return false;
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, r->addr) == 1) {
		r->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, r->addr) == 1) {
		r->family = AF_INET6;
		max = 128;
	} else {
		return false;
	}
	r->bits = max;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			return false;
		bits = strtoul(slash + 1, &end, 10);
		if (*end || bits > max)
			return false;
		r->bits = (unsigned)bits;
	}
	return true;
}

static bool in_range(const struct range *r, int family, const unsigned char *addr)
{
	unsigned full = r->bits / 8, rest = r->bits % 8;

	if (family != r->family || memcmp(addr, r->addr, full) != 0)
		return false;
	return !rest || ((addr[full] ^ r->addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* Each word of list in turn; false from fn stops. */
static bool each_word(const char *list, bool (*fn)(const char *word, void *ctx), void *ctx)
{
	const char *cur = list, *item;
	char word[WORD_MAX];
	size_t n;

	while ((item = ag_list_next(&cur, &n))) {
		if (n >= sizeof word)
			return fn(NULL, ctx);
		memcpy(word, item, n);
		word[n] = '\0';
		if (!fn(word, ctx))
			return false;
	}
	return true;
}

static bool valid_word(const char *word, void *ctx)
{
	struct range r;
	int *n = ctx;

	(*n)++;
	return word && (strcmp(word, "console") == 0 || parse_range(word, &r));
}

bool ag_addr_list_valid(const char *list)
{
	int n = 0;

	return list && each_word(list, valid_word, &n) && n > 0;
}

struct match {
	const char *rhost;
	int family;
	unsigned char addr[16];
	bool found;
};

static bool match_word(const char *word, void *ctx)
{
	struct match *m = ctx;
	struct range r;

	if (!word)
		return false;
	if (strcmp(word, "console") == 0)
		m->found = !m->rhost;
	else
		m->found = m->family && parse_range(word, &r) && in_range(&r, m->family, m->addr);
	return !m->found;
}

bool ag_addr_list_match(const char *list, const char *rhost)
{
	struct match m = { .rhost = rhost && rhost[0] ? rhost : NULL };

	if (m.rhost) {
		if (inet_pton(AF_INET, m.rhost, m.addr) == 1) {
			m.family = AF_INET;
		} else if (inet_pton(AF_INET6, m.rhost, m.addr) == 1) {
			m.family = AF_INET6;
			/* an IPv4 client on a dual-stack socket: ::ffff:a.b.c.d */
			if (memcmp(m.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
				memmove(m.addr, m.addr + 12, 4);
				m.family = AF_INET;
			}
		}
	}
	each_word(list, match_word, &m);
	return m.found;
}
