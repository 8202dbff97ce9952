#!/bin/bash
# Password + TOTP login through the real libpam (pam_wrapper) against the test
# IdP over HTTPS: every prompt and line the person sees is recorded and
# compared exactly, the log reason is asserted, requests are counted at the
# IdP, and no password or code may appear in a log or under state_dir.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
FIXTURE="$IDP_DIR/fixtures/users.json"

idp_start "$T/idp"
USERS="users = alice, bob, carol, dave, anon, erin, frank, dev-*"
write_config "$T/c.conf" "$USERS" "timeout = 3" "max_attempts_per_minute = 1000"
pam_service ag "auth required $MODULE config=$T/c.conf debug"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
totp() { hook GET "/totp/$1" | jget code; }
SECRETS=""
remember() { SECRETS="$SECRETS $*"; }

# run CASE SERVICE USER ANSWERS...: transcript in $T/CASE.out, log in $T/CASE.log
run() {
	c=$1 svc=$2 user=$3; shift 3
	timeout 60 env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
# expect_transcript CASE <<EOF ... EOF: the exact transcript
expect_transcript() {
	cat > "$T/$1.want"
	diff -u "$T/$1.want" "$T/$1.out" > "$T/$1.diff" || { cat "$T/$1.diff" "$T/$1.log"; fail "$1: transcript differs"; }
	pass "$1: exact prompts and lines"
}
expect_log() { assert_contains "$T/$1.log" "$2" "$1: log says '$2'"; }

PW_ALICE=$(password alice); remember "$PW_ALICE"
CHOOSER="info: Second factor: 1) Authenticator app code  2) Recovery code
prompt-echo-on: Choose 1 or 2 [1]: "

# --- success: password + TOTP, request count, one connection -----------------
run warmup ag alice "$PW_ALICE" 1 "$(totp alice)"   # fills the discovery and JWKS caches
grep -q '^rc=0 ' "$T/warmup.out" || { cat "$T/warmup.out" "$T/warmup.log"; fail "first login"; }
hook POST /counters/reset >/dev/null
code=$(totp alice); remember "$code"
run ok ag alice "$PW_ALICE" "" "$code"
expect_transcript ok <<EOF
prompt-echo-off: Password: 
$CHOOSER
prompt-echo-off: Verification code: 
rc=0 Success
EOF
expect_log ok "audit: user=alice sub=2f91682e-7cf4-4bd7-b86f-d91a20e3de70 method=password amr=mfa,otp,pwd,x_primary_password,x_secondary_totp result=success"
[ "$(requests)" = 5 ] || { hook GET /counters; fail "a login took $(requests) requests, want 5"; }
[ "$(hook GET /connections | jget connections)" = 1 ] || fail "a login opened more than one TLS connection"
pass "5 HTTPS requests on one TLS connection per login (discovery and JWKS cached)"
[ "$(sqlite3 -readonly "$T/state/private/accounts.db" "SELECT sub FROM users WHERE name = 'alice'")" = \
	2f91682e-7cf4-4bd7-b86f-d91a20e3de70 ] || fail "binding not stored"
[ "$(stat -c %a "$T/state/private/accounts.db")" = 600 ] || fail "store file mode"
pass "first login bound alice to her sub in a 0600 database"

# --- authgear-pam login: the same path from a terminal, steps and timings, no secrets ---
code=$(totp alice); remember "$code"
printf '%s\n1\n%s\n' "$PW_ALICE" "$code" | AUTHGEAR_TEST_LOG="$T/cli.log" "$CLI" login --config "$T/c.conf" alice \
	> "$T/cli.out" 2>&1 || { cat "$T/cli.out"; fail "authgear-pam login"; }
# alice is named in users: her authorize request went while she typed
for step in "authorize \(prewarmed\)" "identify \+ password" "second factor" consent token verify; do
	grep -qE "^  step $step +[0-9]+\.[0-9] ms  network +[0-9]+\.[0-9] ms$" "$T/cli.out" ||
		{ cat "$T/cli.out"; fail "authgear-pam login: step '$step' missing"; }
done
grep -qE "^  network total [0-9]+\.[0-9] ms in 5 requests$" "$T/cli.out" || { cat "$T/cli.out"; fail "authgear-pam login: no network total"; }
assert_contains "$T/cli.out" "signed in: alice is Authgear user 2f91682e-7cf4-4bd7-b86f-d91a20e3de70; 5 requests on 1 connection" "authgear-pam login signs in and counts its requests"
if grep -qF -- "$PW_ALICE" "$T/cli.out" || grep -qF -- "$code" "$T/cli.out"; then fail "authgear-pam login printed a secret"; fi
"$CLI" login --config "$T/c.conf" root > "$T/cli-root.out" 2>&1 && fail "authgear-pam login root must fail"
assert_contains "$T/cli-root.out" "root is not an Authgear user here" "authgear-pam login says when PAM would ignore a name"

# --- recovery code ------------------------------------------------------------
RC=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="alice").recovery_codes[0])' "$FIXTURE")
remember "$RC"
run recovery ag alice "$PW_ALICE" 2 "$RC"
expect_transcript recovery <<EOF
prompt-echo-off: Password: 
$CHOOSER
prompt-echo-off: Recovery code: 
rc=0 Success
EOF
expect_log recovery "amr=mfa,pwd,x_primary_password,x_recovery_code result=success"

