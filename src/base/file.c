/* Root-only files (see file.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"

/* Root-owned and not writable by group or others. */
static enum ag_err check_owner_mode(const struct stat *st, char *why, size_t why_len)
{
	if (st->st_uid != 0)
		return ag_why(why, why_len, AG_ERR_CONFIG_PERM, "owned by uid %u; must be owned by root",
			      (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return ag_why(why, why_len, AG_ERR_CONFIG_PERM,
			      "mode %04o is writable by group or others; use 0644 or 0600",
			      (unsigned)(st->st_mode & 07777));
	return AG_OK;
}

/* The open file fd may be read: a regular file, root's, not writable by
 * others (nor readable, for a secret), at most max bytes. */
static enum ag_err check_file(int fd, size_t max, bool secret, struct stat *st, char *why, size_t why_len)
{
	enum ag_err err;

	if (fstat(fd, st) != 0)
		return ag_why(why, why_len, AG_ERR_IO, "cannot stat: %s", strerror(errno));
	if (!S_ISREG(st->st_mode))
		return ag_why(why, why_len, AG_ERR_CONFIG_PERM, "not a regular file");
	err = check_owner_mode(st, why, why_len);
	if (err == AG_OK && secret && (st->st_mode & 077))
		err = ag_why(why, why_len, AG_ERR_CONFIG_PERM, "mode %04o lets others read a secret; use 0600",
			     (unsigned)(st->st_mode & 07777));
	if (err == AG_OK && (unsigned long long)st->st_size > max)
		err = ag_why(why, why_len, AG_ERR_TOO_LARGE, "file larger than %zu bytes", max);
	return err;
}

/* Read the size bytes fstat promised into buf (size + 2 bytes), and one
 * byte more to notice a file that grew. */
static enum ag_err read_size(int fd, char *buf, size_t size, size_t *total, char *why, size_t why_len)
{
	ssize_t got;

	*total = 0;
	while (*total <= size) {
		got = read(fd, buf + *total, size + 1 - *total);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return ag_why(why, why_len, AG_ERR_IO, "cannot read: %s", strerror(errno));
		if (got == 0)
			break;
		*total += (size_t)got;
	}
	if (*total > size)
		return ag_why(why, why_len, AG_ERR_IO, "file changed while being read");
	return AG_OK;
}

static enum ag_err read_root(const char *path, size_t max, bool secret, char **buf, size_t *len, char *why,
			     size_t why_len)
{
	enum ag_err err;
	struct stat st;
	size_t total = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return ag_why(why, why_len, AG_ERR_NOT_FOUND, "file not found");
		return ag_why(why, why_len, AG_ERR_IO, "cannot open: %s", strerror(errno));
	}
	err = check_file(fd, max, secret, &st, why, why_len);
	if (err != AG_OK)
		goto out;
	*buf = malloc((size_t)st.st_size + 2);
	if (!*buf) {
		err = ag_why(why, why_len, AG_ERR_NOMEM, "out of memory");
		goto out;
	}
	err = read_size(fd, *buf, (size_t)st.st_size, &total, why, why_len);
	if (err != AG_OK)
		goto out;
	(*buf)[total] = '\0';
	*len = total;
out:
	if (err != AG_OK) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return err;
}

enum ag_err ag_file_read_root(const char *path, size_t max, char **buf, size_t *len, char *why, size_t why_len)
{
	return read_root(path, max, false, buf, len, why, why_len);
}

enum ag_err ag_file_read_secret(const char *path, size_t max, char **buf, size_t *len, char *why, size_t why_len)
{
	return read_root(path, max, true, buf, len, why, why_len);
}

/* What root creates is root:root: a login under sudo runs with the user's
 * GID as its effective group, and files would inherit it. Not root (unit
 * tests): left as created. */
int ag_file_own_by_root(int fd)
{
	return geteuid() == 0 ? fchown(fd, 0, 0) : 0;
}

enum ag_err ag_dir_ensure(const char *dir, mode_t mode, const struct ag_log *log)
{
	char why[256];
	struct stat st;
	enum ag_err err;

