/* cmocka tests for the accounts core that needs no root: the Unix name
 * grammar with hostile names, UID hashing (golden values, distribution,
 * collision sequence), UID/GID allocation against a fake NSS, the [roles] /
 * [uids] / uid_range / home / shell keys with hostile input, and the NSS
 * index: round trips, ERANGE at every short buffer size, provisional
 * entries, and corrupt files (every truncation, every byte flipped). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "accounts/idmap.h"
#include "accounts/index_write.h"
#include "base/conf.h"
#include "common/index.h"
#include "common/names.h"
#include "common/uid.h"

static char last_log[2048];
static int n_logs;

static void capture_sink(void *ctx, int priority, const char *line)
{
	snprintf(last_log, sizeof last_log, "%s", line);
	n_logs++;
}

static const struct ag_log test_log = { .sink = capture_sink };

static const struct ag_id_range default_range = { 200000, 2000200000 };

/* --- names ---------------------------------------------------------------- */

static void test_name_grammar_hostile(void **state)
{
	static const char *const bad[] = {
		"", ".", "..", "../etc", "-oProxyCommand", "-", "Alice", "ALICE", "1alice", ".hidden", "al ice",
		"al:ice", "al/ice", "al@ice", "alice\n", "alice\r", "\nalice", "ali\tce", "alice$", "al*ce", "al,ice",
		"al\\ice", "al'ice", "al\"ice",
		"\xd0\xb0lice",             /* Cyrillic a: a confusable */
		"alice\xe2\x80\x8b",        /* zero-width space */
		"\xef\xbd\x81lice",         /* fullwidth a */
		"al\xc3\xaf" "ce",             /* i with diaeresis */
		"\x7f", "a\x7f",
	};
	char long_name[301];

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (ag_name_valid(bad[i]))
			print_error("accepted <%s>\n", bad[i]);
		assert_false(ag_name_valid(bad[i]));
		assert_false(ag_name_allowed("*", bad[i]));
	}
	assert_false(ag_name_valid(NULL));
	memset(long_name, 'a', 300);
	long_name[300] = '\0';
	assert_false(ag_name_valid(long_name));
	long_name[32] = '\0';
	assert_true(ag_name_valid(long_name)); /* 32 is the limit */
	long_name[32] = 'a';
	long_name[33] = '\0';
	assert_false(ag_name_valid(long_name));
	/* An embedded NUL ends the C string: what is checked is what is used. */
	assert_true(ag_name_valid("ali\0ce"));
	assert_int_equal(strlen("ali\0ce"), 3);
	/* The grammar admits these; other layers refuse root (see below). */
	assert_true(ag_name_valid("root"));
	assert_true(ag_name_valid("_svc"));
	assert_true(ag_name_valid("dev-1.x_y"));
}

static void test_allow_list(void **state)
{
	assert_true(ag_name_allowed("alice, dev-*", "alice"));
	assert_true(ag_name_allowed("alice, dev-*", "dev-9"));
	assert_false(ag_name_allowed("alice, dev-*", "dev"));
	assert_false(ag_name_allowed("alice, dev-*", "mallory"));
	assert_false(ag_name_allowed(NULL, "alice"));
	/* Patterns never widen the grammar. */
	assert_false(ag_name_allowed("*", "-oProxyCommand"));
	assert_false(ag_name_allowed("*", ".."));
	assert_false(ag_name_allowed("dev-*", "dev-\n"));
	assert_false(ag_name_allowed("a?ice", "a:ice"));
}

static void test_name_expand(void **state)
{
	char out[32];

	assert_true(ag_name_expand("/home/%u", "alice", out, sizeof out));
	assert_string_equal(out, "/home/alice");
	assert_true(ag_name_expand("/h/%%/%u/%u", "bo", out, sizeof out));
	assert_string_equal(out, "/h/%/bo/bo");
	assert_false(ag_name_expand("/home/%x", "alice", out, sizeof out));
	assert_false(ag_name_expand("/home/%", "alice", out, sizeof out));
	assert_true(ag_name_expand("/h/%u", "abcdefghijklmnopqrstuvw", out, sizeof out)); /* 26 + NUL */
	assert_false(ag_name_expand("/home/%u", "abcdefghijklmnopqrstuvwxyz", out, sizeof out));
	assert_false(ag_name_expand("/x", "a", out, 0));
	assert_true(ag_name_list_valid("sudo, docker adm", 32));
	assert_false(ag_name_list_valid("sudo, -x", 32));
	assert_false(ag_name_list_valid(" , ", 32));
	assert_false(ag_name_list_valid("a b c", 2));
}

/* --- UIDs ------------------------------------------------------------------ */

static void test_id_grammar(void **state)
{
	static const char *const bad[] = {
		"", "0", "999", "65534", "65535", "4294967295", "4294967296", "99999999999", "-1", "+1000", " 1000",
		"1000 ", "01000", "1e5", "0x3e8", "10 00", "abc",
	};
	struct ag_id_range r;
	uint32_t v;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (ag_id_parse(bad[i], &v))
			print_error("accepted <%s>\n", bad[i]);
		assert_false(ag_id_parse(bad[i], &v));
	}
	assert_true(ag_id_parse("1000", &v));
	assert_int_equal(v, 1000);
	assert_true(ag_id_parse("4294967294", &v));
	assert_int_equal(v, 4294967294u);
	assert_true(ag_id_range_parse("200000-2000200000", &r));
	assert_int_equal(r.min, 200000);
	assert_int_equal(r.max, 2000200000);
	assert_false(ag_id_range_parse("0-100000", &r));
	assert_false(ag_id_range_parse("999-100000", &r));
	assert_false(ag_id_range_parse("300000-200000", &r));
	assert_false(ag_id_range_parse("200000-200000", &r));
	assert_false(ag_id_range_parse("200000-4294967295", &r));
	assert_false(ag_id_range_parse("200000 - 300000", &r));
	assert_false(ag_id_range_parse("200000", &r));
	assert_false(ag_id_range_parse("-200000", &r));
	assert_false(ag_id_range_parse(NULL, &r));
	assert_true(ag_id_reserved(0));
	assert_true(ag_id_reserved(65534));
	assert_true(ag_id_reserved(4294967295u));
	assert_false(ag_id_reserved(200000));
}

