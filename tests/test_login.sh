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
# dev-nobody and dev-spray are host accounts here (nss_users): listed by name,
# as a migration would, since a pattern never takes a name the host has.
USERS="users = alice, bob, carol, dave, anon, erin, frank, dev-nobody, dev-spray, dev-*"
write_config "$T/c.conf" "$USERS" "timeout = 3" "max_attempts_per_minute = 1000"
pam_service ag "auth required $MODULE config=$T/c.conf debug"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
totp() { hook GET "/totp/$1" | jget code; }
SECRETS=""
remember() { SECRETS="$SECRETS $*"; }

# run CASE SERVICE USER ANSWERS...: transcript in $T/CASE.out, log in $T/CASE.log.
# These cases are the step-by-step order: the second factor a returning user
# completed last is forgotten first (the one-request order it selects is
# test_batch.sh's).
run() {
	c=$1 svc=$2 user=$3; shift 3
	[ ! -f "$T/state/private/accounts.db" ] ||
		sqlite3 "$T/state/private/accounts.db" "UPDATE users SET last_factor = NULL" || fail "forget last_factor"
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
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
# 5, and the revocation of the refresh token the warm-up login left (§5.4)
[ "$(requests)" = 6 ] || { hook GET /counters; fail "a login took $(requests) requests, want 6"; }
[ "$(counter /oauth2/revoke)" = 1 ] || { hook GET /counters; fail "a returning login did not revoke the token it replaced"; }
[ "$(hook GET /connections | jget connections)" = 1 ] || fail "a login opened more than one TLS connection"
pass "5 HTTPS requests (+1 revoking the replaced refresh token) on one TLS connection per returning login (discovery and JWKS cached)"
# The authorize request as the IdP saw it: SSO off, PKCE S256, and no
# max_age with the default max_age = -1.
hook GET "/requests?path=/oauth2/authorize" > "$T/ok.authorize.json"
node -e 'const q=require(process.argv[1])[0].query;
if (q.x_sso_enabled!=="false"||q.code_challenge_method!=="S256"||!q.nonce||!q.state||"max_age" in q) { console.log(JSON.stringify(q)); process.exit(1); }' "$T/ok.authorize.json" \
	|| fail "authorize: want x_sso_enabled=false, S256, nonce, state and no max_age"
pass "authorize carries x_sso_enabled=false (and no max_age by default), as the IdP recorded it"
[ "$(sqlite3 -readonly "$T/state/private/accounts.db" "SELECT sub FROM users WHERE name = 'alice'")" = \
	2f91682e-7cf4-4bd7-b86f-d91a20e3de70 ] || fail "binding not stored"
[ "$(stat -c %a "$T/state/private/accounts.db")" = 600 ] || fail "store file mode"
pass "first login bound alice to her sub in a 0600 database"

# --- authgear-pam login: the same path from a terminal, steps and timings, no secrets ---
code=$(totp alice); remember "$code"
sqlite3 "$T/state/private/accounts.db" "UPDATE users SET last_factor = NULL" || fail "forget last_factor"
printf '%s\n1\n%s\n' "$PW_ALICE" "$code" | LD_PRELOAD="${ASAN_FIRST}libnss_wrapper.so" AUTHGEAR_TEST_LOG="$T/cli.log" "$CLI" login --config "$T/c.conf" alice \
	> "$T/cli.out" 2>&1 || { cat "$T/cli.out"; fail "authgear-pam login"; }
# alice is named in users: her authorize request went while she typed
# (a returning login: the store's commit and the replaced refresh token's revocation last)
for step in "authorize \(prewarmed\)" "identify \+ password" "second factor" consent token verify "store \+ revoke"; do
	grep -qE "^  step $step +[0-9]+\.[0-9] ms  network +[0-9]+\.[0-9] ms$" "$T/cli.out" ||
		{ cat "$T/cli.out"; fail "authgear-pam login: step '$step' missing"; }
done
grep -qE "^  network total [0-9]+\.[0-9] ms in 6 requests$" "$T/cli.out" || { cat "$T/cli.out"; fail "authgear-pam login: no network total"; }
assert_contains "$T/cli.out" "signed in: alice is Authgear user 2f91682e-7cf4-4bd7-b86f-d91a20e3de70; 6 requests on 1 connection" "authgear-pam login signs in and counts its requests"
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
# try_first_pass: the earlier password when there is one (no second prompt),
# else the module asks itself.
pam_service tryfirst "auth optional pam_unix.so" "auth required $MODULE config=$T/c.conf try_first_pass"
run tryfirst tryfirst alice "$PW_ALICE" 1 "$(totp alice)"
expect_transcript tryfirst <<EOF
prompt-echo-off: Password: 
$CHOOSER
prompt-echo-off: Verification code: 
rc=0 Success
EOF
pam_service tryfirst-none "auth required $MODULE config=$T/c.conf try_first_pass"
run tryfirst-none tryfirst-none alice "$PW_ALICE" 1 "$(totp alice)"
expect_transcript tryfirst-none <<EOF
prompt-echo-off: Password: 
$CHOOSER
prompt-echo-off: Verification code: 
rc=0 Success
EOF
pass "try_first_pass: uses pam_unix's password (one prompt), asks itself when there is none"
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
t1_ms=$(now_ms)
run t1 throttle dev-spray x; run t2 throttle dev-spray x
hook POST /counters/reset >/dev/null
run t3 throttle dev-spray x
# The wait left is a minute from the first failure, less the time t1..t3
# took (whole seconds, rounded up): a range that holds on a loaded machine.
taken=$(( ($(now_ms) - t1_ms + 999) / 1000 ))
n=$(sed -n -E 's/^error: Too many attempts; try again in ([0-9]+) seconds\.$/\1/p' "$T/t3.out")
[ -n "$n" ] && [ "$n" -le 60 ] && [ "$n" -ge $((60 - taken - 1)) ] \
	|| { cat "$T/t3.out"; fail "throttle: want 'try again in N seconds' with $((60 - taken - 1)) <= N <= 60 (t1..t3 took ${taken}s)"; }
pass "throttle: try again in $n seconds (t1..t3 took at most ${taken}s)"
sed -i -E 's/try again in [0-9]+ seconds/try again in N seconds/' "$T/t3.out"
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

# --- the environment's proxy is never used; max_age is sent and auth_time checked ---------
code=$(totp alice) # (before the proxy variables: curl would use them for the hook)
export https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 all_proxy=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1
run env-proxy ag alice "$PW_ALICE" 1 "$code"
unset https_proxy HTTPS_PROXY all_proxy ALL_PROXY
grep -q '^rc=0 ' "$T/env-proxy.out" || { cat "$T/env-proxy.out" "$T/env-proxy.log"; fail "a dead https_proxy in the environment broke the login"; }
pass "https_proxy/ALL_PROXY pointing at a closed port: ignored, the login went straight to the issuer"
write_config "$T/proxy.conf" "$USERS" "timeout = 3" "max_attempts_per_minute = 1000" "proxy = http://127.0.0.1:1"
pam_service proxy "auth required $MODULE config=$T/proxy.conf debug"
run cfg-proxy proxy alice "$PW_ALICE"
grep -q '^rc=0 ' "$T/cfg-proxy.out" && fail "proxy = a closed port, yet the login succeeded (proxy not used)"
grep -q "127.0.0.1 port 1\|127.0.0.1:1\|Couldn't connect" "$T/cfg-proxy.log" || { cat "$T/cfg-proxy.log"; fail "proxy: want the connection failure to the configured proxy"; }
pass "proxy = http://127.0.0.1:1 (closed): every request goes to the configured proxy and fails"
write_config "$T/maxage.conf" "$USERS" "timeout = 3" "max_attempts_per_minute = 1000" "max_age = 300"
pam_service maxage "auth required $MODULE config=$T/maxage.conf debug"
hook POST /counters/reset >/dev/null
run maxage maxage alice "$PW_ALICE" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/maxage.out" || { cat "$T/maxage.out" "$T/maxage.log"; fail "max_age = 300: a fresh login"; }
hook GET "/requests?path=/oauth2/authorize" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.exit(JSON.parse(s)[0].query.max_age==="300"?0:1))' \
	|| fail "max_age = 300 not sent in the authorize request"
