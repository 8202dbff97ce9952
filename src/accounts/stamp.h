/* Check stamps: a cached account check answered without opening SQLite.
 *
 * sudo runs the account check on every sudo. Within account_check_cache the
 * answer is in the user's token row, but opening the database to read it
 * (SQLite parses the schema, maps the WAL index) cost more than everything
 * else the module does in a sudo (bench/sudo.sh). A stamp,
 * state_dir/private/checked-USER (root's, 0600), records that the row
 * allowed the user, its check_ok_at, and the database's state when the row
 * was read: the fingerprint below. The check trusts a stamp only while the
 * database's fingerprint is still that one; otherwise (and when anything is
 * unexpected: a file missing, not root's, a symlink, torn, another format)
 * it reads the database as before.
 *
 * The fingerprint is what every commit changes, whoever makes it (this
 * module, the CLI, or any SQLite client such as the sqlite3 shell):
 * - both copies of the WAL-index header at the start of accounts.db-shm
 *   (https://www.sqlite.org/walformat.html §2.2: iChange, mxFrame, the
 *   last frame's checksum, the WAL's salts; SQLite writes the second copy
 *   first, so two equal copies are a settled header);
 * - the database header's write/read versions (2: WAL), change counter and
 *   size (a database taken out of WAL mode is not fingerprinted: no stamp);
 * - the identity of token_key_file when set (device, inode, size, mtime,
 *   ctime): the check reads the key, so a replaced or removed key sends it
 *   to the database, which says what is wrong.
 * A stamp is written only by a check that took the fingerprint before it
 * read the row and found it unchanged after (no commit in between). SQLite
 * rebuilds the header when a process opens the store first (each sudo
 * does), so that fingerprint is taken once the store is open; the key's
 * identity is the one from before the key was read. */
#ifndef AG_STAMP_H
#define AG_STAMP_H

#include <stdbool.h>

#include "base/log.h"

#define AG_STAMP_FP_LEN 128

struct ag_stamp_fp {
	unsigned char b[AG_STAMP_FP_LEN];
};

/* The store's fingerprint now; false when it cannot be taken (no database
 * yet, not in WAL mode, a file not root's alone, a header being written). */
bool ag_stamp_fingerprint(const char *state_dir, const char *token_key_file, struct ag_stamp_fp *fp);

/* Is token_key_file the same file in both? */
bool ag_stamp_same_key(const struct ag_stamp_fp *a, const struct ag_stamp_fp *b);

/* Does user's stamp say the row allowed the user at a check_ok_at after
 * since, with the database unchanged since? */
bool ag_stamp_allows(const char *state_dir, const char *token_key_file, const char *user, long long since);

/* Stamp user: the row read between taking *before and now allowed the user
 * at check_ok_at. Nothing is written when the fingerprint moved meanwhile.
 * A failure only costs the next check a database read (logged at debug). */
void ag_stamp_put(const char *state_dir, const char *token_key_file, const char *user,
		  const struct ag_stamp_fp *before, long long check_ok_at, const struct ag_log *log);

/* Remove user's stamp (a check that did not find the row fresh). */
void ag_stamp_drop(const char *state_dir, const char *user);

#endif
