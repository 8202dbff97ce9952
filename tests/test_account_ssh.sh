#!/bin/bash
# Public-key logins (issue 13): sshd skips PAM auth, so pam_sm_acct_mgmt is
# the only gate. A real sshd on loopback in a private mount namespace
# (testing-pam.md §5; the world of test_ssh_accounts.sh): the NSS module in
# the system library directory, a private PAM service whose account stack
# is Debian's pam-configs line (account required pam_authgear.so) before
# pam_unix, state_dir at /var/lib/authgear.
#
# Checks: a key login with no cached token is refused; an SSH password
# login (keyboard-interactive, with its account check) fills the cache; a key
# login is then allowed (within account_check_cache: no request; outside it:
# one refresh); after the user is disabled at the IdP it is refused. The
# IdP's request counts of each login are printed for the report.
. "$abs_top_srcdir/tests/lib.sh"
sshd_test_begin sqlite3
new_tmpdir
EXPECT="$abs_top_srcdir/tests/tools/ssh_login.exp"
SVC=sshd-lab
DB=/var/lib/authgear/private/accounts.db

idp_start "$T/idp"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2" > /dev/null; }
requests() { curl -fsS "$HOOK_URL/counters" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }

# --- the private world --------------------------------------------------------------
mkdir -p "$T/keys"
write_config "$T/c.conf" "users = carol" "require_mfa = no" "timeout = 10" "home = $T/home/%u" "shell = /bin/bash" \
	"[roles]" "unix-user = authgear-users"
sed -i "s|^state_dir = .*|state_dir = /var/lib/authgear|" "$T/c.conf"
acct_line=$(awk '/^Account:/ {f = 1; next} /^[A-Z]/ {f = 0} f && NF {$1 = $1; print; exit}' "$abs_top_srcdir/debian/pam-configs/authgear")
[ -n "$acct_line" ] || fail "debian/pam-configs/authgear has no account line"
{
	lab_auth_line
	echo "auth     required    pam_unix.so"
	echo "account ${acct_line/pam_authgear.so/$MODULE config=$T/c.conf debug}"
	echo "account  required    pam_unix.so"
	echo "session  optional    pam_mkhomedir.so umask=0077"
	echo "session  required    pam_unix.so"
	echo "password required    pam_deny.so"
} > "$T/$SVC.pam"
grep -q "^account .*default=bad.* $MODULE config=" "$T/$SVC.pam" || { cat "$T/$SVC.pam"; fail "the account line"; }
sshd_lab_world_pam "$SVC" "$T/$SVC.pam"
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"

# carol's key
ssh-keygen -q -t ed25519 -N '' -f "$T/carol_key"
cp "$T/carol_key.pub" "$T/keys/carol"
chmod 0644 "$T/keys/carol"

# --- sshd on loopback: a key or keyboard-interactive -----------------------------------------
# the module's lines (test builds) from sshd's processes
AUTHGEAR_TEST_LOG="$T/module.log" sshd_start "$SVC" "AuthenticationMethods publickey keyboard-interactive" "PubkeyAuthentication yes" \
	"AuthorizedKeysFile $T/keys/%u" "StrictModes no"

# key_login CASE: a public-key login running `echo KEY-IN; id`; status in $T/CASE.rc
key_login() {
	set +e
	timeout 60 ssh -p "$PORT" -i "$T/carol_key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -o PreferredAuthentications=publickey \
		carol@127.0.0.1 'echo KEY-IN; id' > "$T/$1.out" 2>&1
	echo $? > "$T/$1.rc"
	set -e
}
age_check() { # the last check two minutes ago: outside account_check_cache (60)
	sqlite3 "$DB" "UPDATE tokens SET checked_at = checked_at - 120, check_ok_at = check_ok_at - 120"
}
refused() { # refused CASE: the key was accepted, PAM's account phase refused
	[ "$(cat "$T/$1.rc")" != 0 ] || { cat "$T/$1.out"; fail "$1: key login allowed"; }
	if grep -q KEY-IN "$T/$1.out"; then fail "$1: a session ran"; fi
	[ "$(grep -c 'Access denied for user carol by PAM account configuration' "$T/sshd.log")" -gt "$2" ] ||
		{ tail -20 "$T/sshd.log"; fail "$1: sshd did not log the account refusal"; }
}

# --- no cached token: refused ----------------------------------------------------------------
hook POST /counters/reset
key_login nokey
refused nokey 0
[ "$(requests)" = 0 ] || fail "a refusal for want of a token asked the IdP"
pass "public-key login with no cached token: refused by the account phase, zero requests"

# --- SSH password login with its account check --------------------------------------------------
hook POST /counters/reset
set +e
expect -f "$EXPECT" "$PORT" carol carol-password-1 000000 "echo LOGGED-IN" > "$T/pw.out" 2>&1; rc=$?
set -e
[ $rc = 0 ] && grep -q LOGGED-IN "$T/pw.out" || { cat "$T/pw.out"; tail -20 "$T/sshd.log"; fail "password login ($rc)"; }
N_PW=$(requests)
curl -fsS "$HOOK_URL/counters" > "$T/pw.counters"
echo "COUNT ssh password login with account check: $N_PW HTTPS requests $(cat "$T/pw.counters")"
[ "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1]))["/oauth2/token"])' "$T/pw.counters")" = 1 ] ||
	fail "the password login's account check made its own token request (want only the code exchange)"
pass "SSH password login: the account check within the cache window adds no request"

# --- key login while the cached session is valid ------------------------------------------------
hook POST /counters/reset
key_login key1
[ "$(cat "$T/key1.rc")" = 0 ] && grep -q KEY-IN "$T/key1.out" || { cat "$T/key1.out"; tail -20 "$T/sshd.log"; fail "key login refused"; }
grep -q 'groups=.*authgear-users' "$T/key1.out" || { cat "$T/key1.out"; fail "key login: groups"; }
echo "COUNT public-key login within account_check_cache: $(requests) HTTPS requests"
[ "$(requests)" = 0 ] || fail "a key login within the cache window asked the IdP"
age_check
hook POST /counters/reset
key_login key2
[ "$(cat "$T/key2.rc")" = 0 ] && grep -q KEY-IN "$T/key2.out" || { cat "$T/key2.out"; fail "key login (outside the window) refused"; }
echo "COUNT public-key login outside account_check_cache (refresh): $(requests) HTTPS requests $(curl -fsS "$HOOK_URL/counters")"
[ "$(requests)" = 1 ] || fail "a key login outside the window: want one refresh"
pass "public-key login with a valid cached session: allowed (0 requests in the window, 1 outside)"
assert_contains "$T/sshd.log" "Accepted publickey for carol" "sshd accepted carol's key"

# --- disabled at the IdP: refused ----------------------------------------------------------------
hook POST /users/carol/disable '{}'
age_check
# The revocation's "revoked" mark cannot be written (a trigger refuses
# new token rows; the drop still deletes): the refusal stands and says so.
sqlite3 "$DB" "CREATE TRIGGER no_mark BEFORE INSERT ON tokens BEGIN SELECT RAISE(ABORT, 'test: no mark'); END"
key_login key3
refused key3 1
assert_contains "$T/module.log" "account: carol: cannot record the revocation" "a failed write of the revocation mark is logged"
sqlite3 "$DB" "DROP TRIGGER no_mark"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM tokens WHERE refresh_token IS NOT NULL")" = 0 ] || fail "tokens kept after the refusal"
pass "public-key login after the user is disabled at the IdP: refused, the cache dropped"
hook POST /users/carol/enable
key_login key4
refused key4 2
pass "re-enabled at the IdP, no new password login: the key is still refused"