hook POST /tokens/next-id-token '{"payload":{"auth_time":1000000000}}' >/dev/null || fail "crafted auth_time"
run maxage-old maxage alice "$PW_ALICE" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
grep -q '^rc=0 ' "$T/maxage-old.out" && fail "an auth_time older than max_age was accepted"
expect_log maxage-old "auth_time too old for max_age (auth_time 1000000000"
pass "max_age = 300: sent at authorize; a live login with an old auth_time is refused"

# --- Authgear's per-method rate limit (RateLimited), counting every attempt as Authgear does ---
hook POST /limits/reset >/dev/null
hook POST /limits '{"count_all_attempts":true,"password_per_user_per_ip":2}' >/dev/null || fail "limits hook"
for i in 1 2; do
	run "rl-ok$i" ag alice "$PW_ALICE" 1 "$(totp alice)"
	grep -q '^rc=0 ' "$T/rl-ok$i.out" || { cat "$T/rl-ok$i.out" "$T/rl-ok$i.log"; fail "rate limit: login $i of 2 must pass"; }
done
run rl-limited ag alice "$PW_ALICE" 1 "$(totp alice)"
hook POST /limits '{"count_all_attempts":false,"password_per_user_per_ip":10}' >/dev/null
hook POST /limits/reset >/dev/null
expect_transcript rl-limited <<EOF
prompt-echo-off: Password: 
error: Too many attempts; try again later.
rc=11 Have exhausted maximum number of retries for service
EOF
expect_log rl-limited "authflow: TooManyRequest/RateLimited (429)"
expect_log rl-limited "result=rate_limited"
pass "a third correct password within the limit of 2 (every attempt counted): RateLimited, PAM_MAXTRIES, one line"

