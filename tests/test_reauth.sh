#!/bin/bash
# sudo reauthentication (issue 14) through the real libpam (pam_wrapper,
# pam_driver and pamtester) against the test IdP over HTTPS: each
# reauth_with value asks what it says and succeeds once, a wrong code is
# refused, the request count of one reauthentication, the cached ID token and
# auth_time updated, authgear-pam login --reauth (the same from a terminal),
# a recovery code at the code prompt (taken once), the password for a user
# without a second factor, reauth_with = device with scope openid only (no
# new grant), a stale auth_time and another user's sub refused, a disabled
# user refused, no cached ID token runs a full login, an unreachable IdP
# answers AUTHINFO_UNAVAIL within login_timeout.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
DB="$T/state/private/accounts.db"

idp_start "$T/idp" --device
U="users = alice, bob, carol, demo"
write_config "$T/c.conf" "$U" "max_attempts_per_minute = 1000"
for w in code password full; do
	write_config "$T/$w.conf" "$U" "max_attempts_per_minute = 1000" "reauth_with = $w" "require_mfa = no"
	pam_service "r-$w" "auth required $MODULE config=$T/$w.conf debug reauth"
done
write_config "$T/nomfa.conf" "$U" "max_attempts_per_minute = 1000" "require_mfa = no"
pam_service ag "auth required $MODULE config=$T/c.conf debug"
pam_service nomfa "auth required $MODULE config=$T/nomfa.conf debug"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
js() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(eval(process.argv[1]))})' "$1"; }
totp() { hook GET "/totp/$1?offset=${2:-0}" | js j.code; }
sub_of() { hook GET "/users/$1" | js 'j.sub'; }
run() {
	c=$1 svc=$2 user=$3 op=$4; shift 4
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" "$op" "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
expect_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2"; }; }
col() { sqlite3 -readonly "$DB" "SELECT t.$1 FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = '$2'"; }
prompts() { grep '^prompt' "$T/$1.out" | tr '\n' '|'; }
total() { hook GET /counters | js 'Object.values(j).reduce((a,b)=>a+b,0)'; }

# --- a password + TOTP login fills the cache ----------------------------------------
totp_login login ag alice 1 # 1: the authenticator app (alice has recovery codes)
IT0=$(col id_token alice); AT0=$(col auth_time alice); RT0=$(col refresh_token alice)
[ -n "$IT0" ] || fail "no cached ID token after the login"
sleep 1.1 # auth_time has a one-second grain: the reauthentication's must be later

# --- reauth_with = code: "Verification code:" only; the request count ----------------
hook POST /counters/reset >/dev/null
run code r-code alice authenticate "$(totp alice 1)"
expect_rc code 0
[ "$(prompts code)" = "prompt-echo-off: Verification code: |" ] || fail "code: prompts: $(prompts code)"
pass "reauth_with = code: asks 'Verification code:' only and succeeds"
hook GET /counters > "$T/code.counters"
n=$(total)
c() { js "j['$1']||0" < "$T/code.counters"; }
[ "$(c /oauth2/authorize)" = 1 ] && [ "$(c /api/v1/authentication_flows)" = 1 ] &&
	[ "$(c /api/v1/authentication_flows/states/input)" = 0 ] && [ "$(c /oauth2/consent)" = 1 ] &&
	[ "$(c /oauth2/token)" = 1 ] || { cat "$T/code.counters"; fail "code: not authorize + create + consent + token once each"; }
[ "$n" = 4 ] || { cat "$T/code.counters"; fail "one reauthentication made $n requests, want 4"; }
pass "one reauthentication: 4 requests at the IdP (authorize, flow create with the answer, consent, token)"
js 'JSON.stringify(j.filter(r=>r.path==="/oauth2/authorize")[0].query)' < <(hook GET /requests) > "$T/authz.json"
for want in '"prompt":"login"' '"max_age":"0"' '"scope":"openid"' '"id_token_hint":"'; do
	grep -qF "$want" "$T/authz.json" || { cat "$T/authz.json"; fail "authorize lacks $want"; }
done
pass "the authorize request: prompt=login, max_age=0, scope openid only, id_token_hint"
[ "$(hook GET /requests | js 'j.filter(r=>r.path==="/api/v1/authentication_flows").length')" = 1 ] || fail "no flow create"
IT1=$(col id_token alice)
[ "$IT1" != "$IT0" ] && [ "$(col auth_time alice)" -gt "$AT0" ] || fail "the cache keeps the old ID token / auth_time"
[ "$(col refresh_token alice)" = "$RT0" ] || fail "the reauthentication replaced the cached refresh token"
assert_contains "$T/code.log" "method=reauth-code" "the audit line names the reauthentication"
pass "the cache has the new ID token and auth_time; the refresh token (offline grant) is kept"

# --- a wrong code ----------------------------------------------------------------------
run wrong r-code alice authenticate 000000
grep -q '^rc=0 ' "$T/wrong.out" && fail "a wrong code passed"
assert_contains "$T/wrong.out" "error: Incorrect password or code." "a wrong code is refused with the plain line"

# --- authgear-pam login --reauth: the module's reauthentication from a terminal -------------
# cli CASE CONF ANSWERS...: authgear-pam login --config $T/CONF.conf --reauth alice
cli() {
	c=$1 conf=$2; shift 2
	printf '%s\n' "$@" | LD_PRELOAD=libnss_wrapper.so AUTHGEAR_TEST_LOG="$T/$c.log" timeout 60 \
		"$CLI" login --config "$T/$conf.conf" --reauth alice > "$T/$c.out" 2> "$T/$c.err"
	echo $? > "$T/$c.rc"
}
AT_CLI=$(col auth_time alice)
sleep 1.1
hook POST /counters/reset >/dev/null
code=$(totp alice -1)
cli cli code "$code"
[ "$(cat "$T/cli.rc")" = 0 ] || { cat "$T/cli.out"; fail "authgear-pam login --reauth: exit $(cat "$T/cli.rc")"; }
[ "$(grep -c ': $' "$T/cli.out")" = 1 ] && grep -qx 'Verification code: ' "$T/cli.out" ||
	{ cat "$T/cli.out"; fail "login --reauth (reauth_with = code) asked something else"; }
for step in authorize code consent token verify; do
	grep -qE "^  step $step +[0-9]+\.[0-9] ms  network +[0-9]+\.[0-9] ms$" "$T/cli.out" ||
		{ cat "$T/cli.out"; fail "login --reauth: step '$step' missing"; }
done
grep -qE "^  network total [0-9]+\.[0-9] ms in 4 requests$" "$T/cli.out" || { cat "$T/cli.out"; fail "login --reauth: not 4 requests"; }
assert_contains "$T/cli.out" "reauthenticated: alice is Authgear user $(sub_of alice); 4 requests on 1 connection" \
	"authgear-pam login --reauth: 'Verification code:' only, each step's duration, 4 requests, reauthenticated"
[ "$(total)" = 4 ] || fail "login --reauth: the IdP counted $(total) requests"
assert_contains "$T/cli.log" "method=reauth-code" "login --reauth: the module's reauthentication (its audit line)"
[ "$(col auth_time alice)" -gt "$AT_CLI" ] && [ "$(col refresh_token alice)" = "$RT0" ] ||
	fail "login --reauth: the cache has not the new auth_time, or lost the refresh token"
assert_not_contains "$T/cli.out" "$code" "login --reauth prints no code"
cli cliwrong code 000000
[ "$(cat "$T/cliwrong.rc")" = 1 ] || { cat "$T/cliwrong.out"; fail "login --reauth: a wrong code exited $(cat "$T/cliwrong.rc")"; }
assert_contains "$T/cliwrong.out" "refused (" "login --reauth: a wrong code is refused"
assert_contains "$T/cliwrong.out" "Incorrect password or code." "login --reauth: a wrong code's plain line"
cli clipw password alice-password-1
[ "$(cat "$T/clipw.rc")" = 0 ] && [ "$(grep -c ': $' "$T/clipw.out")" = 1 ] && grep -qx 'Password: ' "$T/clipw.out" ||
	{ cat "$T/clipw.out"; fail "login --reauth with reauth_with = password"; }
pass "authgear-pam login --reauth with reauth_with = password asks 'Password:' only and succeeds"
printf 'x\n' | "$CLI" login --config "$T/code.conf" --reauth --device alice > "$T/clidd.out" 2>&1 && fail "--reauth --device accepted"
assert_contains "$T/clidd.out" "login takes --device or --reauth, not both" "login --reauth --device is a usage error"

# --- reauth_with = password, full -----------------------------------------------------
run pw r-password alice authenticate alice-password-1
expect_rc pw 0
[ "$(prompts pw)" = "prompt-echo-off: Password: |" ] || fail "password: prompts: $(prompts pw)"
pass "reauth_with = password: asks 'Password:' only"
# (alice's last login completed TOTP: the one-request order asks both first)
run full r-full alice authenticate alice-password-1 "$(totp alice 1)"
expect_rc full 0
[ "$(prompts full)" = "prompt-echo-off: Password: |prompt-echo-off: Verification code: |" ] || fail "full: prompts: $(prompts full)"
assert_contains "$T/full.log" "method=reauth-full" "full: the audit line"
pass "reauth_with = full: asks the password and the code"

# --- reauth_with = code with a recovery code (a lost phone) ----------------------------
# Authgear's reauth flow takes no recovery code (§3.11): a login flow takes
# it with the password, and Authgear takes each code once.
RC=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="alice").recovery_codes[0])' \
	"$abs_top_srcdir/tests/idp/fixtures/users.json")
