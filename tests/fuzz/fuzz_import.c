/* Fuzz target: the store's two import formats, through their public entry
 * points on a real store (SQLite) in a fresh state_dir per input:
 *  - first byte even: `authgear-pam import FILE` ("name:uid" lines, all or
 *    nothing): ag_identity_import() on the rest written to a file;
 *  - first byte odd: the JSON store's private/users.json, imported once by
 *    ag_store_open() (the rest is users.json; a '\f' byte splits off a
 *    throttle.json).
 * A refused import must say why and write nothing. The pins' store stays
 * open from one input to the next (most are refused before the store is
 * touched) and is made afresh after an import that pinned; users.json needs
 * a fresh state_dir per input. Speed: a fresh state_dir gets a copy of an
 * empty accounts.db made once by ag_store_open() (building the schema
 * anew cost most of an input's CPU), and the state_dirs live on /dev/shm
 * when there is one (else $TMPDIR or /tmp: synchronous = FULL fsyncs each
 * commit, tens of ms each on a busy disk). They are removed at exit. The
 * store is root's: run as root. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts/identity.h"
#include "accounts/store.h"
#include "base/conf.h"
#include "common/names.h"
#include "seam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
		abort();
}

static char base[900];

static void remove_tree(const char *dir)
{
	if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		abort();
}

static void cleanup(void)
{
	remove_tree(base);
}

/* An empty store's accounts.db, as ag_store_open() makes it. */
static uint8_t *empty_db;
static size_t empty_db_len;

static void make_empty_db(void)
{
	char dir[1000], path[1100];
	struct ag_store *s = NULL;
	struct stat st;
	int fd;

	snprintf(dir, sizeof dir, "%s/empty", base);
	if (ag_store_open(dir, &fuzz_log, &s) != AG_OK)
		abort();
	ag_store_close(s);
	/* all of it in the database file: nothing left in a write-ahead log */
	snprintf(path, sizeof path, "%s/private/" AG_STORE_FILE "-wal", dir);
	if (lstat(path, &st) == 0 && st.st_size != 0)
		abort();
	snprintf(path, sizeof path, "%s/private/" AG_STORE_FILE, dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 || !(empty_db = malloc((size_t)st.st_size)) ||
	    read(fd, empty_db, (size_t)st.st_size) != st.st_size)
		abort();
	empty_db_len = (size_t)st.st_size;
	close(fd);
	remove_tree(dir);
}

/* A state_dir at dir holding an empty store, as root's store must be. */
static void fresh_state_dir(const char *dir)
{
	char path[1100];

	snprintf(path, sizeof path, "%s/private", dir);
	if (mkdir(dir, 0755) != 0 || mkdir(path, 0700) != 0)
		abort();
	snprintf(path, sizeof path, "%s/private/" AG_STORE_FILE, dir);
	write_file(path, empty_db, empty_db_len);
}

/* The pins' store in base/pins: pins from the rest of the input. */
static void pins(const uint8_t *data, size_t size)
{
	static struct ag_config *cfg;
	static struct ag_store *s;
	char dir[1000], conf[1200], path[1100], why[512] = "";
	enum ag_err err;
	uint64_t gen = 0;

	snprintf(dir, sizeof dir, "%s/pins", base);
	if (!cfg) {
		int n = snprintf(conf, sizeof conf,
				 "issuer = https://auth.example.com\nclient_id = pam\nredirect_uri = "
				 "http://127.0.0.1/cb\nstate_dir = %s\nusers = *\n", dir);
		if (ag_config_parse("fuzz.conf", conf, (size_t)n, AG_CONFIG_STRICT, &fuzz_log, &cfg, NULL, 0) != AG_OK)
			abort();
	}
	if (!s) {
		fresh_state_dir(dir);
		if (ag_store_open(dir, &fuzz_log, &s) != AG_OK)
			abort();
	}
	snprintf(path, sizeof path, "%s/pins.txt", base);
	write_file(path, data, size);
	err = ag_identity_import(s, cfg, &fuzz_log, path, why, sizeof why);
	if (err != AG_OK && !why[0])
		__builtin_trap(); /* a refusal names the file and line */
	if (ag_store_generation(s, &gen) != AG_OK || (err != AG_OK && gen != 0))
		__builtin_trap(); /* all or nothing: a refused import wrote no index */
	if (err == AG_OK) {
		/* the next input starts from an empty store again */
		ag_store_close(s);
		s = NULL;
		remove_tree(dir);
	}
}

/* users.json (and throttle.json after a form feed) in a fresh state_dir. */
static void users_json(const uint8_t *data, size_t size)
{
	const uint8_t *ff = memchr(data, '\f', size);
	char dir[1000], path[1100];
	struct ag_store *s = NULL;

	snprintf(dir, sizeof dir, "%s/json", base);
	fresh_state_dir(dir);
	snprintf(path, sizeof path, "%s/private/users.json", dir);
	write_file(path, data, ff ? (size_t)(ff - data) : size);
	if (ff) {
		snprintf(path, sizeof path, "%s/private/throttle.json", dir);
		write_file(path, ff + 1, size - (size_t)(ff + 1 - data));
	}
	if (ag_store_open(dir, &fuzz_log, &s) == AG_OK)
		ag_store_close(s);
	remove_tree(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

	if (size < 1)
		return 0;
	if (!base[0]) {
		snprintf(base, sizeof base, "%s/fuzz-import-%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
		umask(022);
		if (mkdir(base, 0755) != 0 && errno != EEXIST)
			abort();
		atexit(cleanup);
		make_empty_db();
	}
	if (data[0] & 1)
		users_json(data + 1, size - 1);
	else
		pins(data + 1, size - 1);
	return 0;
}