/* The hash is a contract between hosts: these values must never change. */
static void test_uid_golden_values(void **state)
{
	struct ag_id_range r;

	assert_int_equal(ag_id_candidate(AG_ID_USER, "alice", 0, &default_range), 1697447617u);
	assert_int_equal(ag_id_candidate(AG_ID_USER, "dev-x", 0, &default_range), 231073034u);
	assert_int_equal(ag_id_first(AG_ID_USER, "bob", &default_range), 1036068508u); /* test_accounts_cli.sh */
	assert_int_equal(ag_id_first(AG_ID_USER, "alice", &default_range), 1697447617u);
	/* the default uid_range since 2001000000-2147000000 (test_accounts_cli.sh) */
	assert_true(ag_id_range_parse(AG_UID_RANGE_DEFAULT, &r));
	assert_int_equal(ag_id_first(AG_ID_USER, "dev-new", &r), 2099031549u);
	assert_int_equal(ag_id_first(AG_ID_USER, "bob", &r), 2081946800u);
	/* Users and groups of the same name get different numbers. */
	assert_int_not_equal(ag_id_candidate(AG_ID_GROUP, "alice", 0, &default_range),
			     ag_id_candidate(AG_ID_USER, "alice", 0, &default_range));
	assert_int_equal(ag_fnv1a64("", 0), 0xcbf29ce484222325ULL);
	assert_int_equal(ag_fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL); /* FNV-1a test vector */
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void test_uid_distribution(void **state)
{
	enum { N = 100000, BUCKETS = 64 };
	uint32_t *ids = malloc(N * sizeof *ids);
	unsigned buckets[BUCKETS] = { 0 }, odd = 0, dup = 0;
	uint64_t span = (uint64_t)default_range.max - default_range.min + 1;
	double chi = 0, expect = (double)N / BUCKETS;
	char name[32];

	assert_non_null(ids);
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof name, "user%06u", i); /* similar names: the hard case */
		ids[i] = ag_id_candidate(AG_ID_USER, name, 0, &default_range);
		assert_true(ids[i] >= default_range.min && ids[i] <= default_range.max);
		buckets[(uint64_t)(ids[i] - default_range.min) * BUCKETS / span]++;
		odd += ids[i] & 1;
	}
	for (int b = 0; b < BUCKETS; b++)
		chi += (buckets[b] - expect) * (buckets[b] - expect) / expect;
	/* 63 degrees of freedom: mean 63, sd 11; a skewed hash is far above. */
	if (chi > 120)
		print_error("chi-square %.1f\n", chi);
	assert_true(chi < 120);
	assert_true(odd > N / 2 - 1000 && odd < N / 2 + 1000);
	/* Birthday bound for 100k names in 2e9: about 2.5 collisions. */
	qsort(ids, N, sizeof *ids, cmp_u32);
	for (unsigned i = 1; i < N; i++)
		dup += ids[i] == ids[i - 1];
	assert_true(dup <= 20);
	free(ids);
}

static void test_collision_sequence(void **state)
{
	struct ag_id_range small = { 1000, 1099 };
	uint32_t seen[AG_UID_CANDIDATES_MAX];
	unsigned distinct = 0;

	for (unsigned k = 0; k < AG_UID_CANDIDATES_MAX; k++) {
		bool dup = false;

		seen[k] = ag_id_candidate(AG_ID_USER, "alice", k, &small);
		assert_true(seen[k] >= 1000 && seen[k] <= 1099);
		/* deterministic */
		assert_int_equal(seen[k], ag_id_candidate(AG_ID_USER, "alice", k, &small));
		for (unsigned j = 0; j < k; j++)
			dup = dup || seen[j] == seen[k];
		distinct += !dup;
	}
	assert_true(distinct >= 30);
	assert_int_not_equal(ag_id_candidate(AG_ID_USER, "alice", 0, &default_range),
			     ag_id_candidate(AG_ID_USER, "alice", 1, &default_range));
}

/* --- allocation against a fake NSS ------------------------------------------ */

struct fake_nss {
	uint32_t uids[8];
	const char *uid_names[8];
	uint32_t gids[8];
	const char *gid_names[8];
	int n_uids, n_gids;
	bool fail;
};

static int fake_uid_owner(void *ctx, uint32_t uid, char *name, size_t len)
{
	struct fake_nss *f = ctx;

	if (f->fail)
		return -1;
	for (int i = 0; i < f->n_uids; i++)
		if (f->uids[i] == uid) {
			snprintf(name, len, "%s", f->uid_names[i]);
			return 1;
		}
	return 0;
}

static int fake_gid_owner(void *ctx, uint32_t gid, char *name, size_t len)
{
	struct fake_nss *f = ctx;

	for (int i = 0; i < f->n_gids; i++)
		if (f->gids[i] == gid) {
			snprintf(name, len, "%s", f->gid_names[i]);
			return 1;
		}
	return 0;
}

static int fake_user_uid(void *ctx, const char *name, uint32_t *uid)
{
	return 0;
}

static int fake_group_gid(void *ctx, const char *name, uint32_t *gid)
{
	return 0;
}

