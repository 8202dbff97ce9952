/* cmocka tests for the store's accounts part and the login-time mapping
 * (needs root: the store refuses directories root does not own): first
 * login UIDs and their collisions, [uids] pins, host entries of the same
 * name, roles -> groups (host groups, new groups, a role removed), the NSS
 * index written with it, round trips that keep unknown fields, corrupt
 * files, and forget / pin / import. */
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

#include "accounts/identity.h"
#include "accounts/store.h"
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
static const struct ag_id_range range = { 200000, 2000200000 };

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

	assert_int_equal(ag_store_open(state_dir, &test_log, &s), AG_OK);
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
	void *data;
	struct ag_index ix;
};

static void read_index(struct mapped *m)
{
	char path[8300];
	struct stat st;
	size_t got = 0;
	int fd;

	snprintf(path, sizeof path, "%s/nss.index", state_dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	m->data = aligned_alloc(8, ((size_t)st.st_size + 7) & ~(size_t)7);
	assert_non_null(m->data);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, (char *)m->data + got, (size_t)st.st_size - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	close(fd);
	assert_true(ag_index_open(m->data, got, &m->ix, NULL));
}

static void login(struct ag_store *s, struct ag_config *cfg, const char *user, const char *sub, char **roles,
		  size_t n_roles, enum ag_err want)
{
	assert_int_equal(ag_store_bind(s, user, sub, 1700000000), AG_OK);
	assert_int_equal(ag_identity_login(s, cfg, &test_log, user, roles, n_roles, &probe), want);
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
	assert_null(memmem(m.data, m.ix.size, "sub-alice", 9));
	free(m.data);
	snprintf(path, sizeof path, "%s/private", state_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof path, "%s/private/users.json", state_dir);
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
	free(m.data);
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
		free(m.data);
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
	free(m.data);
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
	free(m.data);
	/* a different sub for a bound name: refused, unchanged */
	assert_int_equal(ag_store_bind(s, "bob", "another-sub", 1), AG_ERR_DENIED);
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
	free(m.data);
	host.user_names[0] = "localy";
	host.user_ids[0] = c0;
	login(s, cfg, "dev-y", "sub-y", NULL, 0, AG_ERR_DENIED);
	assert_non_null(strstr(logs, "before its first login dev-y was shown UID"));
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "dev-y"), c1); /* pinned all the same */
	free(m.data);
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
		assert_int_equal(ag_config_parse("t", text, strlen(text), AG_CONFIG_STRICT, &test_log, &cfg, NULL, 0),
				 AG_OK);
	}
	host.group_names[0] = "wheel";
	host.group_ids[0] = 0;
	login(s, cfg, "bob", "sub-bob", NULL, 0, AG_OK);
	login(s, cfg, "alice", "sub-alice", roles, 1, AG_OK);
	assert_non_null(strstr(logs, "group bob is also the private group of user bob; not granted"));
	assert_non_null(strstr(logs, "group wheel has GID 0 on this host; never granted"));
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(ag_store_db_user(&db, "alice")->n_groups, 1);
	assert_string_equal(ag_store_db_user(&db, "alice")->groups[0], "ops");
	assert_null(ag_store_db_group(&db, "wheel"));
	ag_store_db_free(&db);
	ag_config_free(cfg);
	ag_store_close(s);
}

static void write_users_json(const char *text)
{
	char path[8300];
	FILE *f;

	snprintf(path, sizeof path, "%s/private/users.json", state_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static void read_users_json(char *out, size_t len)
{
	char path[8300];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "%s/private/users.json", state_dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void test_round_trip_and_corruption(void **state)
{
	struct ag_config *cfg = config(NULL);
	struct ag_store *s = store();
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
		"{\"groups\": {\"ops\": {\"gid\": 0}}}",
		"{\"groups\": {\"Ops\": {\"gid\": 300000}}}",
		"{\"users\": {}, \"users\": {}}",
	};
	char text[8192], before[8192];
	struct ag_store_db db;

	/* unknown fields of a newer version survive a write */
	write_users_json("{\"x_future\": {\"a\": 1}, \"users\": {\"alice\": {\"sub\": \"s-a\", \"x_field\": true, "
			 "\"uid\": 200123, \"groups\": [\"users\"]}}}");
	login(s, cfg, "alice", "s-a", NULL, 0, AG_OK);
	read_users_json(text, sizeof text);
	assert_non_null(strstr(text, "\"x_future\":{\"a\":1}"));
	assert_non_null(strstr(text, "\"x_field\""));
	assert_non_null(strstr(text, "\"uid\":200123"));
	assert_null(strstr(text, "\"groups\":[\"users\"]")); /* no roles now: no groups */
	assert_int_equal(ag_store_read(s, &db), AG_OK);
	assert_int_equal(ag_store_db_user(&db, "alice")->uid, 200123);
	assert_int_equal(ag_store_db_user(&db, "alice")->last_login, 1700000000);
	ag_store_db_free(&db);

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_users_json(bad[i]);
		read_users_json(before, sizeof before);
		logs[0] = '\0';
		if (ag_store_bind(s, "alice", "s-a", 1) != AG_ERR_IO)
			print_error("accepted %s\n", bad[i]);
		assert_int_equal(ag_store_bind(s, "alice", "s-a", 1), AG_ERR_IO);
		assert_int_equal(ag_identity_reindex(s, cfg, &test_log), AG_ERR_IO);
		assert_true(strlen(logs) > 0);
		read_users_json(text, sizeof text);
		assert_string_equal(text, before); /* never overwritten */
	}
	ag_config_free(cfg);
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
	free(m.data);
	/* ... and the first login gets it */
	login(s, cfg, "dev-x", "s-x", NULL, 0, AG_OK);
	read_index(&m);
	assert_int_equal(pw_uid(&m.ix, "dev-x"), 5000);
	free(m.data);

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
	free(m.data);
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
		cmocka_unit_test_setup(test_round_trip_and_corruption, fresh),
		cmocka_unit_test_setup(test_forget_pin_import, fresh),
		cmocka_unit_test_setup(test_superseded_and_reserved, fresh),
	};

	if (geteuid() != 0) {
		puts("SKIP: the store needs root (it refuses directories root does not own)");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
