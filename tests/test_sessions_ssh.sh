#!/bin/bash
# Session lines under a real sshd (issue 13): an SSH password login on
# loopback, in a private mount namespace (testing-pam.md §5; the world of
# test_account_ssh.sh: the NSS module in the system library directory, a
# private PAM service with auth, account and session lines, state_dir at
# /var/lib/authgear), with revoke_on_logout = yes.
#
# Checks: while the connection is up, the store holds one session with the
# PAM_TTY and PAM_RHOST sshd set ("ssh": sshd opens the PAM session before
# the pty exists; 127.0.0.1) and
# the pid of sshd's process holding it; authgear-pam status shows it; the
# refresh token is live at the IdP. When the client disconnects, sshd's
# close_session removes the session and, the last one, revokes the refresh
# token at the IdP (one POST /oauth2/revoke) and drops the cached tokens.
# No wall-clock bound: each wait polls (up to a minute) for its state.
. "$abs_top_srcdir/tests/lib.sh"
sshd_test_begin sqlite3
new_tmpdir
EXPECT="$abs_top_srcdir/tests/tools/ssh_login.exp"
SVC=sshd-lab
DB=/var/lib/authgear/private/accounts.db

idp_start "$T/idp"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2" > /dev/null; }

# --- the private world --------------------------------------------------------------
CLIENT_PID=
stop_client() {
	[ -z "$CLIENT_PID" ] || { kill "$CLIENT_PID" 2>/dev/null; wait "$CLIENT_PID" 2>/dev/null; }
	return 0
}
CLEANUP_HOOKS="stop_client $CLEANUP_HOOKS"
write_config "$T/c.conf" "users = carol" "require_mfa = no" "timeout = 10" "home = $T/home/%u" "shell = /bin/bash" \
	"revoke_on_logout = yes" "[roles]" "unix-user = authgear-users"
sed -i "s|^state_dir = .*|state_dir = /var/lib/authgear|" "$T/c.conf"
{
	lab_auth_line
	echo "auth     required    pam_unix.so"
	echo "account  required    $MODULE config=$T/c.conf debug"
	echo "account  required    pam_unix.so"
	echo "session  optional    pam_mkhomedir.so umask=0077"
	echo "session  required    pam_unix.so"
	echo "session  required    $MODULE config=$T/c.conf debug"
	echo "password required    pam_deny.so"
} > "$T/$SVC.pam"
sshd_lab_world_pam "$SVC" "$T/$SVC.pam"
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"

# --- sshd on loopback: keyboard-interactive ---------------------------------------------------
# the module's lines (test builds) from sshd's processes
AUTHGEAR_TEST_LOG="$T/module.log" sshd_start "$SVC"

sql() { sqlite3 -readonly -cmd ".timeout 10000" "$DB" "$1"; }
sessions() { sql "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'carol'"; }
col() { sql "SELECT t.$1 FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = 'carol'"; }
# live TOKEN: whether the IdP still takes the refresh token (a refresh grant, asked directly)
live() {
	st=$(curl -s --cacert "$CA_FILE" -o "$T/refresh.json" -w '%{http_code}' -d grant_type=refresh_token \
		--data-urlencode "refresh_token=$1" -d client_id=pam_authgear "$ISSUER/oauth2/token")
	[ "$st" = 200 ] && return 0
	grep -q invalid_grant "$T/refresh.json" || fail "refresh answered $st: $(cat "$T/refresh.json")"
	return 1
}
# wait_for WHAT CONDITION: poll the shell CONDITION for up to a minute (a loaded machine is
# slow, never wrong)
wait_for() {
	for _ in $(seq 600); do eval "$2" && return 0; sleep 0.1; done
	what=$1
	tail -20 "$T/sshd.log"; cat "$T/module.log" "$T/client.out" 2>/dev/null | tail -30; fail "timed out waiting: $what"
}

