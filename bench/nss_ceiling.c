/* libnss_ceiling.so.2: the benchmark's practical ceiling for an NSS module.
 * It serves the users and groups of two files in /etc/passwd and /etc/group
 * format (CEILING_PASSWD, CEILING_GROUP) from in-memory hash tables built at
 * the first call: no file access, no validation, no locking after that.
 * Bench only; never install it. */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum nss_status _nss_ceiling_getpwnam_r(const char *, struct passwd *, char *, size_t, int *);
enum nss_status _nss_ceiling_getpwuid_r(uid_t, struct passwd *, char *, size_t, int *);
enum nss_status _nss_ceiling_getgrnam_r(const char *, struct group *, char *, size_t, int *);
enum nss_status _nss_ceiling_getgrgid_r(gid_t, struct group *, char *, size_t, int *);
enum nss_status _nss_ceiling_initgroups_dyn(const char *, gid_t, long int *, long int *, gid_t **, long int, int *);

struct user {
	char *name, *dir, *shell;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	size_t n_gids, cap_gids;
};

struct grp {
	char *name;
	gid_t gid;
	char **mem;
	size_t n_mem;
};

static struct user *users;
static struct grp *groups;
static size_t n_users, n_groups, cap_users, cap_groups;
static uint32_t *u_by_name, *u_by_uid, *g_by_name, *g_by_gid; /* index + 1 */
static size_t u_slots, g_slots;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static uint32_t hash_id(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	return x ^ (x >> 16);
}

static void put(uint32_t *t, size_t slots, uint32_t h, size_t idx)
{
	size_t j;

	for (j = h & (slots - 1); t[j]; j = (j + 1) & (slots - 1))
		;
	t[j] = (uint32_t)idx + 1;
}

static size_t pow2(size_t n)
{
	size_t s = 16;

	while (s < 2 * n)
		s *= 2;
	return s;
}

static char *field(char **p)
{
	char *s = *p, *c = strchr(s, ':');

	if (c) {
		*c = '\0';
		*p = c + 1;
	} else {
		*p = s + strlen(s);
	}
	return s;
}

static struct user *find_user(const char *name);

static void load(void)
{
	const char *pp = getenv("CEILING_PASSWD"), *gp = getenv("CEILING_GROUP");
	char line[1 << 20];
	FILE *f;

	if (pp && (f = fopen(pp, "re"))) {
		while (fgets(line, sizeof line, f)) {
			char *p = line, *name, *dir, *shell;
			struct user *u;

			line[strcspn(line, "\n")] = '\0';
			name = field(&p);
			field(&p);
			if (n_users == cap_users) {
				cap_users = cap_users ? cap_users * 2 : 1024;
				users = realloc(users, cap_users * sizeof *users);
			}
			u = &users[n_users++];
			memset(u, 0, sizeof *u);
			u->name = strdup(name);
			u->uid = (uid_t)strtoul(field(&p), NULL, 10);
			u->gid = (gid_t)strtoul(field(&p), NULL, 10);
			field(&p);
			dir = field(&p);
			shell = field(&p);
			u->dir = strdup(dir);
			u->shell = strdup(shell);
		}
		fclose(f);
	}
	u_slots = pow2(n_users);
	u_by_name = calloc(u_slots, sizeof *u_by_name);
	u_by_uid = calloc(u_slots, sizeof *u_by_uid);
	for (size_t i = 0; i < n_users; i++) {
		put(u_by_name, u_slots, hash_str(users[i].name), i);
		put(u_by_uid, u_slots, hash_id(users[i].uid), i);
	}
	if (gp && (f = fopen(gp, "re"))) {
		while (fgets(line, sizeof line, f)) {
			char *p = line, *m;
			struct grp *g;

			line[strcspn(line, "\n")] = '\0';
			if (n_groups == cap_groups) {
				cap_groups = cap_groups ? cap_groups * 2 : 1024;
				groups = realloc(groups, cap_groups * sizeof *groups);
			}
			g = &groups[n_groups++];
			memset(g, 0, sizeof *g);
			g->name = strdup(field(&p));
			field(&p);
			g->gid = (gid_t)strtoul(field(&p), NULL, 10);
			for (m = strtok(p, ","); m; m = strtok(NULL, ",")) {
				struct user *u = find_user(m);

				g->mem = realloc(g->mem, (g->n_mem + 1) * sizeof *g->mem);
				g->mem[g->n_mem++] = strdup(m);
				if (u) {
					if (u->n_gids == u->cap_gids) {
						u->cap_gids = u->cap_gids ? u->cap_gids * 2 : 4;
						u->gids = realloc(u->gids, u->cap_gids * sizeof *u->gids);
					}
					u->gids[u->n_gids++] = g->gid;
				}
			}
		}
		fclose(f);
	}
	g_slots = pow2(n_groups);
	g_by_name = calloc(g_slots, sizeof *g_by_name);
	g_by_gid = calloc(g_slots, sizeof *g_by_gid);
	for (size_t i = 0; i < n_groups; i++) {
		put(g_by_name, g_slots, hash_str(groups[i].name), i);
		put(g_by_gid, g_slots, hash_id(groups[i].gid), i);
	}
}

