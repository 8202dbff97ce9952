#!/bin/bash
# The account check's modes and its offline policy (issue 13) through the
# real libpam (pam_wrapper) against the test IdP over HTTPS:
#   resolver  Authgear's /_resolver/resolve with the cached access token
#             (refreshed first when expired): disable / session revoke deny
#             at the next check and drop the cache; roles re-read;
#   jwt       the cached JWT access token's signature and expiry only: a
#             disabled or signed-out user stays in until it expires;
#   refresh   with the IdP down: offline_grace 0 and 1 (clock moved by the
#             test hook), a revoked user stays denied; 50 concurrent checks
#             with rotation on make one refresh and no invalid_grant.
# Groups are read back through NSS (nss_wrapper with the NSS module).
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
DB="$T/state/private/accounts.db"
ENDED="Your Authgear session has ended; sign in again with your password and code."

idp_start "$T/idp"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2" >/dev/null; }
# count PATH: requests to PATH since the last reset; total: to every path
count() { curl -fsS "$HOOK_URL/counters" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]||0))' "$1"; }
total() { curl -fsS "$HOOK_URL/counters" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
reset() { hook POST /counters/reset; }
col() { sqlite3 -readonly "$DB" "SELECT t.$1 FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = '$2'"; }

# conf NAME [lines]: a config and a PAM service NAME (auth + account) using it
conf() {
	n=$1; shift
	write_config "$T/$n.conf" "users = carol, frank, erin" "require_mfa = no" "max_attempts_per_minute = 1000" \
		"$@" "[roles]" "unix-user = authgear-users" "unix-admin = authgear-admins"
	pam_service "$n" "auth required $MODULE config=$T/$n.conf debug" "account required $MODULE config=$T/$n.conf debug"
}
conf res "account_check = resolver" "account_check_cache = 0"
conf jwt "account_check = jwt" "account_check_cache = 0"
sed -i 's/^client_id = .*/client_id = pam_authgear_jwt/' "$T/jwt.conf"
conf jwt_opaque "account_check = jwt" "account_check_cache = 0"
conf grace0 "account_check_cache = 0"
conf grace1 "account_check_cache = 0" "offline_grace = 1"
conf rot "account_check_cache = 60"
sed -i 's/^client_id = .*/client_id = pam_authgear_rotating/' "$T/rot.conf"

# run CASE SERVICE USER OP ANSWERS...: transcript in $T/CASE.out, log in $T/CASE.log
run() {
	c=$1 svc=$2 user=$3 op=$4; shift 4
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" "$op" "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
expect_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2"; }; }
login() { run "$1" "$2" "$3" authenticate "$3-password-1"; expect_rc "$1" 0; }
ended() { # ended CASE WHY USER: denied with the line, logged, the cache's tokens gone
	expect_rc "$1" 6
	assert_contains "$T/$1.out" "$ENDED" "$1: the plain line"
	assert_contains "$T/$1.log" "Authgear session ended ($2)" "$1: logged"
	[ -z "$(col refresh_token "$3")$(col access_token "$3")" ] || fail "$1: the cache kept tokens"
}
# groups through glibc: nss_wrapper's files plus the NSS module on the index
members() {
	env LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_MODULE_SO_PATH="$NSS_MODULE" NSS_WRAPPER_MODULE_FN_PREFIX=authgear \
		AUTHGEAR_NSS_INDEX="$T/state/nss.index" getent group "$1" | cut -d: -f4
}

# --- resolver ---------------------------------------------------------------------
login res_login res frank
reset
run res_ok res frank acct_mgmt
expect_rc res_ok 0
[ "$(count /_resolver/resolve)" = 1 ] && [ "$(total)" = 1 ] || { curl -s "$HOOK_URL/counters"; fail "resolver check: want exactly one request"; }
assert_contains "$T/res_ok.log" "account: frank: checked at Authgear (resolver)" "resolver: checked"
pass "resolver: a check outside the cache window is one resolver request"

hook POST /users/frank/roles '{"roles":["unix-admin"]}'
run res_roles res frank acct_mgmt
expect_rc res_roles 0
[ "$(members authgear-admins)" = frank ] || fail "gained role: authgear-admins members '$(members authgear-admins)'"
case ",$(members authgear-users)," in *,frank,*) fail "lost role: frank still in authgear-users";; esac
hook POST /users/frank/roles '{"roles":["unix-user"]}'
run res_roles2 res frank acct_mgmt
expect_rc res_roles2 0
[ "$(members authgear-users)" = frank ] || fail "gained role back: authgear-users members '$(members authgear-users)'"
case ",$(members authgear-admins)," in *,frank,*) fail "lost role: frank still in authgear-admins";; esac
pass "resolver: roles re-read at each check, groups follow through NSS (lost one gone, gained one there)"

