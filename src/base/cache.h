/* Cached public metadata (the discovery document, the JWKS) in the private
 * part of state_dir: one JSON file per document,
 *   {"source": URL, "fetched_at": UNIX-SECONDS, "document": {...}}
 * written atomically, readable only by root. */
#ifndef AG_CACHE_H
#define AG_CACHE_H

#include <time.h>

#include <jansson.h>

#include "base/error.h"
#include "base/log.h"

/* Load dir/name when it was fetched from source. A missing file is
 * AG_ERR_NOT_FOUND; a corrupt one or one from another source is
 * AG_ERR_PARSE (logged). The caller judges the age from *fetched_at. */
enum ag_err ag_cache_load(const char *dir, const char *name, const char *source,
			  const struct ag_log *log, json_t **document, time_t *fetched_at);

enum ag_err ag_cache_store(const char *dir, const char *name, const char *source,
			   const json_t *document, time_t fetched_at, const struct ag_log *log);

#endif
