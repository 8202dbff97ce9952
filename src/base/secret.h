/* The one helper that wipes secrets (passwords, codes, tokens, verifiers)
 * before their memory is released. */
#ifndef AG_SECRET_H
#define AG_SECRET_H

#include <stddef.h>

/* Overwrite n bytes at p with zeros; never optimised away. NULL is allowed. */
void ag_wipe(void *p, size_t n);
/* Wipe a NUL-terminated string and free it. NULL is allowed. */
void ag_free_secret(char *s);
/* Wipe n bytes and free them. NULL is allowed. */
void ag_free_secret_n(void *p, size_t n);

#endif
