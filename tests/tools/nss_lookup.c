/* nss_lookup: glibc lookups the way programs make them, for the NSS tests.
 *
 *   nss_lookup erange USER GROUP
 *       getpwnam_r/getpwuid_r/getgrnam_r/getgrgid_r with every buffer size
 *       from 0 up: each size below the one that works must give ERANGE, and
 *       the answer must equal the one from a large buffer.
 *   nss_lookup threads N SECONDS GROUP USER...
 *       N threads look the users and GROUP up (getpwnam_r, getpwuid_r,
 *       getgrnam_r, getgrouplist) for SECONDS while something else rewrites
 *       the index: every answer must be found and whole (same UID, GID,
 *       home; shell one of /bin/sh and /bin/bash; GROUP's GID; GROUP in the
 *       user's list or not, never garbage). Prints lookups and answers seen.
 *
 * Exit status 0 when every check held, 1 otherwise.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nss_lookup: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int erange_pw(const char *user)
{
	static char big[65536];
	struct passwd ref, pw, *r;
	char want[1024], got[1024], *buf;
	size_t need = 0;

	if (getpwnam_r(user, &ref, big, sizeof big, &r) != 0 || !r)
		return fail("%s: not found with a large buffer", user);
	snprintf(want, sizeof want, "%s:%s:%u:%u:%s:%s:%s", ref.pw_name, ref.pw_passwd, ref.pw_uid, ref.pw_gid,
		 ref.pw_gecos, ref.pw_dir, ref.pw_shell);
	for (size_t len = 0; len < 4096 && !need; len++) {
		int rc;

		buf = malloc(len ? len : 1);
		rc = getpwnam_r(user, &pw, buf, len, &r);
		if (rc == 0 && r) {
			need = len;
			snprintf(got, sizeof got, "%s:%s:%u:%u:%s:%s:%s", pw.pw_name, pw.pw_passwd, pw.pw_uid, pw.pw_gid,
				 pw.pw_gecos, pw.pw_dir, pw.pw_shell);
			if (strcmp(got, want) != 0) {
				free(buf);
				return fail("getpwnam_r(%s): answer differs at size %zu", user, len);
			}
		} else if (rc != ERANGE) {
			free(buf);
			return fail("getpwnam_r(%s) with a short buffer: not ERANGE (%d)", user, rc);
		}
		if (rc == 0 && r) {
			uid_t uid = pw.pw_uid;
			struct passwd pw2;
			/* by UID, same buffer sizes */
			if (getpwuid_r(uid, &pw2, buf, len, &r) != 0 || !r || strcmp(pw2.pw_name, user) != 0) {
				free(buf);
				return fail("getpwuid_r for %s at the size that works", user);
			}
			if (len > 0 && getpwuid_r(uid, &pw2, buf, len - 1, &r) != ERANGE) {
				free(buf);
				return fail("getpwuid_r for %s one byte short: not ERANGE", user);
			}
		}
		free(buf);
	}
	if (!need)
		return fail("getpwnam_r(%s) never worked up to 4096 bytes", user);
	printf("passwd %s: ERANGE below %zu bytes, then %s\n", user, need, want);
	return 0;
}

static int erange_gr(const char *group)
{
	static char big[1 << 20];
	struct group ref, gr, *r;
	size_t need = 0, n_ref = 0;

	if (getgrnam_r(group, &ref, big, sizeof big, &r) != 0 || !r)
		return fail("%s: group not found with a large buffer", group);
	for (char **m = ref.gr_mem; *m; m++)
		n_ref++;
	for (size_t len = 0; len < (1 << 20) && !need; len++) {
		char *buf = malloc(len ? len : 1);
		int rc = getgrnam_r(group, &gr, buf, len, &r);

		if (rc == 0 && r) {
			size_t n = 0;
			need = len;
			for (char **m = gr.gr_mem; *m; m++, n++)
				if (n >= n_ref || strcmp(*m, ref.gr_mem[n]) != 0) {
					free(buf);
					return fail("getgrnam_r(%s): members differ at size %zu", group, len);
				}
			if (n != n_ref || gr.gr_gid != ref.gr_gid) {
				free(buf);
				return fail("getgrnam_r(%s) differs at size %zu", group, len);
			}
			if (getgrgid_r(gr.gr_gid, &gr, buf, len - 1, &r) != ERANGE) {
				free(buf);
				return fail("getgrgid_r(%s) one byte short: not ERANGE", group);
			}
		} else if (rc != ERANGE) {
			free(buf);
			return fail("getgrnam_r(%s) with a short buffer: not ERANGE (%d)", group, rc);
		}
		free(buf);
	}
	if (!need)
		return fail("getgrnam_r(%s) never worked", group);
	printf("group %s: ERANGE below %zu bytes, then %zu members\n", group, need, n_ref);
	return 0;
}

