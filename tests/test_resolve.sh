#!/bin/bash
# The check before any request that the name resolves through NSS, through
# the real libpam (pam_wrapper, pamtester) and the CLI, against the test IdP
# over HTTPS, with glibc's lookups going through nss_wrapper: private passwd
# and group files plus our NSS module from the build tree.
#   - the first console login (a service other than sshd) of a name only a
#     pattern of users matches: the NSS module answers such a name to sshd
#     alone, so getpwnam fails; the module accepts it from the index;
#   - the same stack run by a binary named sshd without our NSS module
#     (nsswitch.conf without authgear): refused, zero requests;
#   - a pattern never takes a host account by this path;
#   - authgear-pam login of a name that does not resolve: refused before any
#     request, with the line saying what to fix.
#   - a fresh host with no NSS index at all: the first console login of a
#     pattern match works (and writes the index); a host account the pattern
#     matches stays the host's; sshd is still refused before any request.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the store is root's)"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
ls /usr/lib/*/libnss_wrapper.so >/dev/null 2>&1 || skip "nss_wrapper not installed"
command -v pamtester > /dev/null || skip "pamtester not installed"
new_tmpdir
FIXTURE="$IDP_DIR/fixtures/users.json"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }

idp_start "$T/idp"
# carol and alice exist at the IdP and nowhere on this host; c* and a* are
# the only entries of users that match them. dev-nobody is a host account
# (nss_users) that the pattern dev-* matches.
sed -i '/^carol:/d; /^alice:/d' "$T/nss/passwd" "$T/nss/group"
write_config "$T/c.conf" "users = c*, a*, dev-*, zed" "require_mfa = no" "max_attempts_per_minute = 1000"
pam_service login "auth required $MODULE config=$T/c.conf"
"$CLI" reindex --config "$T/c.conf" > "$T/reindex.out" || { cat "$T/reindex.out"; fail "reindex"; }
# glibc through nss_wrapper with our NSS module on the index just written
NSS_WRAPPER_MODULE_SO_PATH=$NSS_MODULE NSS_WRAPPER_MODULE_FN_PREFIX=authgear AUTHGEAR_NSS_INDEX=$T/state/nss.index
export NSS_WRAPPER_MODULE_SO_PATH NSS_WRAPPER_MODULE_FN_PREFIX AUTHGEAR_NSS_INDEX
NW="env LD_PRELOAD=libnss_wrapper.so"
if $NW getent passwd carol > /dev/null; then fail "carol resolves outside sshd before her first login"; fi
cp "$(command -v getent)" "$T/sshd"
$NW "$T/sshd" passwd carol > /dev/null || fail "carol's provisional entry does not resolve for sshd"
pass "carol (a pattern match) resolves for sshd only, before her first login"

# --- 1. The first console login of a pattern-only name ------------------------------
hook POST /counters/reset > /dev/null
: > "$T/module.log"
set +e
printf '%s\n' "$(password carol)" | run_pamtester login carol authenticate; rc=$?
set -e
[ $rc = 0 ] || { cat "$T/out" "$T/module.log"; fail "carol's first console login (pattern c*) was refused"; }
assert_not_contains "$T/module.log" "does not resolve through NSS" "no 'does not resolve' for a pattern match outside sshd"
[ "$(requests)" -gt 0 ] || fail "carol's login made no request"
$NW getent passwd carol > "$T/carol" || fail "carol does not resolve after her first login"
pass "the first console login of carol (pattern only) succeeds; she is bound and resolves everywhere: $(cat "$T/carol")"

# --- 2. sshd without our NSS module: still refused before any request --------------
cp "$(command -v pamtester)" "$T/sshd"
hook POST /counters/reset > /dev/null
: > "$T/module.log"
set +e
printf 'placeholder\n' | timeout 60 env -u NSS_WRAPPER_MODULE_SO_PATH LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 \
	PAM_WRAPPER_SERVICE_DIR="$T/pamd" AUTHGEAR_TEST_LOG="$T/module.log" "$T/sshd" -v login alice authenticate \
	> "$T/out" 2>&1; rc=$?
set -e
[ $rc != 0 ] || fail "alice signed in through 'sshd' without the NSS module"
assert_contains "$T/module.log" "alice does not resolve through NSS: add authgear to the passwd and group lines" "sshd without authgear in NSS: refused with what to fix"
[ "$(requests)" = 0 ] || { hook GET /counters; fail "sshd's unresolvable name made requests"; }
pass "in sshd, a pattern match that NSS does not answer makes zero requests"

# --- 3. A pattern never takes a host account -------------------------------------
hook POST /counters/reset > /dev/null
: > "$T/module.log"
set +e
printf 'x\n' | run_pamtester login dev-nobody authenticate; rc=$?
set -e
[ $rc != 0 ] || fail "dev-nobody signed in"
assert_not_contains "$T/out" "Password:" "no prompt for a host account a pattern matches"
[ "$(requests)" = 0 ] || fail "the host account dev-nobody made requests"
pass "a host account matched by a pattern stays the host's (no prompt, zero requests)"

# --- 4. authgear-pam login: the same check before any request --------------------------
hook POST /counters/reset > /dev/null
set +e
# zed is listed by name, so our NSS module answers it everywhere: without the
# module (nsswitch.conf without authgear) it does not resolve.
printf 'zed-password\n' | env -u NSS_WRAPPER_MODULE_SO_PATH LD_PRELOAD=libnss_wrapper.so "$CLI" login --config "$T/c.conf" zed > "$T/cli.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] || { cat "$T/cli.out"; fail "authgear-pam login of an unresolvable name: exit $rc, want 1"; }
assert_contains "$T/cli.out" "zed does not resolve through NSS: add authgear to the passwd and group lines of /etc/nsswitch.conf or run authgear-pam reindex (no request sent)" "the CLI says what to fix"
assert_contains "$T/cli.out" "refused: zed does not resolve through NSS" "the CLI's refusal line"
assert_not_contains "$T/cli.out" "Password:" "no prompt"
[ "$(requests)" = 0 ] || { hook GET /counters; fail "authgear-pam login of an unresolvable name made $(requests) requests"; }
pass "authgear-pam login of a name that does not resolve: zero requests"
hook POST /counters/reset > /dev/null
set +e
printf '%s\n\n\n' "$(password alice)" | LD_PRELOAD=libnss_wrapper.so "$CLI" login --config "$T/c.conf" alice > "$T/cli2.out" 2>&1
set -e
assert_not_contains "$T/cli2.out" "does not resolve" "the CLI accepts a pattern match's first login too"
assert_contains "$T/cli2.out" "Password:" "the CLI asks alice's password"

# --- 5. A fresh host: no NSS index yet ----------------------------------------------
# Its own state_dir and index path, with nothing in them: carol is in no
# index, in no store and in no file of this host.
FRESH="$T/fresh"
sed "s|^state_dir = .*|state_dir = $FRESH|" "$T/c.conf" > "$T/f.conf"
chmod 0600 "$T/f.conf"
pam_service fresh "auth required $MODULE config=$T/f.conf"
AUTHGEAR_NSS_INDEX=$FRESH/nss.index
cp "$(command -v pamtester)" "$T/sshd"
hook POST /counters/reset > /dev/null
: > "$T/module.log"
set +e
printf 'placeholder\n' | timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
	AUTHGEAR_TEST_LOG="$T/module.log" "$T/sshd" -v fresh carol authenticate > "$T/out" 2>&1; rc=$?
set -e
[ $rc != 0 ] || fail "carol signed in through 'sshd' on a host without an index"
[ "$(requests)" = 0 ] || { hook GET /counters; fail "sshd's unresolvable name made requests on a host without an index"; }
assert_contains "$T/module.log" "carol does not resolve through NSS" "in sshd, no index is no exception"
hook POST /counters/reset > /dev/null
: > "$T/module.log"
set +e
printf 'x\n' | run_pamtester fresh dev-nobody authenticate; rc=$?
set -e
[ $rc != 0 ] || fail "dev-nobody signed in on a host without an index"
assert_not_contains "$T/out" "Password:" "no prompt for a host account a pattern matches, without an index"
[ "$(requests)" = 0 ] || fail "the host account dev-nobody made requests on a host without an index"
[ ! -e "$FRESH/nss.index" ] || fail "setup: $FRESH/nss.index exists before the first login"
if $NW getent passwd carol > /dev/null; then fail "carol resolves before her first login on the fresh host"; fi
hook POST /counters/reset > /dev/null
: > "$T/module.log"
set +e
printf '%s\n' "$(password carol)" | run_pamtester fresh carol authenticate; rc=$?
set -e
[ $rc = 0 ] || { cat "$T/out" "$T/module.log"; fail "carol's first console login on a host without an NSS index was refused"; }
assert_contains "$T/module.log" "carol: first login on this host, which has no NSS index $FRESH/nss.index yet" "the module logs why it went on"
[ "$(requests)" -gt 0 ] || fail "carol's login made no request"
[ -f "$FRESH/nss.index" ] || fail "the first login did not write the index"
$NW getent passwd carol > "$T/carol" || fail "carol does not resolve after her first login on the fresh host"
pass "a fresh host without an NSS index: carol's first console login (pattern c*) succeeds and writes the index: $(cat "$T/carol")"