static void test_idmap_collisions(void **state)
{
	struct fake_nss f = { 0 };
	struct ag_idmap_probe probe = { fake_uid_owner, fake_gid_owner, fake_user_uid, fake_group_gid, &f };
	struct ag_idset taken = { 0 };
	uint32_t c0 = ag_id_candidate(AG_ID_USER, "alice", 0, &default_range);
	uint32_t c1 = ag_id_candidate(AG_ID_USER, "alice", 1, &default_range);
	uint32_t c2 = ag_id_candidate(AG_ID_USER, "alice", 2, &default_range);
	uint32_t uid;

	/* free: the first candidate */
	assert_int_equal(ag_idmap_uid("alice", &default_range, &taken, true, &probe, &test_log, &uid), AG_OK);
	assert_int_equal(uid, c0);
	/* a host passwd entry of another name has it: the next one, logged */
	f.uids[0] = c0;
	f.uid_names[0] = "bob";
	f.n_uids = 1;
	n_logs = 0;
	assert_int_equal(ag_idmap_uid("alice", &default_range, &taken, true, &probe, &test_log, &uid), AG_OK);
	assert_int_equal(uid, c1);
	assert_non_null(strstr(last_log, "alice gets UID"));
	assert_non_null(strstr(last_log, "candidate 1"));
	/* the same name holds it (our own entry): still hers */
	f.uid_names[0] = "alice";
	assert_int_equal(ag_idmap_uid("alice", &default_range, &taken, true, &probe, &test_log, &uid), AG_OK);
	assert_int_equal(uid, c0);
	/* with user-private groups, a group holding the GID counts too */
	f.n_uids = 0;
	f.gids[0] = c0;
	f.gid_names[0] = "docker";
	f.n_gids = 1;
	assert_int_equal(ag_idmap_uid("alice", &default_range, &taken, true, &probe, &test_log, &uid), AG_OK);
	assert_int_equal(uid, c1);
	assert_int_equal(ag_idmap_uid("alice", &default_range, &taken, false, &probe, &test_log, &uid), AG_OK);
	assert_int_equal(uid, c0);
	/* the store's IDs */
	f.n_gids = 0;
	assert_int_equal(ag_idset_add(&taken, c0), AG_OK);
	assert_int_equal(ag_idset_add(&taken, c1), AG_OK);
	assert_int_equal(ag_idmap_uid("alice", &default_range, &taken, true, &probe, &test_log, &uid), AG_OK);
	assert_int_equal(uid, c2);
	/* a source that fails: no guess */
	f.fail = true;
	assert_int_equal(ag_idmap_uid("alice", &default_range, &taken, true, &probe, &test_log, &uid), AG_ERR_IO);
	f.fail = false;
	ag_idset_free(&taken);
	/* everything taken */
	{
		struct ag_id_range tiny = { 1000, 1001 };
		assert_int_equal(ag_idset_add(&taken, 1000), AG_OK);
		assert_int_equal(ag_idset_add(&taken, 1001), AG_OK);
		assert_int_equal(ag_idmap_uid("alice", &tiny, &taken, true, &probe, &test_log, &uid), AG_ERR_CONFIG);
		assert_non_null(strstr(last_log, "all 64 UID candidates are taken"));
		ag_idset_free(&taken);
	}
	/* groups: any group holding the GID */
	f.gids[0] = ag_id_candidate(AG_ID_GROUP, "ops", 0, &default_range);
	f.gid_names[0] = "ops";
	f.n_gids = 1;
	assert_int_equal(ag_idmap_gid("ops", &default_range, &taken, &probe, &test_log, &uid), AG_OK);
	assert_int_equal(uid, ag_id_candidate(AG_ID_GROUP, "ops", 1, &default_range));
	ag_idset_free(&taken);
}

/* --- configuration: the accounts keys and tables ------------------------------- */

#define MINIMAL "issuer = https://auth.example.com\nclient_id = pam\nredirect_uri = http://127.0.0.1/cb\n"

static void expect_config_error(const char *text, size_t len, const char *what)
{
	struct ag_config *cfg = NULL;
	char why[512] = "";

	for (int mode = AG_CONFIG_STRICT; mode <= AG_CONFIG_LENIENT; mode++) {
		enum ag_err err = ag_config_parse("t.conf", text, len, mode, &test_log, &cfg, why, sizeof why);
		if (err != AG_ERR_CONFIG || !strstr(why, what))
			print_error("text=<%s> err=%s why=<%s> want <%s>\n", text, ag_err_name(err), why, what);
		assert_int_equal(err, AG_ERR_CONFIG);
		assert_null(cfg);
		assert_non_null(strstr(why, what));
	}
}

#define BAD(text, what) expect_config_error(MINIMAL text, sizeof(MINIMAL text) - 1, what)

static void test_config_accounts_keys(void **state)
{
	struct ag_config *cfg;
	const char ok[] = MINIMAL "uid_range = 100000-200000\nhome = /srv/home/%u\nshell = /bin/zsh\n"
			  "primary_group = staff\n[roles]\nunix-admin = authgear-admins, sudo\n"
			  "https://x.example/role = docker\n[uids]\nalice = 1500\nbob = 4294967294\n";

	assert_int_equal(ag_config_parse("t.conf", MINIMAL, sizeof MINIMAL - 1, AG_CONFIG_STRICT, &test_log, &cfg,
					 NULL, 0), AG_OK);
	assert_string_equal(cfg->uid_range, "2001000000-2147000000");
	assert_string_equal(cfg->home, "/home/%u");
	assert_string_equal(cfg->shell, "/bin/bash");
	assert_null(cfg->primary_group);
	ag_config_free(cfg);
	assert_int_equal(ag_config_parse("t.conf", ok, sizeof ok - 1, AG_CONFIG_STRICT, &test_log, &cfg, NULL, 0),
			 AG_OK);
	assert_string_equal(cfg->home, "/srv/home/%u");
	assert_string_equal(cfg->primary_group, "staff");
	ag_config_free(cfg);

	BAD("uid_range = 0-100\n", "t.conf:4: uid_range: must be MIN-MAX");
	BAD("uid_range = 300000-200000\n", "t.conf:4: uid_range");
	BAD("uid_range = 200000-4294967295\n", "t.conf:4: uid_range");
	BAD("home = home/%u\n", "t.conf:4: home: must be an absolute path");
	BAD("home = /home/%x\n", "t.conf:4: home");
	BAD("home = /home/a:b\n", "t.conf:4: home");
	BAD("home = /home/a b\n", "t.conf:4: home");
	BAD("shell = bash\n", "t.conf:4: shell");
	BAD("shell = /bin/sh\xc3\xa9\n", "t.conf:4: shell");
	BAD("primary_group = Users\n", "t.conf:4: primary_group: not a valid Unix name");
	BAD("primary_group = -oProxyCommand\n", "t.conf:4: primary_group");
}

