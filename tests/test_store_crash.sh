#!/bin/bash
# The SQLite store under faults, against the test IdP over HTTPS, with the
# CLI's login (the module's code path) as the writer:
#   - a writer killed (kill -9) after its commit and before the rename of
#     its delta (a first login) or its full index (reindex) leaves an index
#     of the previous generation: the checker sees it, the next login
#     repairs it; killed between the fsync and the commit, nothing changed
#     at all; a stale delta (of another base) is ignored, a truncated one
#     answers UNAVAIL (logged) until the next login rebuilds;
#   - a second full rebuild waits for the first one's rename (index.lock);
#   - 200 concurrent logins of 50 users: no failure, no "database is locked",
#     one binding and one UID each, index = database (tests/tools/store_check);
#   - kill -9 at random points of 100 concurrent logins, then one login: the
#     checker finds database and index consistent;
#   - the throttle race: 20 concurrent wrong-password attempts at one name
#     through pamtester (pam_wrapper) reach the IdP's password step at most
#     max_attempts_per_minute times;
#   - a full disk (state_dir on a 1 MiB tmpfs in a private mount namespace):
#     the login fails with AUTHINFO_UNAVAIL and a logged reason, the database
#     and the index are unchanged (checksums).
# Needs the test hooks (./configure --enable-test-hooks) and root.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the store is root-only; tmpfs mounts)"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || fail "pam_wrapper not installed"
if [ -z "${AG_IN_MOUNT_NS:-}" ]; then
	unshare --mount --propagation private true 2>/dev/null || skip "cannot create a mount namespace"
	exec unshare --mount --propagation private env AG_IN_MOUNT_NS=1 bash "$0" "$@"
fi
new_tmpdir
CLI="$abs_top_builddir/src/authgear-pam"
CHECK="$abs_top_builddir/tests/tools/store_check"
grep -qa AUTHGEAR_TEST_STORE_PAUSE "$CLI" || fail "built without --enable-test-hooks (the pause hook is missing)"

# 50 password-only users ag00 .. ag49 at the IdP, plus the fixture's clients.
node -e '
const j = require(process.argv[1]);
j.users = [];
for (let i = 0; i < 50; i++) {
  const n = "ag" + String(i).padStart(2, "0");
  j.users.push({ username: n, sub: "00000000-0000-4000-8000-0000000000" + String(i).padStart(2, "0"),
                 email: n + "@example.com", password: n + "-password", roles: ["unix-user"], verified: true });
}
require("fs").writeFileSync(process.argv[2], JSON.stringify(j));' "$IDP_DIR/fixtures/users.json" "$T/users.json"
idp_start "$T/idp" --users "$T/users.json" --no-rate-limits
write_config "$T/c.conf" "users = ag*" "require_mfa = no" "connect_timeout = 60" "timeout = 120" "max_attempts_per_minute = 1000" "[roles]" "unix-user = ag-team"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
flows() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)["/api/v1/authentication_flows"]||0))'; }

# The CLI's login refuses a name that does not resolve through NSS: glibc
# through nss_wrapper with our NSS module on the store's index (NW STATE_DIR);
# ag* is a pattern, so a first login needs the index to show it (reindex).
NW() { echo "env LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_MODULE_SO_PATH=$NSS_MODULE NSS_WRAPPER_MODULE_FN_PREFIX=authgear AUTHGEAR_NSS_INDEX=$1/nss.index"; }
NWC=$(NW "$T/state")
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"
# login NAME [ENV...]: one CLI login; output in $T/login-NAME.out
login() {
	n=$1; shift
	printf '%s\n' "$n-password" | $NWC AUTHGEAR_TEST_LOG="$T/login-$n.log" "$@" timeout 120 "$CLI" login --config "$T/c.conf" "$n" \
		> "$T/login-$n.out" 2>&1
}
check() { "$CHECK" "$T/c.conf" "$@" > "$T/check.out" 2>&1; }
wait_for() { for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.1; done; fail "$2"; }

