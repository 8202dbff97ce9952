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
 * a fresh state_dir per input (opening a store costs ~15 ms of CPU: this
 * target runs at tens of inputs a second). The state_dirs are under $TMPDIR
 * (/dev/shm is fastest) and removed at exit. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, int priority, const char *line)
{
}

static const struct ag_log fuzz_log = { .sink = quiet };

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
	if (!s && ((mkdir(dir, 0755) != 0 && errno != EEXIST) || ag_store_open(dir, &fuzz_log, &s) != AG_OK))
		abort();
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
	snprintf(path, sizeof path, "%s/private", dir);
	if (mkdir(dir, 0755) != 0 || mkdir(path, 0700) != 0)
		abort();
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
	const char *tmp = getenv("TMPDIR");

	if (size < 1)
		return 0;
	if (!base[0]) {
		snprintf(base, sizeof base, "%s/fuzz-import-%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
		umask(022);
		if (mkdir(base, 0755) != 0 && errno != EEXIST)
			abort();
		atexit(cleanup);
	}
	if (data[0] & 1)
		users_json(data + 1, size - 1);
	else
		pins(data + 1, size - 1);
	return 0;
}