static void test_config_tables_hostile(void **state)
{
	char text[1024];

	BAD("[roles]\nadmin = -oProxyCommand\n", "t.conf:5: [roles] admin: must be 1-32 Unix group names");
	BAD("[roles]\nadmin = ..\n", "t.conf:5: [roles] admin");
	BAD("[roles]\nadmin = Sudo\n", "t.conf:5: [roles] admin");
	BAD("[roles]\nadmin = su:do\n", "t.conf:5: [roles] admin");
	BAD("[roles]\nadmin = sudo, ../../etc\n", "t.conf:5: [roles] admin");
	BAD("[roles]\nadmin = d\xd0\xbe" "cker\n", "t.conf:5: [roles] admin"); /* Cyrillic o */
	BAD("[roles]\nadmin = ,\n", "t.conf:5: [roles] admin");
	BAD("[uids]\n.. = 200000\n", "t.conf:5: [uids] '..' is not a valid Unix user name");
	BAD("[uids]\nroot = 200000\n", "t.conf:5: [uids] 'root'");
	BAD("[uids]\n-oProxyCommand = 200000\n", "t.conf:5: [uids] '-oProxyCommand'");
	BAD("[uids]\nalice = 0\n", "t.conf:5: [uids] alice: must be a UID");
	BAD("[uids]\nalice = 65534\n", "t.conf:5: [uids] alice");
	BAD("[uids]\nalice = 999\n", "t.conf:5: [uids] alice");
	BAD("[uids]\nalice = -1\n", "t.conf:5: [uids] alice");
	BAD("[uids]\nalice = 1e6\n", "t.conf:5: [uids] alice");
	BAD("[uids]\nalice = 200000\nbob = 200000\n", "t.conf:6: [uids] bob: UID 200000 is already pinned to alice (line 5)");
	BAD("[uids]\na\xc3\xaf" "ce = 200000\n", "t.conf:5: [uids]");
	/* 300-character group name */
	snprintf(text, sizeof text, MINIMAL "[roles]\nadmin = %0300d\n", 0);
	memset(strstr(text, "admin = ") + 8, 'a', 300);
	expect_config_error(text, strlen(text), "t.conf:5: [roles] admin");
	/* NUL and newline inside an entry */
	expect_config_error(MINIMAL "[roles]\nadmin = su\0do\n", sizeof(MINIMAL "[roles]\nadmin = su\0do\n") - 1,
			    "t.conf:5: NUL byte");
	BAD("[uids]\nalice\n= 200000\n", "t.conf:5: expected 'key = value'");
}

/* --- the NSS index ---------------------------------------------------------------- */

struct built {
	void *data;
	size_t len;
	struct ag_index ix;
};

static uint32_t members_ops[] = { 0, 1 }, members_docker[] = { 1 };

static void build_sample(struct built *b, const char *allow)
{
	static const struct ag_index_in_user users[] = {
		{ "bob", 200002, 200002, "/home/bob", "/bin/bash" },
		{ "alice", 200001, 200001, "/home/alice", "/bin/bash" },
		{ "carol", 200003, 200003, "/home/carol", "/bin/sh" },
	};
	struct ag_index_in_group groups[] = {
		{ "bob", 200002, false, NULL, 0 },
		{ "alice", 200001, false, NULL, 0 },
		{ "ops", 300000, false, members_ops, 2 },
		{ "docker", 999, true, members_docker, 1 },
	};
	static const struct ag_index_in_pin pins[] = { { "dev-pinned", 5001 } };
	struct ag_index_input in = {
		users, 3, groups, 4, pins, 1, allow, { 200000, 2000200000 }, 0, "/home/%u", "/bin/bash", 7,
	};
	const char *why = NULL;

	assert_int_equal(ag_index_build(&in, &test_log, &b->data, &b->len), AG_OK);
	if (!ag_index_open(b->data, b->len, &b->ix, &why))
		print_error("open: %s\n", why);
	assert_non_null(b->ix.f.h);
}