login ag00 || { cat "$T/login-ag00.out"; fail "first login"; }
check 1 || { cat "$T/check.out"; fail "checker after one login"; }
pass "one login: $(cat "$T/check.out")"

# The pause hooks: before-commit / after-commit pause a writer of a full
# index (reindex here), before-commit-delta / after-commit-delta a writer of
# a delta (a first login: the index is small, so it gets a delta).
# paused WHERE CMD...: run CMD with the pause at WHERE, wait for it, kill -9 it
paused() {
	where=$1; shift
	rm -f "$T/paused"
	"$@" &
	LPID=$!
	wait_for "$T/paused" "the writer never reached the pause at $where"
	kill -9 $(pgrep -f "authgear-pam (login|reindex) --config $T/c.conf" | grep -vx "$$") 2>/dev/null || true
	wait "$LPID" 2>/dev/null || true
}
PAUSE() { echo "AUTHGEAR_TEST_STORE_PAUSE=$1 AUTHGEAR_TEST_STORE_PAUSE_FILE=$T/paused"; }
reindex_paused() { env $(PAUSE "$1") "$CLI" reindex --config "$T/c.conf" > /dev/null 2>&1; }
[ -e "$T/state/nss.index.delta" ] || fail "ag00's first login wrote no delta"

# --- kill -9 after the commit, before the rename: a delta, then a full index ------
paused after-commit-delta login ag01 $(PAUSE after-commit-delta)
[ "$(sqlite3 -readonly "$T/state/private/accounts.db" "SELECT count(*) FROM users WHERE name = 'ag01' AND uid IS NOT NULL")" = 1 ] \
	|| fail "after-commit-delta: ag01 is not in the database (the commit did not happen before the pause)"
[ -e "$T/state/.nss.index.delta.new" ] || fail "after-commit-delta: no new delta at the pause"
# repaired WHERE: the checker sees an index of the previous generation; the
# next login (a repeat login of another user) notices and rebuilds it
repaired() {
	if check; then cat "$T/check.out"; fail "$1: the checker did not see the stale index"; fi
	assert_contains "$T/check.out" "index generation" "$1: the checker sees an index of the previous generation"
	rm -f "$T/login-ag00.log"
	login ag00 || { cat "$T/login-ag00.out"; fail "$1: repeat login after the crash"; }
	assert_contains "$T/login-ag00.log" "is not the database's generation" "$1: the next login notices"
	check 2 || { cat "$T/check.out"; fail "$1: not repaired"; }
	pass "$1: the next login repaired the index ($(cat "$T/check.out"))"
}
repaired after-commit-delta
paused after-commit reindex_paused after-commit
repaired after-commit

# --- two full rebuilds, the first between its commit and its rename ----------------
# The second writer must wait for the first one's rename (index.lock): it
# used to replace the first one's temporary file, whose rename then failed
# after its commit (or installed the second one's half-written file).
rm -f "$T/paused"
reindex_paused after-commit &
APID=$!
wait_for "$T/paused" "the first reindex never reached the pause at after-commit"
"$CLI" reindex --config "$T/c.conf" > "$T/second.out" 2>&1 &
BPID=$!
sleep 1
kill -0 "$BPID" 2>/dev/null || { cat "$T/second.out"; fail "the second reindex did not wait for the first one's rename"; }
rm -f "$T/paused" # the first one resumes: renames, then lets the second one in
wait "$APID" || fail "the first reindex failed after its commit (its temporary index was replaced)"
wait "$BPID" || { cat "$T/second.out"; fail "the second reindex failed"; }
check 2 || { cat "$T/check.out"; fail "two full rebuilds: index and database differ"; }
[ ! -e "$T/state/.nss.index.new" ] || fail "two full rebuilds: a temporary index was left"
pass "two full rebuilds: the second waited for the first one's rename; both succeeded ($(cat "$T/check.out"))"

