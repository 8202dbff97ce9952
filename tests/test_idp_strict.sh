#!/bin/bash
# Issue 16, the module where the test IdP is now as strict as Authgear
# (authgear-protocol.md), through the real libpam (pam_wrapper) over HTTPS:
#
# - a confidential client: client_secret_file sent as client_secret_post; a
#   wrong or missing secret is refused at the token endpoint with one line;
# - flow_name: a name the project lacks (AuthenticationFlowFlowNotFound) is a
#   configuration fault with one line; a configured one is used;
# - bot protection: a flow asking for a captcha is refused with one line after
#   one Flow API request (no loop, no hang); `check` says so; a flow without it
#   (flow_name) signs in;
# - a user whose only second factor is an email OTP code: refused with one
#   line after the password, with require_mfa = no as well (never a
#   password-only success: Authgear's flow itself needs the second step);
# - device login and userinfo: preferred_username only for a username
#   identity (an email-only project's default username_claim refuses),
#   email_verified per email, and a userinfo sub that differs from the ID
#   token's is refused.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
BG=
kill_bg() { [ -z "${BG:-}" ] || kill "$BG" 2>/dev/null; true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS kill_bg"

idp_start "$T/idp" --device
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
count() { hook GET "/requests?path=$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).length))'; }
reset() { hook POST /counters/reset >/dev/null; }
run() { # run CASE SERVICE USER ANSWERS...
	c=$1 svc=$2 user=$3; shift 3
	timeout 120 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
	[ -z "${BG:-}" ] || { wait "$BG" || true; BG=; }
}
want_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2 ($3)"; }; }
want_line() { grep -qxF "error: $2" "$T/$1.out" || { cat "$T/$1.out"; fail "$1: the person's line '$2'"; }; }
conf() { # conf NAME LINES...: a password configuration and its service
	n=$1; shift
	write_config "$T/$n.conf" "users = alice, bob, carol" "timeout = 10" "max_attempts_per_minute = 1000" "$@"
	pam_service "$n" "auth required $MODULE config=$T/$n.conf debug"
}
CONFIG_LINE="Sign-in with Authgear is not configured correctly; ask your administrator."

# --- confidential client: client_secret_post -------------------------------------------------------
printf 'confidential-client-secret-1\n' > "$T/secret"; chmod 0600 "$T/secret"
printf 'not-the-secret\n' > "$T/wrong"; chmod 0600 "$T/wrong"
conf secret "require_mfa = no" "client_secret_file = $T/secret"
conf wrong "require_mfa = no" "client_secret_file = $T/wrong"
conf nosecret "require_mfa = no"
for n in secret wrong nosecret; do sed -i "s/^client_id = .*/client_id = pam_authgear_confidential/" "$T/$n.conf"; done
run secret secret carol carol-password-1
want_rc secret 0 "carol signs in through the confidential client with its secret"
assert_not_contains "$T/secret.log" "confidential-client-secret-1" "the client secret is never logged"
run wrong wrong carol carol-password-1
want_rc wrong 9 "a wrong client secret is refused"
want_line wrong "The sign-in service refused the request; ask your administrator."
assert_contains "$T/wrong.log" "token: invalid_request: invalid client secret" "the wrong secret is logged as such"
run nosecret nosecret carol carol-password-1
want_rc nosecret 9 "a confidential client without client_secret_file is refused"
want_line nosecret "The sign-in service refused the request; ask your administrator."
assert_contains "$T/nosecret.log" "token: invalid_client: client secret is required" "the missing secret is logged as such"
pass "confidential client: client_secret_post from client_secret_file; wrong or missing secret refused with one line"

# --- flow_name -------------------------------------------------------------------------------------
conf flow "require_mfa = no" "flow_name = pam"
reset
run flow-missing flow carol carol-password-1
want_rc flow-missing 9 "a flow name the project lacks"
want_line flow-missing "$CONFIG_LINE"
assert_contains "$T/flow-missing.log" "the project has no flow named 'pam' (flow_name)" "the unknown flow_name is logged"
[ "$(count /oauth2/token)" = 0 ] || fail "flow_name: a token request after the flow was refused"
hook POST /flows '{"login":["default","pam"],"reauth":["default","pam"]}' >/dev/null
run flow-ok flow carol carol-password-1
want_rc flow-ok 0 "flow_name = pam once the project has it"
pass "flow_name: an unknown name is a configuration fault with one line; a configured name is used"

# --- bot protection --------------------------------------------------------------------------------
hook POST /flows '{"bot_protection":["default"]}' >/dev/null
conf bot "require_mfa = no"
reset
run bot bot carol carol-password-1
want_rc bot 9 "a flow that asks for a captcha is refused"
want_line bot "$CONFIG_LINE"
assert_contains "$T/bot.log" "requires bot protection (a captcha)" "bot protection is named in the log"
[ "$(count /api/v1/authentication_flows)" = 1 ] || fail "bot protection: more than the one create request"
[ "$(count /api/v1/authentication_flows/states/input)" = 0 ] || fail "bot protection: inputs after the refusal"
"$CLI" check --config "$T/bot.conf" > "$T/bot-check.out" 2>&1 && { cat "$T/bot-check.out"; fail "check passed a flow with bot protection"; }
assert_contains "$T/bot-check.out" "requires bot protection (a captcha) to identify" "check reports bot protection"
conf botpam "require_mfa = no" "flow_name = pam"
run bot-pam botpam carol carol-password-1
want_rc bot-pam 0 "a flow without bot protection (flow_name = pam) signs in"
hook POST /flows '{"login":["default"],"reauth":["default"],"bot_protection":[]}' >/dev/null
pass "bot protection: refused with one line after one request, named by check; flow_name avoids it"

# --- email OTP as the only second factor -----------------------------------------------------------
hook POST /users/carol/set '{"oob_otp_email":true}' >/dev/null
conf mfa
conf nomfa "require_mfa = no"
for m in mfa nomfa; do
	reset
	run "oob-$m" "$m" carol carol-password-1
	want_rc "oob-$m" 7 "carol with only an email OTP factor ($m)"
	want_line "oob-$m" "This account's second factor cannot be used here; add an authenticator app to your Authgear account."
	assert_contains "$T/oob-$m.log" "offers no second factor this module supports" "the unsupported factor is logged ($m)"
	[ "$(count /oauth2/token)" = 0 ] || fail "oob ($m): tokens were requested"
done
hook POST /users/carol/set '{"oob_otp_email":false}' >/dev/null
pass "email-OTP-only second factor: refused with one line after the password, also with require_mfa = no"

# --- device login: the userinfo claims ---------------------------------------------------------------
hook POST /device/config '{"interval":1,"user_code":"WDJB-MJHT","verification_uri":"https://example.com/device"}' >/dev/null
approve_after_poll() { # USERNAME: once the IdP saw a token request, approve as USERNAME
	reset
	( for _ in $(seq 600); do [ "$(count /oauth2/token)" -ge 1 ] && break; sleep 0.05; done
	  hook POST /device/approve "{\"user_code\":\"WDJB-MJHT\",\"username\":\"$1\"}" > "$T/bg.out" ) &
	BG=$!
}
dconf() { # dconf NAME LINES...
	n=$1; shift
	conf "$n" "methods = device" "require_mfa = no" "$@"
	sed -i "s/^client_id = .*/client_id = pam_authgear_device/" "$T/$n.conf"
}
NOT_CAROL="The account that approved the sign-in is not carol's."
dconf dev
hook POST /users/carol/set '{"username_identity":false}' >/dev/null
approve_after_poll carol
run dev-nouser dev carol ""
want_rc dev-nouser 6 "no username identity: no preferred_username, so the default username_claim refuses"
want_line dev-nouser "$NOT_CAROL"
assert_contains "$T/dev-nouser.log" "whose preferred_username is absent" "the absent claim is logged"
dconf devmail "username_claim = email" "login_id = %u@example.com"
approve_after_poll carol
run dev-mail devmail carol ""
want_rc dev-mail 0 "an email-only account signs in by its verified email"
hook POST /users/carol/set '{"email_verified":false}' >/dev/null
approve_after_poll carol
run dev-unverified devmail carol ""
want_rc dev-unverified 6 "an unverified email does not name carol"
want_line dev-unverified "$NOT_CAROL"
assert_contains "$T/dev-unverified.log" "whose email (verified) is absent" "the unverified email is logged"
hook POST /users/carol/set '{"email_verified":true,"username_identity":true}' >/dev/null
hook POST /faults "{\"path\":\"/oauth2/userinfo\",\"type\":\"set_field\",\"key\":\"sub\",\"value\":\"b86045d1-930e-4fa2-b821-2058c936c7b7\"}" >/dev/null
approve_after_poll carol
run dev-sub dev carol ""
want_rc dev-sub 9 "a userinfo sub other than the ID token's"
want_line dev-sub "The sign-in service answered unexpectedly; ask your administrator."
assert_contains "$T/dev-sub.log" "userinfo sub differs from the ID token's; denying" "the sub mismatch is logged"
hook POST /faults/clear '{}' >/dev/null
approve_after_poll carol
run dev-ok dev carol ""
want_rc dev-ok 0 "carol's device login once userinfo is right again"
pass "device login: preferred_username per username identity, email_verified per email, userinfo sub must match"
