/* cmocka tests for the store's accounts part and the login-time mapping
 * (needs root: the store refuses directories root does not own): first
 * login UIDs and their collisions, [uids] pins, host entries of the same
 * name, roles -> groups (host groups, new groups, a role removed), the NSS
 * index written with it (only when something it shows changed; repaired
 * when its generation is not the database's), forget / pin / import, the
 * SQLite database itself: the migration of a users.json written by the
 * JSON store, a schema version bump, corrupt files of every kind, owner,
 * mode and symlinks, and the throttle keyed by (name, PAM_RHOST). */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "accounts/identity.h"
#include "accounts/index_write.h"
#include "accounts/store.h"
#include "accounts/tokens.h"
#include "base/conf.h"
#include "common/index.h"
#include "common/uid.h"

static char tmpdir[512], state_dir[600];
static char logs[16384];

static void capture_sink(void *ctx, int priority, const char *line)
{
	size_t n = strlen(logs);

	snprintf(logs + n, sizeof logs - n, "%s\n", line);
}

static const struct ag_log test_log = { .sink = capture_sink };
static const struct ag_id_range range = { 2001000000, 2147000000 }; /* the default uid_range */

/* A fake host: a few passwd and group entries. */
struct host {
	const char *user_names[4];
	uint32_t user_ids[4];
	const char *group_names[4];
	uint32_t group_ids[4];
};

static int h_uid_owner(void *ctx, uint32_t uid, char *name, size_t len)
{
	struct host *h = ctx;

	for (int i = 0; i < 4 && h->user_names[i]; i++)
		if (h->user_ids[i] == uid) {
			snprintf(name, len, "%s", h->user_names[i]);
			return 1;
		}
	return 0;
}

static int h_gid_owner(void *ctx, uint32_t gid, char *name, size_t len)
{
	struct host *h = ctx;

	for (int i = 0; i < 4 && h->group_names[i]; i++)
		if (h->group_ids[i] == gid) {
			snprintf(name, len, "%s", h->group_names[i]);
			return 1;
		}
	return 0;
}

static int h_user_uid(void *ctx, const char *name, uint32_t *uid)
{
	struct host *h = ctx;

	for (int i = 0; i < 4 && h->user_names[i]; i++)
		if (strcmp(h->user_names[i], name) == 0) {
			*uid = h->user_ids[i];
			return 1;
		}
	return 0;
}

static int h_group_gid(void *ctx, const char *name, uint32_t *gid)
{
	struct host *h = ctx;

	for (int i = 0; i < 4 && h->group_names[i]; i++)
		if (strcmp(h->group_names[i], name) == 0) {
			*gid = h->group_ids[i];
			return 1;
		}
	return 0;
}

static struct host host;
static const struct ag_idmap_probe probe = { h_uid_owner, h_gid_owner, h_user_uid, h_group_gid, &host };

static struct ag_config *config(const char *extra)
{
	char text[4096];
	struct ag_config *cfg = NULL;
	char why[512];

	snprintf(text, sizeof text,
		 "issuer = https://auth.example.com\nclient_id = pam\nredirect_uri = http://127.0.0.1/cb\n"
		 "state_dir = %s\nusers = alice, bob, dev-*\n%s"
		 "[roles]\nunix-admin = authgear-admins\nunix-user = authgear-users, users\n"
		 "[uids]\ncarol = 1500\n",
		 state_dir, extra ? extra : "");
	if (ag_config_parse("t.conf", text, strlen(text), AG_CONFIG_STRICT, &test_log, &cfg, why, sizeof why) != AG_OK)
		print_error("config: %s\n", why);
	assert_non_null(cfg);
	return cfg;
}

static struct ag_store *store(void)
{
	struct ag_store *s = NULL;

	if (ag_store_open(state_dir, &test_log, &s) != AG_OK)
		print_error("store: %s\n", logs);
	assert_non_null(s);
	return s;
}

static int fresh(void **state)
{
	char cmd[8300];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
	assert_int_equal(system(cmd), 0);
	memset(&host, 0, sizeof host);
	logs[0] = '\0';
	return 0;
}

/* The index file, read into an aligned buffer. */
struct mapped {
	struct ag_index_mapped map;
	struct ag_index ix;
};

