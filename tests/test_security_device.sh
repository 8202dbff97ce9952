#!/bin/bash
# Issue 11, device-code login and the Authentication Flow, through the real
# libpam (pam_wrapper; pamtester where PAM_RHOST must be set) against the
# test IdP over HTTPS:
#
# - username_claim = email compares the whole verified address with the
#   login_id template built from the Unix name: alice@attacker.example no
#   longer claims the Unix name alice when login_id = %u@example.com.
# - Phishing (RFC 8628 §5.4): the info text names this host and the Unix
#   name ("To sign in to HOST as alice, open ..."); device_from restricts
#   where a device login may start (console, address ranges of PAM_RHOST):
#   from elsewhere no device authorization is requested.
# - terminate_other_sessions: refused by default with one plain line (the
#   other sessions stay), confirmed only with terminate_other_sessions = yes.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
[ -n "${PAMTESTER:-}" ] || PAMTESTER=$(command -v pamtester || true)
[ -n "$PAMTESTER" ] || skip "pamtester not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
BG=
kill_bg() { [ -z "${BG:-}" ] || kill "$BG" 2>/dev/null; true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS kill_bg"

idp_start "$T/idp" --device
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
count() { hook GET "/requests?path=$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).length))'; }
reset() { hook POST /counters/reset >/dev/null; }
# approve_after_poll USERNAME: once the IdP saw a token request, approve as USERNAME
approve_after_poll() {
	reset
	( for _ in $(seq 600); do [ "$(count /oauth2/token)" -ge 1 ] && break; sleep 0.05; done
	  hook POST /device/approve "{\"user_code\":\"WDJB-MJHT\",\"username\":\"$1\"}" > "$T/bg.out" ) &
	BG=$!
}
run() { # run CASE SERVICE USER ANSWERS...
	c=$1 svc=$2 user=$3; shift 3
	timeout 120 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
	[ -z "${BG:-}" ] || { wait "$BG" || true; BG=; }
}
want_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2 ($3)"; }; }
hook POST /device/config '{"interval":1,"user_code":"WDJB-MJHT","verification_uri":"https://example.com/device"}' >/dev/null
dconf() { # dconf NAME LINES...: a device configuration and its service
	n=$1; shift
	case "$*" in *"methods ="*) m= ;; *) m="methods = device" ;; esac
	write_config "$T/$n.conf" "users = alice, bob, carol" ${m:+"$m"} "timeout = 5" "require_mfa = no" \
		"max_attempts_per_minute = 1000" "$@"
	sed -i "s/^client_id = .*/client_id = pam_authgear_device/" "$T/$n.conf"
	pam_service "$n" "auth required $MODULE config=$T/$n.conf debug"
}

# --- username_claim = email: the whole address against login_id ----------------------------------
dconf email "username_claim = email" "login_id = %u@example.com"
hook POST /users/carol/set '{"email":"alice@attacker.example"}' > /dev/null
approve_after_poll carol
run email-attacker email alice ""
want_rc email-attacker 6 "alice@attacker.example must not claim the Unix name alice"
grep -q "^error: The account that approved the sign-in is not alice's.$" "$T/email-attacker.out" \
	|| { cat "$T/email-attacker.out"; fail "email-attacker: the person's line"; }
assert_contains "$T/email-attacker.log" "whose email (verified) is 'alice@attacker.example', not 'alice@example.com'" \
	"email-attacker: logged against the login_id template"
if "$CLI" users --config "$T/email.conf" | grep -q '^alice '; then fail "alice was bound to carol's sub"; fi
hook POST /users/carol/set '{"email":"carol@example.com"}' > /dev/null
approve_after_poll alice
run email-ok email alice ""
want_rc email-ok 0 "alice@example.com is alice under login_id = %u@example.com"
pass "username_claim = email: the whole verified address must equal login_id (%u@example.com), not its local part"

