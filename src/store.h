/* The local store under state_dir. Its root-only part (state_dir/private,
 * 0700; files 0600) holds the bindings Unix name <-> Authgear sub and the
 * failed logins of the last minute (the local throttle). Every change happens under one lock and is written
 * atomically, so readers see the old or the new file, never a mix. */
#ifndef AG_STORE_H
#define AG_STORE_H

#include <stdbool.h>
#include <time.h>

#include "error.h"
#include "log.h"

struct ag_store;

/* Open the store (creating state_dir and its private part when missing). */
enum ag_err ag_store_open(const char *state_dir, const struct ag_log *log, struct ag_store **out);
void ag_store_close(struct ag_store *s);

/* The sub bound to name: AG_OK with *sub set (caller frees), or AG_OK with
 * *sub NULL when the name is not bound. */
enum ag_err ag_store_bound_sub(struct ag_store *s, const char *name, char **sub);

/* Bind name to sub at its first successful login, and record the login. A
 * name already bound to another sub is refused with AG_ERR_DENIED. */
enum ag_err ag_store_bind(struct ag_store *s, const char *name, const char *sub, time_t now);

/* The local throttle against brute force: AG_ERR_RATE_LIMITED when name
 * failed max_per_minute times within the last minute (*retry_after: seconds
 * until the oldest failure leaves the window); then record each failure. */
enum ag_err ag_store_throttle_check(struct ag_store *s, const char *name, long max_per_minute, time_t now,
				    long *retry_after);
enum ag_err ag_store_throttle_failed(struct ag_store *s, const char *name, time_t now);

#endif