/* The index and its delta, as the NSS module maps them. */
static void read_index(struct mapped *m)
{
	char path[8300];
	struct stat st;

	snprintf(path, sizeof path, "%s/nss.index", state_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	snprintf(path, sizeof path, "%s/nss.index.delta", state_dir);
	if (stat(path, &st) == 0)
		assert_int_equal(st.st_mode & 07777, 0644);
	snprintf(path, sizeof path, "%s/nss.index", state_dir);
	assert_true(ag_index_map(path, &m->map));
	assert_false(m->map.delta_bad);
	m->ix = m->map.ix;
}

static void login(struct ag_store *s, struct ag_config *cfg, const char *user, const char *sub, char **roles,
		  size_t n_roles, enum ag_err want)
{
	enum ag_err err = ag_identity_login(s, cfg, &test_log, user, sub, roles, n_roles, NULL, &probe, NULL, NULL);

	if (err != want)
		print_error("login %s: %s\n", user, logs);
	assert_int_equal(err, want);
}

static uint32_t pw_uid(const struct ag_index *ix, const char *name)
{
	struct passwd pw;
	char buf[1024];
	uint32_t idx;

	if (ag_index_user_by_name(ix, name, &idx) != AG_INDEX_OK)
		return 0;
	assert_int_equal(ag_index_fill_passwd(ix, idx, &pw, buf, sizeof buf), AG_INDEX_OK);
	return pw.pw_uid;
}

static bool in_group(const struct ag_index *ix, const char *group, const char *user)
{
	struct group gr;
	char buf[4096];
	uint32_t idx;

	if (ag_index_group_by_name(ix, group, &idx) != AG_INDEX_OK)
		return false;
	assert_int_equal(ag_index_fill_group(ix, idx, &gr, buf, sizeof buf), AG_INDEX_OK);
	for (char **m = gr.gr_mem; *m; m++)
		if (strcmp(*m, user) == 0)
			return true;
	return false;
}

static bool has_gid(const struct ag_index *ix, const char *user, uint32_t gid)
{
	const uint32_t *gids;
	uint32_t idx, n;

	assert_int_equal(ag_index_user_by_name(ix, user, &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_user_gids(ix, idx, &gids, &n), AG_INDEX_OK);
	for (uint32_t i = 0; i < n; i++)
		if (gids[i] == gid)
			return true;
	return false;
}

static void test_first_login_roles_and_index(void **state)
{
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
	char *roles[] = { "unix-admin", "unix-user", "not-mapped" };
	uint32_t alice = ag_id_candidate(AG_ID_USER, "alice", 0, &range);
	uint32_t admins = ag_id_candidate(AG_ID_GROUP, "authgear-admins", 0, &range);
	struct ag_store_db db;
	struct mapped m;
	struct stat st;
	char path[8300];

	host.group_names[0] = "users";
	host.group_ids[0] = 100;
	login(s, cfg, "alice", "sub-alice", roles, 3, AG_OK);
	assert_non_null(strstr(logs, "account: alice gets UID "));
	assert_non_null(strstr(logs, "account: group users is a host group (GID 100)"));

	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(db.n_users, 1);
	assert_int_equal(db.users[0].uid, alice);
	assert_int_equal(db.users[0].n_groups, 3);
	assert_string_equal(db.users[0].groups[0], "authgear-admins");
	assert_string_equal(db.users[0].groups[2], "users");
	assert_int_equal(db.users[0].n_roles, 3);
	assert_int_equal(ag_store_db_group(&db, "authgear-admins")->gid, admins);
	assert_false(ag_store_db_group(&db, "authgear-admins")->local);
	assert_true(ag_store_db_group(&db, "users")->local);
	assert_int_equal(ag_store_db_group(&db, "users")->gid, 100);
	ag_store_db_free(&db);

	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "alice"), alice);
	assert_true(in_group(&m.ix, "authgear-admins", "alice"));
	assert_true(in_group(&m.ix, "authgear-users", "alice"));
	assert_true(in_group(&m.ix, "users", "alice"));
	assert_true(has_gid(&m.ix, "alice", admins));
	assert_true(has_gid(&m.ix, "alice", 100));
	/* no sub in the public file */
	assert_null(memmem(m.map.map, m.map.size, "sub-alice", 9));
	assert_true(!m.map.dmap || !memmem(m.map.dmap, m.map.dsize, "sub-alice", 9));
	ag_index_unmap(&m.map);
	snprintf(path, sizeof path, "%s/private", state_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof path, "%s/private/accounts.db", state_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(path, sizeof path, "%s/private/accounts.db-wal", state_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* The role is removed at Authgear: the next login drops the group. */
	logs[0] = '\0';
	login(s, cfg, "alice", "sub-alice", roles + 1, 1, AG_OK);
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "alice"), alice); /* pinned */
	assert_false(in_group(&m.ix, "authgear-admins", "alice"));
	assert_false(has_gid(&m.ix, "alice", admins));
	assert_true(in_group(&m.ix, "users", "alice"));
	ag_index_unmap(&m.map);
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(ag_store_db_group(&db, "authgear-admins")->gid, admins); /* GID stays pinned */
	ag_store_db_free(&db);

	/* A group dropped from [roles] is no longer served, even to members. */
	ag_config_free(cfg);
	{
		char text[2048];
		struct ag_config *c2 = NULL;
		snprintf(text, sizeof text,
			 "issuer = https://a.example\nclient_id = p\nredirect_uri = http://127.0.0.1/cb\nstate_dir = %s\n"
			 "[roles]\nunix-user = authgear-users\n", state_dir);
		assert_int_equal(ag_config_parse("t", text, strlen(text), AG_CONFIG_STRICT, &test_log, &c2, NULL, 0),
				 AG_OK);
		assert_int_equal(ag_identity_reindex(s, c2, &test_log), AG_OK);
		read_index(&m);
		assert_false(in_group(&m.ix, "users", "alice"));
		assert_true(in_group(&m.ix, "authgear-users", "alice"));
		/* no allow-list now: no provisional entries */
		{
			struct passwd pw;
			char buf[512];
			assert_int_equal(ag_index_provisional(&m.ix, "bob", &pw, buf, sizeof buf), AG_INDEX_NOTFOUND);
		}
		ag_index_unmap(&m.map);
		ag_config_free(c2);
	}
	ag_store_close(s);
}

static void test_uid_sources(void **state)
{
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
	uint32_t bob0 = ag_id_candidate(AG_ID_USER, "bob", 0, &range);
	uint32_t bob1 = ag_id_candidate(AG_ID_USER, "bob", 1, &range);
	struct mapped m;

	/* A host passwd entry of another name holds bob's first candidate. */
	host.user_names[0] = "localbob";
	host.user_ids[0] = bob0;
	login(s, cfg, "bob", "sub-bob", NULL, 0, AG_OK);
	assert_non_null(strstr(logs, "idmap: bob: candidate 0"));
	assert_non_null(strstr(logs, "is taken by passwd entry localbob"));
	/* [uids] pin */
	login(s, cfg, "carol", "sub-carol", NULL, 0, AG_OK);
	/* a host entry of the same name keeps its UID */
	host.user_names[1] = "dev-erin";
	host.user_ids[1] = 4242;
	login(s, cfg, "dev-erin", "sub-erin", NULL, 0, AG_OK);
	assert_non_null(strstr(logs, "dev-erin already has UID 4242 on this host; pinned"));
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "bob"), bob1);
	assert_int_equal(pw_uid(&m.ix, "carol"), 1500);
	assert_int_equal(pw_uid(&m.ix, "dev-erin"), 4242);
	ag_index_unmap(&m.map);
	/* a UID never changes, even when [uids] later says otherwise */
	ag_config_free(cfg);
	cfg = config(NULL);
	{
		char text[2048];
		struct ag_config *c2 = NULL;
		snprintf(text, sizeof text,
			 "issuer = https://a.example\nclient_id = p\nredirect_uri = http://127.0.0.1/cb\nstate_dir = %s\n"
			 "[uids]\nbob = 1600\ndev-zed = 1500\n", state_dir);
		assert_int_equal(ag_config_parse("t", text, strlen(text), AG_CONFIG_STRICT, &test_log, &c2, NULL, 0),
				 AG_OK);
		logs[0] = '\0';
		login(s, c2, "bob", "sub-bob", NULL, 0, AG_OK);
		assert_non_null(strstr(logs, "[uids] pins bob to 1600, but its UID has been"));
		/* a pin that another user already has: refused */
		login(s, c2, "dev-zed", "sub-zed", NULL, 0, AG_ERR_CONFIG);
		assert_non_null(strstr(logs, "[uids] pins dev-zed to UID 1500, which carol already has"));
		ag_config_free(c2);
	}
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "bob"), bob1);
	assert_int_equal(pw_uid(&m.ix, "dev-zed"), 0);
	ag_index_unmap(&m.map);
	/* a different sub for a bound name: refused, unchanged */
	login(s, cfg, "bob", "another-sub", NULL, 0, AG_ERR_DENIED);
	assert_non_null(strstr(logs, "store: bob is bound to sub sub-bob; refusing sub another-sub"));
	ag_config_free(cfg);
	ag_store_close(s);
}