# --- use_first_pass: the password pam_unix asked for; no second password prompt ---
pam_service first "auth optional pam_unix.so" "auth required $MODULE config=$T/c.conf use_first_pass"
run firstpass first alice "$PW_ALICE" 1 "$(totp alice)"
expect_transcript firstpass <<EOF
prompt-echo-off: Password: 
$CHOOSER
prompt-echo-off: Verification code: 
rc=0 Success
EOF
pam_service first-none "auth required $MODULE config=$T/c.conf use_first_pass"
run firstpass-none first-none alice
grep -q '^rc=7 ' "$T/firstpass-none.out" || fail "use_first_pass without a password must fail"
expect_log firstpass-none "use_first_pass: no password from an earlier module"

# --- wrong password, wrong TOTP, unknown user: the same line ---------------------
run wrongpw ag alice "not-the-password"
expect_transcript wrongpw <<EOF
prompt-echo-off: Password: 
error: Incorrect password or code.
rc=7 Authentication failure
EOF
expect_log wrongpw "authflow: Unauthorized/InvalidCredentials (401) for password"
run wrongtotp ag alice "$PW_ALICE" 1 000000
expect_transcript wrongtotp <<EOF
prompt-echo-off: Password: 
$CHOOSER
prompt-echo-off: Verification code: 
error: Incorrect password or code.
rc=7 Authentication failure
EOF
expect_log wrongtotp "InvalidCredentials (401) for totp"
run unknown ag dev-nobody "whatever"
expect_transcript unknown <<EOF
prompt-echo-off: Password: 
error: Incorrect password or code.
rc=7 Authentication failure
EOF
expect_log unknown "authflow: NotFound/UserNotFound (404)"
write_config "$T/reveal.conf" "$USERS" "reveal_unknown_users = yes"
pam_service reveal "auth required $MODULE config=$T/reveal.conf"
run unknown-revealed reveal dev-nobody "whatever"
grep -q '^rc=10 ' "$T/unknown-revealed.out" || { cat "$T/unknown-revealed.out"; fail "reveal_unknown_users: want PAM_USER_UNKNOWN"; }
pass "reveal_unknown_users = yes: PAM_USER_UNKNOWN"

