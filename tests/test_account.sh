#!/bin/bash
# The token cache and the account check (issue 13) through the real libpam
# (pam_wrapper) against the test IdP over HTTPS: what a login caches, that
# the cached refresh token is live at the IdP (and the replaced one dead
# with rotation on), and that no token leaves the database.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
DB="$T/state/private/accounts.db"

idp_start "$T/idp"
write_config "$T/c.conf" "users = carol, bob" "max_attempts_per_minute = 1000" "require_mfa = no"
write_config "$T/rot.conf" "users = carol, bob" "max_attempts_per_minute = 1000" "require_mfa = no"
sed -i 's/^client_id = .*/client_id = pam_authgear_rotating/' "$T/rot.conf"
pam_service ag "auth required $MODULE config=$T/c.conf debug" "account required $MODULE config=$T/c.conf debug"
pam_service rot "auth required $MODULE config=$T/rot.conf debug" "account required $MODULE config=$T/rot.conf debug"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
# run CASE SERVICE USER OP ANSWERS...: transcript in $T/CASE.out, log in $T/CASE.log
run() {
	c=$1 svc=$2 user=$3 op=$4; shift 4
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" "$op" "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
expect_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2"; }; }
col() { sqlite3 -readonly "$DB" "SELECT t.$1 FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = '$2'"; }
# refresh TOKEN CLIENT: the IdP's answer to a refresh grant (HTTP status in $T/refresh.status)
refresh() {
	curl -s --cacert "$CA_FILE" -o "$T/refresh.json" -w '%{http_code}' -d grant_type=refresh_token \
		--data-urlencode "refresh_token=$1" -d "client_id=$2" "$ISSUER/oauth2/token" > "$T/refresh.status"
}
TOKENS=""
no_token_leaks() {
	for tok in $TOKENS; do
		for f in "$T"/*.log "$T"/*.out "$T"/*.err "$T/state/nss.index"; do
			[ -f "$f" ] || continue
			grep -qF -- "$tok" "$f" && fail "a token is in $f"
		done
	done
	pass "no cached token in any log, transcript or the NSS index"
}

# --- step 1: a login fills the cache ----------------------------------------------
run login1 ag carol authenticate carol-password-1
expect_rc login1 0
[ "$(col sub carol)" = "$(hook GET /users/carol | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).user?.sub ?? JSON.parse(s).sub))')" ] ||
	fail "the cache's sub is not carol's"
[ "$(col 'roles' carol)" = unix-user ] || fail "cached roles: $(col roles carol)"
[ "$(col 'amr' carol)" != "" ] && [ "$(col 'auth_time > 0 AND t.access_expires > t.login_at AND t.login_at > 0' carol)" = 1 ] ||
	fail "cached amr/auth_time/expiry missing"
[ "$(col 'check_result' carol)" = login ] || fail "check_result after login: $(col check_result carol)"
RT1=$(col refresh_token carol); AT1=$(col access_token carol); IT1=$(col id_token carol)
[ -n "$RT1" ] && [ -n "$AT1" ] && [ -n "$IT1" ] || fail "a token is missing from the cache"
TOKENS="$RT1 $AT1 $IT1"
pass "a password login caches refresh, access and ID token, sub, amr, auth_time, roles, expiry"
refresh "$RT1" pam_authgear
[ "$(cat "$T/refresh.status")" = 200 ] || fail "the cached refresh token is not live at the IdP: $(cat "$T/refresh.json")"
pass "the cached refresh token is live at the IdP"

# A second login replaces the row (one per user), and the DB file mode stays 0600.
run login2 ag carol authenticate carol-password-1
expect_rc login2 0
[ "$(sqlite3 -readonly "$DB" 'SELECT count(*) FROM tokens')" = 1 ] || fail "more than one token row"
RT2=$(col refresh_token carol); TOKENS="$TOKENS $RT2 $(col access_token carol)"
[ "$RT2" != "$RT1" ] || fail "the second login did not replace the refresh token"
refresh "$RT1" pam_authgear
[ "$(cat "$T/refresh.status")" = 400 ] && grep -q invalid_grant "$T/refresh.json" ||
	fail "the refresh token the second login replaced is still live at the IdP ($(cat "$T/refresh.status"))"
refresh "$RT2" pam_authgear
[ "$(cat "$T/refresh.status")" = 200 ] || fail "the second login's refresh token is not live"
[ "$(stat -c %a "$DB")" = 600 ] || fail "database mode $(stat -c %a "$DB")"
pass "a new login replaces the cached row, and the refresh token it replaced is refused at the IdP (revoked)"

# Rotation on: a login through the rotating client caches its token.
totp_login login3 rot bob
RTB=$(col refresh_token bob); TOKENS="$TOKENS $RTB $(col access_token bob) $(col id_token bob)"
[ -n "$RTB" ] || fail "no refresh token for bob"
pass "a login with second factor caches its tokens (rotating client)"

no_token_leaks

# --- step 2: pam_sm_acct_mgmt, refresh mode ------------------------------------------
tokcount() { curl -fsS "$HOOK_URL/counters" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)["/oauth2/token"]||0))'; }
hook POST /counters/reset >/dev/null
run acct_in ag carol acct_mgmt
expect_rc acct_in 0
[ "$(tokcount)" = 0 ] || fail "a check within account_check_cache made $(tokcount) token requests"
pass "acct_mgmt within account_check_cache: success, zero requests"

# A configuration that cannot be used: acct_mgmt is the only gate of a
# public-key login, so a user the NSS index names is refused, not ignored.
cp "$T/c.conf" "$T/bad.conf"
echo "this line is not a setting" >> "$T/bad.conf"
pam_service badcfg "account required $MODULE config=$T/bad.conf debug"
AUTHGEAR_NSS_INDEX="$T/state/nss.index" run acct_badcfg badcfg carol acct_mgmt
expect_rc acct_badcfg 9
assert_contains "$T/acct_badcfg.log" "refusing instead of passing to the next module" "broken config: logged"
pass "acct_mgmt with a broken configuration refuses a bound user (AUTHINFO_UNAVAIL)"

write_config "$T/nocache.conf" "users = carol, bob" "require_mfa = no" "account_check_cache = 0"
pam_service nocache "account required $MODULE config=$T/nocache.conf debug"
hook POST /counters/reset >/dev/null
run acct_out nocache carol acct_mgmt
expect_rc acct_out 0
[ "$(tokcount)" = 1 ] || fail "a check outside the cache window made $(tokcount) token requests, want 1"
assert_contains "$T/acct_out.log" "account: carol: checked at Authgear (refresh)" "the check refreshed"
[ "$(col refresh_token carol)" = "$RT2" ] || fail "rotation off: the cached refresh token changed"
refresh "$RT2" pam_authgear
[ "$(cat "$T/refresh.status")" = 200 ] || fail "rotation off: the same token stopped working"
pass "acct_mgmt outside the window: one refresh request; rotation off keeps the same, working token"
TOKENS="$TOKENS $(col access_token carol)"

# A user with no cached token (pubkey logins skip auth).
write_config "$T/dave.conf" "users = carol, bob, frank" "require_mfa = no"
pam_service dave "account required $MODULE config=$T/dave.conf debug"
run notoken dave frank acct_mgmt
grep -q "^rc=6 \|^rc=[0-9]* Permission denied" "$T/notoken.out" || { cat "$T/notoken.out"; fail "no token: not denied"; }
assert_contains "$T/notoken.out" "Sign in once with your password and code." "no token: the plain line"
pass "no cached token: denied with 'Sign in once...'"

# Disable the user at the IdP: the next check denies and the cache's tokens are gone.
hook POST /users/carol/disable '{}' >/dev/null
run acct_disabled nocache carol acct_mgmt
grep -q "Permission denied" "$T/acct_disabled.out" || { cat "$T/acct_disabled.out" "$T/acct_disabled.log"; fail "disabled user passed"; }
assert_contains "$T/acct_disabled.out" "Your Authgear session has ended; sign in again with your password and code." "disabled: the line"
[ -z "$(col refresh_token carol)" ] && [ -z "$(col access_token carol)" ] || fail "the cache kept tokens after a revocation"
assert_contains "$T/acct_disabled.log" "session ended (invalid_grant)" "disabled: logged"
pass "disabled at the IdP: next check denies, cached tokens dropped, logged"
hook POST /users/carol/enable >/dev/null
run acct_after nocache carol acct_mgmt
grep -q "Permission denied" "$T/acct_after.out" || fail "a revoked user passed a later check"
pass "after a revocation the user stays denied until a new login"

no_token_leaks