/* --- threads --------------------------------------------------------------- */

struct expect {
	const char *name;
	uid_t uid;
	gid_t gid;
	char home[256];
};

static struct expect *users;
static int n_users;
static const char *team;
static gid_t team_gid;
static atomic_long lookups, errors, with_team, without_team, shells[2];
static atomic_int stop;

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	char buf[16384];

	while (!atomic_load(&stop)) {
		const struct expect *e = &users[rand_r(&seed) % (unsigned)n_users];
		struct passwd pw, *pr = NULL;
		struct group gr, *grr = NULL;
		gid_t groups[64];
		int ng = 64, in_team = 0, bad = 0;

		if (getpwnam_r(e->name, &pw, buf, sizeof buf, &pr) != 0 || !pr || pw.pw_uid != e->uid ||
		    pw.pw_gid != e->gid || strcmp(pw.pw_dir, e->home) != 0 || strcmp(pw.pw_name, e->name) != 0)
			bad = 1;
		else if (strcmp(pw.pw_shell, "/bin/sh") == 0)
			atomic_fetch_add(&shells[0], 1);
		else if (strcmp(pw.pw_shell, "/bin/bash") == 0)
			atomic_fetch_add(&shells[1], 1);
		else
			bad = 1;
		if (getpwuid_r(e->uid, &pw, buf, sizeof buf, &pr) != 0 || !pr || strcmp(pw.pw_name, e->name) != 0)
			bad = 1;
		if (getgrnam_r(team, &gr, buf, sizeof buf, &grr) != 0 || !grr || gr.gr_gid != team_gid)
			bad = 1;
		if (getgrouplist(e->name, e->gid, groups, &ng) < 0 || ng < 1 || groups[0] != e->gid)
			bad = 1;
		for (int i = 0; i < ng && ng <= 64; i++)
			in_team |= groups[i] == team_gid;
		atomic_fetch_add(in_team ? &with_team : &without_team, 1);
		atomic_fetch_add(&lookups, 4);
		if (bad && atomic_fetch_add(&errors, 1) < 5)
			fprintf(stderr, "nss_lookup: garbage or missing answer for %s\n", e->name);
	}
	return NULL;
}

static int threads(int n, int seconds, char **names, int count)
{
	pthread_t *t = calloc((size_t)n, sizeof *t);
	char buf[16384];

	users = calloc((size_t)count, sizeof *users);
	n_users = count;
	for (int i = 0; i < count; i++) {
		struct passwd pw, *r;
		if (getpwnam_r(names[i], &pw, buf, sizeof buf, &r) != 0 || !r)
			return fail("%s: not found before the start", names[i]);
		users[i].name = names[i];
		users[i].uid = pw.pw_uid;
		users[i].gid = pw.pw_gid;
		snprintf(users[i].home, sizeof users[i].home, "%s", pw.pw_dir);
	}
	{
		struct group gr, *r;
		if (getgrnam_r(team, &gr, buf, sizeof buf, &r) != 0 || !r)
			return fail("group %s not found before the start", team);
		team_gid = gr.gr_gid;
	}
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	sleep((unsigned)seconds);
	atomic_store(&stop, 1);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("threads=%d lookups=%ld errors=%ld shell_sh=%ld shell_bash=%ld in_team=%ld not_in_team=%ld\n", n,
	       atomic_load(&lookups), atomic_load(&errors), atomic_load(&shells[0]), atomic_load(&shells[1]),
	       atomic_load(&with_team), atomic_load(&without_team));
	free(t);
	free(users);
	return atomic_load(&errors) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "erange") == 0)
		return erange_pw(argv[2]) | erange_gr(argv[3]);
	if (argc >= 6 && strcmp(argv[1], "threads") == 0) {
		team = argv[4];
		return threads(atoi(argv[2]), atoi(argv[3]), argv + 5, argc - 5);
	}
	fprintf(stderr, "usage: nss_lookup erange USER GROUP | threads N SECONDS GROUP USER...\n");
	return 2;
}