static void test_index_round_trip(void **state)
{
	struct built b;
	struct passwd pw;
	struct group gr;
	char buf[1024];
	const uint32_t *gids;
	uint32_t idx, n;
	bool local;

	build_sample(&b, "alice, dev-*");
	assert_int_equal(ag_index_n_users(&b.ix), 3);
	assert_int_equal(ag_index_user_by_name(&b.ix, "alice", &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_fill_passwd(&b.ix, idx, &pw, buf, sizeof buf), AG_INDEX_OK);
	assert_string_equal(pw.pw_name, "alice");
	assert_string_equal(pw.pw_passwd, "*");
	assert_int_equal(pw.pw_uid, 200001);
	assert_int_equal(pw.pw_gid, 200001);
	assert_string_equal(pw.pw_dir, "/home/alice");
	assert_string_equal(pw.pw_shell, "/bin/bash");
	/* users are sorted by name: enumeration order */
	assert_int_equal(idx, 0);
	assert_int_equal(ag_index_user_by_uid(&b.ix, 200003, &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_fill_passwd(&b.ix, idx, &pw, buf, sizeof buf), AG_INDEX_OK);
	assert_string_equal(pw.pw_name, "carol");
	assert_string_equal(pw.pw_shell, "/bin/sh");
	assert_int_equal(ag_index_user_by_uid(&b.ix, 1, &idx), AG_INDEX_NOTFOUND);
	assert_int_equal(ag_index_user_by_name(&b.ix, "mallory", &idx), AG_INDEX_NOTFOUND);
	assert_int_equal(ag_index_user_by_name(&b.ix, "", &idx), AG_INDEX_NOTFOUND);

	assert_int_equal(ag_index_group_by_name(&b.ix, "ops", &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_fill_group(&b.ix, idx, &gr, buf, sizeof buf), AG_INDEX_OK);
	assert_int_equal(gr.gr_gid, 300000);
	/* members in user order (by name) */
	assert_string_equal(gr.gr_mem[0], "alice");
	assert_string_equal(gr.gr_mem[1], "bob");
	assert_null(gr.gr_mem[2]);
	assert_int_equal(ag_index_group_by_gid(&b.ix, 999, &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_group_local(&b.ix, idx, &local), AG_INDEX_OK);
	assert_true(local);
	assert_int_equal(ag_index_fill_group(&b.ix, idx, &gr, buf, sizeof buf), AG_INDEX_OK);
	assert_string_equal(gr.gr_name, "docker");
	assert_string_equal(gr.gr_mem[0], "alice");
	assert_int_equal(ag_index_group_by_name(&b.ix, "alice", &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_fill_group(&b.ix, idx, &gr, buf, sizeof buf), AG_INDEX_OK);
	assert_int_equal(gr.gr_gid, 200001);
	assert_null(gr.gr_mem[0]);

	/* initgroups: alice (input index 1) is in ops and docker */
	assert_int_equal(ag_index_user_by_name(&b.ix, "alice", &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_user_gids(&b.ix, idx, &gids, &n), AG_INDEX_OK);
	assert_int_equal(n, 2);
	assert_true((gids[0] == 300000 && gids[1] == 999) || (gids[0] == 999 && gids[1] == 300000));
	assert_int_equal(ag_index_user_by_name(&b.ix, "carol", &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_user_gids(&b.ix, idx, &gids, &n), AG_INDEX_OK);
	assert_int_equal(n, 0);
	assert_false(ag_index_superseded(&b.ix));
	free(b.data);
}

static void test_index_provisional(void **state)
{
	struct built b;
	struct passwd pw;
	char buf[512];
	static const char *const refused[] = { "root", "mallory", "..", "-oProxyCommand", "Dev-x", "dev-\n", "" };

	build_sample(&b, "alice, dev-*, root");
	assert_int_equal(ag_index_provisional(&b.ix, "dev-new", &pw, buf, sizeof buf), AG_INDEX_OK);
	assert_int_equal(pw.pw_uid, ag_id_first(AG_ID_USER, "dev-new", &default_range));
	assert_int_equal(pw.pw_gid, pw.pw_uid);
	assert_string_equal(pw.pw_dir, "/home/dev-new");
	assert_string_equal(pw.pw_passwd, "*");
	/* a UID pinned ahead of the first login */
	assert_int_equal(ag_index_provisional(&b.ix, "dev-pinned", &pw, buf, sizeof buf), AG_INDEX_OK);
	assert_int_equal(pw.pw_uid, 5001);
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		assert_int_equal(ag_index_provisional(&b.ix, refused[i], &pw, buf, sizeof buf), AG_INDEX_NOTFOUND);
	/* short buffer */
	assert_int_equal(ag_index_provisional(&b.ix, "dev-new", &pw, buf, 10), AG_INDEX_ERANGE);
	free(b.data);
	/* no allow-list: no provisional entries */
	build_sample(&b, NULL);
	assert_int_equal(ag_index_provisional(&b.ix, "dev-new", &pw, buf, sizeof buf), AG_INDEX_NOTFOUND);
	free(b.data);
}

/* Every buffer shorter than needed is ERANGE, the exact size works. */
static void test_index_erange(void **state)
{
	struct built b;
	struct passwd pw;
	struct group gr;
	char buf[512];
	uint32_t idx;
	size_t need = 0;

	build_sample(&b, NULL);
	assert_int_equal(ag_index_user_by_name(&b.ix, "alice", &idx), AG_INDEX_OK);
	for (size_t len = 0; len < sizeof buf; len++)
		if (ag_index_fill_passwd(&b.ix, idx, &pw, buf, len) == AG_INDEX_OK) {
			need = len;
			break;
		} else {
			assert_int_equal(ag_index_fill_passwd(&b.ix, idx, &pw, buf, len), AG_INDEX_ERANGE);
		}
	assert_int_equal(need, sizeof "alice" + sizeof "*" + sizeof "" + sizeof "/home/alice" + sizeof "/bin/bash");
	assert_int_equal(ag_index_group_by_name(&b.ix, "ops", &idx), AG_INDEX_OK);
	need = 0;
	for (size_t len = 0; len < sizeof buf; len++) {
		/* an aligned buffer: the pointer array needs no padding */
		enum ag_index_status st = ag_index_fill_group(&b.ix, idx, &gr, buf, len);
		if (st == AG_INDEX_OK) {
			need = len;
			break;
		}
		assert_int_equal(st, AG_INDEX_ERANGE);
	}
	assert_int_equal(need, 3 * sizeof(char *) + sizeof "ops" + sizeof "*" + sizeof "bob" + sizeof "alice");
	/* a misaligned buffer still works, with padding */
	assert_int_equal(ag_index_fill_group(&b.ix, idx, &gr, buf + 1, sizeof buf - 1), AG_INDEX_OK);
	assert_int_equal((uintptr_t)gr.gr_mem % sizeof(char *), 0);
	assert_string_equal(gr.gr_mem[1], "bob");
	free(b.data);
}

static void test_index_writer_refuses(void **state)
{
	static const struct ag_index_in_user dup_uid[] = {
		{ "alice", 200001, 200001, "/h", "/s" }, { "bob", 200001, 200001, "/h", "/s" },
	};
	static const struct ag_index_in_user hostile[] = {
		{ "root", 200001, 200001, "/h", "/s" }, { "..", 200002, 200002, "/h", "/s" },
		{ "zed", 0, 200003, "/h", "/s" }, { "ok", 200004, 200004, "/h", "/s" }, { "ok", 200005, 200005, "/h", "/s" },
	};
	struct ag_index_input in = { dup_uid, 2, NULL, 0, NULL, 0, NULL, { 200000, 300000 }, 0, "/h/%u", "/s", 0 };
	struct ag_index ix;
	void *data;
	size_t len;
	uint32_t idx;

	assert_int_equal(ag_index_build(&in, &test_log, &data, &len), AG_ERR_INVALID_ARG);
	assert_non_null(strstr(last_log, "UID 200001 is given to two users"));
	in.users = hostile;
	in.n_users = 5;
	assert_int_equal(ag_index_build(&in, &test_log, &data, &len), AG_OK);
	assert_true(ag_index_open(data, len, &ix, NULL));
	assert_int_equal(ag_index_n_users(&ix), 1);
	assert_int_equal(ag_index_user_by_name(&ix, "root", &idx), AG_INDEX_NOTFOUND);
	assert_int_equal(ag_index_user_by_uid(&ix, 200004, &idx), AG_INDEX_OK);
	free(data);
}

/* Run every lookup on a (possibly corrupt) index: must not crash. */
static void exercise(const struct ag_index *ix)
{
	static const char *const names[] = { "alice", "bob", "carol", "ops", "docker", "dev-x", "dev-pinned", "zz" };
	char buf[256];
	struct passwd pw;
	struct group gr;
	const uint32_t *gids;
	uint32_t idx, n;
	bool local;

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		if (ag_index_user_by_name(ix, names[i], &idx) == AG_INDEX_OK) {
			(void)ag_index_fill_passwd(ix, idx, &pw, buf, sizeof buf);
			(void)ag_index_user_gids(ix, idx, &gids, &n);
		}
		if (ag_index_group_by_name(ix, names[i], &idx) == AG_INDEX_OK)
			(void)ag_index_fill_group(ix, idx, &gr, buf, sizeof buf);
		(void)ag_index_provisional(ix, names[i], &pw, buf, sizeof buf);
	}
	for (uint32_t id = 0; id < 4; id++) {
		uint32_t probe[] = { 200001, 200002, 300000, 999 };
		if (ag_index_user_by_uid(ix, probe[id], &idx) == AG_INDEX_OK)
			(void)ag_index_fill_passwd(ix, idx, &pw, buf, sizeof buf);
		if (ag_index_group_by_gid(ix, probe[id], &idx) == AG_INDEX_OK)
			(void)ag_index_fill_group(ix, idx, &gr, buf, sizeof buf);
	}
	for (uint32_t i = 0; i < ag_index_n_users(ix) && i < 64; i++)
		(void)ag_index_fill_passwd(ix, i, &pw, buf, sizeof buf);
	for (uint32_t i = 0; i < ag_index_n_groups(ix) && i < 64; i++) {
		(void)ag_index_group_local(ix, i, &local);
		(void)ag_index_fill_group(ix, i, &gr, buf, sizeof buf);
	}
}

/* "name:m1,m2" of group name, or the status as text. */
static const char *members_of(const struct ag_index *ix, const char *name, char *out, size_t len)
{
	char buf[1024];
	struct group gr;
	uint32_t idx;
	enum ag_index_status st = ag_index_group_by_name(ix, name, &idx);

	if (st == AG_INDEX_OK)
		st = ag_index_fill_group(ix, idx, &gr, buf, sizeof buf);
	if (st != AG_INDEX_OK) {
		snprintf(out, len, "status %d", (int)st);
		return out;
	}
	snprintf(out, len, "%u:", (unsigned)gr.gr_gid);
	for (char **m = gr.gr_mem; *m; m++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", m == gr.gr_mem ? "" : ",", *m);
	return out;
}

/* A delta of build_sample's index: dave is new (in ops and the new group
 * dev), bob left ops and joined docker. */
static enum ag_err build_sample_delta(const struct ag_index *base, void **data, size_t *len)
{
	static const struct ag_index_in_user users[] = {
		{ "dave", 200004, 200004, "/home/dave", "/bin/bash" },
		{ "bob", 200002, 200002, "/home/bob", "/bin/zsh" },
	};
	static uint32_t m_dave[] = { 0 }, m_bob[] = { 1 };
	static const struct ag_index_in_group groups[] = {
		{ "dave", 200004, false, NULL, 0 },
		{ "bob", 200002, false, NULL, 0 },
		{ "ops", 300000, false, m_dave, 1 },
		{ "docker", 999, true, m_bob, 1 },
		{ "dev", 300001, false, m_dave, 1 },
	};
	struct ag_index_input in = {
		users, 2, groups, 5, NULL, 0, "alice, dev-*", { 200000, 2000200000 }, 0, "/home/%u", "/bin/bash", 8,
	};

	return ag_index_build_delta(&in, base, &test_log, data, len);
}

static void test_index_delta(void **state)
{
	struct built b;
	struct ag_index ix, alone;
	struct passwd pw;
	char buf[1024], text[256];
	const uint32_t *gids;
	const char *why = NULL;
	void *delta;
	size_t dlen, listed = 0;
	uint32_t idx, n;
	unsigned char *copy;

	build_sample(&b, "alice, dev-*");
	assert_int_equal(build_sample_delta(&b.ix, &delta, &dlen), AG_OK);
	/* a delta is no index by itself */
	assert_false(ag_index_open(delta, dlen, &alone, &why));
	assert_string_equal(why, "a delta, not an index");
	ix = b.ix;
	assert_int_equal(ag_index_attach_delta(&ix, delta, dlen, &why), AG_INDEX_OK);
	/* the delta first: dave is new, bob's record is the delta's */
	assert_int_equal(ag_index_user_by_name(&ix, "dave", &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_fill_passwd(&ix, idx, &pw, buf, sizeof buf), AG_INDEX_OK);
	assert_int_equal(pw.pw_uid, 200004);
	assert_int_equal(ag_index_user_by_uid(&ix, 200004, &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_user_by_name(&ix, "bob", &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_fill_passwd(&ix, idx, &pw, buf, sizeof buf), AG_INDEX_OK);
	assert_string_equal(pw.pw_shell, "/bin/zsh");
	assert_int_equal(ag_index_user_by_uid(&ix, 200002, &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_fill_passwd(&ix, idx, &pw, buf, sizeof buf), AG_INDEX_OK);
	assert_string_equal(pw.pw_shell, "/bin/zsh");
	assert_int_equal(ag_index_user_gids(&ix, idx, &gids, &n), AG_INDEX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(gids[0], 999);
	/* the base answers what the delta does not have */
	assert_int_equal(ag_index_user_by_name(&ix, "alice", &idx), AG_INDEX_OK);
	assert_int_equal(ag_index_user_gids(&ix, idx, &gids, &n), AG_INDEX_OK);
	assert_int_equal(n, 2);
	/* members: the base's less the users the delta has, and the delta's */
	assert_string_equal(members_of(&ix, "ops", text, sizeof text), "300000:alice,dave");
	assert_string_equal(members_of(&ix, "docker", text, sizeof text), "999:alice,bob");
	assert_string_equal(members_of(&ix, "dev", text, sizeof text), "300001:dave");
	assert_int_equal(ag_index_group_by_gid(&ix, 300001, &idx), AG_INDEX_OK);
	/* enumeration: every user once (the base's bob is replaced) */
	for (uint32_t i = 0; i < ag_index_n_users(&ix); i++) {
		enum ag_index_status st = ag_index_fill_passwd(&ix, i, &pw, buf, sizeof buf);

		assert_true(st == AG_INDEX_OK || st == AG_INDEX_NOTFOUND);
		listed += st == AG_INDEX_OK;
	}
	assert_int_equal(listed, 4);
	listed = 0;
	for (uint32_t i = 0; i < ag_index_n_groups(&ix); i++) {
		struct group gr;
		enum ag_index_status st = ag_index_fill_group(&ix, i, &gr, buf, sizeof buf);

		assert_true(st == AG_INDEX_OK || st == AG_INDEX_NOTFOUND);
		listed += st == AG_INDEX_OK;
	}
	assert_int_equal(listed, 6); /* the base's alice, the delta's dave bob ops docker dev */
	/* superseded: the base's hint names another delta */
	assert_true(ag_index_superseded(&ix));
	((struct ag_index_header *)(void *)b.data)->delta_hint = (uint32_t)ix.d.h->generation;
	assert_false(ag_index_superseded(&ix));
	assert_true(ag_index_superseded(&b.ix)); /* the base alone: there is a delta */
	/* a delta of another base is stale: ignored */
	((struct ag_index_header *)(void *)b.data)->generation = 6;
	ix = b.ix;
	assert_int_equal(ag_index_attach_delta(&ix, delta, dlen, &why), AG_INDEX_NOTFOUND);
	assert_null(ix.d.h);
	assert_int_equal(ag_index_user_by_name(&ix, "dave", &idx), AG_INDEX_NOTFOUND);
	assert_string_equal(members_of(&ix, "ops", text, sizeof text), "300000:alice,bob");
	((struct ag_index_header *)(void *)b.data)->generation = 7;
	/* every truncation of the delta is refused, every flipped byte is
	 * either refused or answered without a crash */
	copy = aligned_alloc(8, (dlen + 7) & ~(size_t)7);
	assert_non_null(copy);
	for (size_t len = 0; len < dlen; len++) {
		memcpy(copy, delta, len);
		ix = b.ix;
		assert_int_equal(ag_index_attach_delta(&ix, copy, len, &why), AG_INDEX_CORRUPT);
		assert_null(ix.d.h);
	}
	for (size_t i = 0; i < dlen; i++) {
		memcpy(copy, delta, dlen);
		copy[i] ^= 0xff;
		ix = b.ix;
		if (ag_index_attach_delta(&ix, copy, dlen, &why) == AG_INDEX_OK)
			exercise(&ix);
	}
	/* a full index where the delta should be */
	ix = b.ix;
	assert_int_equal(ag_index_attach_delta(&ix, b.data, b.len, &why), AG_INDEX_CORRUPT);
	assert_string_equal(why, "not a delta");
	free(copy);
	free(delta);
	free(b.data);
}

/* What a delta cannot express is refused, for a full rebuild instead. */
static void test_index_delta_refuses(void **state)
{
	struct built b;
	void *delta = NULL;
	size_t dlen;
	struct ag_index_in_user u = { "alice", 200009, 200009, "/home/alice", "/bin/bash" };
	struct ag_index_in_user v = { "erin", 200001, 200001, "/home/erin", "/bin/bash" };
	struct ag_index_in_group g = { "ops", 300009, false, NULL, 0 };
	struct ag_index_in_group h = { "docker", 999, false, NULL, 0 };
	struct ag_index_in_group k = { "newgrp", 300000, false, NULL, 0 };
	struct ag_index_input in = { &u, 1, NULL, 0, NULL, 0, "alice", { 200000, 2000200000 }, 0, "/home/%u",
				     "/bin/bash", 8 };

	build_sample(&b, "alice, dev-*");
	/* a user of the base under another UID, a UID of the base under another name */
	assert_int_equal(ag_index_build_delta(&in, &b.ix, &test_log, &delta, &dlen), AG_ERR_UNSUPPORTED);
	in.users = &v;
	assert_int_equal(ag_index_build_delta(&in, &b.ix, &test_log, &delta, &dlen), AG_ERR_UNSUPPORTED);
	/* the same for groups, and a group that became a host group's */
	in.n_users = 0;
	in.groups = &g;
	in.n_groups = 1;
	assert_int_equal(ag_index_build_delta(&in, &b.ix, &test_log, &delta, &dlen), AG_ERR_UNSUPPORTED);
	in.groups = &k;
	assert_int_equal(ag_index_build_delta(&in, &b.ix, &test_log, &delta, &dlen), AG_ERR_UNSUPPORTED);
	in.groups = &h;
	assert_int_equal(ag_index_build_delta(&in, &b.ix, &test_log, &delta, &dlen), AG_ERR_UNSUPPORTED);
	/* another primary group */
	in.n_groups = 0;
	in.primary_gid = 5000;
	assert_int_equal(ag_index_build_delta(&in, &b.ix, &test_log, &delta, &dlen), AG_ERR_UNSUPPORTED);
	assert_null(delta);
	/* the bound */
	assert_true(ag_index_delta_room(&b.ix, AG_INDEX_DELTA_SLACK));
	assert_false(ag_index_delta_room(&b.ix, AG_INDEX_DELTA_SLACK + 1));
	free(b.data);
}

static void test_index_corrupt(void **state)
{
	struct built b;
	struct ag_index ix;
	const char *why;
	unsigned char *copy;
	size_t opened = 0;

	build_sample(&b, "alice, dev-*");
	copy = aligned_alloc(8, (b.len + 7) & ~(size_t)7);
	assert_non_null(copy);
	/* every truncation is refused at open */
	for (size_t len = 0; len < b.len; len++) {
		memcpy(copy, b.data, len);
		assert_false(ag_index_open(copy, len, &ix, &why));
	}
	/* ... also when the header is patched to claim the shorter size */
	for (size_t len = sizeof(struct ag_index_header); len < b.len; len++) {
		memcpy(copy, b.data, len);
		((struct ag_index_header *)(void *)copy)->file_size = len;
		if (ag_index_open(copy, len, &ix, &why)) {
			opened++;
			exercise(&ix);
		}
	}
	assert_true(opened > 0); /* the padding at the end is not needed */
	/* every byte flipped, one at a time */
	for (size_t i = 0; i < b.len; i++) {
		memcpy(copy, b.data, b.len);
		copy[i] ^= 0xff;
		if (ag_index_open(copy, b.len, &ix, &why))
			exercise(&ix);
	}
	/* specific damage */
	memcpy(copy, b.data, b.len);
	memcpy(copy, "XXXXXXX", 8);
	assert_false(ag_index_open(copy, b.len, &ix, &why));
	assert_string_equal(why, "bad magic: not an NSS index");
	memcpy(copy, b.data, b.len);
	((struct ag_index_header *)(void *)copy)->users.off = 0xfffffff0u;
	assert_false(ag_index_open(copy, b.len, &ix, &why));
	assert_string_equal(why, "a section lies outside the file");
	memcpy(copy, b.data, b.len);
	copy[b.ix.f.h->strings.off + b.ix.f.h->strings.count - 1] = 'x';
	assert_false(ag_index_open(copy, b.len, &ix, &why));
	assert_string_equal(why, "string table not terminated");
	memcpy(copy, b.data, b.len);
	((struct ag_index_header *)(void *)copy)->byte_order = 0x04030201u;
	assert_false(ag_index_open(copy, b.len, &ix, &why));
	assert_false(ag_index_open(copy + 4, b.len - 4, &ix, &why)); /* misaligned */
	/* a user record pointing past the string table: CORRUPT, not a crash */
	memcpy(copy, b.data, b.len);
	{
		const struct ag_index_header *h = (const void *)copy;
		struct ag_index_user *u = (void *)(copy + h->users.off);
		struct passwd pw;
		char buf[256];
		uint32_t idx;

		assert_true(ag_index_open(copy, b.len, &ix, &why));
		u[0].home = h->strings.count + 100;
		assert_int_equal(ag_index_user_by_name(&ix, "alice", &idx), AG_INDEX_OK);
		assert_int_equal(ag_index_fill_passwd(&ix, idx, &pw, buf, sizeof buf), AG_INDEX_CORRUPT);
		u[0].home = 0;
		u[0].uid = 0; /* root's UID is never served */
		assert_int_equal(ag_index_fill_passwd(&ix, idx, &pw, buf, sizeof buf), AG_INDEX_CORRUPT);
		/* a hash table with no empty slot still ends */
		memset(copy + h->user_names.off, 0, h->user_names.count * 4);
		for (uint32_t i = 0; i < h->user_names.count; i++)
			((uint32_t *)(void *)(copy + h->user_names.off))[i] = 1;
		assert_int_equal(ag_index_user_by_name(&ix, "zz", &idx), AG_INDEX_NOTFOUND);
		((uint32_t *)(void *)(copy + h->user_names.off))[0] = 99;
		((uint32_t *)(void *)(copy + h->user_names.off))[1] = 99;
	}
	free(copy);
	free(b.data);
}

static void test_index_many_users(void **state)
{
	enum { N = 20000 };
	struct ag_index_in_user *users = calloc(N, sizeof *users);
	char (*names)[16] = calloc(N, sizeof *names);
	uint32_t *members = calloc(N, sizeof *members);
	struct ag_index_in_group group = { "everyone", 100000, false, members, N };
	struct ag_index_input in = { 0 };
	struct ag_index ix;
	void *data;
	size_t len;
	uint32_t idx;

	assert_non_null(users);
	assert_non_null(names);
	assert_non_null(members);
	for (unsigned i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "u%05u", i);
		users[i] = (struct ag_index_in_user){ names[i], 200000 + i * 7, 200000 + i * 7, "/h", "/bin/sh" };
		members[i] = i;
	}
	in.users = users;
	in.n_users = N;
	in.groups = &group;
	in.n_groups = 1;
	in.range = default_range;
	assert_int_equal(ag_index_build(&in, &test_log, &data, &len), AG_OK);
	assert_true(ag_index_open(data, len, &ix, NULL));
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(ag_index_user_by_name(&ix, names[i], &idx), AG_INDEX_OK);
		assert_int_equal(idx, i);
		assert_int_equal(ag_index_user_by_uid(&ix, 200000 + i * 7, &idx), AG_INDEX_OK);
		assert_int_equal(idx, i);
	}
	assert_int_equal(ag_index_user_by_uid(&ix, 200001, &idx), AG_INDEX_NOTFOUND);
	/* the strings "/h" and "/bin/sh" are stored once */
	assert_true(len < (size_t)N * 80);
	free(data);
	free(users);
	free(names);
	free(members);
}

/* ag_name_search: the one binary search by name (the index writer's
 * members, the index reader's pins). */
static const char *sorted_name(const void *ctx, size_t i)
{
	return ((const char *const *)ctx)[i];
}

static void test_name_search(void **state)
{
	static const char *const names[] = { "alice", "bob", "carol", "dev-1", "zed" };
	static const char *const broken[] = { "alice", NULL, "carol" };

	(void)state;
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(ag_name_search(5, names[i], sorted_name, names), (long)i);
	assert_int_equal(ag_name_search(5, "aaron", sorted_name, names), -1);
	assert_int_equal(ag_name_search(5, "dave", sorted_name, names), -1);
	assert_int_equal(ag_name_search(5, "zz", sorted_name, names), -1);
	assert_int_equal(ag_name_search(0, "alice", sorted_name, names), -1);
	/* a name that cannot be read on the way (a corrupt index): -2, never a guess */
	assert_int_equal(ag_name_search(3, "bob", sorted_name, broken), -2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_grammar_hostile),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_name_expand),
		cmocka_unit_test(test_name_search),
		cmocka_unit_test(test_id_grammar),
		cmocka_unit_test(test_uid_golden_values),
		cmocka_unit_test(test_uid_distribution),
		cmocka_unit_test(test_collision_sequence),
		cmocka_unit_test(test_idmap_collisions),
		cmocka_unit_test(test_config_accounts_keys),
		cmocka_unit_test(test_config_tables_hostile),
		cmocka_unit_test(test_index_round_trip),
		cmocka_unit_test(test_index_provisional),
		cmocka_unit_test(test_index_erange),
		cmocka_unit_test(test_index_writer_refuses),
		cmocka_unit_test(test_index_corrupt),
		cmocka_unit_test(test_index_delta),
		cmocka_unit_test(test_index_delta_refuses),
		cmocka_unit_test(test_index_many_users),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