# --- disabled, anonymous, expired password ------------------------------------
run disabled ag dave "$(password dave)"
expect_transcript disabled <<EOF
prompt-echo-off: Password: 
error: This account is disabled.
rc=7 Authentication failure
EOF
expect_log disabled "authflow: Forbidden/DisabledUser (403)"
run anonymous ag anon "$(password anon)"
grep -q '^error: Anonymous Authgear accounts cannot sign in here.$' "$T/anonymous.out" || { cat "$T/anonymous.out"; fail "anonymous"; }
grep -q '^rc=6 ' "$T/anonymous.out" || fail "anonymous: want PAM_PERM_DENIED"
expect_log anonymous "anonymous Authgear user refused"
run expired ag erin "$(password erin)"
expect_transcript expired <<EOF
prompt-echo-off: Password: 
error: Your password has expired; change it in your Authgear account settings, then sign in again.
rc=7 Authentication failure
EOF
expect_log expired "erin must change the password at Authgear"
run passkey-prompt ag frank "$(password frank)"
grep -q '^error: This account needs a second factor' "$T/passkey-prompt.out" || { cat "$T/passkey-prompt.out"; fail "frank"; }
pass "prompt_create_passkey skipped; frank (no TOTP) still needs a second factor"

# --- roles, MFA -----------------------------------------------------------------
write_config "$T/roles.conf" "$USERS" "require_roles = unix-admin"
pam_service roles "auth required $MODULE config=$T/roles.conf"
run norole roles bob "$(password bob)" "$(totp bob)"
expect_transcript norole <<EOF
prompt-echo-off: Password: 
prompt-echo-off: Verification code: 
error: You are not allowed to sign in here.
rc=6 Permission denied
EOF
expect_log norole "none of the required roles (unix-admin)"
run withrole roles alice "$PW_ALICE" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/withrole.out" || fail "alice has unix-admin"
pass "require_roles admits a user with the role"
run nototp ag carol "$(password carol)"
expect_transcript nototp <<EOF
prompt-echo-off: Password: 
error: This account needs a second factor (authenticator app) to sign in here.
rc=7 Authentication failure
EOF
expect_log nototp "second factor required but not proven (client saw none, amr lacks mfa)"
write_config "$T/nomfa.conf" "$USERS" "require_mfa = no"
pam_service nomfa "auth required $MODULE config=$T/nomfa.conf"
run nototp-allowed nomfa carol "$(password carol)"
grep -q '^rc=0 ' "$T/nototp-allowed.out" || fail "require_mfa = no admits a password-only user"
pass "require_mfa = no admits a password-only login"
hook POST /quirks '{"skip_second_factor":true}' >/dev/null
run skipped-2fa ag alice "$PW_ALICE"
expect_transcript skipped-2fa <<EOF
prompt-echo-off: Password: 
error: This account needs a second factor (authenticator app) to sign in here.
rc=7 Authentication failure
EOF
expect_log skipped-2fa "second factor required but not proven"

# --- lockout and the local throttle ----------------------------------------------
hook POST /users/bob/lock '{"seconds":600}' >/dev/null
run locked ag bob "$(password bob)"
grep -q '^error: Too many attempts; try again in 10 minutes.$' "$T/locked.out" || { cat "$T/locked.out"; fail "lockout line"; }
grep -q '^rc=11 ' "$T/locked.out" || fail "lockout: want PAM_MAXTRIES"
expect_log locked "TooManyRequest/AccountLockout (429)"
hook POST /users/bob/unlock >/dev/null
write_config "$T/throttle.conf" "$USERS" "max_attempts_per_minute = 2"
pam_service throttle "auth required $MODULE config=$T/throttle.conf"
run t1 throttle dev-spray x; run t2 throttle dev-spray x
hook POST /counters/reset >/dev/null
run t3 throttle dev-spray x
sed -i -E 's/try again in (5[0-9]|60) seconds/try again in N seconds/' "$T/t3.out" # counted from t1's start
expect_transcript t3 <<EOF
error: Too many attempts; try again in N seconds.
rc=11 Have exhausted maximum number of retries for service
EOF
[ "$(requests)" = 0 ] || fail "a throttled attempt reached the IdP"
expect_log t3 "throttle: dev-spray: 2 attempts from the console in the last minute; refused locally"

