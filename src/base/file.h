/* Files that only root may change: bounded reads with owner and mode
 * checks, atomic replacement (temp file + fsync + rename + directory fsync),
 * and private directories. Shared by the config loader, the metadata caches
 * and the store. */
#ifndef AG_FILE_H
#define AG_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/log.h"

/* Read a whole regular file owned by root and not writable by group or
 * others, of at most max bytes. Symlinks are followed (the checks apply to
 * the file they name). On failure *buf is NULL and a reason is written to
 * why: "file not found", "not a regular file", "owned by uid N; ...",
 * "mode 0666 is writable ...", "file larger than N bytes", ... A missing file
 * is AG_ERR_NOT_FOUND, an unsafe one AG_ERR_CONFIG_PERM, an oversized one
 * AG_ERR_TOO_LARGE, other failures AG_ERR_IO. *buf is NUL-terminated. */
enum ag_err ag_file_read_root(const char *path, size_t max, char **buf, size_t *len,
			      char *why, size_t why_len);

/* The same for a file holding a secret: also unreadable by group and others. */
enum ag_err ag_file_read_secret(const char *path, size_t max, char **buf, size_t *len,
				char *why, size_t why_len);

/* Make sure dir exists as a root-owned directory that group and others cannot
 * write; create it with mode when missing (the parent must exist). An existing
 * directory with a looser mode than mode is refused, not changed. */
enum ag_err ag_dir_ensure(const char *dir, mode_t mode, const struct ag_log *log);

/* The root-only part of state_dir (state_dir/private): make sure state_dir
 * (0755) and it (0700) exist, owned by root, and write its path to out. */
enum ag_err ag_state_private_dir(const char *state_dir, const struct ag_log *log, char *out, size_t out_len);

/* Replace dir/name with data atomically: readers see the old or the new
 * content, never a mix, and a crash leaves no partial file behind. */
enum ag_err ag_file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
				 mode_t mode, const struct ag_log *log);

/* Take an exclusive lock on dir/name (created 0600, root's, when missing),
 * waiting at most timeout_ms. The lock is released when *fd is closed (also
 * when the process dies: no stale lock survives a crash). */
enum ag_err ag_lock_acquire(const char *dir, const char *name, long timeout_ms, const struct ag_log *log, int *fd);
void ag_lock_release(int fd);

/* fchown(fd, 0, 0) when running as root (0 otherwise): what root creates
 * under state_dir is root:root even when the process's group is another (a
 * login under sudo). */
int ag_file_own_by_root(int fd);

#endif