/* sshd looked the user up before PAM ran and keeps that entry: a first
 * login whose UID differs from the provisional one is refused once. */
static void test_provisional_differs(void **state)
{
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
	uint32_t c0 = ag_id_candidate(AG_ID_USER, "dev-y", 0, &range);
	uint32_t c1 = ag_id_candidate(AG_ID_USER, "dev-y", 1, &range);
	struct mapped m;

	assert_int_equal(ag_identity_reindex(s, cfg, &test_log), AG_OK);
	read_index(&m);
	{
		struct passwd pw;
		char buf[512];
		assert_int_equal(ag_index_provisional(&m.ix, "dev-y", &pw, buf, sizeof buf), AG_INDEX_OK);
		assert_int_equal(pw.pw_uid, c0);
	}
	ag_index_unmap(&m.map);
	host.user_names[0] = "localy";
	host.user_ids[0] = c0;
	login(s, cfg, "dev-y", "sub-y", NULL, 0, AG_ERR_DENIED);
	assert_non_null(strstr(logs, "before its first login dev-y was shown UID"));
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "dev-y"), c1); /* pinned all the same */
	ag_index_unmap(&m.map);
	logs[0] = '\0';
	login(s, cfg, "dev-y", "sub-y", NULL, 0, AG_OK);
	/* no provisional entry shown (no index): nothing to refuse */
	ag_config_free(cfg);
	ag_store_close(s);
}

static void test_group_clashes(void **state)
{
	struct ag_config *cfg;
	struct ag_store *s = store();
	char *roles[] = { "ops" };
	struct ag_store_db db;

	/* a role mapped to a group named like a user, and to a GID-0 host group */
	{
		char text[2048];
		snprintf(text, sizeof text,
			 "issuer = https://a.example\nclient_id = p\nredirect_uri = http://127.0.0.1/cb\nstate_dir = %s\n"
			 "users = alice, bob\n[roles]\nops = bob, wheel, ops\n", state_dir);
		/* a user listed by a group's name: a configuration error (issue 11) */
		assert_int_equal(ag_config_parse("t", text, strlen(text), AG_CONFIG_STRICT, &test_log, &cfg, NULL, 0),
				 AG_ERR_CONFIG);
		assert_non_null(strstr(logs, "users: bob: also the name of a group"));
		snprintf(text, sizeof text,
			 "issuer = https://a.example\nclient_id = p\nredirect_uri = http://127.0.0.1/cb\nstate_dir = %s\n"
			 "users = alice, b*\n[roles]\nops = bob, wheel, ops\n", state_dir);
		assert_int_equal(ag_config_parse("t", text, strlen(text), AG_CONFIG_STRICT, &test_log, &cfg, NULL, 0),
				 AG_OK);
	}
	host.group_names[0] = "wheel";
	host.group_ids[0] = 0;
	/* bound by a pattern: refused, and the [roles] group keeps its name */
	login(s, cfg, "bob", "sub-bob", NULL, 0, AG_ERR_CONFIG);
	assert_non_null(strstr(logs, "bob is also the name of a group of [roles]"));
	login(s, cfg, "alice", "sub-alice", roles, 1, AG_OK);
	assert_non_null(strstr(logs, "group wheel has GID 0 on this host; never granted"));
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(ag_store_db_user(&db, "alice")->n_groups, 2);
	assert_string_equal(ag_store_db_user(&db, "alice")->groups[0], "bob");
	assert_string_equal(ag_store_db_user(&db, "alice")->groups[1], "ops");
	assert_null(ag_store_db_group(&db, "wheel"));
	ag_store_db_free(&db);
	ag_config_free(cfg);
	ag_store_close(s);
}

