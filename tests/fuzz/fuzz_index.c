/* Fuzz target: the NSS index reader (index_read.c), which runs inside every
 * process that looks a user up. Whatever the bytes, every lookup must end,
 * read nothing outside the file, and fill only the caller's buffer. An
 * input longer than its header's file_size carries a delta after the base
 * (nss.index.delta): the lookups then run over both. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"alice", "bob", "carol", "ops", "docker", "authgear-admins", "dev-x", "u000001", "u000042", "root", "",
};

/* A string the reader returned must lie inside the caller's buffer. */
static void inside(const char *s, const char *buf, size_t len)
{
	if (s < buf || s >= buf + len || memchr(s, '\0', (size_t)(buf + len - s)) == NULL)
		__builtin_trap();
}

static void check_pw(const struct passwd *pw, const char *buf, size_t len)
{
	inside(pw->pw_name, buf, len);
	inside(pw->pw_passwd, buf, len);
	inside(pw->pw_gecos, buf, len);
	inside(pw->pw_dir, buf, len);
	inside(pw->pw_shell, buf, len);
	if (pw->pw_uid == 0 || pw->pw_gid == 0 || strcmp(pw->pw_passwd, "*") != 0)
		__builtin_trap();
}

static void check_gr(const struct group *gr, const char *buf, size_t len)
{
	inside(gr->gr_name, buf, len);
	if (gr->gr_gid == 0 || (const char *)gr->gr_mem < buf || (const char *)gr->gr_mem >= buf + len)
		__builtin_trap();
	for (char **m = gr->gr_mem; *m; m++)
		inside(*m, buf, len);
}

static void lookups(const struct ag_index *ix, char *buf, size_t len)
{
	struct passwd pw;
	struct group gr;
	const uint32_t *gids;
	uint32_t idx, n;
	bool local;

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		if (ag_index_user_by_name(ix, names[i], &idx) == AG_INDEX_OK) {
			if (ag_index_fill_passwd(ix, idx, &pw, buf, len) == AG_INDEX_OK)
				check_pw(&pw, buf, len);
			if (ag_index_user_gids(ix, idx, &gids, &n) == AG_INDEX_OK)
				for (uint32_t g = 0; g < n; g++)
					if (gids[g] == 0)
						__builtin_trap();
		}
		if (ag_index_group_by_name(ix, names[i], &idx) == AG_INDEX_OK &&
		    ag_index_fill_group(ix, idx, &gr, buf, len) == AG_INDEX_OK)
			check_gr(&gr, buf, len);
		if (ag_index_provisional(ix, names[i], &pw, buf, len) == AG_INDEX_OK)
			check_pw(&pw, buf, len);
	}
	for (uint32_t id = 199999; id < 200010; id++) {
		if (ag_index_user_by_uid(ix, id, &idx) == AG_INDEX_OK &&
		    ag_index_fill_passwd(ix, idx, &pw, buf, len) == AG_INDEX_OK)
			check_pw(&pw, buf, len);
		if (ag_index_group_by_gid(ix, id, &idx) == AG_INDEX_OK &&
		    ag_index_fill_group(ix, idx, &gr, buf, len) == AG_INDEX_OK)
			check_gr(&gr, buf, len);
	}
	/* enumeration, as getpwent/getgrent do it */
	for (uint32_t i = 0; i < ag_index_n_users(ix) && i < 256; i++)
		if (ag_index_fill_passwd(ix, i, &pw, buf, len) == AG_INDEX_OK)
			check_pw(&pw, buf, len);
	for (uint32_t i = 0; i < ag_index_n_groups(ix) && i < 256; i++) {
		(void)ag_index_group_local(ix, i, &local);
		if (ag_index_fill_group(ix, i, &gr, buf, len) == AG_INDEX_OK)
			check_gr(&gr, buf, len);
	}
	(void)ag_index_superseded(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char small[24], big[4096];
	struct ag_index ix;
	size_t base = size, dsize = 0;
	void *copy, *delta = NULL;
	uint64_t claimed;

	if (size > AG_INDEX_SIZE_MAX)
		return 0;
	if (size >= offsetof(struct ag_index_header, file_size) + sizeof claimed) {
		memcpy(&claimed, data + offsetof(struct ag_index_header, file_size), sizeof claimed);
		if (claimed >= AG_INDEX_HEADER_V1_SIZE && claimed < size) {
			base = (size_t)claimed;
			dsize = size - base;
		}
	}
	/* mmap gives page alignment; give the reader the same. */
	copy = aligned_alloc(8, (base + 7) & ~(size_t)7);
	delta = aligned_alloc(8, (dsize + 8) & ~(size_t)7);
	if (!copy || !delta)
		goto out;
	memcpy(copy, data, base);
	memcpy(delta, data + base, dsize);
	if (ag_index_open(copy, base, &ix, NULL)) {
		if (dsize)
			(void)ag_index_attach_delta(&ix, delta, dsize, NULL);
		lookups(&ix, big, sizeof big);
		lookups(&ix, small, sizeof small); /* ERANGE paths */
		lookups(&ix, small + 1, sizeof small - 1); /* misaligned buffer */
	}
out:
	free(copy);
	free(delta);
	return 0;
}
