#!/bin/bash
# What an admin sees over a real sshd (loopback, private mount namespace):
# - the final "Incorrect password or code." of a refused login reaches an
#   OpenSSH client at its default LogLevel (README, Troubleshoot);
# - with PasswordAuthentication, sshd answers the code prompt with the
#   password: the module refuses that answer locally, makes no code attempt
#   at the IdP (counted there), and logs the sshd setting to change.
. "$abs_top_srcdir/tests/lib.sh"
sshd_test_begin
new_tmpdir
idp_start "$T/idp"
write_config "$T/c.conf" "users = alice, bob"

# alice and bob exist locally (no password): sshd resolves them without our NSS module.
private_etc_users alice:64001 bob:64002
private_pam_service sshd-ag "[success=done ignore=ignore module_unknown=ignore default=die]"

# start_sshd [sshd_config lines...]: the lab sshd with those lines first.
start_sshd() { AUTHGEAR_TEST_LOG="$T/module.log" sshd_start sshd-ag "$@"; }

# client LOGLEVEL PREFERRED PASSWORD [USER]: one attempt, its screen in $T/client.out.
client() {
	expect -f - "$PORT" "$1" "$2" "$3" "${4:-alice}" > "$T/client.out" 2>&1 <<'EXP'
set port [lindex $argv 0]; set loglevel [lindex $argv 1]; set pref [lindex $argv 2]; set pw [lindex $argv 3]
set user [lindex $argv 4]
set timeout 40
log_user 1
spawn ssh -p $port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=$loglevel \
	-o PreferredAuthentications=$pref -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 $user@127.0.0.1 true
expect {
	-re "(P|p)assword: " { send -- "$pw\r"; exp_continue }
	"Verification code: " { send -- "000000\r"; exp_continue }
	"Permission denied" { expect eof; exit 1 }
	timeout { puts "\nTIMEOUT"; exit 2 }
	eof
}
exit 0
EXP
}

# --- 1. The final line of a refused login, at the client's default LogLevel -------
start_sshd
client INFO keyboard-interactive wrong-password || true
assert_contains "$T/client.out" "Permission denied" "a wrong password is refused"
assert_contains "$T/client.out" "Incorrect password or code." "OpenSSH shows the final line at LogLevel INFO (its default)"
client ERROR keyboard-interactive wrong-password || true
assert_not_contains "$T/client.out" "Incorrect password or code." "LogLevel ERROR (or -q) hides it"

# --- 2. Password authentication: sshd answers the code prompt with the password ---
# (bob has TOTP only: the code prompt is the one after the password.)
start_sshd "PasswordAuthentication yes" "AuthenticationMethods any"
hook POST /counters/reset > /dev/null
: > "$T/module.log"
if client INFO password "$(password bob)" bob; then fail "bob signed in without a second factor"; fi
assert_contains "$T/client.out" "Permission denied" "the password-authentication login is refused"
[ "$(counter /api/v1/authentication_flows)" = 1 ] || { hook GET /counters; fail "the flow was not created once"; }
n=$(counter /api/v1/authentication_flows/states/input)
[ "$n" = 0 ] || fail "the password went to Authgear as a code: $n code attempts"
pass "no code attempt at the IdP (states/input: 0) when sshd answers the code prompt with the password"
assert_contains "$T/module.log" "the answer to the code prompt is the password: sshd answers every prompt with it under password authentication; set AuthenticationMethods keyboard-interactive" "the log names the sshd setting"

# --- 3. A code of the wrong form is refused locally too (libpam, pamtester) ------
pam_service ag "auth required $MODULE config=$T/c.conf"
for code in 12345 1234567 12ab56 "RCA1CE0001"; do
	hook POST /counters/reset > /dev/null
	: > "$T/module.log"
	set +e
	printf '%s\n%s\n' "$(password bob)" "$code" | run_pamtester ag bob authenticate; rc=$?
	set -e
	[ $rc -ne 0 ] || fail "bob signed in with the code '$code'"
	n=$(counter /api/v1/authentication_flows/states/input)
	[ "$n" = 0 ] || fail "the code '$code' was sent to Authgear ($n attempts)"
	assert_contains "$T/module.log" "login: bob: the verification code is not 6 digits; not sent to Authgear (no attempt used)" "the code '$code' is refused locally, zero attempts at the IdP"
done

# --- 4. A name that does not resolve through NSS: no request at all ---------------
# (sshd's "Invalid user" path runs the stack with a placeholder password.)
write_config "$T/zed.conf" "users = alice, bob, zed"
pam_service agzed "auth required $MODULE config=$T/zed.conf"
grep -q '^zed:' "$NSS_WRAPPER_PASSWD" && fail "zed resolves"
# An index exists (a host where pam_authgear has run before; on a fresh host
# without any index a listed name's first console login goes on, test_resolve)
# but the NSS module is not in this lookup chain, so zed does not resolve.
"$CLI" reindex --config "$T/zed.conf" > "$T/reindex-zed.out" 2>&1 || { cat "$T/reindex-zed.out"; fail "reindex"; }
export AUTHGEAR_NSS_INDEX="$T/state/nss.index"
[ -f "$AUTHGEAR_NSS_INDEX" ] || fail "no index at $AUTHGEAR_NSS_INDEX"
hook POST /counters/reset > /dev/null
: > "$T/module.log"
set +e
printf 'zed-password\n123456\n' | run_pamtester agzed zed authenticate; rc=$?
set -e
[ $rc -ne 0 ] || fail "zed signed in"
n=$(requests)
[ "$n" = 0 ] || { hook GET /counters; fail "an unresolvable name made $n requests at the IdP"; }
pass "a name that does not resolve through NSS makes zero requests at the IdP"
assert_contains "$T/module.log" "zed does not resolve through NSS: add authgear to the passwd and group lines of /etc/nsswitch.conf or run authgear-pam reindex (no request sent)" "the log says what to fix"
assert_not_contains "$T/out" "Password:" "no prompt for a name that does not resolve"
assert_contains "$T/out" "Authentication failure" "refused as an unknown user (PAM_AUTH_ERR; reveal_unknown_users = no)"