# --- the shipped stacks, pam.d/sshd and pam.d/login, as they are -------------------------------
# Their own lines with the module from the build tree, and the host's
# common-* files they include (pam_unix): an Authgear user's failure ends
# the stack with one password prompt, a success is done, and a name that is
# not ours goes on to pam_unix's own prompt.
for f in /etc/pam.d/common-auth /etc/pam.d/common-account /etc/pam.d/common-session /etc/pam.d/common-password; do
	[ -f "$f" ] || skip "$f missing (Debian's libpam-runtime)"
done
for stack in sshd login; do
	pam_service "stack-$stack"
	sed "s|pam_authgear\.so|$MODULE config=$T/c.conf debug|" "$abs_top_srcdir/pam.d/$stack" > "$T/pamd/stack-$stack"
	cp /etc/pam.d/common-auth /etc/pam.d/common-account /etc/pam.d/common-session /etc/pam.d/common-password "$T/pamd/"
	grep -q "^auth .*$MODULE config=" "$T/pamd/stack-$stack" || fail "pam.d/$stack has no pam_authgear line"
	run "$stack-wrong" "stack-$stack" alice "wrong-password"
	expect_transcript "$stack-wrong" <<EOF
prompt-echo-off: Password: 
error: Incorrect password or code.
rc=7 Authentication failure
EOF
	run "$stack-ok" "stack-$stack" alice "$PW_ALICE" 1 "$(totp alice)"
	grep -q '^rc=0 ' "$T/$stack-ok.out" || { cat "$T/$stack-ok.out" "$T/$stack-ok.log"; fail "pam.d/$stack: alice"; }
	run "$stack-local" "stack-$stack" localuser "whatever"
	grep -q '^rc=0 ' "$T/$stack-local.out" && fail "pam.d/$stack: an unknown local user signed in"
	expect_log "$stack-local" "localuser is not an Authgear user here; ignored"
	[ "$(grep -c '^prompt-echo-off: Password: $' "$T/$stack-local.out")" = 1 ] || { cat "$T/$stack-local.out"; fail "pam.d/$stack: want pam_unix's one password prompt for a name that is not ours"; }
	pass "pam.d/$stack as shipped: a wrong password ends the stack with one prompt; alice signs in; other names go on to pam_unix"
done

# --- login_id templates and login_id_type, against the project's login-ID keys ---------------
# An email-only project (Authgear offers only its configured keys): the
# template turns the Unix name into the email login ID.
hook POST /login-id-keys '{"keys":["email"]}' >/dev/null || fail "login-id-keys hook"
write_config "$T/email.conf" "$USERS" "timeout = 3" "max_attempts_per_minute = 1000" \
	"login_id = %u@example.com" "login_id_type = email"
