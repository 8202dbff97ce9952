#!/bin/bash
# sudo reauthentication (issue 14) with the real sudo, in a private mount
# namespace (testing-pam.md §6): a private PAM service sudo-ag (pam.d/sudo's
# lines), a sudoers drop-in granting the role group authgear-admins, our
# NSS module in the library directory and nsswitch.conf (overlays and bind
# mounts: the host's files never change), state_dir /var/lib/authgear on an
# overlay, the test IdP over HTTPS. alice signs in with password + TOTP,
# then `sudo -S id -u` as alice asks "Verification code:" and prints 0.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (sudo, mount namespace)"
for t in sudo visudo setpriv unshare sqlite3; do command -v "$t" >/dev/null || skip "$t not installed"; done
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
! pgrep -x nscd >/dev/null || skip "nscd is running: it would cache the answers"
LIBDIR=$(dirname "$(ldd /bin/sh | awk '/libc\.so\.6/ {print $3}')")
if [ -z "${AG_IN_MOUNT_NS:-}" ]; then
	unshare --mount --propagation private true 2>/dev/null || skip "cannot create a mount namespace"
	host_state() { md5sum /etc/nsswitch.conf; ls /etc/sudoers.d /etc/pam.d | md5sum; ls -l "$LIBDIR/libnss_authgear.so.2" 2>&1; ls -ld /var/lib/authgear 2>&1; }
	before=$(host_state)
	unshare --mount --propagation private env AG_IN_MOUNT_NS=1 bash "$0" "$@"; rc=$?
	[ "$(host_state)" = "$before" ] || fail "the host's nsswitch.conf, sudoers.d, pam.d, library directory or /var/lib/authgear changed"
	exit $rc
fi
new_tmpdir
# Real NSS here (sudo is setuid: no nss_wrapper, no AUTHGEAR_* variables).
unset NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
DB=/var/lib/authgear/private/accounts.db

# --- the private world ------------------------------------------------------------------
overlay() { mkdir -p "$2" "$2.work"; mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$2.work" "$1" || fail "overlay on $1"; }
mkdir -p "$T/ov/lib"
install -m 0644 "$NSS_MODULE" "$T/ov/lib/libnss_authgear.so.2"
overlay "$LIBDIR" "$T/ov/lib"
overlay /var/lib "$T/ov/varlib"
rm -rf /var/lib/authgear
sed -E 's/^passwd:.*$/passwd:         files authgear/; s/^group:.*$/group:          files [SUCCESS=merge] authgear/' \
	/etc/nsswitch.conf > "$T/nsswitch.conf"
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
# sudo's timestamps of this run stay in the namespace
mkdir -p /run/sudo && mount -t tmpfs -o mode=0711 tmpfs /run/sudo
overlay /etc/sudoers.d "$T/ov/sudoers.d"
overlay /etc/pam.d "$T/ov/pam.d"

idp_start "$T/idp"
conf() { # conf EXTRA...: the module's configuration
	write_config "$T/c.conf" "users = alice, carol" "max_attempts_per_minute = 1000" "[roles]" "unix-admin = authgear-admins" "unix-user = authgear-users"
	sed -i "s|^state_dir = .*|state_dir = /var/lib/authgear|" "$T/c.conf"
	for l in "$@"; do sed -i "/^\[roles\]/i $l" "$T/c.conf"; done
}
conf
# pam.d/sudo's lines, with this test's configuration.
cat > /etc/pam.d/sudo-ag <<PAMD
auth     [success=done ignore=ignore default=die module_unknown=ignore]  $MODULE config=$T/c.conf reauth
@include common-auth
account  [success=ok ignore=ignore default=die module_unknown=ignore]    $MODULE config=$T/c.conf
@include common-account
session  required  pam_permit.so
PAMD
cat > "$T/authgear" <<'EOF2'
Defaults:alice, carol pam_service=sudo-ag, timestamp_timeout=0, passwd_tries=1, lecture=never
%authgear-admins ALL=(ALL) /usr/bin/id
EOF2
visudo -cf "$T/authgear" >/dev/null || fail "the sudoers drop-in does not parse"
install -m 0440 "$T/authgear" /etc/sudoers.d/authgear
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"
getent passwd alice >/dev/null || fail "alice does not resolve through our NSS module"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
js() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(eval(process.argv[1]))})' "$1"; }
totp() { hook GET "/totp/$1?offset=${2:-0}" | js j.code; }
total() { hook GET /counters | js 'Object.values(j).reduce((a,b)=>a+b,0)'; }
pam() { # pam CASE USER OP ANSWERS...: the module through libpam (pam_wrapper), real NSS
	c=$1 user=$2 op=$3; shift 3
	timeout 60 env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" ag "$user" "$op" "$@" > "$T/$c.out" 2>&1 ||
		{ cat "$T/$c.out" "$T/$c.log"; fail "$c: rc $?"; }
	grep -q '^rc=0 ' "$T/$c.out" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: refused"; }
}
pam_service ag "auth required $MODULE config=$T/c.conf" "account required $MODULE config=$T/c.conf"
# sudo_as CASE USER ANSWERS...: `sudo -S id -u` as USER, answers on stdin; rc in $T/CASE.rc
sudo_as() {
	c=$1 user=$2; shift 2
	(cd /tmp && printf '%s\n' "$@" | timeout 60 setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups \
		sudo -S /usr/bin/id -u > "$T/$c.out" 2> "$T/$c.err"; echo $? > "$T/$c.rc")
}
sudo_ok() { [ "$(cat "$T/$1.rc")" = 0 ] && [ "$(tail -n1 "$T/$1.out")" = 0 ] || { cat "$T/$1.out" "$T/$1.err"; fail "$1: sudo did not run id as root"; }; }
sudo_refused() { [ "$(cat "$T/$1.rc")" != 0 ] && ! grep -qx 0 "$T/$1.out" || { cat "$T/$1.out" "$T/$1.err"; fail "$1: sudo ran"; }; }