static struct user *find_user(const char *name)
{
	if (!u_by_name)
		return NULL;
	for (size_t j = hash_str(name) & (u_slots - 1); u_by_name[j]; j = (j + 1) & (u_slots - 1))
		if (strcmp(users[u_by_name[j] - 1].name, name) == 0)
			return &users[u_by_name[j] - 1];
	return NULL;
}

static struct user *find_uid(uid_t uid)
{
	for (size_t j = hash_id(uid) & (u_slots - 1); u_by_uid[j]; j = (j + 1) & (u_slots - 1))
		if (users[u_by_uid[j] - 1].uid == uid)
			return &users[u_by_uid[j] - 1];
	return NULL;
}

static struct grp *find_group(const char *name)
{
	for (size_t j = hash_str(name) & (g_slots - 1); g_by_name[j]; j = (j + 1) & (g_slots - 1))
		if (strcmp(groups[g_by_name[j] - 1].name, name) == 0)
			return &groups[g_by_name[j] - 1];
	return NULL;
}

static struct grp *find_gid(gid_t gid)
{
	for (size_t j = hash_id(gid) & (g_slots - 1); g_by_gid[j]; j = (j + 1) & (g_slots - 1))
		if (groups[g_by_gid[j] - 1].gid == gid)
			return &groups[g_by_gid[j] - 1];
	return NULL;
}

static char *copy(char **buf, size_t *left, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = *buf;

	if (n > *left)
		return NULL;
	memcpy(p, s, n);
	*buf += n;
	*left -= n;
	return p;
}

static enum nss_status fill_pw(const struct user *u, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	if (!u) {
		*errnop = ENOENT;
		return NSS_STATUS_NOTFOUND;
	}
	pw->pw_uid = u->uid;
	pw->pw_gid = u->gid;
	if (!(pw->pw_name = copy(&buf, &len, u->name)) || !(pw->pw_passwd = copy(&buf, &len, "*")) ||
	    !(pw->pw_gecos = copy(&buf, &len, "")) || !(pw->pw_dir = copy(&buf, &len, u->dir)) ||
	    !(pw->pw_shell = copy(&buf, &len, u->shell))) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	return NSS_STATUS_SUCCESS;
}

static enum nss_status fill_gr(const struct grp *g, struct group *gr, char *buf, size_t len, int *errnop)
{
	size_t pad = (sizeof(char *) - (uintptr_t)buf % sizeof(char *)) % sizeof(char *);
	char **mem;

	if (!g) {
		*errnop = ENOENT;
		return NSS_STATUS_NOTFOUND;
	}
	if (len < pad + (g->n_mem + 1) * sizeof(char *))
		goto erange;
	mem = (char **)(void *)(buf + pad);
	buf += pad + (g->n_mem + 1) * sizeof(char *);
	len -= pad + (g->n_mem + 1) * sizeof(char *);
	gr->gr_gid = g->gid;
	if (!(gr->gr_name = copy(&buf, &len, g->name)) || !(gr->gr_passwd = copy(&buf, &len, "*")))
		goto erange;
	for (size_t i = 0; i < g->n_mem; i++)
		if (!(mem[i] = copy(&buf, &len, g->mem[i])))
			goto erange;
	mem[g->n_mem] = NULL;
	gr->gr_mem = mem;
	return NSS_STATUS_SUCCESS;
erange:
	*errnop = ERANGE;
	return NSS_STATUS_TRYAGAIN;
}

enum nss_status _nss_ceiling_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	pthread_once(&once, load);
	return fill_pw(find_user(name), pw, buf, len, errnop);
}

enum nss_status _nss_ceiling_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	pthread_once(&once, load);
	return fill_pw(find_uid(uid), pw, buf, len, errnop);
}

enum nss_status _nss_ceiling_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len, int *errnop)
{
	pthread_once(&once, load);
	return fill_gr(find_group(name), gr, buf, len, errnop);
}

enum nss_status _nss_ceiling_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop)
{
	pthread_once(&once, load);
	return fill_gr(find_gid(gid), gr, buf, len, errnop);
}

enum nss_status _nss_ceiling_initgroups_dyn(const char *user, gid_t skip, long int *start, long int *size,
					    gid_t **groupsp, long int limit, int *errnop)
{
	struct user *u;

	pthread_once(&once, load);
	u = find_user(user);
	if (!u) {
		*errnop = ENOENT;
		return NSS_STATUS_NOTFOUND;
	}
	for (size_t i = 0; i < u->n_gids; i++) {
		if (u->gids[i] == skip)
			continue;
		if (*start == *size) {
			long int grow = *size * 2;
			if (limit > 0 && grow > limit)
				grow = limit;
			if (grow <= *size)
				break;
			*groupsp = realloc(*groupsp, (size_t)grow * sizeof **groupsp);
			*size = grow;
		}
		(*groupsp)[(*start)++] = u->gids[i];
	}
	return NSS_STATUS_SUCCESS;
}
