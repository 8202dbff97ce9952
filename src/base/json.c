/* Bounded JSON helpers (see json.h). */
#include "config.h"

#include <string.h>

#include "base/json.h"
#include "base/secret.h"

enum ag_err ag_json_parse_object(const char *buf, size_t len, const struct ag_log *log,
				 const char *what, json_t **out)
{
	return ag_json_parse_object_max(buf, len, AG_JSON_MAX, log, what, out);
}

enum ag_err ag_json_parse_object_max(const char *buf, size_t len, size_t max, const struct ag_log *log,
				     const char *what, json_t **out)
{
	json_error_t jerr;
	json_t *root;

	*out = NULL;
	if (len > max) {
		ag_log(log, LOG_ERR, "%s: %zu bytes, over the %zu byte limit", what, len, max);
		return AG_ERR_TOO_LARGE;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jansson quotes the input "near" the error: never log it, it
		 * may be part of a token. */
		char *near = strstr(jerr.text, " near ");
		if (near)
			*near = '\0';
		ag_log(log, LOG_ERR, "%s: invalid JSON at line %d column %d: %s", what, jerr.line, jerr.column,
		       jerr.text);
		return AG_ERR_PARSE;
	}
	if (!json_is_object(root)) {
		ag_log(log, LOG_ERR, "%s: not a JSON object", what);
		json_decref(root);
		return AG_ERR_PARSE;
	}
	*out = root;
	return AG_OK;
}

const char *ag_json_string(const json_t *obj, const char *key, size_t max_len)
{
	return ag_json_string_value(json_object_get(obj, key), max_len);
}

const char *ag_json_string_value(const json_t *v, size_t max_len)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max_len || strlen(s) != n)
		return NULL;
	return s;
}

bool ag_json_integer(const json_t *obj, const char *key, long long *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return false;
	*out = (long long)json_integer_value(v);
	return true;
}

bool ag_json_bool(const json_t *obj, const char *key, bool *out)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_boolean(v))
		return false;
	*out = json_is_true(v);
	return true;
}

void ag_json_wipe(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_string(v)) {
		/* jansson owns the buffer; zero it in place (its length stays). */
		ag_wipe((char *)json_string_value(v), json_string_length(v));
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, item)
			ag_json_wipe(item);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			ag_json_wipe(item);
	}
}
