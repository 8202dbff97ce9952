/* The bounded, wiping buffer (see buf.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/secret.h"

bool ag_buf_append(struct ag_buf *b, const void *data, size_t n)
{
	if (b->failed)
		return false;
	if (n > b->max || b->len > b->max - n) {
		b->failed = true;
		return false;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *grown;

		while (cap < b->len + n + 1)
			cap *= 2;
		grown = malloc(cap);
		if (!grown) {
			b->failed = true;
			return false;
		}
		if (b->data)
			memcpy(grown, b->data, b->len);
		ag_free_secret_n(b->data, b->cap);
		b->data = grown;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool ag_buf_add(struct ag_buf *b, const char *s)
{
	return ag_buf_append(b, s, strlen(s));
}

bool ag_buf_join(struct ag_buf *b, const char *sep, const char *item)
{
	if (b->len && !ag_buf_add(b, sep))
		return false;
	return ag_buf_add(b, item);
}

const char *ag_buf_str(const struct ag_buf *b)
{
	if (b->failed)
		return NULL;
	return b->data ? b->data : "";
}

const char *ag_buf_shown(const struct ag_buf *b)
{
	if (b->failed)
		return "(too long)";
	return b->len ? b->data : "-";
}

char *ag_buf_steal(struct ag_buf *b, size_t *len)
{
	char *p;

	if (b->failed || (!b->data && !ag_buf_append(b, "", 0)))
		return NULL;
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void ag_buf_free(struct ag_buf *b)
{
	ag_free_secret_n(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}
