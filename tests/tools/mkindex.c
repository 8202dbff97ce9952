/* mkindex: write a synthetic NSS index (and, optionally, the same users and
 * groups in /etc/passwd and /etc/group format) for tests, the fuzz corpus
 * and bench/nss. Users PREFIX000000.., UIDs from the hash (collisions
 * resolved within the set), user-private groups, and G team groups: user i
 * is in team i % G.
 *
 *   mkindex [--users N] [--prefix P] [--groups G] [--allow LIST] [--shell S]
 *           [--passwd FILE] [--group FILE] DIR
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/idmap.h"
#include "accounts/index_write.h"
#include "base/log.h"
#include "common/names.h"
#include "common/uid.h"

static void stderr_sink(void *ctx, int priority, const char *line)
{
	fprintf(stderr, "mkindex: %s\n", line);
}

static int no_one(void *ctx, uint32_t id, char *name, size_t len)
{
	return 0;
}

static int no_name(void *ctx, const char *name, uint32_t *id)
{
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "users", required_argument, NULL, 'n' }, { "prefix", required_argument, NULL, 'p' },
		{ "groups", required_argument, NULL, 'g' }, { "allow", required_argument, NULL, 'a' },
		{ "shell", required_argument, NULL, 's' }, { "passwd", required_argument, NULL, 'P' },
		{ "group", required_argument, NULL, 'G' }, { NULL, 0, NULL, 0 },
	};
	const struct ag_log log = { .sink = stderr_sink };
	const struct ag_idmap_probe probe = { no_one, no_one, no_name, no_name, NULL };
	const struct ag_id_range range = { 200000, 2000200000 };
	const char *prefix = "u", *allow = NULL, *shell = "/bin/sh", *passwd_path = NULL, *group_path = NULL;
	size_t n = 1, n_teams = 0;
	struct ag_index_in_user *users;
	struct ag_index_in_group *groups;
	struct ag_idset taken = { 0 };
	char (*names)[AG_NAME_MAX + 1], (*homes)[64], (*team_names)[AG_NAME_MAX + 1];
	uint32_t **members;
	size_t *n_members;
	struct ag_index_input in = { 0 };
	void *data;
	size_t len;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'p': prefix = optarg; break;
		case 'g': n_teams = strtoul(optarg, NULL, 10); break;
		case 'a': allow = optarg; break;
		case 's': shell = optarg; break;
		case 'P': passwd_path = optarg; break;
		case 'G': group_path = optarg; break;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: mkindex [options] DIR\n");
		return 2;
	}
	users = calloc(n + 1, sizeof *users);
	groups = calloc(n + n_teams + 1, sizeof *groups);
	names = calloc(n + 1, sizeof *names);
	homes = calloc(n + 1, sizeof *homes);
	team_names = calloc(n_teams + 1, sizeof *team_names);
	members = calloc(n_teams + 1, sizeof *members);
	n_members = calloc(n_teams + 1, sizeof *n_members);
	if (!users || !groups || !names || !homes || !team_names || !members || !n_members)
		return 1;
	for (size_t t = 0; t < n_teams; t++) {
		uint32_t gid;

		snprintf(team_names[t], sizeof team_names[t], "%s-team%02zu", prefix, t);
		members[t] = malloc((n / n_teams + 1) * sizeof **members);
		if (!members[t] || ag_idmap_gid(team_names[t], &range, &taken, &probe, &log, &gid) != AG_OK ||
		    ag_idset_add(&taken, gid) != AG_OK)
			return 1;
		groups[n + t] = (struct ag_index_in_group){ team_names[t], gid, false, members[t], 0 };
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t uid;

		snprintf(names[i], sizeof names[i], "%s%06zu", prefix, i);
		snprintf(homes[i], sizeof homes[i], "/home/%s", names[i]);
		if (!ag_name_valid(names[i]) || ag_idmap_uid(names[i], &range, &taken, true, &probe, &log, &uid) != AG_OK ||
		    ag_idset_add(&taken, uid) != AG_OK)
			return 1;
		users[i] = (struct ag_index_in_user){ names[i], uid, uid, homes[i], shell };
		groups[i] = (struct ag_index_in_group){ names[i], uid, false, NULL, 0 };
		if (n_teams) {
			size_t t = i % n_teams;
			members[t][n_members[t]++] = (uint32_t)i;
			groups[n + t].n_members = n_members[t];
		}
	}
	in.users = users;
	in.n_users = n;
	in.groups = groups;
	in.n_groups = n + n_teams;
	in.allow = allow;
	in.range = range;
	in.home_template = "/home/%u";
	in.shell = shell;
	if (ag_index_build(&in, &log, &data, &len) != AG_OK || ag_index_install(argv[optind], data, len, &log) != AG_OK)
		return 1;
	if (passwd_path) {
		FILE *f = fopen(passwd_path, "a");
		if (!f)
			return 1;
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s:*:%u:%u::%s:%s\n", names[i], users[i].uid, users[i].gid, homes[i], shell);
		fclose(f);
	}
	if (group_path) {
		FILE *f = fopen(group_path, "a");
		if (!f)
			return 1;
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s:*:%u:\n", names[i], users[i].uid);
		for (size_t t = 0; t < n_teams; t++) {
			fprintf(f, "%s:*:%u:", team_names[t], groups[n + t].gid);
			for (size_t m = 0; m < n_members[t]; m++)
				fprintf(f, "%s%s", m ? "," : "", names[members[t][m]]);
			fputc('\n', f);
		}
		fclose(f);
	}
	printf("%zu users, %zu groups, %zu bytes\n", n, n + n_teams, len);
	free(data);
	for (size_t t = 0; t < n_teams; t++)
		free(members[t]);
	free(members);
	free(n_members);
	free(team_names);
	free(homes);
	free(names);
	free(groups);
	free(users);
	ag_idset_free(&taken);
	return 0;
}
