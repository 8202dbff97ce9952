/* Lists of strings as the store and the claims keep them: a heap array of
 * heap strings and its count. One set of helpers for all of them. */
#ifndef AG_STRV_H
#define AG_STRV_H

#include <stdbool.h>
#include <stddef.h>

/* A list being built; once an add fails (memory), failed stays set and
 * the caller checks once at the end. */
struct ag_strv {
	char **v;
	size_t n;
	bool failed;
};

/* Free the n strings of v and v itself (v may be NULL). */
void ag_strv_free(char **v, size_t n);

/* Append a copy of item (a repeat too); false when out of memory, the
 * list as it was (perhaps moved). */
bool ag_strv_push(char ***v, size_t *n, const char *item);

/* Replace the n strings of *v with copies of the n_items of items; false
 * when out of memory, *v untouched. *v is never NULL after a success. */
bool ag_strv_set(char ***v, size_t *n, char *const *items, size_t n_items);

/* The same strings in the same order. */
bool ag_strv_equal(char *const *a, size_t na, char *const *b, size_t nb);

/* Append a copy of item unless the list has it already; false (and
 * s->failed) when out of memory. The signature fits ag_name_list_each. */
bool ag_strv_add_unique(const char *item, void *s);

#endif