static void write_private(const char *name, const char *text)
{
	char path[8300];
	FILE *f;

	snprintf(path, sizeof path, "%s/private/%s", state_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

/* A whole file (NUL-terminated, *len bytes); NULL when missing. */
static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	buf = malloc(64 * 1024 * 1024);
	assert_non_null(buf);
	n = fread(buf, 1, 64 * 1024 * 1024 - 1, f);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

static char *private_path(const char *name)
{
	static char path[8300];

	snprintf(path, sizeof path, "%s/private/%s", state_dir, name);
	return path;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A users.json and throttle.json written by the JSON store (the fixture was
 * made with that code: tests/fixtures/store-json/README) are imported once,
 * in one transaction, then renamed. */
static void test_migrate_json(void **state)
{
	const char *top = getenv("abs_top_srcdir");
	char path[8300], throttle[256], *users;
	struct ag_config *cfg = config(NULL);
	struct ag_store_db db;
	struct ag_store *s;
	struct mapped m;
	long retry;

	snprintf(path, sizeof path, "%s/tests/fixtures/store-json/users.json", top && *top ? top : ".");
	users = slurp(path, NULL);
	assert_non_null(users);
	s = store(); /* creates the directories */
	ag_store_close(s);
	unlink(private_path("accounts.db"));
	write_private("users.json", users);
	/* The fixture's throttle file, with attempts of the last minute. */
	snprintf(throttle, sizeof throttle, "{\"bob\":[%ld],\"mallory\":[%ld,%ld,%ld,%ld,%ld]}", (long)time(NULL) - 5,
		 (long)time(NULL) - 10, (long)time(NULL) - 9, (long)time(NULL) - 8, (long)time(NULL) - 7,
		 (long)time(NULL) - 6);
	write_private("throttle.json", throttle);
	logs[0] = '\0';
	s = store();
	assert_non_null(strstr(logs, "store: imported 3 users and 3 groups"));
	assert_false(exists(private_path("users.json")));
	assert_false(exists(private_path("throttle.json")));
	assert_true(exists(private_path("users.json.migrated")));
	assert_true(exists(private_path("throttle.json.migrated")));
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(db.n_users, 3);
	assert_string_equal(ag_store_db_user(&db, "alice")->sub, "sub-alice");
	assert_int_equal(ag_store_db_user(&db, "alice")->uid, 1697447617);
	assert_int_equal(ag_store_db_user(&db, "alice")->bound_at, 1700000000);
	assert_int_equal(ag_store_db_user(&db, "alice")->n_groups, 3);
	assert_string_equal(ag_store_db_user(&db, "alice")->groups[2], "users");
	assert_int_equal(ag_store_db_user(&db, "alice")->n_roles, 2);
	assert_int_equal(ag_store_db_user(&db, "bob")->uid, 1036068508);
	assert_null(ag_store_db_user(&db, "dev-x")->sub);
	assert_int_equal(ag_store_db_user(&db, "dev-x")->uid, 5000);
	assert_int_equal(ag_store_db_group(&db, "authgear-admins")->gid, 906616516);
	assert_true(ag_store_db_group(&db, "users")->local);
	ag_store_db_free(&db);
	/* the throttle came along: mallory's 5 attempts of the last minute */
	assert_int_equal(ag_store_throttle_attempt(s, "mallory", NULL, 5, 20, time(NULL), &retry), AG_ERR_RATE_LIMITED);
	assert_int_equal(ag_store_throttle_attempt(s, "bob", NULL, 5, 20, time(NULL), &retry), AG_OK);
	ag_store_close(s);
	/* once: a users.json that shows up again is not imported again */
	write_private("users.json", "{\"users\": {\"eve\": {\"sub\": \"e\", \"uid\": 7000}}}");
	logs[0] = '\0';
	s = store();
	assert_null(strstr(logs, "imported"));
	ag_store_close(s);
	unlink(private_path("users.json"));
	/* the first write builds the index from the imported state */
	s = store();
	login(s, cfg, "alice", "sub-alice", (char *[]){ "unix-user" }, 1, AG_OK);
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "alice"), 1697447617);
	assert_int_equal(pw_uid(&m.ix, "bob"), 1036068508);
	ag_index_unmap(&m.map);
	/* a different sub for the imported binding: refused */
	login(s, cfg, "bob", "sub-other", NULL, 0, AG_ERR_DENIED);
	/* every role gone at Authgear: no roles, no groups left */
	login(s, cfg, "alice", "sub-alice", NULL, 0, AG_OK);
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(ag_store_db_user(&db, "alice")->n_roles, 0);
	assert_int_equal(ag_store_db_user(&db, "alice")->n_groups, 0);
	ag_store_db_free(&db);
	ag_store_close(s);
	ag_config_free(cfg);
	free(users);
}

/* A users.json the import cannot trust refuses the store, and stays as it was. */
static void test_migrate_bad_json(void **state)
{
	static const char *const bad[] = {
		"{not json",
		"[]",
		"{\"users\": []}",
		"{\"users\": {\"..\": {\"sub\": \"x\"}}}",
		"{\"users\": {\"alice\": {\"sub\": \"x\", \"uid\": 0}}}",
		"{\"users\": {\"alice\": {\"sub\": \"x\", \"uid\": \"200000\"}}}",
		"{\"users\": {\"alice\": {\"sub\": \"x\", \"uid\": 4294967296}}}",
		"{\"users\": {\"alice\": {\"sub\": \"x\", \"groups\": [\"-oProxyCommand\"]}}}",
		"{\"users\": {\"alice\": {\"sub\": \"x\", \"groups\": \"sudo\"}}}",
		"{\"users\": {\"alice\": {\"sub\": \"x\", \"groups\": [\"nogroup\"]}}}",
		"{\"users\": {\"alice\": {\"uid\": 300000}, \"bob\": {\"uid\": 300000}}}",
		"{\"groups\": {\"ops\": {\"gid\": 0}}}",
		"{\"groups\": {\"Ops\": {\"gid\": 300000}}}",
		"{\"users\": {}, \"users\": {}}",
	};
	struct ag_store *s = store();
	struct ag_store_db db;

	ag_store_close(s);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *after;

		write_private("users.json", bad[i]);
		logs[0] = '\0';
		s = NULL;
		if (ag_store_open(state_dir, &test_log, &s) != AG_ERR_IO)
			print_error("accepted %s\n", bad[i]);
		assert_null(s);
		if (!strstr(logs, "not imported"))
			print_error("%s: %s\n", bad[i], logs);
		assert_non_null(strstr(logs, "not imported"));
		after = slurp(private_path("users.json"), NULL);
		assert_string_equal(after, bad[i]); /* never overwritten */
		free(after);
	}
	unlink(private_path("users.json"));
	s = store();
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(db.n_users, 0); /* nothing of a failed import stayed */
	ag_store_db_free(&db);
	ag_store_close(s);
}

static void sql(const char *path, const char *text)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
		print_error("%s: %s\n", text, err);
	assert_null(err);
	sqlite3_close(db);
}

/* A database of schema version 1 is migrated forward and keeps its rows; a
 * newer one is refused and left untouched. */
static void test_schema_version(void **state)
{
	char text[4096], *before, *after;
	struct ag_store_db db;
	struct ag_store *s = store();
	size_t n1, n2;

	ag_store_close(s);
	unlink(private_path("accounts.db"));
	unlink(private_path("accounts.db-wal"));
	unlink(private_path("accounts.db-shm"));
	snprintf(text, sizeof text, "PRAGMA application_id = %d; %s PRAGMA user_version = 1;"
		 "INSERT INTO users (name, sub, uid) VALUES ('alice', 's-a', 300001);", AG_STORE_APPLICATION_ID,
		 ag_store_migration(1));
	sql(private_path("accounts.db"), text);
	chmod(private_path("accounts.db"), 0600);
	logs[0] = '\0';
	s = store();
	assert_non_null(strstr(logs, "schema migrated to version 2"));
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(ag_store_db_user(&db, "alice")->uid, 300001);
	ag_store_db_free(&db);
	ag_store_close(s);
	sql(private_path("accounts.db"), "PRAGMA user_version = 99");
	before = slurp(private_path("accounts.db"), &n1);
	logs[0] = '\0';
	s = NULL;
	assert_int_equal(ag_store_open(state_dir, &test_log, &s), AG_ERR_IO);
	assert_non_null(strstr(logs, "schema version 99; this pam_authgear knows 1 to 5"));
	after = slurp(private_path("accounts.db"), &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);
}

static enum ag_store_factor last_factor(struct ag_store *s, const char *name)
{
	enum ag_store_factor f = (enum ag_store_factor)99;

	assert_int_equal(ag_store_last_factor(s, name, &f), AG_OK);
	return f;
}

static void login_factor(struct ag_store *s, struct ag_config *cfg, const char *user, const char *sub,
			 const enum ag_store_factor *f)
{
	assert_int_equal(ag_identity_login(s, cfg, &test_log, user, sub, NULL, 0, f, &probe, NULL, NULL), AG_OK);
}

static enum ag_err rebind_tx(struct ag_store_tx *tx, void *ctx)
{
	struct ag_store_user u;
	bool found;
	enum ag_err err = ag_store_tx_user(tx, ctx, &u, &found);

	free(u.sub);
	u.sub = strdup("s-other");
	if (err == AG_OK)
		err = ag_store_tx_put_user(tx, &u);
	ag_store_user_clear(&u);
	return err;
}

static enum ag_err same_tx(struct ag_store_tx *tx, void *ctx)
{
	struct ag_store_user u;
	bool found;
	enum ag_err err = ag_store_tx_user(tx, ctx, &u, &found);