# --- kill -9 between the index fsync and the commit: a delta, then a full index ----
# the accounts (the throttle's record of the attempt itself commits before any network)
sum() {
	cat "$T/state/nss.index" "$T/state/nss.index.delta" 2>/dev/null | sha256sum | cut -d' ' -f1
	sqlite3 -readonly "$T/state/private/accounts.db" "SELECT * FROM users ORDER BY name; SELECT * FROM groups;
		SELECT * FROM memberships; SELECT * FROM roles; SELECT * FROM meta" | sha256sum | cut -d' ' -f1
}
before=$(sum)
paused before-commit-delta login ag02 $(PAUSE before-commit-delta)
[ "$(sum)" = "$before" ] || fail "before-commit-delta: the database or the index changed"
check 2 || { cat "$T/check.out"; fail "before-commit-delta: inconsistent"; }
login ag02 || { cat "$T/login-ag02.out"; fail "login after the crash before the commit"; }
check 3 || { cat "$T/check.out"; fail "before-commit-delta: the next login"; }
[ ! -e "$T/state/.nss.index.delta.new" ] || fail "the crashed writer's temporary delta is still there"
pass "before-commit-delta: nothing changed; the next login of the same user succeeds ($(cat "$T/check.out"))"
before=$(sum)
paused before-commit reindex_paused before-commit
[ -e "$T/state/.nss.index.new" ] || fail "before-commit: no fsynced new index at the pause"
[ "$(sum)" = "$before" ] || fail "before-commit: the database or the index changed"
check 3 || { cat "$T/check.out"; fail "before-commit: inconsistent"; }
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex after the crash"
check 3 || { cat "$T/check.out"; fail "before-commit: the next reindex"; }
[ ! -e "$T/state/.nss.index.new" ] || fail "the crashed writer's temporary index is still there"
[ ! -e "$T/state/nss.index.delta" ] || fail "reindex left a delta"
pass "before-commit: nothing changed; reindex rebuilt the full index and removed the delta ($(cat "$T/check.out"))"

# --- a stale delta (a crash between a full rebuild's rename and the delta's removal),
# then a malformed one: through the NSS module (nss_wrapper + getent) ---------------
login ag03 || { cat "$T/login-ag03.out"; fail "ag03's first login"; }
cp -p "$T/state/nss.index.delta" "$T/old.delta"
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"
cp -p "$T/old.delta" "$T/state/nss.index.delta"
check 4 || { cat "$T/check.out"; fail "stale delta: not ignored by the checker"; }
$NWC getent passwd ag03 > "$T/getent.out" || fail "stale delta: ag03 (in the base now) does not resolve"
$NWC getent group ag-team > "$T/getent.out" || fail "stale delta: ag-team does not resolve"
assert_contains "$T/getent.out" "ag00,ag01,ag02,ag03" "stale delta: the group lists each member once"
login ag04 || { cat "$T/login-ag04.out"; fail "a first login over a stale delta"; }
check 5 || { cat "$T/check.out"; fail "a first login over a stale delta"; }
$NWC getent group ag-team > "$T/getent.out" || fail "ag-team does not resolve"
assert_contains "$T/getent.out" "ag00,ag01,ag02,ag03,ag04" "the new delta's member joins the group"
pass "a stale delta is ignored (checker, getent); the next first login replaces it ($(cat "$T/check.out"))"
head -c 200 "$T/state/nss.index.delta" > "$T/trunc" && cat "$T/trunc" > "$T/state/nss.index.delta"
if $NWC AUTHGEAR_TEST_LOG="$T/nss.log" getent passwd ag04 > /dev/null; then fail "a truncated delta was answered from"; fi
assert_contains "$T/nss.log" "nss.index.delta: truncated" "the NSS module logs the truncated delta"
if check; then fail "the checker did not see the truncated delta"; fi
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex over a truncated delta"
check 5 || { cat "$T/check.out"; fail "a truncated delta: not repaired"; }
$NWC getent passwd ag04 > /dev/null || fail "ag04 does not resolve after the repair"
pass "a truncated delta: getent answers UNAVAIL with the reason logged (fail closed, as for the index); reindex rebuilds ($(cat "$T/check.out"))"

