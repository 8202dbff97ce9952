/* nss_bench: lookups per second through glibc, every answer checked.
 *
 *   nss_bench PASSWD GROUP SECONDS
 *
 * PASSWD and GROUP are the benchmark's users and groups in /etc format (what
 * mkindex wrote); each user is looked up by name (getpwnam_r), by UID
 * (getpwuid_r), its private group by name (getgrnam_r) and its group list
 * (getgrouplist), in random order, through whatever nsswitch.conf says. Each
 * operation runs for SECONDS (at least 3 lookups). Prints one line:
 *   RESULT getpwnam=N getpwuid=N getgrnam=N getgrouplist=N all=N   (lookups/s)
 * Exit 1 on a wrong or missing answer.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct user {
	char name[40];
	uid_t uid;
	gid_t team;
};

static struct user *users;
static size_t n_users;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int load(const char *passwd, const char *group)
{
	char line[1 << 16];
	FILE *f = fopen(passwd, "r");
	size_t cap = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		if (n_users == cap) {
			cap = cap ? cap * 2 : 1024;
			users = realloc(users, cap * sizeof *users);
		}
		*c1 = '\0';
		snprintf(users[n_users].name, sizeof users[n_users].name, "%.39s", line);
		users[n_users].uid = (uid_t)strtoul(c2 + 1, NULL, 10);
		users[n_users].team = 0;
		n_users++;
	}
	fclose(f);
	/* team groups: name-teamNN:*:GID:members */
	f = fopen(group, "r");
	if (!f)
		return -1;
	{
		static char big[1 << 24];
		while (fgets(big, sizeof big, f)) {
			char *name = big, *c1 = strchr(big, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *c3;
			gid_t gid;
			if (!c2 || !strstr(name, "-team"))
				continue;
			gid = (gid_t)strtoul(c2 + 1, &c3, 10);
			if (*c3 != ':')
				continue;
			c3[strcspn(c3, "\n")] = '\0';
			for (char *m = strtok(c3 + 1, ","); m; m = strtok(NULL, ",")) {
				/* names are PREFIX + index: find by the index */
				size_t i = strtoul(m + strcspn(m, "0123456789"), NULL, 10);
				if (i < n_users && strcmp(users[i].name, m) == 0)
					users[i].team = gid;
			}
		}
	}
	fclose(f);
	return n_users ? 0 : -1;
}

static char buf[1 << 20];

static int check(int op, const struct user *u)
{
	struct passwd pw, *pr;
	struct group gr, *grr;
	gid_t list[16];
	int n = 16, team = 0, own = 0;

	switch (op) {
	case 0:
		return getpwnam_r(u->name, &pw, buf, sizeof buf, &pr) == 0 && pr && pw.pw_uid == u->uid &&
		       strcmp(pw.pw_name, u->name) == 0;
	case 1:
		return getpwuid_r(u->uid, &pw, buf, sizeof buf, &pr) == 0 && pr && strcmp(pw.pw_name, u->name) == 0;
	case 2:
		return getgrnam_r(u->name, &gr, buf, sizeof buf, &grr) == 0 && grr && gr.gr_gid == u->uid;
	default:
		if (getgrouplist(u->name, u->uid, list, &n) < 0)
			return 0;
		for (int i = 0; i < n; i++) {
			own |= list[i] == u->uid;
			team |= list[i] == u->team;
		}
		return own && (team || !u->team);
	}
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "getpwnam", "getpwuid", "getgrnam", "getgrouplist" };
	double seconds, rate[4], total_time = 0;
	long total = 0;
	unsigned seed = 42;

	if (argc != 4 || load(argv[1], argv[2]) != 0) {
		fprintf(stderr, "usage: nss_bench PASSWD GROUP SECONDS\n");
		return 2;
	}
	seconds = atof(argv[3]);
	check(0, &users[0]); /* load the modules */
	for (int op = 0; op < 4; op++) {
		double start = now(), t;
		long count = 0;

		do {
			for (int k = 0; k < 16; k++, count++) {
				const struct user *u = &users[rand_r(&seed) % n_users];
				if (!check(op, u)) {
					fprintf(stderr, "nss_bench: %s(%s): wrong or missing answer\n", names[op], u->name);
					return 1;
				}
			}
			t = now() - start;
		} while (t < seconds || count < 3);
		rate[op] = count / t;
		total += count;
		total_time += t;
	}
	printf("RESULT getpwnam=%.0f getpwuid=%.0f getgrnam=%.0f getgrouplist=%.0f all=%.0f\n", rate[0], rate[1],
	       rate[2], rate[3], total / total_time);
	return 0;
}