left() { hook GET /users/alice | js j.recovery_codes_left; }
n0=$(left)
hook POST /counters/reset >/dev/null
run rc1 r-code alice authenticate "$RC" alice-password-1
expect_rc rc1 0
[ "$(prompts rc1)" = "prompt-echo-off: Verification code: |prompt-echo-off: Password: |" ] || fail "recovery: prompts: $(prompts rc1)"
assert_contains "$T/rc1.out" "info: A recovery code is taken together with your password." "recovery: the line before Password:"
[ "$(left)" = $((n0 - 1)) ] || fail "recovery: Authgear has $(left) recovery codes left, had $n0"
[ "$(total)" = 4 ] || { hook GET /counters; fail "recovery: $(total) requests, want 4"; }
assert_contains "$T/rc1.log" "method=reauth-code" "recovery: the audit line"
pass "reauth_with = code: a recovery code at 'Verification code:' (then the password) reauthenticates, 4 requests"
run rc2 r-code alice authenticate "$RC" alice-password-1
grep -q '^rc=0 ' "$T/rc2.out" && fail "a used recovery code passed again"
assert_contains "$T/rc2.out" "error: Incorrect password or code." "the used recovery code is not accepted twice"

# --- a user without a second factor: code falls back to the password ---------------------
run clogin nomfa carol authenticate carol-password-1
expect_rc clogin 0
run ccode r-code carol authenticate carol-password-1
expect_rc ccode 0
[ "$(prompts ccode)" = "prompt-echo-off: Password: |" ] || fail "carol: prompts: $(prompts ccode)"
assert_contains "$T/ccode.log" "method=reauth-code" "carol: a reauthentication"
pass "reauth_with = code for a user without a second factor asks the password"

