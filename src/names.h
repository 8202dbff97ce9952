/* Unix user names handled by pam_authgear: the grammar every name must pass
 * before it touches a file, a prompt or the IdP, and the admin's allow-list
 * that says which names are ours. */
#ifndef AG_NAMES_H
#define AG_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define AG_NAME_MAX 32

/* POSIX portable user name, lower case: [a-z_][a-z0-9_.-]{0,31}, so never
 * empty, never starting with '-' or '.', never "." or "..", no '@', no ':',
 * no '/', no space or control character, at most 32 bytes. */
bool ag_name_valid(const char *name);

/* Whether name matches the allow-list: names and fnmatch(3) patterns
 * ("dev-*", "*") separated by commas and/or spaces. */
bool ag_name_allowed(const char *list, const char *name);

/* Build the Authgear login ID from a template where %u is the Unix name and
 * %% a percent sign ("%u", "%u@corp.example"). Caller frees *out. */
enum ag_err ag_login_id_from_template(const char *tmpl, const char *name, char **out);

#endif
