#!/bin/bash
# First SSH login of an Authgear user who exists in no local file: a real
# sshd on loopback with a private PAM service (sshd-lab: the shipped example
# stack of pam.d/sshd with pam_unix's account stack, plus pam_mkhomedir for
# the session), the NSS module
# answering glibc in sshd and in the user's session, password + TOTP over
# keyboard-interactive (testing-pam.md §5).
#
# Everything runs in a private mount namespace, so nothing changes outside
# it: overlays put libnss_authgear.so.2 into the system library directory,
# the sshd-lab service into /etc/pam.d and state_dir at /var/lib/authgear
# (where the NSS module looks without any environment variable, as in the
# user's session); a bind mount gives a private nsswitch.conf.
#
# Checks: the provisional entry sshd sees before PAM runs; the deterministic
# UID (the golden value of the hash) and the groups of the user's roles from
# `id` inside the session; an unlisted unknown name refused with no request
# to the IdP; a role removed at the IdP drops its group at the next login.
. "$abs_top_srcdir/tests/lib.sh"
sshd_test_begin
new_tmpdir
EXPECT="$abs_top_srcdir/tests/tools/ssh_login.exp"
SVC=sshd-lab

idp_start "$T/idp"

# --- the private world --------------------------------------------------------------
unmount_all() { umount -l /etc/nsswitch.conf /etc/pam.d /var/lib "${LIBDIR:-}" 2>/dev/null; return 0; }
CLEANUP_HOOKS="$CLEANUP_HOOKS unmount_all"
write_config "$T/c.conf" "users = alice, dev-*" "timeout = 10" "home = $T/home/%u" "shell = /bin/bash" \
	"[roles]" "unix-admin = authgear-admins" "unix-user = authgear-users, users"
sed -i "s|^state_dir = .*|state_dir = /var/lib/authgear|" "$T/c.conf"
# sshd-lab: the auth line of the shipped pam.d/sshd with pam_unix after it (what its
# common-auth holds), pam_unix's account stack, and the README's
# pam_mkhomedir line.
sshd_lab_world "$SVC"

# The admin's first step after configuring: the index, so sshd can see
# allow-listed names before their first login.
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"
[ "$(stat -c %a /var/lib/authgear/nss.index)" = 644 ] || fail "index mode"

# --- sshd on loopback ------------------------------------------------------------------
# (sshd runs PAM authentication with an empty environment, so the module's
# lines go to syslog only; the assertions use sshd's log and the IdP's counters.)
sshd_start "$SVC"

# --- before the first login: the provisional entry sshd sees ------------------------------
UID_ALICE=2102120105 # the hash of "alice" in the default uid_range 2001000000-2147000000 (golden value)
getent passwd alice > "$T/prov"
[ "$(cat "$T/prov")" = "alice:*:$UID_ALICE:$UID_ALICE::$T/home/alice:/bin/bash" ] || { cat "$T/prov"; fail "provisional entry"; }
if getent passwd | grep -q '^alice:'; then fail "getpwent lists a provisional entry"; fi
pass "before the first login alice resolves to a provisional entry (first candidate UID), not enumerated"

# --- an unlisted unknown name: refused, no request to the IdP -------------------------------
hook POST /counters/reset > /dev/null
set +e
expect -f "$EXPECT" "$PORT" mallory "whatever" 000000 "echo LOGGED-IN; id" > "$T/mallory.out" 2>&1; rc=$?
set -e
[ $rc = 1 ] || { cat "$T/mallory.out"; fail "mallory: want denied (1), got $rc"; }
# (the Password: prompt mallory sees is pam_unix's, the local fallback)
if grep -q "Verification code" "$T/mallory.out"; then fail "mallory reached pam_authgear's prompts"; fi
[ "$(requests)" = 0 ] || { hook GET /counters; fail "an unknown name reached the IdP"; }
assert_contains "$T/sshd.log" "Failed keyboard-interactive/pam for invalid user mallory" "sshd refused mallory"
pass "an unlisted unknown name is refused with zero requests to the IdP"

# --- first login: password + TOTP, then id inside the session --------------------------------
PW=$(password alice)
login_alice() {
	set +e
	expect -f "$EXPECT" "$PORT" alice "$PW" "$(totp alice)" "echo LOGGED-IN; id; pwd" > "$T/$1.out" 2>&1
	rc=$?
	[ $rc = 0 ] || { cat "$T/$1.out"; tail -20 "$T/sshd.log"; fail "$1: ssh login failed ($rc)"; }
	set -e
	tr -d '\r' < "$T/$1.out" > "$T/$1.txt"
	grep -q '^LOGGED-IN$' "$T/$1.txt" || { cat "$T/$1.txt"; fail "$1: no session"; }
}
login_alice first
G_ADMINS=$(getent group authgear-admins | cut -d: -f3)
G_USERS=$(getent group authgear-users | cut -d: -f3)
USERS_GID=$(getent group users | cut -d: -f3)
[ -n "$G_ADMINS" ] && [ -n "$G_USERS" ] && [ -n "$USERS_GID" ] || fail "groups after the first login"
# id: the primary group, then the others as the kernel keeps them (by number).
groups_of() { printf '%s\n' "$@" | sort -n | paste -sd, -; }
WANT="uid=$UID_ALICE(alice) gid=$UID_ALICE(alice) groups=$UID_ALICE(alice),$(groups_of "$G_ADMINS(authgear-admins)" \
	"$G_USERS(authgear-users)" "$USERS_GID(users)")"
grep -qxF "$WANT" "$T/first.txt" || { cat "$T/first.txt"; fail "id in the session: want $WANT"; }
pass "first SSH login: id in the session shows the deterministic UID and the groups of alice's roles"
grep -qxF "$T/home/alice" "$T/first.txt" || { cat "$T/first.txt"; fail "home"; }
[ "$(stat -c %u "$T/home/alice")" = "$UID_ALICE" ] || fail "home not owned by alice"
pass "pam_mkhomedir made the home from the template, owned by alice"
assert_contains "$T/sshd.log" "Accepted keyboard-interactive/pam for alice" "sshd accepted alice (pam_unix account with '*')"
getent passwd | grep -q "^alice:\*:$UID_ALICE:" || fail "alice not enumerated after her first login"
getent group users | grep -q "alice" || fail "glibc merge: the host group users lacks alice"
pass "after the login: alice enumerated, and in the host group users through the merge"

# --- a role removed at the IdP: the group goes at the next login --------------------------------
hook POST /users/alice/roles '{"roles":["unix-user"]}' > /dev/null
login_alice second
WANT2="uid=$UID_ALICE(alice) gid=$UID_ALICE(alice) groups=$UID_ALICE(alice),$(groups_of "$G_USERS(authgear-users)" \
	"$USERS_GID(users)")"
grep -qxF "$WANT2" "$T/second.txt" || { cat "$T/second.txt"; fail "after the role removal: want $WANT2"; }
if getent group authgear-admins | grep -q alice; then fail "alice still listed in authgear-admins"; fi
[ "$(getent group authgear-admins | cut -d: -f3)" = "$G_ADMINS" ] || fail "the group's GID changed"
pass "the role removed at Authgear: authgear-admins dropped at the next login, its GID kept"
"$CLI" users --config "$T/c.conf" > "$T/users"
grep -qE "^alice +$UID_ALICE +authgear-users,users " "$T/users" || { cat "$T/users"; fail "authgear-pam users"; }
pass "authgear-pam users shows alice's UID and current groups"