	if (mkdir(dir, mode) == 0) {
		/* mkdir applies the umask; set the exact mode. */
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0 || fchmod(fd, mode) != 0 || ag_file_own_by_root(fd) != 0) {
			ag_log(log, LOG_ERR, "%s: cannot set owner and mode: %s", dir, strerror(errno));
			if (fd >= 0)
				close(fd);
			return AG_ERR_IO;
		}
		close(fd);
		return AG_OK;
	}
	if (errno != EEXIST) {
		ag_log(log, LOG_ERR, "%s: cannot create directory: %s", dir, strerror(errno));
		return AG_ERR_IO;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ag_log(log, LOG_ERR, "%s: not a directory", dir);
		return AG_ERR_CONFIG_PERM;
	}
	err = check_owner_mode(&st, why, sizeof why);
	if (err == AG_OK && (st.st_mode & 07777 & ~mode)) {
		snprintf(why, sizeof why, "mode %04o is looser than %04o", (unsigned)(st.st_mode & 07777),
			 (unsigned)mode);
		err = AG_ERR_CONFIG_PERM;
	}
	if (err != AG_OK)
		ag_log(log, LOG_ERR, "%s: %s", dir, why);
	return err;
}

enum ag_err ag_state_private_dir(const char *state_dir, const struct ag_log *log, char *out, size_t out_len)
{
	enum ag_err err;

	if (snprintf(out, out_len, "%s/private", state_dir) >= (int)out_len)
		return AG_ERR_CONFIG;
	err = ag_dir_ensure(state_dir, 0755, log);
	if (err == AG_OK)
		err = ag_dir_ensure(out, 0700, log);
	return err;
}

static enum ag_err write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return AG_ERR_IO;
		data += n;
		len -= (size_t)n;
	}
	return AG_OK;
}

enum ag_err ag_file_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
				 const struct ag_log *log)
{
	char tmp[PATH_MAX], final[PATH_MAX];
	enum ag_err err = AG_ERR_IO;
	int fd = -1, dfd = -1;

	if (snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final ||
	    snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name) >= (int)sizeof tmp) {
		ag_log(log, LOG_ERR, "%s/%s: path too long", dir, name);
		return AG_ERR_INVALID_ARG;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ag_log(log, LOG_ERR, "%s: cannot create temporary file: %s", dir, strerror(errno));
		return AG_ERR_IO;
	}
	if (fchmod(fd, mode) != 0 || ag_file_own_by_root(fd) != 0 || write_all(fd, data, len) != AG_OK ||
	    fsync(fd) != 0) {
		ag_log(log, LOG_ERR, "%s: cannot write: %s", final, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		ag_log(log, LOG_ERR, "%s: cannot write: %s", final, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, final) != 0) {
		ag_log(log, LOG_ERR, "%s: cannot replace: %s", final, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	/* Make the rename itself durable. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	err = AG_OK;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp[0])
		unlink(tmp);
	return err;
}

enum ag_err ag_lock_acquire(const char *dir, const char *name, long timeout_ms, const struct ag_log *log, int *fd)
{
	char path[PATH_MAX];
	long waited = 0, step = 1;

	*fd = -1;
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		return AG_ERR_INVALID_ARG;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0 || ag_file_own_by_root(*fd) != 0) {
		ag_log(log, LOG_ERR, "%s: cannot open lock: %s", path, strerror(errno));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return AG_ERR_IO;
	}
	/* polled (flock has no timeout), from 1 ms up to 20 ms: a holder
	 * usually keeps it for a rename */
	while (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		struct timespec pause = { 0, step * 1000 * 1000 };

		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= timeout_ms) {
			if (errno == EWOULDBLOCK)
				ag_log(log, LOG_ERR, "%s: still held by another process after %ld ms", path, waited);
			else
				ag_log(log, LOG_ERR, "%s: cannot lock: %s", path, strerror(errno));
			close(*fd);
			*fd = -1;
			return AG_ERR_IO;
		}
		nanosleep(&pause, NULL);
		waited += step;
		step = step < 20 ? step * 2 : 20;
	}
	return AG_OK;
}

void ag_lock_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}