# --- phishing: the host and the Unix name in the text ----------------------------------------------
HOST=$(hostname)
dconf text
approve_after_poll bob
run text text bob ""
want_rc text 0 "bob's device login"
grep -qxF "info: To sign in to $HOST as bob, open https://example.com/device" "$T/text.out" \
	|| { cat "$T/text.out"; fail "the info text does not name the host and the Unix name"; }
pass "the device text says where and as whom: 'To sign in to $HOST as bob, open ...'"

# --- device_from: console and address ranges of PAM_RHOST -------------------------------------------
dconf from "device_from = console, 192.0.2.0/24, 2001:db8::/32"
pt() { # pt CASE RHOST: pamtester with PAM_RHOST (none when empty), answers on stdin
	c=$1; shift
	printf '\n' | timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$PAMTESTER" -v ${1:+-I rhost=$1} from alice authenticate > "$T/$c.out" 2>&1
	touch "$T/$c.log"
}
for rhost in 198.51.100.7 2001:db9::1 attacker.example; do
	reset
	pt "from-$rhost" "$rhost"
	assert_contains "$T/from-$rhost.out" "Approving the sign-in on your phone is not allowed from here" "device_from: $rhost refused"
	[ "$(count /oauth2/device_authorization)" = 0 ] || fail "device_from: $rhost got a device code"
	assert_contains "$T/from-$rhost.log" "device_from" "device_from: $rhost logged"
done
for rhost in "" 192.0.2.9 2001:db8::5 ::ffff:192.0.2.10; do
	approve_after_poll alice
	pt "from-ok-$rhost" "$rhost"
	[ -z "${BG:-}" ] || { wait "$BG" || true; BG=; }
	assert_contains "$T/from-ok-$rhost.out" "To sign in to $HOST as alice, open" "device_from: '${rhost:-console}' gets a code"
	assert_contains "$T/from-ok-$rhost.out" "successfully authenticated" "device_from: '${rhost:-console}' signs in"
	[ "$(count /oauth2/device_authorization)" = 1 ] || fail "device_from: '${rhost:-console}' got no device code"
done
dconf both "methods = password, device" "device_from = console"
printf 'carol-password-1\n' | timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
	AUTHGEAR_TEST_LOG="$T/both.log" "$PAMTESTER" -v -I rhost=198.51.100.7 both carol authenticate > "$T/both.out" 2>&1
assert_not_contains "$T/both.out" "Approve on your phone" "with both methods, a remote host outside device_from is not offered the device login"
assert_contains "$T/both.out" "successfully authenticated" "and signs in with the password"
pass "device_from: device codes only for the console and the listed ranges; elsewhere no device authorization request"

# --- terminate_other_sessions -------------------------------------------------------------------
tconf() { # tconf NAME LINES...: the single-session client
	n=$1; shift
	write_config "$T/$n.conf" "users = carol" "timeout = 5" "require_mfa = no" "max_attempts_per_minute = 1000" "$@"
	sed -i "s/^client_id = .*/client_id = pam_authgear_single_session/" "$T/$n.conf"
	pam_service "$n" "auth required $MODULE config=$T/$n.conf debug"
}
tconf single
run single-first single carol carol-password-1
want_rc single-first 0 "the first login (no other session yet)"
reset
run single-second single carol carol-password-1
want_rc single-second 6 "a second login must not sign carol out of her other session by default"
grep -qxF "error: You are signed in elsewhere; sign out there first, then try again." "$T/single-second.out" \
	|| { cat "$T/single-second.out"; fail "terminate_other_sessions: the person's line"; }
assert_contains "$T/single-second.log" "terminate_other_sessions" "the refusal is logged"
tconf confirm "terminate_other_sessions = yes"
run single-confirm confirm carol carol-password-1
want_rc single-confirm 0 "terminate_other_sessions = yes confirms"
pass "terminate_other_sessions: refused by default with one line, confirmed only when configured"