	u.last_login++;
	if (err == AG_OK)
		err = ag_store_tx_put_user(tx, &u);
	ag_store_user_clear(&u);
	return err;
}

/* The second factor of the last password login (schema 4, after the token cache of schema 3): a database of
 * schema 2 gains the column with its rows kept; a login sets it, a login
 * that cannot tell (device) leaves it; another write of the same binding
 * keeps it, a binding to another sub drops it; a pin or an unknown name
 * has none. */
static void test_last_factor(void **state)
{
	const enum ag_store_factor totp = AG_STORE_FACTOR_TOTP, rc = AG_STORE_FACTOR_RECOVERY_CODE,
				   none = AG_STORE_FACTOR_NONE;
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
	char text[4096];

	ag_store_close(s);
	unlink(private_path("accounts.db"));
	unlink(private_path("accounts.db-wal"));
	unlink(private_path("accounts.db-shm"));
	snprintf(text, sizeof text, "PRAGMA application_id = %d; %s %s PRAGMA user_version = 2;"
		 "INSERT INTO users (name, sub, uid) VALUES ('alice', 's-a', 300001);", AG_STORE_APPLICATION_ID,
		 ag_store_migration(1), ag_store_migration(2));
	sql(private_path("accounts.db"), text);
	chmod(private_path("accounts.db"), 0600);
	logs[0] = '\0';
	s = store();
	assert_non_null(strstr(logs, "schema migrated to version 4"));
	assert_int_equal(last_factor(s, "alice"), AG_STORE_FACTOR_NONE);
	login_factor(s, cfg, "alice", "s-a", &totp);
	assert_int_equal(last_factor(s, "alice"), AG_STORE_FACTOR_TOTP);
	login_factor(s, cfg, "alice", "s-a", NULL);
	assert_int_equal(last_factor(s, "alice"), AG_STORE_FACTOR_TOTP);
	assert_int_equal(ag_store_write(s, same_tx, "alice", NULL), AG_OK);
	assert_int_equal(last_factor(s, "alice"), AG_STORE_FACTOR_TOTP);
	login_factor(s, cfg, "alice", "s-a", &rc);
	assert_int_equal(last_factor(s, "alice"), AG_STORE_FACTOR_RECOVERY_CODE);
	login_factor(s, cfg, "alice", "s-a", &none);
	assert_int_equal(last_factor(s, "alice"), AG_STORE_FACTOR_NONE);
	login_factor(s, cfg, "alice", "s-a", &totp);
	assert_int_equal(ag_store_write(s, rebind_tx, "alice", NULL), AG_OK);
	assert_int_equal(last_factor(s, "alice"), AG_STORE_FACTOR_NONE);
	assert_int_equal(last_factor(s, "nobody"), AG_STORE_FACTOR_NONE);
	/* a pin is no binding: nothing to remember for it */
	sql(private_path("accounts.db"), "INSERT INTO users (name, uid, last_factor) VALUES ('dev-p', 5000, 'totp')");
	assert_int_equal(last_factor(s, "dev-p"), AG_STORE_FACTOR_NONE);
	ag_store_close(s);
	ag_config_free(cfg);
}

/* Damaged databases: each is refused with its reason and never changed. */
static void test_corrupt_database(void **state)
{
	static const struct {
		const char *what, *log;
	} cases[] = {
		{ "zeroed header", "corrupt" },
		{ "truncated", "corrupt" },
		{ "empty", "the database is empty (truncated?)" },
		{ "not sqlite", "corrupt" },
		{ "application_id", "not a pam_authgear database" },
		{ "table missing", "table roles is missing" },
	};
	struct ag_config *cfg = config(NULL);

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct ag_store *s;
		char *before, *after;
		enum ag_err err;
		size_t n1, n2;
		int fd;

		fresh(NULL);
		s = store();
		login(s, cfg, "alice", "s-a", (char *[]){ "unix-user" }, 1, AG_OK);
		for (int u = 0; u < 40; u++) {
			char name[32];
			snprintf(name, sizeof name, "dev-%d", u);
			login(s, cfg, name, name, (char *[]){ "unix-admin" }, 1, AG_OK);
		}
		ag_store_close(s);
		/* everything into the file (the store leaves the WAL to later writers) */
		sql(private_path("accounts.db"), "PRAGMA wal_checkpoint(TRUNCATE)");
		assert_false(exists(private_path("accounts.db-wal")));
		fd = open(private_path("accounts.db"), O_RDWR);
		assert_true(fd >= 0);
		if (i == 0)
			assert_int_equal(pwrite(fd, (char[100]){ 0 }, 100, 0), 100);
		else if (i == 1)
			assert_int_equal(ftruncate(fd, 4096), 0);
		else if (i == 2)
			assert_int_equal(ftruncate(fd, 0), 0);
		else if (i == 3) {
			assert_int_equal(ftruncate(fd, 0), 0);
			assert_int_equal(pwrite(fd, "{\"users\": {}}\n", 14, 0), 14);
		}
		close(fd);
		if (i == 4)
			sql(private_path("accounts.db"), "PRAGMA application_id = 1234");
		else if (i == 5)
			sql(private_path("accounts.db"), "DROP TABLE roles");
		before = slurp(private_path("accounts.db"), &n1);
		logs[0] = '\0';
		s = NULL;
		err = ag_store_open(state_dir, &test_log, &s);
		if (err != AG_ERR_CORRUPT)
			print_error("%s: not refused as corrupt\n", cases[i].what);
		assert_int_equal(err, AG_ERR_CORRUPT);
		assert_null(s);
		if (!strstr(logs, cases[i].log))
			print_error("%s: logs <%s>\n", cases[i].what, logs);
		assert_non_null(strstr(logs, cases[i].log));
		after = slurp(private_path("accounts.db"), &n2);
		assert_int_equal(n1, n2);
		assert_memory_equal(before, after, n1);
		free(before);
		free(after);
	}
	ag_config_free(cfg);
}

