/* JSON helpers over jansson: bounded parsing of untrusted documents and
 * bounded accessors. Duplicate keys are an error (a parser differential
 * between us and a signer or a proxy is an attack surface). */
#ifndef AG_JSON_H
#define AG_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/error.h"
#include "base/log.h"

#define AG_JSON_MAX (1024 * 1024) /* bytes of one document */

/* Parse buf (not NUL-terminated, len bytes) as a JSON object. what names the
 * document in the log ("discovery document"); a parse error never quotes the
 * input (it may be part of a token). On failure *out is NULL. The one entry
 * point for every JSON document, from the network (AG_JSON_MAX) or from a
 * file (its own cap). */
enum ag_err ag_json_parse_object_max(const char *buf, size_t len, size_t max, const struct ag_log *log,
				     const char *what, json_t **out);
enum ag_err ag_json_parse_object(const char *buf, size_t len, const struct ag_log *log,
				 const char *what, json_t **out);

/* The string member key of obj when it is a string of 1..max_len bytes without
 * NUL; else NULL. */
const char *ag_json_string(const json_t *obj, const char *key, size_t max_len);

/* The same test for a value (an array element); NULL when v is NULL. */
const char *ag_json_string_value(const json_t *v, size_t max_len);

/* The integer member key of obj (JSON integer only); false when absent or
 * another type. */
bool ag_json_integer(const json_t *obj, const char *key, long long *out);

/* The boolean member key; false when absent or not a boolean. */
bool ag_json_bool(const json_t *obj, const char *key, bool *out);

/* Overwrite every string inside v (recursively) with zeros: for JSON that
 * carried a password, a code or a token, before it is released. (jansson's
 * allocator is left alone: json_set_alloc_funcs is process-wide, and a
 * wiping free would also receive blocks the host process or another module
 * allocated before the switch.) */
void ag_json_wipe(json_t *v);

#endif
