/* Unix user names handled by pam_authgear: the grammar every name must pass
 * before it touches a file, a prompt or the IdP, and the admin's allow-list
 * that says which names are ours. */
#ifndef AG_NAMES_H
#define AG_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define AG_NAME_MAX 32

/* POSIX portable user name, lower case: [a-z_][a-z0-9_.-]{0,31}, so never
 * empty, never starting with '-' or '.', never "." or "..", no '@', no ':',
 * no '/', no space or control character, at most 32 bytes. */
bool ag_name_valid(const char *name);

/* Lists in the configuration (users, require_roles, methods, [roles]
 * values): items separated by commas and/or blanks. */
#define AG_LIST_SEPARATORS ", \t"

/* The next item of such a list: start with *cur at the list (NULL is an
 * empty list); returns the item and its length in *n and moves *cur past
 * it, or NULL at the end. */
const char *ag_list_next(const char **cur, size_t *n);

/* Whether name matches the allow-list: names and fnmatch(3) patterns
 * ("dev-*", "*") separated by commas and/or spaces. */
bool ag_name_allowed(const char *list, const char *name);

/* Whether the allow-list names name itself (an entry equal to it), not
 * only through a pattern: the admin's deliberate choice of that name. */
bool ag_name_listed(const char *list, const char *name);

/* Expand a template where %u is the Unix name and %% a percent sign into out
 * (len bytes, NUL included): home directories ("/home/%u"), login IDs
 * ("%u@corp.example"). False when it does not fit or a '%' is not followed by 'u' or
 * '%'. libc only: the NSS module uses it for provisional entries. */
bool ag_name_expand(const char *tmpl, const char *name, char *out, size_t len);

/* A list of Unix group names separated by commas and/or spaces ([roles]
 * values): at least one, each valid by ag_name_valid, at most max. */
bool ag_name_list_valid(const char *list, size_t max);

/* Call fn on each name of such a list (names longer than AG_NAME_MAX are
 * skipped); stops early when fn returns false. */
void ag_name_list_each(const char *list, bool (*fn)(const char *name, void *ctx), void *ctx);

/* Binary search of n items sorted by the strcmp order of their names:
 * name_at(ctx, i) is item i's name, NULL when it cannot be read (a corrupt
 * index). The position of the item named name; -1 when there is none, -2
 * when a name on the way could not be read. */
long ag_name_search(size_t n, const char *name, const char *(*name_at)(const void *ctx, size_t i), const void *ctx);

#endif