pam_service email "auth required $MODULE config=$T/email.conf debug"
run email-id email alice "$PW_ALICE" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/email-id.out" || { cat "$T/email-id.out" "$T/email-id.log"; fail "email login ID: alice@example.com"; }
expect_log email-id "audit: user=alice sub=2f91682e-7cf4-4bd7-b86f-d91a20e3de70 method=password"
pass "login_id = %u@example.com, login_id_type = email: alice signs in on an email-only project"
# login_id_type = username where the project has no username key: Authgear's
# ValidationFailed, a denial with the reason logged, no second prompt.
run type-mismatch ag alice "$PW_ALICE"
grep -q '^rc=0 ' "$T/type-mismatch.out" && fail "login_id_type = username accepted by an email-only project"
grep -c 'prompt-' "$T/type-mismatch.out" | grep -qx 1 || { cat "$T/type-mismatch.out"; fail "type-mismatch: want the password prompt only"; }
expect_log type-mismatch "authflow: Invalid/ValidationFailed (400)"
assert_contains "$T/type-mismatch.out" "error: The sign-in service answered unexpectedly; ask your administrator." "type-mismatch: the person is told to ask the administrator"
# ... and login_id_type = phone with a phone-less project
hook POST /login-id-keys '{"keys":["email","username"]}' >/dev/null
write_config "$T/phone.conf" "$USERS" "timeout = 3" "max_attempts_per_minute = 1000" \
	"login_id = +1415555010%u" "login_id_type = phone"
pam_service phone "auth required $MODULE config=$T/phone.conf debug"
run phone-mismatch phone alice "$PW_ALICE"
grep -q '^rc=0 ' "$T/phone-mismatch.out" && fail "login_id_type = phone accepted by a phone-less project"
expect_log phone-mismatch "authflow: Invalid/ValidationFailed (400)"
hook POST /login-id-keys '{"keys":["email","phone","username"]}' >/dev/null
pass "login_id_type mismatches with the project's login-ID keys are denied with Authgear's ValidationFailed"

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
# arrival_ms PATH: when the IdP received its last request to PATH (epoch ms,
# the same clock as now_ms): a bound measured from there leaves out the
# process start and module load a loaded machine stretches.
arrival_ms() { hook GET "/requests?path=$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.length?Math.round(r[r.length-1].t_ms):0)})'; }
hook POST /faults '{"path":"/oauth2/authorize","type":"delay","seconds":6}' >/dev/null
start=$(now_ms)
run slow ag alice "$PW_ALICE"
end=$(now_ms)
elapsed=$(( end - start ))
waited=$(( end - $(arrival_ms /oauth2/authorize) ))
expect_transcript slow <<EOF
prompt-echo-off: Password: 
error: The sign-in service did not answer in time; try again later.
rc=9 Authentication service cannot retrieve authentication info
EOF
# At least the timeout (the whole run), and before the 6 s delay would have
# answered, counted from the delayed request's arrival at the IdP (a
# module that waited for the answer ends 6 s or more after it).
[ $elapsed -ge 2800 ] && [ $waited -lt 5800 ] || fail "timeout = 3: the run took ${elapsed} ms, ${waited} ms after the delayed request"
pass "slow IdP: gave up ${waited} ms after the delayed request, ${elapsed} ms after the start (timeout = 3, the IdP delays 6 s)"
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
# Not ours (root, a name outside the allow-list): PAM_IGNORE, so the next
# module decides; no line shown, no request.
pam_service pw-other "password [ignore=ignore default=die] $MODULE config=$T/c.conf" "password required pam_permit.so"
for u in root localuser; do
	timeout 20 env LD_PRELOAD="${ASAN_FIRST}libpam_wrapper.so" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		"$DRIVER" pw-other "$u" chauthtok > "$T/chauthtok-$u.out" 2>&1
	[ "$(cat "$T/chauthtok-$u.out")" = "rc=0 Success" ] || { cat "$T/chauthtok-$u.out"; fail "chauthtok for $u: want PAM_IGNORE (the next module decides)"; }
done
pam_service pw-other-only "password required $MODULE config=$T/c.conf"
timeout 20 env LD_PRELOAD="${ASAN_FIRST}libpam_wrapper.so" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
	"$DRIVER" pw-other-only root chauthtok > "$T/chauthtok-alone.out" 2>&1
# (a stack where every module ignores: libpam answers PAM_PERM_DENIED, and
# the module said nothing)
[ "$(cat "$T/chauthtok-alone.out")" = "rc=6 Permission denied" ] || { cat "$T/chauthtok-alone.out"; fail "chauthtok alone for root: want the module to ignore it silently"; }
pass "chauthtok for users that are not ours: PAM_IGNORE, the next module decides"
pam_service pw "password required $MODULE config=$T/c.conf"
timeout 20 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
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