# --- flow quirks: unknown action, tampered state ------------------------------------
hook POST /quirks '{"unknown_step":{"type":"x_unknown_step"}}' >/dev/null
run unknown-action ag alice "$PW_ALICE"
grep -q '^rc=9 ' "$T/unknown-action.out" || { cat "$T/unknown-action.out"; fail "unknown action: want PAM_AUTHINFO_UNAVAIL"; }
expect_log unknown-action "authflow: unknown action 'x_unknown_step'; denying"
hook POST /quirks/clear >/dev/null
hook POST /quirks '{"consent_location":"tampered_state"}' >/dev/null
run bad-state ag alice "$PW_ALICE" 1 "$(totp alice)"
grep -q '^rc=9 ' "$T/bad-state.out" || { cat "$T/bad-state.out"; fail "state mismatch must deny"; }
expect_log bad-state "consent: state mismatch in the redirect; denying"
hook POST /quirks/clear >/dev/null

# --- a different sub for a bound name ------------------------------------------------
sqlite3 "$T/state/private/accounts.db" "INSERT INTO users (name, sub, bound_at) VALUES ('bob', '00000000-0000-0000-0000-000000000000', 1) ON CONFLICT (name) DO UPDATE SET sub = excluded.sub"
run other-sub ag bob "$(password bob)" "$(totp bob)"
grep -q '^error: This user name is linked to another Authgear account.$' "$T/other-sub.out" || { cat "$T/other-sub.out"; fail "other sub"; }
expect_log other-sub "store: bob is bound to sub 00000000-0000-0000-0000-000000000000; refusing sub b86045d1-930e-4fa2-b821-2058c936c7b7"

# --- names that are not ours: PAM_IGNORE, no prompt, no request ------------------------
pam_service fallthrough "auth [ignore=ignore default=die] $MODULE config=$T/c.conf debug" "auth required pam_permit.so"
hook POST /counters/reset >/dev/null
for u in root localuser; do
	run "ignore-$u" fallthrough "$u"
	expect_transcript "ignore-$u" <<EOF
rc=0 Success
EOF
	expect_log "ignore-$u" "$u is not an Authgear user here; ignored"
done
[ "$(requests)" = 0 ] || fail "a name that is not ours reached the IdP"
pass "root and names not allow-listed: PAM_IGNORE with zero requests at the IdP"

# --- IdP slow beyond the timeout, IdP down --------------------------------------------
hook POST /faults '{"path":"/oauth2/authorize","type":"delay","seconds":6}' >/dev/null
start=$(date +%s)
run slow ag alice "$PW_ALICE"
elapsed=$(( $(date +%s) - start ))
expect_transcript slow <<EOF
prompt-echo-off: Password: 
error: The sign-in service did not answer in time; try again later.
rc=9 Authentication service cannot retrieve authentication info
EOF
[ $elapsed -le 5 ] || fail "timeout = 3 took ${elapsed}s"
expect_log slow "Timeout was reached"
hook POST /faults/clear '{}' >/dev/null
"$IDP_DIR/stop.sh" "$T/idp" >/dev/null
run down ag alice "$PW_ALICE"
expect_transcript down <<EOF
prompt-echo-off: Password: 
error: Cannot reach the sign-in service; try again later.
rc=9 Authentication service cannot retrieve authentication info
EOF
expect_log down "Couldn't connect to server"

# --- chauthtok ---------------------------------------------------------------------
pam_service pw "password required $MODULE config=$T/c.conf"
timeout 20 env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
	"$DRIVER" pw alice chauthtok > "$T/chauthtok.out" 2>&1
grep -q "^error: Your password is managed by Authgear; change it at $ISSUER/settings$" "$T/chauthtok.out" \
	|| { cat "$T/chauthtok.out"; fail "chauthtok line"; }
grep -q '^rc=20 ' "$T/chauthtok.out" || fail "chauthtok: want PAM_AUTHTOK_ERR"
pass "passwd for an Authgear user says where to change the password and fails"

# --- no password or code in any log or under state_dir ------------------------------
for s in $SECRETS; do
	if grep -rqF -- "$s" "$T"/*.log "$T/state"; then fail "a password or code leaked into a log or state_dir"; fi
done
pass "no password or code in the logs or under state_dir"
