/* store_check CONFIG [N]: compare the accounts database (through the accounts
 * API, like every other reader) with the NSS index: the same generation,
 * every bound user with a UID in the index under that name and UID, no
 * other users there, each user's granted groups listing them, and UIDs
 * unique. With N: exactly N bound users, each with a UID. Prints
 * "consistent: ..." and exits 0, or prints each difference and exits 1. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts/identity.h"
#include "accounts/index_write.h"
#include "accounts/store.h"
#include "base/conf.h"
#include "common/index.h"

static void sink(void *ctx, int priority, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static const struct ag_log log_stderr = { .sink = sink };
static int problems;

#define PROBLEM(...) (printf(__VA_ARGS__), putchar('\n'), problems++)

static bool member(const struct ag_index *ix, const char *group, const char *user)
{
	static char buf[1 << 20];
	struct group gr;
	uint32_t idx;

	if (ag_index_group_by_name(ix, group, &idx) != AG_INDEX_OK ||
	    ag_index_fill_group(ix, idx, &gr, buf, sizeof buf) != AG_INDEX_OK)
		return false;
	for (char **m = gr.gr_mem; *m; m++)
		if (strcmp(*m, user) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct ag_config *cfg = NULL;
	struct ag_store *s = NULL;
	struct ag_store_db db;
	struct ag_idset uids = { 0 };
	struct ag_index_mapped m;
	const struct ag_index *ix = &m.ix;
	char path[4200], why[512];
	uint64_t gen = 0, igen = 0;
	size_t bound = 0, listed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: store_check CONFIG [N]\n");
		return 2;
	}
	if (ag_config_load(argv[1], AG_CONFIG_STRICT, &log_stderr, &cfg, why, sizeof why) != AG_OK) {
		fprintf(stderr, "store_check: %s\n", why);
		return 2;
	}
	if (ag_store_open(cfg->state_dir, &log_stderr, &s) != AG_OK || ag_store_read(s, &db) != AG_OK ||
	    ag_store_generation(s, &gen) != AG_OK) {
		fprintf(stderr, "store_check: cannot read the store\n");
		return 2;
	}
	snprintf(path, sizeof path, "%s/%s", cfg->state_dir, AG_INDEX_FILE);
	/* the index and its delta, as the NSS module reads them */
	if (!ag_index_map(path, &m)) {
		printf("no index at %s, or it does not open\n", path);
		return 1;
	}
	if (m.delta_bad)
		PROBLEM("the delta %s" AG_INDEX_DELTA_SUFFIX " is malformed", path);
	if (!ag_index_installed_generation(cfg->state_dir, &igen) || igen != gen)
		PROBLEM("index generation %llu, database generation %llu", (unsigned long long)igen,
			(unsigned long long)gen);
	for (size_t i = 0; i < db.n_users; i++) {
		const struct ag_store_user *u = &db.users[i];
		struct passwd pw;
		char buf[4096];
		uint32_t idx;

		if (!u->sub)
			continue;
		bound++;
		if (!u->uid) {
			PROBLEM("%s: bound without a UID", u->name);
			continue;
		}
		if (ag_idset_has(&uids, u->uid))
			PROBLEM("%s: UID %u given twice", u->name, u->uid);
		ag_idset_add(&uids, u->uid);
		if (ag_index_user_by_name(ix, u->name, &idx) != AG_INDEX_OK ||
		    ag_index_fill_passwd(ix, idx, &pw, buf, sizeof buf) != AG_INDEX_OK) {
			PROBLEM("%s: UID %u in the database, not in the index", u->name, u->uid);
			continue;
		}
		if (pw.pw_uid != u->uid)
			PROBLEM("%s: UID %u in the database, %u in the index", u->name, u->uid, (unsigned)pw.pw_uid);
		for (size_t g = 0; g < u->n_groups; g++)
			if (ag_identity_grantable(cfg, u->groups[g]) && !member(ix, u->groups[g], u->name))
				PROBLEM("%s: not a member of %s in the index", u->name, u->groups[g]);
	}
	for (uint32_t i = 0; i < ag_index_n_users(ix); i++) {
		struct passwd pw;
		char buf[4096];

		listed += ag_index_fill_passwd(ix, i, &pw, buf, sizeof buf) == AG_INDEX_OK; /* not the ones a delta replaces */
	}
	if (listed != bound)
		PROBLEM("the index has %zu users, the database %zu bound", listed, bound);
	if (argc > 2 && bound != strtoull(argv[2], NULL, 10))
		PROBLEM("%zu bound users, want %s", bound, argv[2]);
	if (problems)
		return 1;
	printf("consistent: %zu bound users, generation %llu (%s)\n", bound, (unsigned long long)gen,
	       ix->d.h ? "base and delta" : "base alone");
	return 0;
}