# --- a stale auth_time, another user's sub ----------------------------------------------
now=$(date +%s)
hook POST /tokens/next-id-token "{\"grant_type\":\"authorization_code\",\"payload\":{\"auth_time\":$((now - 150))}}" >/dev/null
run stale r-password alice authenticate alice-password-1
grep -q '^rc=0 ' "$T/stale.out" && fail "an auth_time from before the reauthentication passed"
assert_contains "$T/stale.log" "not a fresh authentication; refused" "a stale auth_time (150 s old, within reauth_max_age) is refused"
assert_contains "$T/stale.out" "Authgear did not confirm a fresh sign-in" "stale: the plain line"
hook POST /tokens/next-id-token "{\"grant_type\":\"authorization_code\",\"payload\":{\"auth_time\":$((now - 3600))}}" >/dev/null
run stale2 r-password alice authenticate alice-password-1
grep -q '^rc=0 ' "$T/stale2.out" && fail "an hour-old auth_time passed"
assert_contains "$T/stale2.log" "auth_time too old for max_age" "an auth_time older than reauth_max_age is refused"
hook POST /tokens/next-id-token "{\"grant_type\":\"authorization_code\",\"payload\":{\"sub\":\"$(sub_of bob)\"}}" >/dev/null
run other r-password alice authenticate alice-password-1
grep -q '^rc=0 ' "$T/other.out" && fail "another user's ID token passed"
assert_contains "$T/other.log" "the ID token is for another Authgear account" "another user's sub is refused and logged"
[ "$(col id_token alice)" != "" ] && [ "$(col sub alice)" = "$(sub_of alice)" ] || fail "the refused token reached the cache"
pass "the refused tokens did not reach the cache"

