/* Metadata cache files (see cache.h). */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cache.h"
#include "base/file.h"
#include "base/json.h"

enum ag_err ag_cache_load(const char *dir, const char *name, const char *source,
			  const struct ag_log *log, json_t **document, time_t *fetched_at)
{
	char path[PATH_MAX], why[256];
	json_t *root = NULL, *doc;
	struct stat st;
	enum ag_err err;
	const char *src;
	long long at;
	size_t len;
	char *buf;

	*document = NULL;
	*fetched_at = 0;
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return AG_ERR_INVALID_ARG;
	/* Only root can plant one in private/, but a cache is never read
	 * through a link: refetched, and the atomic write replaces the link. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		ag_log(log, LOG_WARNING, "cache %s: is a symlink; not followed, refetching", path);
		return AG_ERR_PARSE;
	}
	err = ag_file_read_root(path, AG_JSON_MAX, &buf, &len, why, sizeof why);
	if (err == AG_ERR_NOT_FOUND)
		return err; /* not cached yet */
	if (err != AG_OK) {
		ag_log(log, LOG_WARNING, "cache %s: %s", path, why);
		return err == AG_ERR_NOMEM ? err : AG_ERR_PARSE;
	}
	err = ag_json_parse_object(buf, len, log, path, &root);
	free(buf);
	if (err != AG_OK)
		return AG_ERR_PARSE;
	src = ag_json_string(root, "source", 4096);
	doc = json_object_get(root, "document");
	if (!src || strcmp(src, source) != 0 || !ag_json_integer(root, "fetched_at", &at) || at <= 0 ||
	    !json_is_object(doc)) {
		ag_log(log, LOG_NOTICE, "cache %s: stale or malformed, refetching", path);
		json_decref(root);
		return AG_ERR_PARSE;
	}
	*document = json_incref(doc);
	*fetched_at = (time_t)at;
	json_decref(root);
	return AG_OK;
}

enum ag_err ag_cache_store(const char *dir, const char *name, const char *source,
			   const json_t *document, time_t fetched_at, const struct ag_log *log)
{
	json_t *root = json_pack("{s:s, s:I, s:O}", "source", source, "fetched_at", (json_int_t)fetched_at,
				 "document", document);
	enum ag_err err;
	char *text;

	if (!root)
		return AG_ERR_NOMEM;
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		return AG_ERR_NOMEM;
	err = ag_file_write_atomic(dir, name, text, strlen(text), 0600, log);
	free(text);
	return err;
}