# an expired access token is refreshed first, then resolved
sqlite3 "$DB" "UPDATE tokens SET access_expires = 1 WHERE user_id = (SELECT id FROM users WHERE name = 'frank')"
reset
run res_exp res frank acct_mgmt
expect_rc res_exp 0
[ "$(count /oauth2/token)" = 1 ] && [ "$(count /_resolver/resolve)" = 1 ] || { curl -s "$HOOK_URL/counters"; fail "expired access token: want refresh + resolve"; }
assert_contains "$T/res_exp.log" "checked at Authgear (resolver, refreshed)" "resolver: refreshed first"
[ "$(col "access_expires > strftime('%s','now')" frank)" = 1 ] || fail "the new access token's expiry was not cached"
pass "resolver: an expired access token is refreshed first (2 requests)"

# a resolver answer for another user's session (X-Authgear-User-Id carol's, not frank's bound sub)
hook POST /resolver/as '{"username":"carol"}'
run res_other res frank acct_mgmt
ended res_other "another sub" frank
hook POST /resolver/as '{"username":null}'
pass "resolver: X-Authgear-User-Id of another user -> denied (PAM_PERM_DENIED), cache gone, logged"
login res_login3 res frank

hook POST /users/frank/revoke-sessions
run res_revoked res frank acct_mgmt
ended res_revoked "resolver: session not valid" frank
pass "resolver: session revoked at the IdP -> Session-Valid false -> denied, cache gone"

login res_login2 res frank
hook POST /users/frank/disable '{}'
run res_disabled res frank acct_mgmt
ended res_disabled "resolver: session not valid" frank
hook POST /users/frank/enable
run res_after res frank acct_mgmt
expect_rc res_after 6
pass "resolver: disabled at the IdP -> denied, cache gone; re-enabled stays denied until a login"

# --- jwt --------------------------------------------------------------------------------
login jwt_login jwt carol
reset
run jwt_ok jwt carol acct_mgmt
expect_rc jwt_ok 0
[ "$(total)" = 0 ] || { curl -s "$HOOK_URL/counters"; fail "jwt check made requests"; }
assert_contains "$T/jwt_ok.log" "account: carol: checked locally (jwt)" "jwt: checked locally"
hook POST /users/carol/disable '{}'
run jwt_disabled jwt carol acct_mgmt
expect_rc jwt_disabled 0
[ "$(total)" = 0 ] || fail "jwt check made requests"
pass "jwt: zero requests; a user disabled at the IdP stays in while the access token lives (medium reliability)"
# 1900 s later the access token (1800 s) has expired: the refresh is refused
AUTHGEAR_TEST_CLOCK_OFFSET=1900 run jwt_expired jwt carol acct_mgmt
ended jwt_expired invalid_grant carol
pass "jwt: after the access token expires the disabled user is denied, cache gone"
hook POST /users/carol/enable
login jwt_login2 jwt carol
hook POST /users/carol/revoke-sessions
run jwt_revoked jwt carol acct_mgmt
expect_rc jwt_revoked 0
AUTHGEAR_TEST_CLOCK_OFFSET=1900 run jwt_revoked2 jwt carol acct_mgmt
ended jwt_revoked2 invalid_grant carol
pass "jwt: a session revoked at the IdP stays valid here until the access token expires, then denied"

login jwt_opaque_login jwt_opaque carol
run jwt_opaque jwt_opaque carol acct_mgmt
expect_rc jwt_opaque 6
assert_contains "$T/jwt_opaque.log" "account_check = jwt needs JWT access tokens" "jwt with an opaque access token: denied, logged"

# --- refresh with the IdP down: offline_grace --------------------------------------------
login grace_login grace0 frank
hook POST /faults '{"type":"reset"}'
run g0 grace0 frank acct_mgmt
expect_rc g0 9
assert_contains "$T/g0.log" "Authgear unreachable" "offline_grace 0: logged"
pass "IdP down, offline_grace 0: PAM_AUTHINFO_UNAVAIL"
run g1 grace1 frank acct_mgmt
expect_rc g1 0
assert_contains "$T/g1.log" "allowed offline" "offline_grace 1: an offline decision, logged"
AUTHGEAR_TEST_CLOCK_OFFSET=3700 run g1_late grace1 frank acct_mgmt
expect_rc g1_late 9
pass "IdP down, offline_grace 1: allowed within the hour, PAM_AUTHINFO_UNAVAIL after it"
hook POST /faults/clear
hook POST /faults '{"type":"http500","path":"/oauth2/token"}'
run g0_500 grace0 frank acct_mgmt
expect_rc g0_500 9
hook POST /faults/clear
pass "a 5xx is no revocation: PAM_AUTHINFO_UNAVAIL"
hook POST /users/frank/disable '{}'
run g_revoked grace1 frank acct_mgmt
ended g_revoked invalid_grant frank
hook POST /users/frank/enable
hook POST /faults '{"type":"reset"}'
run g_revoked_down grace1 frank acct_mgmt
expect_rc g_revoked_down 6
assert_not_contains "$T/g_revoked_down.log" "allowed offline" "no offline grace after a revocation"
hook POST /faults/clear
pass "a revoked user with the IdP down afterwards stays denied"

