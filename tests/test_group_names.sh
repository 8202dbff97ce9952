#!/bin/bash
# Issue 11 (High 1), the names of user-private groups, through the real
# libpam (pam_wrapper + tests/tools/pam_driver) against the test IdP over
# HTTPS, and glibc's lookups through nss_wrapper: private passwd and group
# files plus our NSS module from the build tree (the group of a lookup comes
# from the files first, as with "group: files [SUCCESS=merge] authgear").
#   1. A bound user whose name becomes a [roles] group: its private group is
#      left out of the index, its login is refused, and the [roles] group keeps
#      the name (getgrnam gives the role group, getgrgid of the user's GID
#      gives nothing).
#   2. A bound user whose name later becomes a host group: the host group
#      wins; the user's private group no longer answers by that name, by
#      name or by GID (getgrgid of the private GID answering the host group's
#      name would hand sudo's %group rules and sshd's AllowGroups to the user)
#      -- at the user's next login, and at authgear-pam reindex.
#   3. ... and at every other write of the index: another user's first
#      login, an admin's command (authgear-pam forget of someone else).
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the store is root's)"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
ls /usr/lib/*/libnss_wrapper.so >/dev/null 2>&1 || skip "nss_wrapper not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
FIXTURE="$IDP_DIR/fixtures/users.json"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
totp() { hook GET "/totp/$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))'; }
run() { # run CASE CONFIG USER ANSWERS...: transcript in $T/CASE.out, log in $T/CASE.log
	c=$1 cf=$2 user=$3; shift 3
	pam_service "$c" "auth required $MODULE config=$cf"
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$c" "$user" authenticate "$@" > "$T/$c.out" 2>&1
	touch "$T/$c.log"
}
ok() { grep -q '^rc=0 ' "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: the login failed"; }; }

idp_start "$T/idp"
# carol and bob: Authgear users only (not in the host's files), matched by patterns.
sed -i '/^carol:/d; /^bob:/d' "$T/nss/passwd" "$T/nss/group"
NSS_WRAPPER_MODULE_SO_PATH=$NSS_MODULE NSS_WRAPPER_MODULE_FN_PREFIX=authgear AUTHGEAR_NSS_INDEX=$T/state/nss.index
export NSS_WRAPPER_MODULE_SO_PATH NSS_WRAPPER_MODULE_FN_PREFIX AUTHGEAR_NSS_INDEX
NW="env LD_PRELOAD=libnss_wrapper.so"
BASE=("users = c*, b*" "require_mfa = no" "max_attempts_per_minute = 1000")
write_config "$T/a.conf" "${BASE[@]}"
$NW "$CLI" reindex --config "$T/a.conf" > /dev/null || fail "reindex"

run first-carol "$T/a.conf" carol "$(password carol)"; ok first-carol
run first-bob "$T/a.conf" bob "$(password bob)" "$(totp bob)"; ok first-bob
UID_CAROL=$($NW getent passwd carol | cut -d: -f3)
UID_BOB=$($NW getent passwd bob | cut -d: -f3)
[ -n "$UID_CAROL" ] && [ -n "$UID_BOB" ] || fail "carol and bob do not resolve after their first logins"
[ "$($NW getent group "$UID_CAROL")" = "carol:*:$UID_CAROL:" ] || fail "carol's private group"
[ "$($NW getent group "$UID_BOB")" = "bob:*:$UID_BOB:" ] || fail "bob's private group"
pass "carol ($UID_CAROL) and bob ($UID_BOB) are bound, each with a private group"

# --- 1. bob becomes the name of a [roles] group ------------------------------------------------
write_config "$T/b.conf" "${BASE[@]}" "[roles]" "unix-user = bob"
$NW "$CLI" reindex --config "$T/b.conf" > "$T/reindex-b.out" 2>&1 || { cat "$T/reindex-b.out"; fail "reindex with [roles] bob"; }
assert_contains "$T/reindex-b.out" "index: user bob has the name of a group of [roles]; its private group is left out" "the index says why"
if $NW getent group "$UID_BOB" > "$T/g"; then cat "$T/g"; fail "bob's private GID still answers"; fi
pass "a private group named like a [roles] group is dropped from the index"
run bob-roles "$T/b.conf" bob "$(password bob)" "$(totp bob)"
if grep -q '^rc=0 ' "$T/bob-roles.out"; then fail "bob signed in under the name of a [roles] group"; fi
assert_contains "$T/bob-roles.log" "bob is also the name of a group of [roles] or primary_group; a user may not take a group's name" "bob's login is refused with the reason"
run carol-roles "$T/b.conf" carol "$(password carol)"; ok carol-roles
G_BOB=$($NW getent group bob | cut -d: -f3)
[ -n "$G_BOB" ] && [ "$G_BOB" != "$UID_BOB" ] || fail "the [roles] group bob: GID '$G_BOB'"
[ "$($NW getent group bob)" = "bob:*:$G_BOB:carol" ] || { $NW getent group bob; fail "the [roles] group bob and its member carol"; }
if $NW getent group "$UID_BOB" > /dev/null; then fail "bob's private GID answers again"; fi
pass "the [roles] group keeps the name bob (GID $G_BOB, member carol); bob's own GID $UID_BOB answers nothing"

# --- 2a. carol's name becomes a host group: her next login ----------------------------------------
echo "carol:x:4242:" >> "$T/nss/group"
[ "$($NW getent group "$UID_CAROL" | cut -d: -f1)" = carol ] || fail "setup: carol's private GID should still answer 'carol'"
run carol-host "$T/a.conf" carol "$(password carol)"; ok carol-host
if $NW getent group "$UID_CAROL" > "$T/g"; then cat "$T/g"; fail "carol's private GID still answers 'carol' next to the host group"; fi
assert_contains "$T/carol-host.log" "this host has a group carol (GID 4242); user carol's private group (GID $UID_CAROL) no longer answers by that name" "the login logs what it did"
[ "$($NW getent group carol)" = "carol:x:4242:" ] || { $NW getent group carol; fail "getent group carol is not the host's group"; }
run carol-again "$T/a.conf" carol "$(password carol)"; ok carol-again
if $NW getent group "$UID_CAROL" > /dev/null; then fail "carol's private group came back"; fi
pass "a host group carol appeared: carol keeps signing in, her private GID no longer answers the name; the host group wins"

# --- 2b. bob's name becomes a host group: authgear-pam reindex -------------------------------------
$NW "$CLI" reindex --config "$T/a.conf" > /dev/null || fail "reindex without [roles] bob"
[ "$($NW getent group "$UID_BOB")" = "bob:*:$UID_BOB:" ] || fail "bob's private group is back once bob is no [roles] group"
echo "bob:x:4343:" >> "$T/nss/group"
$NW "$CLI" reindex --config "$T/a.conf" > "$T/reindex-a.out" 2>&1 || { cat "$T/reindex-a.out"; fail "reindex"; }
if $NW getent group "$UID_BOB" > "$T/g"; then cat "$T/g"; fail "bob's private GID still answers 'bob' after reindex"; fi
assert_contains "$T/reindex-a.out" "this host has a group bob (GID 4343); user bob's private group (GID $UID_BOB) no longer answers by that name" "reindex logs it"
[ "$($NW getent group bob)" = "bob:x:4343:" ] || { $NW getent group bob; fail "getent group bob is not the host's group"; }
pass "a host group bob appeared: authgear-pam reindex drops bob's private group; the host group wins"

# --- 3. a host group appears under a bound user's name after her login: reindex -----------------
# alice and frank: Authgear users only, matched by patterns like carol and bob.
sed -i '/^alice:/d; /^frank:/d' "$T/nss/passwd" "$T/nss/group"
write_config "$T/d.conf" "users = c*, b*, a*, f*" "${BASE[@]:1}"
$NW "$CLI" reindex --config "$T/d.conf" > /dev/null || fail "reindex with a* and f*"
run first-alice "$T/d.conf" alice "$(password alice)" 1 "$(totp alice)"; ok first-alice
UID_ALICE=$($NW getent passwd alice | cut -d: -f3)
[ -n "$UID_ALICE" ] && [ "$($NW getent group "$UID_ALICE")" = "alice:*:$UID_ALICE:" ] || fail "alice's private group"
echo "alice:x:4444:" >> "$T/nss/group"
run first-frank "$T/d.conf" frank "$(password frank)"; ok first-frank
# Another user's login applies the rule to its own user only (a lookup per
# bound user on every login would cost seconds at 100,000 users): reindex,
# which the package's path unit runs when /etc/group changes, does it for all.
$NW "$CLI" reindex --config "$T/d.conf" > "$T/reindex-d.out" 2>&1 || { cat "$T/reindex-d.out"; fail "reindex"; }
if $NW getent group "$UID_ALICE" > "$T/g"; then cat "$T/g"; fail "alice's private GID still answers 'alice' after reindex"; fi
assert_contains "$T/reindex-d.out" "this host has a group alice (GID 4444); user alice's private group (GID $UID_ALICE) no longer answers by that name" "reindex logs it"
[ "$($NW getent group alice)" = "alice:x:4444:" ] || { $NW getent group alice; fail "getent group alice is not the host's group"; }
pass "a host group alice appeared after her login: reindex (after another user's first login) drops alice's private group"
