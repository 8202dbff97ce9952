/* Open PAM sessions, per user, in the store's sessions table: what
 * pam_sm_open_session recorded and pam_sm_close_session removes, so the
 * last session's close can revoke the user's refresh token
 * (revoke_on_logout) and authgear-pam status can list them.
 *
 * A session is owned by the process that opened it (sshd's per-connection
 * monitor, login, su: they close it too). A session whose process is gone
 * (killed, host rebooted) never closes: it is stale, and removed whenever
 * the user's sessions are counted or listed. The process is identified by
 * its pid, its start time (/proc/PID/stat) and the boot's ID, so a reused
 * pid or a reboot does not keep a dead session alive. */
#ifndef AG_SESSIONS_H
#define AG_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "accounts/store.h"
#include "base/error.h"

struct ag_session {
	long long id;
	char tty[64];
	char rhost[256];
	long long started_at;    /* epoch seconds */
	long pid;
	long long pid_start;     /* the process's start time, clock ticks since boot */
	char boot_id[40];
};

/* This process as a session's owner (pid, its start time, the boot ID). */
void ag_session_self(struct ag_session *s);
/* Whether the process that opened s still runs. */
bool ag_session_alive(const struct ag_session *s);

/* Record s for user (s->id set). *recorded false when user has no row in
 * the store (never signed in here): nothing to revoke, nothing recorded. */
enum ag_err ag_sessions_tx_add(struct ag_store_tx *tx, const char *user, struct ag_session *s, bool *recorded);
/* Remove user's session id, or (id 0) the newest one this process opened;
 * *found: one was removed. */
enum ag_err ag_sessions_tx_remove(struct ag_store_tx *tx, const char *user, long long id, bool *found);
/* Remove user's stale sessions; *live: how many remain. */
enum ag_err ag_sessions_tx_prune(struct ag_store_tx *tx, const char *user, long *live);
/* user's sessions, oldest first, stale ones included (alive tells them);
 * free *v. */
enum ag_err ag_sessions_list(struct ag_store *s, const char *user, struct ag_session **v, size_t *n);

#endif