# --- 200 concurrent logins of 50 users ----------------------------------------------
mkdir -p "$T/conc"
pids=""
for r in 1 2 3 4; do
	for i in $(seq 0 49); do
		n=$(printf 'ag%02d' "$i")
		( printf '%s\n' "$n-password" | $NWC AUTHGEAR_TEST_LOG="$T/conc/$n.$r.log" timeout 300 "$CLI" login \
			--config "$T/c.conf" "$n" > "$T/conc/$n.$r.out" 2>&1; echo $? > "$T/conc/$n.$r.rc" ) &
		pids="$pids $!"
	done
done
wait $pids
bad=$(grep -L '^0$' "$T"/conc/*.rc | wc -l)
[ "$bad" = 0 ] || { for f in $(grep -L '^0$' "$T"/conc/*.rc | head -3); do cat "${f%.rc}.out" "${f%.rc}.log"; done; fail "$bad of 200 concurrent logins failed"; }
if grep -il "database is locked\|still locked" "$T"/conc/*.out "$T"/conc/*.log > /dev/null; then fail "'database is locked' surfaced"; fi
check 50 || { cat "$T/check.out"; fail "after 200 concurrent logins"; }
[ "$(sqlite3 -readonly "$T/state/private/accounts.db" "SELECT count(*), count(DISTINCT uid), count(DISTINCT sub) FROM users")" = "50|50|50" ] \
	|| fail "not one binding and one UID per user"
pass "200 concurrent logins of 50 users: 0 failures, 0 'database is locked', one binding and one UID each; $(cat "$T/check.out")"

# --- kill -9 at random points of 100 concurrent logins ---------------------------------
sqlite3 "$T/state/private/accounts.db" "DELETE FROM users WHERE name >= 'ag25'"
"$CLI" reindex --config "$T/c.conf" > /dev/null
pids=""
for i in $(seq 0 99); do
	n=$(printf 'ag%02d' $((i % 50)))
	( printf '%s\n' "$n-password" | $NWC timeout 300 "$CLI" login --config "$T/c.conf" "$n" > /dev/null 2>&1 ) &
	pids="$pids $!"
done
for _ in $(seq 30); do
	sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
	victims=$(pgrep -f "authgear-pam login --config $T/c.conf" | shuf -n 3 || true)
	[ -n "$victims" ] && kill -9 $victims 2>/dev/null || true
done
wait $pids 2>/dev/null || true
login ag00 || { cat "$T/login-ag00.out"; fail "login after the random kills"; }
check || { cat "$T/check.out"; fail "after kill -9 at random points"; }
sqlite3 -readonly "$T/state/private/accounts.db" "PRAGMA integrity_check" > "$T/integrity"
assert_contains "$T/integrity" "ok" "integrity_check after the kills"
pass "kill -9 at random points of 100 concurrent logins: $(cat "$T/check.out")"

# --- the throttle race: 20 concurrent attempts, limit 5 -----------------------------
# ag40 must resolve before any request (sshd's "Invalid user" placeholder):
# a host account through nss_wrapper, so listed by name (a pattern never
# takes a name the host has).
echo "ag40:x:64990:64990::/nonexistent:/bin/sh" >> "$NSS_WRAPPER_PASSWD"
write_config "$T/t.conf" "users = ag40, ag*" "require_mfa = no" "connect_timeout = 60" "timeout = 120" "max_attempts_per_minute = 5"
[ -n "${PAMTESTER:-}" ] || PAMTESTER=$(command -v pamtester || true)
[ -n "$PAMTESTER" ] || fail "pamtester not installed"
pam_service race "auth required $MODULE config=$T/t.conf"
hook POST /counters/reset > /dev/null
pids=""
for i in $(seq 20); do
	( printf 'wrong\n' | timeout 120 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		"$PAMTESTER" -v race ag40 authenticate > "$T/race.$i.out" 2>&1 ) &
	pids="$pids $!"
done
wait $pids 2>/dev/null || true
reached=$(flows)
refused=$(grep -l "Too many attempts" "$T"/race.*.out | wc -l)
[ "$reached" -le 5 ] || fail "throttle race: $reached attempts reached the IdP's password step (limit 5)"
[ "$refused" -ge 15 ] || fail "throttle race: only $refused of 20 were refused locally"
pass "throttle race: 20 concurrent attempts, $reached reached the IdP's password step, $refused refused locally"

# --- a full disk ---------------------------------------------------------------
D="$T/small"
small_tmpfs "$D"
write_config "$T/d.conf" "users = ag*" "require_mfa = no" "connect_timeout = 60" "timeout = 120" "max_attempts_per_minute = 1000" "[roles]" "unix-user = ag-team"
sed -i "s|^state_dir = .*|state_dir = $D/state|" "$T/d.conf"
NWD=$(NW "$D/state")
"$CLI" reindex --config "$T/d.conf" > /dev/null || fail "reindex on the tmpfs"
printf '%s\n' ag00-password | $NWD "$CLI" login --config "$T/d.conf" ag00 > "$T/d0.out" 2>&1 || { cat "$T/d0.out"; fail "login on the tmpfs"; }
dsum() {
	sha256sum "$D/state/nss.index" | cut -d' ' -f1
	sqlite3 -readonly "$D/state/private/accounts.db" "SELECT * FROM users ORDER BY name; SELECT * FROM groups;
		SELECT * FROM memberships; SELECT * FROM roles; SELECT * FROM meta" | sha256sum | cut -d' ' -f1
}
cp -a "$D/state" "$T/state-backup"
# Leave 0 .. 120 KiB free: the login fails at open, in the throttle's
# transaction, or in the login's own (the index file or the WAL), or it
# succeeds; a failure must leave everything as it was.
mid=0
for free_kb in 0 4 8 10 12 14 16 20 24 28 32 36 40 44 48 52 56 64 72 80 96 128 200; do
	rm -rf "$D/state" "$D/fill" "$T/full.log"; cp -a "$T/state-backup" "$D/state"
	before=$(dsum)
	avail=$(df --output=avail -k "$D" | tail -1)
	[ "$avail" -gt "$free_kb" ] && dd if=/dev/zero of="$D/fill" bs=1k count=$((avail - free_kb)) 2>/dev/null || true
	set +e
	printf '%s\n' ag01-password | $NWD AUTHGEAR_TEST_LOG="$T/full.log" "$CLI" login --config "$T/d.conf" ag01 > "$T/full.out" 2>&1
	rc=$?
	set -e
	rm -f "$D/fill"
	echo "full disk, $free_kb KiB free: rc $rc$(grep -q "requests=0" "$T/full.log" 2>/dev/null && echo ", before any request")"
	if [ "$rc" = 0 ]; then
		"$CHECK" "$T/d.conf" 2 > "$T/check.out" 2>&1 || { cat "$T/check.out"; fail "full disk ($free_kb KiB free): a success left them inconsistent"; }
		continue
	fi
	assert_contains "$T/full.log" "disk full" "full disk ($free_kb KiB free): the reason is logged"
	# AG_ERR_IO: PAM_AUTHINFO_UNAVAIL in the module (pam_codes.c)
	assert_contains "$T/full.out" "refused (io): Sign-in failed: a local file could not be read or written." \
		"full disk ($free_kb KiB free): one plain line"
	[ "$(dsum)" = "$before" ] || fail "full disk ($free_kb KiB free): the database or the index changed"
	grep -q "requests=0" "$T/full.log" || mid=$((mid + 1))
done
[ "$mid" -gt 0 ] || fail "full disk: no free-space level failed inside the login's own transaction"
rm -rf "$D/state"; cp -a "$T/state-backup" "$D/state"
printf '%s\n' ag01-password | $NWD "$CLI" login --config "$T/d.conf" ag01 > "$T/d1.out" 2>&1 || { cat "$T/d1.out"; fail "login once space is back"; }
pass "full disk: each failed login ($mid after reaching the IdP) left database and index unchanged (checksums); fine once space is back"
