#!/bin/bash
# What an admin sees over a real sshd (loopback, private mount namespace):
# - the final "Incorrect password or code." of a refused login reaches an
#   OpenSSH client at its default LogLevel (README, Troubleshoot);
# - with PasswordAuthentication, sshd answers the code prompt with the
#   password: the module refuses that answer locally, makes no code attempt
#   at the IdP (counted there), and logs the sshd setting to change.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (sshd, mount namespace)"
for t in /usr/sbin/sshd ssh expect unshare; do command -v "$t" >/dev/null || [ -x "$t" ] || skip "$t not installed"; done

if [ -z "${IN_MOUNT_NS:-}" ]; then
	IN_MOUNT_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
new_tmpdir
idp_start "$T/idp"
write_config "$T/c.conf" "users = alice, bob"
FIXTURE="$IDP_DIR/fixtures/users.json"
hook() { curl -fsS -X "$1" ${3:+-H 'content-type: application/json' -d "$3"} "$HOOK_URL$2"; }
counter() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]||0))' "$1"; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }

# alice exists locally (no password): sshd resolves her without our NSS module.
for f in passwd shadow group; do cp "/etc/$f" "$T/$f"; done
printf 'alice:x:64001:64001::/nonexistent:/bin/sh\nbob:x:64002:64002::/nonexistent:/bin/sh\n' >> "$T/passwd"
printf 'alice:!:20000:0:99999:7:::\nbob:!:20000:0:99999:7:::\n' >> "$T/shadow"
printf 'alice:x:64001:\nbob:x:64002:\n' >> "$T/group"
for f in passwd shadow group; do mount --bind "$T/$f" "/etc/$f"; done
cp -a /etc/pam.d "$T/pam.d"
cat > "$T/pam.d/sshd-ag" <<PAMD
auth     [success=done ignore=ignore module_unknown=ignore default=die]  $MODULE config=$T/c.conf
auth     required  pam_unix.so
account  required  pam_unix.so
session  required  pam_unix.so
password required  pam_deny.so
PAMD
mount --bind "$T/pam.d" /etc/pam.d
[ -d /run/sshd ] || install -d -m 0755 /run/sshd
ln -s /usr/sbin/sshd "$T/sshd-ag"

# start_sshd [sshd_config lines...]: the lab sshd with those lines appended
# (the first value of a keyword wins in sshd_config, so they go first).
SSHD_PID=
stop_sshd() { [ -z "$SSHD_PID" ] || { kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; }; SSHD_PID=; true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS stop_sshd"
start_sshd() {
	stop_sshd
	PORT=$(free_port)
	rm -f "$T/hostkey" "$T/hostkey.pub"
	sshd_lab_config "$T" "$PORT"
	{ for l in "$@"; do echo "$l"; done; cat "$T/sshd_config"; } > "$T/sshd_config.run"
	"$T/sshd-ag" -t -f "$T/sshd_config.run" || fail "sshd config"
	AUTHGEAR_TEST_LOG="$T/module.log" "$T/sshd-ag" -D -f "$T/sshd_config.run" -E "$T/sshd.log" &
	SSHD_PID=$!
	for i in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
}

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
hook POST /counters/reset > /dev/null
: > "$T/module.log"
set +e
printf 'zed-password\n123456\n' | run_pamtester agzed zed authenticate; rc=$?
set -e
[ $rc -ne 0 ] || fail "zed signed in"
n=$(hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))')
[ "$n" = 0 ] || { hook GET /counters; fail "an unresolvable name made $n requests at the IdP"; }
pass "a name that does not resolve through NSS makes zero requests at the IdP"
assert_contains "$T/module.log" "zed does not resolve through NSS: add authgear to the passwd and group lines of /etc/nsswitch.conf or run authgear-pam reindex (no request sent)" "the log says what to fix"
assert_not_contains "$T/out" "Password:" "no prompt for a name that does not resolve"
assert_contains "$T/out" "Authentication failure" "refused as an unknown user (PAM_AUTH_ERR; reveal_unknown_users = no)"