/* Owner, mode and symlinks of the directory and of each file. */
static void test_permissions(void **state)
{
	struct ag_store *s = store();
	char link_to[8300];

	ag_store_close(s);
	snprintf(link_to, sizeof link_to, "%s/elsewhere", tmpdir);
	{
		static const struct {
			const char *file;
			int how; /* 0: chmod 0644, 1: chown, 2: symlink */
			const char *log;
		} cases[] = {
			{ "accounts.db", 0, "accounts.db: mode 0644 lets group or others in" },
			{ "accounts.db", 1, "accounts.db: owned by uid 4321, not root" },
			{ "accounts.db", 2, "accounts.db: is a symlink" },
			{ "accounts.db-wal", 0, "accounts.db-wal: mode 0644" },
			{ "accounts.db-wal", 2, "accounts.db-wal: is a symlink" },
			{ "accounts.db-shm", 1, "accounts.db-shm: owned by uid 4321" },
			{ "accounts.db-shm", 2, "accounts.db-shm: is a symlink" },
			{ "", 0, "private: mode 0755" },
			{ "", 1, "owned by uid 4321" },
		};
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
			char *p = cases[i].file[0] ? private_path(cases[i].file) : private_path("");
			char saved[8400];

			fresh(NULL);
			s = store();
			ag_store_close(s);
			if (cases[i].file[0] && !exists(p))
				write_private(cases[i].file, "");
			if (!cases[i].file[0])
				p[strlen(p) - 1] = '\0'; /* the directory */
			if (cases[i].how == 0)
				assert_int_equal(chmod(p, cases[i].file[0] ? 0644 : 0755), 0);
			else if (cases[i].how == 1)
				assert_int_equal(chown(p, 4321, 4321), 0);
			else {
				snprintf(saved, sizeof saved, "%s.real", p);
				assert_int_equal(rename(p, saved), 0);
				assert_int_equal(symlink(saved, p), 0);
			}
			logs[0] = '\0';
			s = NULL;
			if (ag_store_open(state_dir, &test_log, &s) == AG_OK)
				print_error("%s %d: accepted\n", cases[i].file, cases[i].how);
			assert_null(s);
			if (!strstr(logs, cases[i].log))
				print_error("%s %d: logs <%s>\n", cases[i].file, cases[i].how, logs);
			assert_non_null(strstr(logs, cases[i].log));
		}
	}
}

/* The NSS index is rewritten only when something it shows changed, and a
 * writer that finds an index of another generation (a crash between commit
 * and rename) rebuilds it. */
static void test_index_generation(void **state)
{
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
	char *roles[] = { "unix-admin", "unix-user" };
	char path[8300], dpath[8400], saved[8300], cmd[26000];
	struct stat a, b, d;
	struct mapped m;

	snprintf(path, sizeof path, "%s/nss.index", state_dir);
	snprintf(saved, sizeof saved, "%s/nss.index.saved", tmpdir);
	login(s, cfg, "alice", "s-a", roles, 2, AG_OK);
	assert_int_equal(stat(path, &a), 0);
	/* a repeat login that changes nothing shown: the same file */
	login(s, cfg, "alice", "s-a", roles, 2, AG_OK);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	/* a role less: a delta next to the same index, which drops the
	 * membership the base still lists */
	snprintf(dpath, sizeof dpath, "%s.delta", path);
	assert_int_equal(stat(dpath, &d), -1);
	login(s, cfg, "alice", "s-a", roles + 1, 1, AG_OK);
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(stat(dpath, &d), 0);
	read_index(&m);
	assert_non_null(m.ix.d.h);
	assert_false(in_group(&m.ix, "authgear-admins", "alice"));
	assert_true(in_group(&m.ix, "authgear-users", "alice"));
	{ /* the group its last member left is still served, with its GID */
		struct group gr;
		char buf[4096];
		uint32_t i;

		assert_int_equal(ag_index_group_by_name(&m.ix, "authgear-admins", &i), AG_INDEX_OK);
		assert_int_equal(ag_index_fill_group(&m.ix, i, &gr, buf, sizeof buf), AG_INDEX_OK);
		assert_null(gr.gr_mem[0]);
	}
	ag_index_unmap(&m.map);
	/* no delta (what a crash after the commit, before the delta's rename,
	 * leaves): the next login repairs it though it changes nothing */
	assert_int_equal(unlink(dpath), 0);
	read_index(&m);
	assert_true(in_group(&m.ix, "authgear-admins", "alice"));
	ag_index_unmap(&m.map);
	logs[0] = '\0';
	login(s, cfg, "alice", "s-a", roles + 1, 1, AG_OK);
	assert_non_null(strstr(logs, "is not the database's generation"));
	read_index(&m);
	assert_false(in_group(&m.ix, "authgear-admins", "alice"));
	ag_index_unmap(&m.map);
	/* the same with the old base back (a crash after a full rebuild's
	 * commit) */
	snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", path, saved);
	assert_int_equal(system(cmd), 0);
	login(s, cfg, "alice", "s-a", roles, 2, AG_OK); /* a delta */
	snprintf(cmd, sizeof cmd, "cp -p '%s' '%s' && rm -f '%s'", saved, path, dpath);
	assert_int_equal(system(cmd), 0);
	logs[0] = '\0';
	login(s, cfg, "alice", "s-a", roles, 2, AG_OK);
	assert_non_null(strstr(logs, "is not the database's generation"));
	read_index(&m);
	assert_true(in_group(&m.ix, "authgear-admins", "alice"));
	ag_index_unmap(&m.map);
	/* a configuration change the index shows (the allow-list) rebuilds it */
	login(s, cfg, "alice", "s-a", roles + 1, 1, AG_OK); /* a delta */
	assert_int_equal(stat(dpath, &d), 0);
	assert_int_equal(stat(path, &a), 0);
	ag_config_free(cfg);
	cfg = config("home = /srv/home/%u\n");
	login(s, cfg, "alice", "s-a", roles + 1, 1, AG_OK);
	assert_int_equal(stat(path, &b), 0);
	assert_true(a.st_ino != b.st_ino);
	assert_int_equal(stat(dpath, &d), -1); /* a full rebuild removes the delta */
	ag_config_free(cfg);
	ag_store_close(s);
}

/* The throttle: per (name, PAM_RHOST), a higher cap per name, cleared on
 * success, and a spray of keys evicts idle ones, never one at its limit. */
