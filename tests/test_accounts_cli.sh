#!/bin/bash
# authgear-pam users / forget / pin / import / reindex with --config, their
# --help, and what they leave on disk: the store's root-only part and the
# public NSS index, read back through glibc with nss_wrapper (our module
# loaded from the build tree, a private passwd and group file).
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the store is root's)"
ls /usr/lib/*/libnss_wrapper.so >/dev/null 2>&1 || skip "nss_wrapper not installed"
new_tmpdir

S="$T/state"
write_config "$T/c.conf" "users = alice, bob, dev-*" "home = /srv/home/%u" "shell = /bin/sh" \
	"[roles]" "unix-admin = authgear-admins" "unix-user = authgear-users, users" "[uids]" "carol = 300001"
cli() { "$CLI" "$1" --config "$T/c.conf" "${@:2}"; }

# --- help and usage ----------------------------------------------------------------
"$CLI" --help > "$T/help"
for c in "users [--config FILE]" "forget [--config FILE] USER" "pin [--config FILE] USER UID" \
	"import [--config FILE] FILE" "reindex [--config FILE]"; do
	assert_contains "$T/help" "$c" "--help lists '$c'"
done
set +e
cli forget > "$T/o" 2>&1; [ $? = 2 ] || fail "forget without USER: want exit 2"
cli pin alice > "$T/o" 2>&1; [ $? = 2 ] || fail "pin without UID: want exit 2"
cli users extra > "$T/o" 2>&1; [ $? = 2 ] || fail "users with an argument: want exit 2"
cli pin alice 0 > "$T/o" 2>&1; [ $? = 1 ] || fail "pin to UID 0 must fail"
assert_contains "$T/o" "'0' is not a UID from 1000 to 4294967294" "pin names the UID grammar"
cli pin root 5000 > "$T/o" 2>&1; [ $? = 1 ] || fail "pin root must fail"
cli pin -- -oProxyCommand 5000 > "$T/o" 2>&1; [ $? = 1 ] || fail "pin of a hostile name must fail"
cli forget nobody-here > "$T/o" 2>&1; [ $? = 1 ] || fail "forget of an unknown user must fail"
assert_contains "$T/o" "no user nobody-here in the store" "forget says the user is unknown"
setpriv --reuid=65534 --regid=65534 --clear-groups "$CLI" users --config "$T/c.conf" > "$T/o" 2>&1
[ $? = 1 ] || fail "users as nobody must fail"
assert_contains "$T/o" "must run as root" "the commands need root"
set -e

# --- a store as two logins and the commands leave it ---------------------------------
cli pin bob 5001 > /dev/null
printf '# migrated from LDAP\ndev-a:6001\n\ndev-b:6002\n' > "$T/import"
cli import "$T/import" > "$T/o"
assert_contains "$T/o" "imported the UIDs of $T/import" "import reports success"
printf 'dev-c:6003\ndev-d:5001\n' > "$T/import-bad"
set +e
cli import "$T/import-bad" > "$T/o" 2>&1; [ $? = 1 ] || fail "import of a UID bob has must fail"
set -e
assert_contains "$T/o" "import-bad:2: UID 5001 already belongs to bob; nothing imported" "import names FILE:LINE"
# a FILE whose name has a newline and a terminal escape: shown escaped, on
# success and in the error's FILE:LINE
odd="$T/im"$'\n'"port"$'\e'"[31m"
printf 'dev-e:6005\n' > "$odd"
cli import "$odd" > "$T/o"
assert_contains "$T/o" "imported the UIDs of $T/im\\x0aport\\x1b[31m" "import shows an odd FILE name escaped"
cli forget dev-e > /dev/null || fail "forget the pin the odd FILE imported"
printf 'dev-f:5001\n' > "$odd"
set +e
cli import "$odd" > "$T/o" 2>&1
set -e
assert_contains "$T/o" "im\\x0aport\\x1b[31m:1: UID 5001 already belongs to bob" "import's error shows the FILE name escaped"
[ "$(grep -c . "$T/o")" = 1 ] && ! grep -q $'\e' "$T/o" || { cat -A "$T/o"; fail "import's error spans lines or carries the escape raw"; }
# Two users as the module leaves them after their logins.
sqlite3 "$S/private/accounts.db" "
INSERT INTO groups (name, gid, local) VALUES ('authgear-admins', 260001, 0), ('authgear-users', 260002, 0), ('users', 100, 1);
INSERT INTO users (name, sub, bound_at, last_login, uid) VALUES ('alice', 'sub-alice', 1700000000, 1700000100, 250001);
UPDATE users SET sub = 'sub-bob', last_login = 1700000200 WHERE name = 'bob';
INSERT INTO memberships (user_id, group_id, pos) SELECT u.id, g.id, g.id FROM users u, groups g WHERE u.name = 'alice';
INSERT INTO memberships (user_id, group_id, pos) SELECT u.id, g.id, 0 FROM users u, groups g
	WHERE u.name = 'bob' AND g.name = 'authgear-users';
INSERT INTO roles (user_id, pos, role) SELECT id, 0, 'unix-admin' FROM users WHERE name = 'alice';
INSERT INTO roles (user_id, pos, role) SELECT id, 1, 'unix-user' FROM users WHERE name = 'alice';"
cli reindex > "$T/o"
assert_contains "$T/o" "rebuilt $S/nss.index" "reindex"
cli users > "$T/users"
cat > "$T/users.want" <<EOF
NAME                             UID        GROUPS                           LAST LOGIN
alice                            250001     authgear-admins,authgear-users,users 2023-11-14T22:15:00Z
bob                              5001       authgear-users                   2023-11-14T22:16:40Z
dev-a                            6001       -                                - (pinned; no login yet)
dev-b                            6002       -                                - (pinned; no login yet)
EOF
diff -u "$T/users.want" "$T/users" || fail "authgear-pam users output"
pass "users lists name, UID, groups and last login; pins ahead of a first login"

[ "$(stat -c '%a %U' "$S")" = "755 root" ] || fail "state_dir mode"
[ "$(stat -c '%a %U' "$S/private")" = "700 root" ] || fail "private dir mode"
[ "$(stat -c '%a %U' "$S/private/accounts.db")" = "600 root" ] || fail "accounts.db mode"
[ "$(stat -c '%a %U' "$S/nss.index")" = "644 root" ] || fail "nss.index mode"
if grep -q "sub-alice" "$S/nss.index"; then fail "the public index holds a sub"; fi
pass "root-only part 0700/0600, index 0644 without subs"

# --- what glibc sees (nss_wrapper: private files, our module from the build tree) ---
printf 'root:x:0:0:root:/root:/bin/bash\nlocal:x:1000:1000::/home/local:/bin/sh\n' > "$T/passwd"
printf 'root:x:0:\nusers:x:100:local\nlocal:x:1000:\n' > "$T/group"
NW="env LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD=$T/passwd NSS_WRAPPER_GROUP=$T/group
	NSS_WRAPPER_MODULE_SO_PATH=$NSS_MODULE NSS_WRAPPER_MODULE_FN_PREFIX=authgear AUTHGEAR_NSS_INDEX=$S/nss.index
	AUTHGEAR_TEST_LOG=$T/nss.log"
# Golden values of the UID hash in the default uid_range (test_accounts.c's
# test_uid_golden_values): dev-new's and bob's first candidates.
UID_DEV_NEW=2099031549 UID_BOB=2081946800
$NW getent passwd alice bob dev-a > "$T/pw"
cat > "$T/pw.want" <<EOF
alice:*:250001:250001::/srv/home/alice:/bin/sh
bob:*:5001:5001::/srv/home/bob:/bin/sh
dev-a:*:6001:6001::/srv/home/dev-a:/bin/sh
EOF
diff -u "$T/pw.want" "$T/pw" || fail "passwd entries"
pass "bound users and a pinned provisional entry (dev-a)"
# A name only a pattern matches (dev-new) is answered only to sshd (the
# executable's name): a copy of getent named sshd gets it, getent does not.
if $NW getent passwd dev-new > /dev/null; then fail "dev-new (a pattern match) resolves outside sshd"; fi
cp "$(command -v getent)" "$T/sshd"
$NW "$T/sshd" passwd dev-new > "$T/pw-sshd" || fail "dev-new does not resolve for sshd"
[ "$(cat "$T/pw-sshd")" = "dev-new:*:$UID_DEV_NEW:$UID_DEV_NEW::/srv/home/dev-new:/bin/sh" ] ||
	{ cat "$T/pw-sshd"; fail "dev-new's provisional entry for sshd"; }
pass "a provisional entry for a pattern match (dev-new, the hash's golden UID) only for sshd"
set +e
for u in carol mallory root2 ..; do
	$NW getent passwd "$u" > /dev/null && fail "$u must not resolve (not allow-listed)"
done
set -e
pass "names outside the allow-list do not resolve, even with a [uids] pin"
$NW getent passwd > "$T/all"
grep -q '^alice:' "$T/all" && grep -q '^bob:' "$T/all" || fail "getpwent lists bound users"
if grep -q '^dev-' "$T/all"; then fail "getpwent lists provisional or pinned entries"; fi
pass "getpwent lists bound users only"
$NW getent group authgear-admins authgear-users alice > "$T/gr"
cat > "$T/gr.want" <<EOF
authgear-admins:*:260001:alice
authgear-users:*:260002:alice,bob
alice:*:250001:
EOF
diff -u "$T/gr.want" "$T/gr" || fail "group entries"
pass "role groups with members and user-private groups"
$NW id alice > "$T/id"
assert_contains "$T/id" "uid=250001(alice) gid=250001(alice) groups=250001(alice)" "id alice under nss_wrapper"
assert_contains "$T/id" "260001(authgear-admins)" "id shows the role group (nss_wrapper: via getgrent)"

# forget: gone from NSS; UIDs pinned forever otherwise
cli forget bob > "$T/o"
assert_contains "$T/o" "forgot bob" "forget reports"
$NW getent passwd bob > "$T/bob" || fail "a forgotten allow-listed user must resolve (provisional)"
[ "$(cat "$T/bob")" = "bob:*:$UID_BOB:$UID_BOB::/srv/home/bob:/bin/sh" ] || { cat "$T/bob"; fail "bob after forget"; }
pass "forget removes the user's entries (bob is provisional again: allow-listed, the hash's first UID)"
cli users > "$T/users2"
if grep -q '^bob ' "$T/users2"; then fail "forgotten user still listed"; fi

# --- an index that is corrupt, missing, or not root's ------------------------------------
cp "$S/nss.index" "$T/good.index"
printf 'garbage' | dd of="$S/nss.index" bs=1 seek=0 conv=notrunc 2>/dev/null
set +e
$NW getent passwd alice > /dev/null; rc=$?
set -e
[ $rc = 2 ] || fail "corrupt index: getent rc $rc, want 2"
assert_contains "$T/nss.log" "nss_authgear: $S/nss.index: bad magic: not an NSS index; answering UNAVAIL" \
	"a corrupt index is logged and answers UNAVAIL"
$NW getent passwd local > /dev/null || fail "local users still resolve with a corrupt index"
head -c 300 "$T/good.index" > "$S/nss.index"
: > "$T/nss.log"
$NW getent passwd alice > /dev/null && fail "truncated index answered"
assert_contains "$T/nss.log" "truncated: size differs from its header" "a truncated index is logged"
cp "$T/good.index" "$S/nss.index"; chmod 0666 "$S/nss.index"
$NW getent passwd alice > /dev/null && fail "a world-writable index must not be used"
assert_contains "$T/nss.log" "not owned by root or writable by others" "a world-writable index is refused"
rm -f "$S/nss.index"
set +e
$NW getent passwd alice > /dev/null; rc=$?
set -e
[ $rc = 2 ] || fail "no index: want not found"
pass "no index: nobody is known, no log line needed"

# --- authgear-pam check: the database opens and passes PRAGMA quick_check -------------------
set +e
cli check > "$T/check.out" 2>&1 # no IdP here: the issuer check fails after the store's
set -e
grep -q "^ok .*store .*accounts.db: schema [0-9][0-9]*, quick_check ok" "$T/check.out" || { cat "$T/check.out"; fail "check: store line"; }
pass "check: the store passes quick_check"
sqlite3 "$S/private/accounts.db" "PRAGMA wal_checkpoint(TRUNCATE)" > /dev/null
# damage a page of the users table (not the header): only a check of the pages sees it
page=$(sqlite3 -readonly "$S/private/accounts.db" "SELECT rootpage FROM sqlite_schema WHERE name = 'users'")
dd if=/dev/urandom of="$S/private/accounts.db" bs=4096 seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
set +e
cli check > "$T/check.out" 2>&1
set -e
grep -q "^FAIL .*store" "$T/check.out" || { cat "$T/check.out"; fail "check: a damaged page passed"; }
pass "check: a damaged page of the database fails the store check ($(grep -m1 'store' "$T/check.out" | cut -c1-90))"