# refresh mode: a session revoked at the IdP (the disable case: test_account.sh)
login ref_login grace0 frank
hook POST /users/frank/revoke-sessions
run ref_revoked grace0 frank acct_mgmt
ended ref_revoked invalid_grant frank
pass "refresh: a session revoked at the IdP -> invalid_grant -> denied, cache gone"

# --- 50 concurrent checks, rotation on ------------------------------------------------------
login rot_login rot frank
RT0=$(col refresh_token frank)
# the last check two minutes ago: outside account_check_cache (60)
sqlite3 "$DB" "UPDATE tokens SET checked_at = checked_at - 120, check_ok_at = check_ok_at - 120 WHERE user_id = (SELECT id FROM users WHERE name = 'frank')"
reset
# The first check holds frank's lock for 3 s (its refresh delayed at the
# IdP): the others, started 40 ms apart, all wait on it. Started at once,
# two of them now and then shared one pam_wrapper directory (pam_wrapper
# 1.1.4 checks /tmp/pam.X with lstat, then mkdirs it: a race), the first
# to exit removed it, and the other's pam_start failed (rc 26, PAM_ABORT).
hook POST /faults '{"path":"/oauth2/token","type":"delay","seconds":3,"count":1}' >/dev/null
for i in $(seq 50); do run "c$i" rot frank acct_mgmt & sleep 0.04; done
wait
hook POST /faults/clear '{}' >/dev/null
for i in $(seq 50); do expect_rc "c$i" 0; done
[ "$(count /oauth2/token)" = 1 ] || { curl -s "$HOOK_URL/counters"; fail "50 checks made $(count /oauth2/token) refreshes, want 1"; }
curl -fsS "$HOOK_URL/requests?path=/oauth2/token" > "$T/rot.requests"
node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));if(r.some(x=>x.status!==200))process.exit(1)' "$T/rot.requests" ||
	{ cat "$T/rot.requests"; fail "a refresh of ours was refused"; }
RT1=$(col refresh_token frank)
[ "$RT1" != "$RT0" ] || fail "rotation on: the cached token did not change"
tok() { curl -s --cacert "$CA_FILE" -o /dev/null -w '%{http_code}' -d grant_type=refresh_token \
	--data-urlencode "refresh_token=$1" -d client_id=pam_authgear_rotating "$ISSUER/oauth2/token"; }
[ "$(tok "$RT0")" = 400 ] || fail "the rotated-away token still works"
[ "$(tok "$RT1")" = 200 ] || fail "the cached token is not valid at the IdP"
pass "50 concurrent checks (rotation on): one refresh, no invalid_grant, the cached token the one valid one"

# no token in any log or transcript
for f in "$T"/*.log "$T"/*.out "$T"/*.err "$T/state/nss.index"; do
	grep -qF -- "$RT1" "$f" && fail "a token is in $f"
	grep -qF -- "$RT0" "$f" && fail "a token is in $f"
done
pass "no token in any log, transcript or the NSS index"

# --- never offline after a revocation: revoked at the IdP, then the IdP stopped -------------
# offline_grace 1 with a check that just succeeded: the offline window is open. Once a check
# saw the revocation, no later check lets frank in offline, not even where a user with no
# cached token is allowed (account_check_without_token = allow). carol, never revoked, is
# the control: with the IdP down she is allowed offline.
conf grace1_allow "account_check_cache = 0" "offline_grace = 1" "account_check_without_token = allow"
login nv_carol grace1 carol
login nv_login grace1 frank
run nv_ok grace1 frank acct_mgmt
expect_rc nv_ok 0
hook POST /users/frank/revoke-sessions
run nv_revoked grace1 frank acct_mgmt
ended nv_revoked invalid_grant frank
idp_stop_current; IDP_STATE=
run nv_control grace1 carol acct_mgmt
expect_rc nv_control 0
assert_contains "$T/nv_control.log" "allowed offline" "the IdP is down: a user never revoked is allowed offline"
for svc in grace1 grace1_allow; do
	run "nv_down_$svc" "$svc" frank acct_mgmt
	expect_rc "nv_down_$svc" 6
	assert_contains "$T/nv_down_$svc.out" "$ENDED" "$svc: the plain line"
	assert_not_contains "$T/nv_down_$svc.log" "allowed offline" "$svc: no offline decision after a revocation"
done
pass "revoked at the IdP, then the IdP stopped: offline_grace never lets the revoked user in (PAM_PERM_DENIED), even with account_check_without_token = allow"