# --- alice signs in (password + TOTP); her role unix-admin gives authgear-admins ----------
pam login alice authenticate alice-password-1 1 "$(totp alice)"
id -nG alice | grep -qw authgear-admins || fail "alice is not in authgear-admins: $(id -nG alice)"
sleep 1.1

# --- reauth_with = code -----------------------------------------------------------------------
hook POST /counters/reset >/dev/null
sudo_as code alice "$(totp alice 1)"
sudo_ok code
[ "$(cat "$T/code.err")" = "Verification code: " ] || { cat "$T/code.err"; fail "code: sudo asked something else"; }
pass "sudo -S id -u as alice asks 'Verification code:' and prints 0"
n=$(total)
[ "$n" = 4 ] || { hook GET /counters; fail "one sudo with reauthentication made $n requests, want 4 (account check within its cache window: 0)"; }
pass "one sudo: 4 requests at the IdP (the reauthentication), 0 for the account check"

sudo_as wrong alice 000000
sudo_refused wrong
assert_contains "$T/wrong.err" "Incorrect password or code." "a wrong code: the plain line"
assert_contains "$T/wrong.err" "1 incorrect password attempt" "a wrong code is refused by sudo"

# --- reauth_with = password, full ---------------------------------------------------------------
conf "reauth_with = password"
sudo_as pw alice alice-password-1
sudo_ok pw
# sudo shows its own prompt in place of PAM's "Password: " (passprompt_override off)
[ "$(cat "$T/pw.err")" = "[sudo] password for alice: " ] || { cat "$T/pw.err"; fail "password: sudo asked something else"; }
pass "reauth_with = password: sudo asks the password only ('[sudo] password for alice: ')"
conf "reauth_with = full"
sudo_as full alice alice-password-1 "$(totp alice -1)" # her last login completed TOTP: both prompts first
sudo_ok full
grep -q "^\[sudo\] password for alice: .*Verification code: $" "$T/full.err" || { cat "$T/full.err"; fail "full: not password then code"; }
pass "reauth_with = full: sudo asks the password and the code"
conf

# --- a stale auth_time, another user's sub ---------------------------------------------------------
hook POST /tokens/next-id-token "{\"grant_type\":\"authorization_code\",\"payload\":{\"auth_time\":$(( $(date +%s) - 150 ))}}" >/dev/null
sudo_as stale alice "$(totp alice 1)"
sudo_refused stale
assert_contains "$T/stale.err" "Authgear did not confirm a fresh sign-in" "a stale auth_time: sudo refused"
hook POST /tokens/next-id-token "{\"grant_type\":\"authorization_code\",\"payload\":{\"sub\":\"$(hook GET /users/bob | js j.sub)\"}}" >/dev/null
sudo_as other alice "$(totp alice 1)"
sudo_refused other
assert_contains "$T/other.err" "This user name is linked to another Authgear account." "another user's sub: sudo refused"

# --- targetpw: PAM_USER is the target user, not the invoking one: not supported, PAM_IGNORE ------------
{ cat "$T/authgear"; echo "Defaults:alice targetpw"; } > "$T/authgear.tp"
visudo -cf "$T/authgear.tp" >/dev/null || fail "the targetpw drop-in does not parse"
install -m 0440 "$T/authgear.tp" /etc/sudoers.d/authgear
hook POST /counters/reset >/dev/null
(cd /tmp && printf 'x\n' | timeout 60 setpriv --reuid=alice --regid="$(id -g alice)" --init-groups \
	sudo -S -u carol /usr/bin/id -u > "$T/tp.out" 2> "$T/tp.err"; echo $? > "$T/tp.rc")
install -m 0440 "$T/authgear" /etc/sudoers.d/authgear
sudo_refused tp
assert_not_contains "$T/tp.err" "Verification code" "targetpw: the module asks nothing"
[ "$(total)" = 0 ] || { hook GET /counters; fail "targetpw: the module made requests"; }
pass "targetpw (sudo -u carol, carol an Authgear user): PAM_IGNORE, no request; the next module asks"

# --- the role removed at the IdP: after the account check, the group rule no longer applies -------------
hook POST /users/alice/roles '{"roles":["unix-user"]}' >/dev/null
conf "account_check_cache = 0"
pam acct alice acct_mgmt
conf
id -nG alice | grep -qw authgear-admins && fail "alice kept authgear-admins after the account check: $(id -nG alice)"
sudo_as norole alice "$(totp alice 1)"
sudo_refused norole
grep -Eq "not in the sudoers file|not allowed to execute" "$T/norole.err" || { cat "$T/norole.err"; fail "norole: refused for another reason"; }
pass "the role removed at the IdP: after the account check the %authgear-admins rule no longer applies"
hook POST /users/alice/roles '{"roles":["unix-admin","unix-user"]}' >/dev/null
conf "account_check_cache = 0"
pam acct2 alice acct_mgmt
conf
sudo_as back alice "$(totp alice 1)"
sudo_ok back
pass "the role given back: sudo works again"

# --- a disabled user ------------------------------------------------------------------------------
hook POST /users/alice/disable '{}' >/dev/null
sudo_as disabled alice "$(totp alice 1)"
sudo_refused disabled
assert_contains "$T/disabled.err" "This account is disabled." "a disabled user: sudo refused with one line"