static void test_throttle(void **state)
{
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
	time_t now = time(NULL);
	long retry = 0;
	char text[256];

	for (int i = 0; i < 5; i++)
		assert_int_equal(ag_store_throttle_attempt(s, "bob", "10.0.0.1", 5, 20, now, &retry), AG_OK);
	assert_int_equal(ag_store_throttle_attempt(s, "bob", "10.0.0.1", 5, 20, now, &retry), AG_ERR_RATE_LIMITED);
	assert_true(retry >= 1 && retry <= 60);
	assert_non_null(strstr(logs, "throttle: bob: 5 attempts from 10.0.0.1"));
	/* the real bob from elsewhere is not locked out */
	assert_int_equal(ag_store_throttle_attempt(s, "bob", "192.0.2.7", 5, 20, now, &retry), AG_OK);
	/* ... until the name's cap from all sources together */
	for (int i = 0; i < 14; i++) {
		snprintf(text, sizeof text, "198.51.100.%d", i);
		assert_int_equal(ag_store_throttle_attempt(s, "bob", text, 5, 20, now, &retry), AG_OK);
	}
	assert_int_equal(ag_store_throttle_attempt(s, "bob", "203.0.113.1", 5, 20, now, &retry), AG_ERR_RATE_LIMITED);
	assert_non_null(strstr(logs, "attempts from all sources in the last minute (cap 20)"));
	/* the window moves */
	assert_int_equal(ag_store_throttle_attempt(s, "bob", "10.0.0.1", 5, 20, now + 61, &retry), AG_OK);

	/* a success clears the source's attempts */
	for (int i = 0; i < 4; i++)
		assert_int_equal(ag_store_throttle_attempt(s, "alice", "10.0.0.9", 5, 20, now, &retry), AG_OK);
	login(s, cfg, "alice", "s-a", NULL, 0, AG_OK);
	for (int i = 0; i < 5; i++)
		assert_int_equal(ag_store_throttle_attempt(s, "alice", "10.0.0.9", 5, 20, now, &retry), AG_OK);
	/* a failure that was not the person's is forgiven: one more attempt */
	assert_int_equal(ag_store_throttle_forgive(s), AG_OK);
	assert_int_equal(ag_store_throttle_attempt(s, "alice", "10.0.0.9", 5, 20, now, &retry), AG_OK);
	assert_int_equal(ag_store_throttle_attempt(s, "alice", "10.0.0.9", 5, 20, now, &retry), AG_ERR_RATE_LIMITED);
	ag_store_close(s);

	/* a spray of names does not reset a locked name */
	fresh(NULL);
	s = store();
	for (int i = 0; i < 5; i++)
		assert_int_equal(ag_store_throttle_attempt(s, "victim", "10.0.0.1", 5, 20, now, &retry), AG_OK);
	ag_store_close(s);
	snprintf(text, sizeof text,
		 "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 16400) "
		 "INSERT INTO throttle (name, rhost, at) SELECT 'spray' || i, '10.9.9.9', %ld FROM n", (long)now);
	sql(private_path("accounts.db"), text);
	s = store();
	logs[0] = '\0';
	assert_int_equal(ag_store_throttle_attempt(s, "newcomer", "10.0.0.2", 5, 20, now, &retry), AG_OK);
	assert_int_equal(ag_store_throttle_attempt(s, "victim", "10.0.0.1", 5, 20, now, &retry), AG_ERR_RATE_LIMITED);
	assert_non_null(strstr(logs, "evicted 512 idle keys"));
	ag_store_close(s);
	ag_config_free(cfg);
}

/* token_key_file: the token columns are sealed BLOBs that open only with
 * the same key, in the same user's row and column; no key or another key
 * is refused (fail closed), never a crash. */
static void test_token_sealing(void **state)
{
	unsigned char k1[AG_STORE_TOKEN_KEY_LEN], k2[AG_STORE_TOKEN_KEY_LEN];
	struct ag_token_cache t = { .refresh_token = "grant-1.refresh-secret-ABC", .access_token = "access-XYZ",
				    .id_token = "eyJ.id.token", .sub = "s-a", .login_at = 1, .checked_at = 1 };
	struct ag_token_cache got;
	struct ag_store *s = store();
	char text[512];
	bool found;

	memset(k1, 1, sizeof k1);
	memset(k2, 2, sizeof k2);
	assert_int_equal(ag_store_bind(s, "alice", "s-a", 1), AG_OK);
	assert_int_equal(ag_store_bind(s, "bob", "s-b", 1), AG_OK);
	ag_store_set_token_key(s, k1);
	assert_int_equal(ag_tokens_put(s, "alice", &t), AG_OK);
	assert_int_equal(ag_tokens_put(s, "bob", &t), AG_OK);
	assert_int_equal(ag_tokens_get(s, "alice", &got, &found), AG_OK);
	assert_true(found);
	assert_string_equal(got.refresh_token, t.refresh_token);
	assert_string_equal(got.access_token, t.access_token);
	assert_string_equal(got.id_token, t.id_token);
	assert_int_equal(got.logins, 1);
	ag_token_cache_clear(&got);
	ag_store_close(s);
	/* the same value twice: two nonces, two ciphertexts; no plain text */
	snprintf(text, sizeof text, "SELECT count(DISTINCT refresh_token) FROM tokens WHERE typeof(refresh_token) = 'blob'"
		 " AND instr(refresh_token, CAST('refresh-secret' AS BLOB)) = 0");
	s = store();
	{
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(ag_store_sqlite(s), text, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 2);
		sqlite3_finalize(st);
	}
	/* no key, another key: refused with the reason logged */
	logs[0] = '\0';
	assert_int_equal(ag_tokens_get(s, "alice", &got, &found), AG_ERR_CONFIG);
	assert_false(found);
	assert_non_null(strstr(logs, "is sealed but token_key_file is not set"));
	ag_store_set_token_key(s, k2);
	logs[0] = '\0';
	assert_int_equal(ag_tokens_get(s, "alice", &got, &found), AG_ERR_CONFIG);
	assert_non_null(strstr(logs, "does not open with token_key_file"));
	assert_null(strstr(logs, "refresh-secret"));
	/* bob's sealed refresh token copied into alice's row does not open there */
	ag_store_set_token_key(s, k1);
	sql(private_path("accounts.db"), "UPDATE tokens SET refresh_token = (SELECT refresh_token FROM tokens t"
		" JOIN users u ON u.id = t.user_id WHERE u.name = 'bob') WHERE user_id = (SELECT id FROM users WHERE name = 'alice')");
	assert_int_equal(ag_tokens_get(s, "alice", &got, &found), AG_ERR_CONFIG);
	assert_int_equal(ag_tokens_get(s, "bob", &got, &found), AG_OK);
	assert_string_equal(got.refresh_token, t.refresh_token);
	ag_token_cache_clear(&got);
	ag_store_close(s);
}

