/* One growable byte buffer with a cap, for everything that may hold a
 * secret: HTTP response bodies, form bodies, joined lists. It grows by
 * doubling, wipes the old block each time it moves and wipes on free, and
 * never grows past its maximum (OpenSSH sshbuf + freezero, curl dynbuf).
 * Once an append fails (the cap, or memory), the buffer stays failed: the
 * caller checks once at the end instead of after every append. */
#ifndef AG_BUF_H
#define AG_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct ag_buf {
	char *data;  /* NUL-terminated once anything was appended; NULL before */
	size_t len;  /* bytes, without the NUL */
	size_t cap;  /* bytes allocated */
	size_t max;  /* most bytes it may hold (without the NUL) */
	bool failed; /* an append did not fit in max or in memory */
};

/* (clang-format would break this initializer over four lines) */
/* clang-format off */
#define AG_BUF_INIT(max_bytes) { NULL, 0, 0, (max_bytes), false }
/* clang-format on */

/* Append n bytes; false (and the buffer failed) when they do not fit. */
bool ag_buf_append(struct ag_buf *b, const void *data, size_t n);
bool ag_buf_add(struct ag_buf *b, const char *s);

/* Append item, with sep first unless the buffer is empty ("a,b,c"). */
bool ag_buf_join(struct ag_buf *b, const char *sep, const char *item);

/* The content, "" when nothing was appended; NULL when the buffer failed. */
const char *ag_buf_str(const struct ag_buf *b);

/* The content for a log line or a table cell: "-" when empty, "(too long)"
 * when the buffer failed. */
const char *ag_buf_shown(const struct ag_buf *b);

/* Hand the NUL-terminated block to the caller, who wipes it with
 * ag_free_secret_n(p, len + 1) (only those bytes were ever written); the
 * buffer is left empty. NULL when failed or out of memory. */
char *ag_buf_steal(struct ag_buf *b, size_t *len);

/* Wipe and free the content; the maximum stays. */
void ag_buf_free(struct ag_buf *b);

#endif