# --- no cached ID token: a full login, said in one line -----------------------------------
hook POST /counters/reset >/dev/null
run nocache r-code demo authenticate demo-password-1 "$(totp demo)"
expect_rc nocache 0
assert_contains "$T/nocache.out" "info: No Authgear sign-in is remembered here for you: sign in fully." "no cached ID token: the line"
[ "$(prompts nocache)" = "prompt-echo-off: Password: |prompt-echo-off: Verification code: |" ] || fail "nocache: prompts: $(prompts nocache)"
[ -n "$(col refresh_token demo)" ] || fail "the full login did not fill the cache"
pass "no cached ID token: a full login (password and code), which fills the cache"

# --- a disabled user -----------------------------------------------------------------------
totp_login blogin ag bob
# bob's authenticator app removed at Authgear since: the reauth flow offers
# no code any more, and the password is asked after Authgear refuses it
TOTP_BOB=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="bob").totp_secret)' \
	"$abs_top_srcdir/tests/idp/fixtures/users.json")
hook POST /users/bob/set '{"totp_secret":null}' >/dev/null
run bnototp r-code bob authenticate 123456 bob-password-1
expect_rc bnototp 0
[ "$(prompts bnototp)" = "prompt-echo-off: Verification code: |prompt-echo-off: Password: |" ] || fail "bob: prompts: $(prompts bnototp)"
assert_contains "$T/bnototp.log" "has no second factor now; asking the password" "a second factor removed since the last login: the password"
hook POST /users/bob/set "{\"totp_secret\":\"$TOTP_BOB\"}" >/dev/null
hook POST /users/bob/disable '{}' >/dev/null
run bdis r-password bob authenticate bob-password-1
grep -q '^rc=0 ' "$T/bdis.out" && fail "a disabled user reauthenticated"
assert_contains "$T/bdis.out" "error: This account is disabled." "a disabled user is refused with one line"
hook POST /users/bob/enable >/dev/null

# --- reauth_with = device: a new device-code approval, checked the same way ------------------
write_config "$T/device.conf" "$U" "methods = device" "reauth_with = device" "require_mfa = no" "max_attempts_per_minute = 1000" "timeout = 3"
sed -i "s/^client_id = .*/client_id = pam_authgear_device/" "$T/device.conf"
pam_service r-device "auth required $MODULE config=$T/device.conf debug reauth"
hook POST /device/config '{"interval":1,"user_code":"WDJB-MJHT"}' >/dev/null
polls() { hook GET "/requests?path=/oauth2/token" | grep -o '"t_ms":' | wc -l; }
grants() { hook GET /users/carol/refresh-tokens | js j.refresh_tokens.length; }
g0=$(grants) RT_C=$(col refresh_token carol)
[ -n "$RT_C" ] || fail "carol has no cached refresh token before the device reauthentication"
hook POST /counters/reset >/dev/null
( for _ in $(seq 600); do [ "$(polls)" -ge 1 ] && break; sleep 0.1; done
  hook POST /device/approve '{"user_code":"WDJB-MJHT","username":"carol"}' > "$T/bg.out" ) &
BG=$!
run dev r-device carol authenticate ""
wait "$BG" || true
expect_rc dev 0
assert_contains "$T/dev.out" "WDJB-MJHT" "reauth_with = device: shows the device code"
assert_contains "$T/dev.log" "method=reauth-device" "reauth_with = device: the audit line"
pass "reauth_with = device: a new approval reauthenticates"
[ "$(hook GET /device | js 'j.codes.at(-1).scope')" = openid ] || { hook GET /device; fail "device: the device authorization's scope is not openid alone"; }
[ "$(grants)" = "$g0" ] && [ "$(col refresh_token carol)" = "$RT_C" ] || fail "device: a new offline grant (refresh token) was issued, or the cached one replaced"
pass "reauth_with = device: scope openid only (device_scopes has offline_access): no new grant, the cached one stays"