# --- an SSH login with a pty: the session recorded while connected -------------------------------
# ssh -tt: sshd allocates a pty and sets PAM_TTY to it before open_session. The remote shell
# prints its tty and waits for $T/release.
rm -f "$T/release"
SSH_TT=1 SSH_TIMEOUT=600 expect -f "$EXPECT" "$PORT" carol carol-password-1 000000 \
	"echo LOGGED-IN-TTY=\$(tty); while [ ! -e $T/release ]; do sleep 0.2; done; echo BYE" > "$T/client.out" 2>&1 &
CLIENT_PID=$!
wait_for "the shell to start" 'grep -q LOGGED-IN-TTY=/ "$T/client.out"'
wait_for "the session row" '[ "$(sessions)" = 1 ]'
TTY=$(sed -n 's|.*LOGGED-IN-TTY=\(/[^[:space:]]*\).*|\1|p' "$T/client.out" | head -1)
case $TTY in /dev/pts/*) ;; *) cat "$T/client.out"; fail "the remote shell has no pty ('$TTY')";; esac
row=$(sql "SELECT tty || ' ' || rhost FROM sessions")
# sshd opens the PAM session when the user is authenticated, before any channel asks for a pty:
# PAM_TTY is then sshd's "ssh" (the pty, $TTY, comes later); PAM_RHOST the client's address
[ "$row" = "ssh 127.0.0.1" ] || fail "the session row is '$row', want 'ssh 127.0.0.1' (PAM_TTY and PAM_RHOST as sshd set them)"
assert_contains "$T/module.log" "session: carol: opened (tty ssh, from 127.0.0.1" "open_session under sshd is logged"
pid=$(sql "SELECT pid FROM sessions")
tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "$SVC" || fail "the session's pid $pid is not one of sshd's processes"
pass "an SSH login (with a pty, $TTY) records its session: PAM_TTY ssh and PAM_RHOST 127.0.0.1 as sshd set them, the sshd process holding it (pid $pid)"
RT=$(col refresh_token)
[ -n "$RT" ] && live "$RT" || fail "no live refresh token cached while connected"
"$CLI" status --config "$T/c.conf" carol > "$T/status.out" 2>&1 || { cat "$T/status.out"; fail "status failed"; }
for w in "sessions       1" "pid $pid " "tty ssh " "from 127.0.0.1 "; do
	grep -qF -- "$w" "$T/status.out" || { cat "$T/status.out"; fail "status lacks '$w'"; }
done
grep -qF -- "$RT" "$T/status.out" && fail "status shows the refresh token"
pass "authgear-pam status shows the open SSH session (tty, from 127.0.0.1) while connected; the token is live"

# --- the client leaves: close_session removes it and revokes ------------------------------------
hook POST /counters/reset
touch "$T/release"
wait "$CLIENT_PID"; rc=$?; CLIENT_PID=
[ $rc = 0 ] && grep -q BYE "$T/client.out" || { cat "$T/client.out"; fail "the SSH session did not end cleanly ($rc)"; }
wait_for "the session to close" '[ "$(sessions)" = 0 ]'
wait_for "the cached tokens dropped" '[ -z "$(col refresh_token)" ]'
live "$RT" && fail "after the SSH session closed the refresh token still works at the IdP"
[ "$(curl -fsS "$HOOK_URL/counters" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)["/oauth2/revoke"]||0))')" = 1 ] ||
	{ curl -fsS "$HOOK_URL/counters"; fail "the logout did not make one revocation"; }
assert_contains "$T/module.log" "session: carol: closed; 0 other sessions open here" "sshd's close_session is logged"
assert_contains "$T/module.log" "refresh token revoked at Authgear" "the revocation is logged"
"$CLI" status --config "$T/c.conf" carol > "$T/status2.out" 2>&1
grep -q "^sessions  *0$" "$T/status2.out" && ! grep -q "tty ssh " "$T/status2.out" ||
	{ cat "$T/status2.out"; fail "status still lists the closed session"; }
pass "the SSH session's close removes it, and (revoke_on_logout, the last one) revokes the refresh token at the IdP and drops the cache"
