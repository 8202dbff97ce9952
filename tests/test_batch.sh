#!/bin/bash
# The one-request login (issue 18): a bound user whose last login completed
# TOTP is asked Password: and Verification code: first, and identify +
# password + code go to Authgear in one batch_input. A wrong password or
# code, and a lockout, end with today's lines; when the batch does not fit
# (the account's factors changed, the flow asks something else) the same
# PAM call goes on step by step without a second Password:. Through the
# real libpam (pam_wrapper) against the test IdP; requests counted there.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
FIXTURE="$IDP_DIR/fixtures/users.json"
DB="$T/state/private/accounts.db"

idp_start "$T/idp"
write_config "$T/c.conf" "users = alice, bob" "timeout = 5" "max_attempts_per_minute = 1000"
pam_service ag "auth required $MODULE config=$T/c.conf debug"
# the same store, require_mfa off: an account without a second factor signs in
write_config "$T/nomfa.conf" "users = alice, bob" "timeout = 5" "max_attempts_per_minute = 1000" "require_mfa = no"
pam_service nomfa "auth required $MODULE config=$T/nomfa.conf debug"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
count() { c=$(hook GET /counters | jget "$1"); echo "${c:-0}"; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
totp() { hook GET "/totp/$1" | jget code; }
factor() { sqlite3 -readonly "$DB" "SELECT coalesce(last_factor, '-') FROM users WHERE name = '$1'"; }
FLOWS=/api/v1/authentication_flows INPUTS=/api/v1/authentication_flows/states/input

run() {
	c=$1 svc=$2 user=$3; shift 3
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
expect_transcript() {
	cat > "$T/$1.want"
	diff -u "$T/$1.want" "$T/$1.out" > "$T/$1.diff" || { cat "$T/$1.diff" "$T/$1.log"; fail "$1: transcript differs"; }
}
# expect_requests CASE TOTAL CREATES INPUTS: what the IdP saw since the last reset
expect_requests() {
	got="$(requests) $(count $FLOWS) $(count $INPUTS)"
	[ "$got" = "$2 $3 $4" ] || { hook GET /counters; fail "$1: requests/creates/inputs $got, want $2 $3 $4"; }
	hook POST /counters/reset >/dev/null
}

PW_ALICE=$(password alice) PW_BOB=$(password bob)
RC1=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="alice").recovery_codes[0])' "$FIXTURE")
TOTP_ALICE=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="alice").totp_secret)' "$FIXTURE")
CHOOSER="info: Second factor: 1) Authenticator app code  2) Recovery code
prompt-echo-on: Choose 1 or 2 [1]: "
OK_TOTP="prompt-echo-off: Password: 
prompt-echo-off: Verification code: "

# --- a first login keeps the step-by-step order, and remembers TOTP ----------
run first ag alice "$PW_ALICE" 1 "$(totp alice)"
expect_transcript first <<EOF
prompt-echo-off: Password: 
$CHOOSER
prompt-echo-off: Verification code: 
rc=0 Success
EOF
[ "$(factor alice)" = totp ] || fail "first login: last_factor $(factor alice), want totp"
pass "first login: step by step (the choice shown), last_factor = totp"
hook POST /counters/reset >/dev/null

# --- returning: both prompts first, one batch of identify + password + TOTP ---
run batch ag alice "$PW_ALICE" "$(totp alice)"
expect_transcript batch <<EOF
$OK_TOTP
rc=0 Success
EOF
# authorize (prewarmed), the flow in one create, consent, token, and the revocation
# of the refresh token the login replaces (her first login's)
expect_requests batch 5 1 0
assert_contains "$T/batch.log" "amr=mfa,otp,pwd,x_primary_password,x_secondary_totp result=success" "batch: signed in with TOTP"
pass "returning alice: Password: and Verification code: first, then 4 requests (+1: the replaced token revoked), the flow in one create, no state input"

# --- wrong password, wrong code: today's plain line, no more requests ----------
run wrongpw ag alice wrong-password "$(totp alice)"
expect_transcript wrongpw <<EOF
$OK_TOTP
error: Incorrect password or code.
rc=7 Authentication failure
EOF
expect_requests wrongpw 2 1 0
run wrongcode ag alice "$PW_ALICE" 000000
expect_transcript wrongcode <<EOF
$OK_TOTP
error: Incorrect password or code.
rc=7 Authentication failure
EOF
expect_requests wrongcode 2 1 0
assert_contains "$T/wrongcode.log" "Unauthorized/InvalidCredentials" "wrong code: Authgear said InvalidCredentials"
assert_not_contains "$T/wrongcode.log" "did not fit" "wrong code: not taken for a batch that does not fit"
[ "$(factor alice)" = totp ] || fail "a failed login changed last_factor"
pass "batch: a wrong password or code ends with the one plain line after 2 requests; last_factor kept"
run badform ag alice "$PW_ALICE" 12345
expect_transcript badform <<EOF
$OK_TOTP
error: Incorrect password or code.
rc=7 Authentication failure
EOF
[ "$(count $FLOWS)" = 0 ] || fail "a malformed code reached Authgear"
hook POST /counters/reset >/dev/null
pass "batch: a malformed code is refused before any flow request"