static void test_forget_pin_import(void **state)
{
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
	char why[512], path[8300];
	struct ag_store_db db;
	struct mapped m;
	FILE *f;

	login(s, cfg, "alice", "s-a", NULL, 0, AG_OK);
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	{
		uint32_t alice = ag_store_db_user(&db, "alice")->uid;
		ag_store_db_free(&db);

		assert_int_equal(ag_identity_pin(s, cfg, &test_log, "bob", alice, why, sizeof why), AG_ERR_DENIED);
		assert_non_null(strstr(why, "already belongs to alice"));
		assert_int_equal(ag_identity_pin(s, cfg, &test_log, "alice", 5000, why, sizeof why), AG_ERR_DENIED);
		assert_non_null(strstr(why, "alice already has UID"));
		assert_int_equal(ag_identity_pin(s, cfg, &test_log, "alice", alice, why, sizeof why), AG_OK);
		assert_int_equal(ag_identity_pin(s, cfg, &test_log, "dev-x", 1500, why, sizeof why), AG_ERR_DENIED);
		assert_non_null(strstr(why, "pinned to carol in [uids]"));
		assert_int_equal(ag_identity_pin(s, cfg, &test_log, "root", 5000, why, sizeof why), AG_ERR_INVALID_ARG);
		assert_int_equal(ag_identity_pin(s, cfg, &test_log, "-x", 5000, why, sizeof why), AG_ERR_INVALID_ARG);
		assert_int_equal(ag_identity_pin(s, cfg, &test_log, "dev-x", 65534, why, sizeof why), AG_ERR_INVALID_ARG);
	}
	assert_int_equal(ag_identity_pin(s, cfg, &test_log, "dev-x", 5000, why, sizeof why), AG_OK);
	/* a provisional entry shows the pinned UID */
	read_index(&m);
	{
		struct passwd pw;
		char buf[512];
		assert_int_equal(ag_index_provisional(&m.ix, "dev-x", &pw, buf, sizeof buf), AG_INDEX_OK);
		assert_int_equal(pw.pw_uid, 5000);
		assert_int_equal(ag_index_provisional(&m.ix, "carol", &pw, buf, sizeof buf), AG_INDEX_NOTFOUND);
	}
	ag_index_unmap(&m.map);
	/* ... and the first login gets it */
	login(s, cfg, "dev-x", "s-x", NULL, 0, AG_OK);
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "dev-x"), 5000);
	ag_index_unmap(&m.map);

	/* import: all or nothing */
	snprintf(path, sizeof path, "%s/import", tmpdir);
	f = fopen(path, "w");
	fputs("# from LDAP\n\ndev-a:6001\ndev-b:6002\r\ndev-c:5000\n", f); /* 5000 is dev-x's */
	fclose(f);
	assert_int_equal(ag_identity_import(s, cfg, &test_log, path, why, sizeof why), AG_ERR_DENIED);
	assert_non_null(strstr(why, "/import:5: UID 5000 already belongs to dev-x"));
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_null(ag_store_db_user(&db, "dev-a"));
	ag_store_db_free(&db);
	{
		static const char *const bad[][2] = {
			{ "dev-a:6001\ndev-a:6002\n", ":2: dev-a is listed again (line 1)" },
			{ "dev-a:6001\ndev-b:6001\n", ":2: UID 6001 is listed again (line 1)" },
			{ "dev-a 6001\n", ":1: expected name:uid" },
			{ "..:6001\n", ":1: '..' is not a valid user name" },
			{ "root:6001\n", ":1: 'root' is not a valid user name" },
			{ "dev-a:0\n", ":1: dev-a: not a UID" },
			{ "dev-a:6001:extra\n", ":1: dev-a: not a UID" },
			{ "dev-a:6001\n-oProxyCommand:6002\n", ":2: '-oProxyCommand' is not a valid user name" },
		};
		for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
			f = fopen(path, "w");
			fputs(bad[i][0], f);
			fclose(f);
			why[0] = '\0';
			assert_int_equal(ag_identity_import(s, cfg, &test_log, path, why, sizeof why), AG_ERR_PARSE);
			if (!strstr(why, bad[i][1]))
				print_error("why=<%s> want <%s>\n", why, bad[i][1]);
			assert_non_null(strstr(why, bad[i][1]));
		}
	}
	f = fopen(path, "w");
	fputs("dev-a:6001\ndev-b:6002\n", f);
	fclose(f);
	assert_int_equal(ag_identity_import(s, cfg, &test_log, path, why, sizeof why), AG_OK);
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(ag_store_db_user(&db, "dev-b")->uid, 6002);
	assert_null(ag_store_db_user(&db, "dev-b")->sub);
	ag_store_db_free(&db);

	/* forget */
	assert_int_equal(ag_identity_forget(s, cfg, &test_log, "alice"), AG_OK);
	assert_int_equal(ag_identity_forget(s, cfg, &test_log, "alice"), AG_ERR_NOT_OURS);
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "alice"), 0);
	assert_int_equal(pw_uid(&m.ix, "dev-x"), 5000);
	ag_index_unmap(&m.map);
	ag_config_free(cfg);
	ag_store_close(s);
}

static void test_superseded_and_reserved(void **state)
{
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
	struct ag_index_header h;
	char path[8300];
	int fd;

	login(s, cfg, "alice", "s-a", NULL, 0, AG_OK);
	snprintf(path, sizeof path, "%s/nss.index", state_dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
	assert_int_equal(h.superseded, 0);
	assert_int_equal(ag_identity_reindex(s, cfg, &test_log), AG_OK);
	/* the file a reader has open is marked, the new one is not */
	assert_int_equal(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
	assert_int_equal(h.superseded, 1);
	close(fd);
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
	assert_int_equal(h.superseded, 0);
	close(fd);

	host.user_names[0] = "daemon";
	host.user_ids[0] = 1;
	host.user_names[1] = "nobody";
	host.user_ids[1] = 65534;
	host.user_names[2] = "alice2";
	host.user_ids[2] = 1001;
	assert_true(ag_identity_reserved("root", &probe));
	assert_true(ag_identity_reserved("daemon", &probe));
	assert_true(ag_identity_reserved("nobody", &probe));
	assert_false(ag_identity_reserved("alice2", &probe));
	assert_false(ag_identity_reserved("alice", &probe));
	ag_config_free(cfg);
	ag_store_close(s);
}

static int setup(void **state)
{
	const char *base = getenv("TEST_TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/test_store.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) != 0)
		return -1;
	snprintf(state_dir, sizeof state_dir, "%s/state", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[4200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_first_login_roles_and_index, fresh),
		cmocka_unit_test_setup(test_uid_sources, fresh),
		cmocka_unit_test_setup(test_provisional_differs, fresh),
		cmocka_unit_test_setup(test_group_clashes, fresh),
		cmocka_unit_test_setup(test_migrate_json, fresh),
		cmocka_unit_test_setup(test_migrate_bad_json, fresh),
		cmocka_unit_test_setup(test_schema_version, fresh),
		cmocka_unit_test_setup(test_last_factor, fresh),
		cmocka_unit_test_setup(test_corrupt_database, fresh),
		cmocka_unit_test_setup(test_permissions, fresh),
		cmocka_unit_test_setup(test_index_generation, fresh),
		cmocka_unit_test_setup(test_throttle, fresh),
		cmocka_unit_test_setup(test_forget_pin_import, fresh),
		cmocka_unit_test_setup(test_token_sealing, fresh),
		cmocka_unit_test_setup(test_superseded_and_reserved, fresh),
	};

	if (geteuid() != 0) {
		puts("SKIP: the store needs root (it refuses directories root does not own)");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