# --- the same through pamtester: every reauth_with value, no cached ID token ---------------------
# pt CASE SERVICE USER ANSWERS...: pamtester authenticate, one answer a line
pt() {
	c=$1 svc=$2 user=$3; shift 3
	printf '%s\n' "$@" | run_pamtester "$svc" "$user" authenticate && echo rc=0 >> "$T/out" || true
	mv "$T/out" "$T/$c.out"; mv "$T/module.log" "$T/$c.log" 2>/dev/null || touch "$T/$c.log"
}
pt_ok() { # pt_ok CASE METHOD PROMPT...: succeeded, asked exactly these, the audit line names METHOD
	c=$1 m=$2; shift 2
	grep -q "^rc=0$" "$T/$c.out" && assert_contains "$T/$c.out" "successfully authenticated" "pamtester $c: authenticated" ||
		{ cat "$T/$c.out" "$T/$c.log"; fail "pamtester $c: not authenticated"; }
	for p in "$@"; do assert_contains "$T/$c.out" "$p" "pamtester $c: asks '$p'"; done
	[ "$(grep -o '[A-Z][a-z]*\( code\)\?: ' "$T/$c.out" | wc -l)" = $# ] || { cat "$T/$c.out"; fail "pamtester $c: asked other things"; }
	assert_contains "$T/$c.log" "method=$m" "pamtester $c: the audit line says $m"
}
pt ptcode r-code alice "$(totp alice)"
pt_ok ptcode reauth-code "Verification code: "
pt ptpw r-password alice alice-password-1
pt_ok ptpw reauth-password "Password: "
pt ptfull r-full alice alice-password-1 "$(totp alice)"
pt_ok ptfull reauth-full "Password: " "Verification code: "
pt ptwrong r-code alice 000000
grep -q "^rc=0$" "$T/ptwrong.out" && fail "pamtester: a wrong code passed"
assert_contains "$T/ptwrong.out" "Incorrect password or code." "pamtester: a wrong code is refused with the plain line"
# no cached ID token: demo's cached tokens dropped (as a revocation drops them)
sqlite3 "$DB" "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE name = 'demo')"
pt ptnocache r-code demo demo-password-1 "$(totp demo)"
pt_ok ptnocache reauth-full "Password: " "Verification code: "
assert_contains "$T/ptnocache.out" "No Authgear sign-in is remembered here for you: sign in fully." "pamtester, no cached ID token: the line"
[ -n "$(col id_token demo)" ] || fail "pamtester, no cached ID token: the full login did not fill the cache"
hook POST /counters/reset >/dev/null
( for _ in $(seq 600); do [ "$(polls)" -ge 1 ] && break; sleep 0.1; done
  hook POST /device/approve '{"user_code":"WDJB-MJHT","username":"carol"}' > "$T/bg.out" ) &
BG=$!
pt ptdev r-device carol ""
wait "$BG" || true
pt_ok ptdev reauth-device
assert_contains "$T/ptdev.out" "WDJB-MJHT" "pamtester, reauth_with = device: shows the device code"
pass "through pamtester: each reauth_with value (code, password, full, device), a wrong code, no cached ID token"

# --- the IdP down: AUTHINFO_UNAVAIL within login_timeout (pamtester) ---------------------------
write_config "$T/down.conf" "$U" "login_timeout = 10" "reauth_with = password"
pam_service down "auth required $MODULE config=$T/down.conf reauth"
idp_stop_current
t0=$(now_ms)
set +e
printf 'alice-password-1\n' | PAM_TIMEOUT=40 run_pamtester down alice authenticate; rc=$?
set -e
dt=$(( $(now_ms) - t0 ))
[ $rc -ne 0 ] || fail "reauthenticated with the IdP down"
assert_contains "$T/out" "Authentication service cannot retrieve authentication info" "the IdP down: PAM_AUTHINFO_UNAVAIL"
assert_contains "$T/out" "Cannot reach the sign-in service" "the IdP down: the plain line"
[ "$dt" -lt 25000 ] || fail "the IdP down took ${dt} ms (login_timeout 10 s)"
pass "the IdP down: refused in ${dt} ms"