# --- a recovery code at the code prompt (lost phone) ----------------------------
run recovery ag alice "$PW_ALICE" "$RC1"
expect_transcript recovery <<EOF
$OK_TOTP
rc=0 Success
EOF
expect_requests recovery 5 1 0
assert_contains "$T/recovery.log" "x_recovery_code result=success" "recovery code in the batch"
[ "$(factor alice)" = recovery_code ] || fail "last_factor $(factor alice), want recovery_code"
run after-recovery ag alice "$PW_ALICE" 1 "$(totp alice)"
expect_transcript after-recovery <<EOF
prompt-echo-off: Password: 
$CHOOSER
prompt-echo-off: Verification code: 
rc=0 Success
EOF
expect_requests after-recovery 6 1 1
[ "$(factor alice)" = totp ] || fail "last_factor $(factor alice), want totp"
pass "a recovery code at Verification code: signs in in one batch; the next login is step by step, and remembers TOTP again"

# --- the account dropped TOTP (recovery codes kept): the flow finishes after the
# password, the batch meets no flow; the same call starts again, one Password: ---
hook POST /users/alice/set '{"totp_secret": null}' >/dev/null
# (the code is never checked: the flow has finished before it)
run switched nomfa alice "$PW_ALICE" 123456
expect_transcript switched <<EOF
$OK_TOTP
rc=0 Success
EOF
[ "$(grep -c '^prompt-echo-off: Password: $' "$T/switched.out")" = 1 ] || fail "switched: more than one Password: prompt"
assert_contains "$T/switched.log" "the one-request login did not fit (AuthenticationFlowNotFound); starting again step by step" "switched: the fallback"
# two authorize + create (the batch, then identify + password), consent, token, revoke
expect_requests switched 7 2 0
[ "$(factor alice)" = - ] || fail "switched: last_factor $(factor alice), want none"
run plain nomfa alice "$PW_ALICE"
expect_transcript plain <<EOF
prompt-echo-off: Password: 
rc=0 Success
EOF
hook POST /users/alice/set "{\"totp_secret\": \"$TOTP_ALICE\"}" >/dev/null
pass "TOTP removed at Authgear: the batch does not fit, the same call signs in step by step with one Password:; last_factor forgotten"

# --- the flow asks something else after the password: on from its state --------
run again ag alice "$PW_ALICE" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/again.out" && [ "$(factor alice)" = totp ] || { cat "$T/again.out"; fail "again: TOTP login"; }
hook POST /quirks '{"unknown_step": {"at": "after_primary"}}' >/dev/null
hook POST /counters/reset >/dev/null
run unknown ag alice "$PW_ALICE" "$(totp alice)"
expect_transcript unknown <<EOF
$OK_TOTP
error: Sign-in needs a step this system cannot do; sign in on the web first.
rc=9 Authentication service cannot retrieve authentication info
EOF
assert_contains "$T/unknown.log" "did not fit (ValidationFailed at x_unknown_step); going on step by step" "unknown: on from the returned state"
expect_requests unknown 2 1 0
pass "a step the batch did not expect: the same call goes on from the state Authgear returned (no second prompt)"

# --- lockout: wrong codes in batches lock the account; the lockout line ----------
run bob-first ag bob "$PW_BOB" "$(totp bob)"
grep -q '^rc=0 ' "$T/bob-first.out" && [ "$(factor bob)" = totp ] || { cat "$T/bob-first.out"; fail "bob: first login"; }
hook POST /limits '{"lockout": true, "lockout_max_attempts": 3, "lockout_duration_seconds": 300}' >/dev/null
hook POST /limits/reset >/dev/null
for i in 1 2; do
	run "lock$i" ag bob "$PW_BOB" 000000
	assert_contains "$T/lock$i.out" "error: Incorrect password or code." "lockout: wrong code $i"
done
run locked ag bob "$PW_BOB" 000000
expect_transcript locked <<EOF
$OK_TOTP
error: Too many attempts; try again in 5 minutes.
rc=11 Have exhausted maximum number of retries for service
EOF
run locked-right ag bob "$PW_BOB" "$(totp bob)"
assert_contains "$T/locked-right.out" "error: Too many attempts; try again in 5 minutes." "locked: the right code is refused too"
hook POST /limits/reset >/dev/null
pass "lockout through batches: the third wrong code locks bob; the lockout line, PAM_MAXTRIES"

# --- authgear-pam login: the batch's step and the network times -----------------
hook POST /counters/reset >/dev/null
printf '%s\n%s\n' "$PW_BOB" "$(totp bob)" | LD_PRELOAD=libnss_wrapper.so AUTHGEAR_TEST_LOG="$T/cli.log" "$CLI" login --config "$T/c.conf" bob \
	> "$T/cli.out" 2>&1 || { cat "$T/cli.out"; fail "authgear-pam login"; }
# (bob's earlier login left a refresh token: the last step revokes it)
for step in "authorize \(prewarmed\)" "identify \+ password \+ code" consent token verify "store \+ revoke"; do
	grep -qE "^  step $step +[0-9]+\.[0-9] ms  network +[0-9]+\.[0-9] ms$" "$T/cli.out" ||
		{ cat "$T/cli.out"; fail "authgear-pam login: step '$step' missing"; }
done
grep -qE "^  network total [0-9]+\.[0-9] ms in 5 requests$" "$T/cli.out" || { cat "$T/cli.out"; fail "authgear-pam login: network total"; }
assert_not_contains "$T/cli.out" "second factor" "authgear-pam login: no separate second-factor step"
pass "authgear-pam login: the one batch step, per-step and total network time, 4 requests (+1 revoking the replaced token)"
