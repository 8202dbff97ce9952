/* Check stamps (stamp.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts/stamp.h"
#include "accounts/store.h"
#include "base/file.h"
#include "common/names.h"

/* The WAL-index header (walformat.html §2.2): 48 bytes, twice. */
#define SHM_HDR 48
#define SHM_VERSION 3007000u

/* The fingerprint's parts, at these offsets of ag_stamp_fp.b. */
#define FP_SHM 0   /* the header's first copy */
#define FP_DB 48   /* database header bytes 16-31 (page size, versions, change counter, size) and 92-99 */
#define FP_KEY 72  /* token_key_file's identity: 7 x 8 bytes, or zeros */
_Static_assert(FP_KEY + 7 * 8 <= AG_STAMP_FP_LEN, "fingerprint layout");

struct stamp_file {
	char magic[8];
	int64_t check_ok_at;
	unsigned char fp[AG_STAMP_FP_LEN];
	uint64_t sum; /* of the fields above: a torn write does not read as a stamp */
};

static const char MAGIC[8] = "AGSTAMP\1";

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* The record's sum, over the user's name too: a stamp copied to another
 * user's file is not that user's. */
static uint64_t sum(const struct stamp_file *f, const char *user)
{
	return fnv1a(fnv1a(14695981039346656037ull, user, strlen(user) + 1), f, offsetof(struct stamp_file, sum));
}

/* As the store's own checks (store.c check_path): root's, nobody else's. */
static bool safe(const struct stat *st, bool dir)
{
	return (dir ? S_ISDIR(st->st_mode) : S_ISREG(st->st_mode)) && st->st_uid == 0 && !(st->st_mode & 077);
}

static int open_private(const char *state_dir)
{
	char p[4096];
	struct stat st;
	int fd;

	if (snprintf(p, sizeof p, "%s/private", state_dir) >= (int)sizeof p)
		return -1;
	fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) != 0 || !safe(&st, true))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* n bytes at offset 0 of dir/name, a safe regular file; true when all read. */
static bool read_head(int dir, const char *name, void *buf, size_t n)
{
	struct stat st;
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	bool ok;

	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && safe(&st, false) && pread(fd, buf, n, 0) == (ssize_t)n;
	close(fd);
	return ok;
}

static void put_u64(unsigned char *p, uint64_t v)
{
	memcpy(p, &v, sizeof v);
}

static bool fingerprint_at(int dir, const char *token_key_file, struct ag_stamp_fp *fp)
{
	unsigned char shm[2 * SHM_HDR], db[100];
	struct stat st;
	uint32_t version;

	memset(fp, 0, sizeof *fp);
	if (!read_head(dir, AG_STORE_FILE, db, sizeof db) || memcmp(db, "SQLite format 3", 16) != 0 || db[18] != 2 ||
	    db[19] != 2)
		return false;
	/* the WAL exists and is as safe as the store requires (check_files) */
	if (fstatat(dir, AG_STORE_FILE "-wal", &st, AT_SYMLINK_NOFOLLOW) != 0 || !safe(&st, false))
		return false;
	if (!read_head(dir, AG_STORE_FILE "-shm", shm, sizeof shm) || memcmp(shm, shm + SHM_HDR, SHM_HDR) != 0)
		return false;
	memcpy(&version, shm, sizeof version);
	if (version != SHM_VERSION || shm[12] != 1) /* iVersion, isInit */
		return false;
	memcpy(fp->b + FP_SHM, shm, SHM_HDR);
	memcpy(fp->b + FP_DB, db + 16, 16);
	memcpy(fp->b + FP_DB + 16, db + 92, 8);
	if (token_key_file) {
		if (stat(token_key_file, &st) != 0)
			return false;
		put_u64(fp->b + FP_KEY, (uint64_t)st.st_dev);
		put_u64(fp->b + FP_KEY + 8, (uint64_t)st.st_ino);
		put_u64(fp->b + FP_KEY + 16, (uint64_t)st.st_size);
		put_u64(fp->b + FP_KEY + 24, (uint64_t)st.st_mtim.tv_sec);
		put_u64(fp->b + FP_KEY + 32, (uint64_t)st.st_mtim.tv_nsec);
		put_u64(fp->b + FP_KEY + 40, (uint64_t)st.st_ctim.tv_sec);
		put_u64(fp->b + FP_KEY + 48, (uint64_t)st.st_ctim.tv_nsec);
	}
	return true;
}

bool ag_stamp_fingerprint(const char *state_dir, const char *token_key_file, struct ag_stamp_fp *fp)
{
	int dir = open_private(state_dir);
	bool ok = dir >= 0 && fingerprint_at(dir, token_key_file, fp);

	if (dir >= 0)
		close(dir);
	return ok;
}

bool ag_stamp_same_key(const struct ag_stamp_fp *a, const struct ag_stamp_fp *b)
{
	return memcmp(a->b + FP_KEY, b->b + FP_KEY, AG_STAMP_FP_LEN - FP_KEY) == 0;
}

static bool stamp_name(const char *user, char *name, size_t len)
{
	return ag_name_valid(user) && snprintf(name, len, "checked-%s", user) < (int)len;
}

bool ag_stamp_allows(const char *state_dir, const char *token_key_file, const char *user, long long since)
{
	struct stamp_file f;
	struct ag_stamp_fp now;
	char name[64];
	int dir;
	bool ok;

	if (!stamp_name(user, name, sizeof name) || (dir = open_private(state_dir)) < 0)
		return false;
	ok = read_head(dir, name, &f, sizeof f) && memcmp(f.magic, MAGIC, sizeof MAGIC) == 0 &&
	     f.sum == sum(&f, user) && f.check_ok_at > since &&
	     fingerprint_at(dir, token_key_file, &now) && memcmp(now.b, f.fp, sizeof f.fp) == 0;
	close(dir);
	return ok;
}

void ag_stamp_put(const char *state_dir, const char *token_key_file, const char *user,
		  const struct ag_stamp_fp *before, long long check_ok_at, const struct ag_log *log)
{
	struct stamp_file f = { .check_ok_at = check_ok_at };
	struct ag_stamp_fp now;
	struct stat st;
	char name[64];
	int dir, fd = -1;
	bool ok = false;

	if (!stamp_name(user, name, sizeof name) || (dir = open_private(state_dir)) < 0)
		return;
	if (!fingerprint_at(dir, token_key_file, &now) || memcmp(now.b, before->b, sizeof now.b) != 0) {
		ag_log(log, LOG_DEBUG, "account: %s: the store changed while it was read; no check stamp", user);
		close(dir);
		return;
	}
	memcpy(f.magic, MAGIC, sizeof MAGIC);
	memcpy(f.fp, now.b, sizeof f.fp);
	f.sum = sum(&f, user);
	/* one pwrite of the whole record: a reader racing it fails the sum */
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd >= 0 && ag_file_own_by_root(fd) == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_nlink == 1 && fchmod(fd, 0600) == 0)
		ok = pwrite(fd, &f, sizeof f, 0) == (ssize_t)sizeof f && ftruncate(fd, sizeof f) == 0;
	if (!ok) {
		ag_log(log, LOG_DEBUG, "account: %s: cannot write the check stamp: %s", user, strerror(errno));
		unlinkat(dir, name, 0);
	}
	if (fd >= 0)
		close(fd);
	close(dir);
}

void ag_stamp_drop(const char *state_dir, const char *user)
{
	char name[64];
	int dir;

	if (!stamp_name(user, name, sizeof name) || (dir = open_private(state_dir)) < 0)
		return;
	unlinkat(dir, name, 0);
	close(dir);
}
