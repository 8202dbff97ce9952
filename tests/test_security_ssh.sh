#!/bin/bash
# Issue 11 over a real sshd on loopback and a real sudo, in a private mount
# namespace (testing-pam.md §5, §6, §7.4), with `users = alice, *`:
#
# - High 2: a host account (UID >= 1000, in group sudo, a local password)
#   matched only by the pattern is not pam_authgear's: PAM_IGNORE, no
#   prompt of ours, zero requests to the IdP, and it still signs in with its
#   local password through pam_unix.
# - High 1: an Authgear user named like a host group (sudo) matched only by
#   the pattern ends with PAM_IGNORE and zero requests (pam_unix then refuses
#   it), and `sudo -l -U sudo` grants nothing; the host account in group
#   sudo is granted, so the rule is live.
# - Low (provisional entries): a name only the pattern matches resolves for
#   sshd (its lookup before PAM runs) but not for getent/useradd; a name
#   listed by itself resolves everywhere (today's behaviour); the pattern
#   name's first SSH login works.
# - Low (uid_range): that first login's UID is outside SSSD's default
#   id-mapping range and systemd's documented ranges.
. "$abs_top_srcdir/tests/lib.sh"
sshd_test_begin sudo visudo
new_tmpdir
EXPECT="$abs_top_srcdir/tests/tools/ssh_login.exp"
SVC=sshd-lab

# The IdP's users plus one whose login ID is "sudo" (anyone could pick that
# username on a project with open sign-up).
node -e '
const f = JSON.parse(require("fs").readFileSync(process.argv[1]));
const bob = f.users.find(u => u.username === "bob");
f.users.push({ ...bob, username: "sudo", sub: "5d0c0de5-0000-4000-8000-00000000005d", email: "sudo@example.com",
	password: "sudo-password-1", totp_secret: "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U" });
require("fs").writeFileSync(process.argv[2], JSON.stringify(f));' "$IDP_DIR/fixtures/users.json" "$T/users.json"
idp_start "$T/idp" --users "$T/users.json"

# --- the private world --------------------------------------------------------------
unmount_all() {
	umount -l /etc/nsswitch.conf /etc/passwd /etc/shadow /etc/group /etc/sudoers /etc/pam.d /var/lib "${LIBDIR:-}" \
		2>/dev/null
	return 0
}
CLEANUP_HOOKS="$CLEANUP_HOOKS unmount_all"
mkdir -p "$T/home"
write_config "$T/c.conf" "users = alice, *" "timeout = 10" "home = $T/home/%u" "shell = /bin/bash" \
	"[roles]" "unix-admin = authgear-admins" "unix-user = authgear-users"
sed -i "s|^state_dir = .*|state_dir = /var/lib/authgear|" "$T/c.conf"
# A host account: UID 1500, in group sudo, with a local password.
HOST_PW=host-local-password-1
cp /etc/passwd "$T/passwd"; cp /etc/shadow "$T/shadow"; cp /etc/group "$T/group"
echo "hostacct:x:1500:1500::$T/home/hostacct:/bin/bash" >> "$T/passwd"
echo "hostacct:$(openssl passwd -6 "$HOST_PW"):20000:0:99999:7:::" >> "$T/shadow"
echo "hostacct:x:1500:" >> "$T/group"
sed -i -E 's/^(sudo:x:27:)(.*)$/\1\2,hostacct/; s/^(sudo:x:27:),/\1/' "$T/group"
mkdir -m 0700 "$T/home/hostacct" && chown 1500:1500 "$T/home/hostacct"
printf 'Defaults !fqdn, !lecture, passwd_tries=1\nroot ALL=(ALL:ALL) ALL\n%%sudo ALL=(ALL:ALL) ALL\n' > "$T/sudoers"
chmod 0440 "$T/sudoers"
visudo -cf "$T/sudoers" > /dev/null || fail "sudoers does not parse"
ETC_BIND="passwd shadow group sudoers" sshd_lab_world "$SVC"
getent group sudo | grep -q hostacct || fail "hostacct not in group sudo"
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"

# --- sshd on loopback ------------------------------------------------------------------
sshd_start "$SVC"

# ssh_as NAME PASSWORD CODE OUT: rc in $rc, client output in $T/OUT.txt
ssh_as() {
	set +e
	expect -f "$EXPECT" "$PORT" "$1" "$2" "$3" "echo LOGGED-IN; id" > "$T/$4.out" 2>&1
	rc=$?
	set -e
	tr -d '\r' < "$T/$4.out" > "$T/$4.txt"
}

# --- High 2: the pattern-matched host account keeps its local password ------------------------
hook POST /counters/reset > /dev/null
ssh_as hostacct "$HOST_PW" 000000 host
[ $rc = 0 ] && grep -q '^LOGGED-IN$' "$T/host.txt" || { cat "$T/host.txt"; tail -20 "$T/sshd.log"; fail "hostacct: local password login failed ($rc)"; }
grep -q '^uid=1500(hostacct) gid=1500(hostacct) groups=1500(hostacct),27(sudo)$' "$T/host.txt" \
	|| { cat "$T/host.txt"; fail "hostacct's session is not its own host account"; }
if grep -q "Verification code" "$T/host.txt"; then fail "hostacct reached pam_authgear's prompts"; fi
[ "$(requests)" = 0 ] || { hook GET /counters; fail "the host account's login reached the IdP"; }
if "$CLI" users --config "$T/c.conf" | grep -q '^hostacct '; then fail "hostacct is in the store"; fi
pass "High 2: a pattern-matched host account: zero IdP requests, signed in with its local password, its own UID"

# --- High 1: the Authgear user named like the host group sudo ---------------------------------
hook POST /counters/reset > /dev/null
ssh_as sudo sudo-password-1 "$(totp sudo)" grp
[ $rc = 1 ] || { cat "$T/grp.txt"; fail "sudo (an Authgear login ID named like a host group): want denied, got $rc"; }
if grep -q "Verification code" "$T/grp.txt"; then fail "the group-named user reached pam_authgear's prompts"; fi
[ "$(requests)" = 0 ] || { hook GET /counters; fail "the group-named user's login reached the IdP"; }
if "$CLI" users --config "$T/c.conf" | grep -q '^sudo '; then fail "sudo is bound in the store"; fi
pass "High 1: a pattern-matched name of a host group: PAM_IGNORE (pam_unix refuses), zero IdP requests, not bound"

sudo -l -U hostacct > "$T/sudo-host.out" 2>&1 || true
assert_contains "$T/sudo-host.out" "(ALL : ALL) ALL" "sudo's %sudo rule is live (hostacct, a member, is granted)"
sudo -l -U sudo > "$T/sudo-grp.out" 2>&1 || true
assert_not_contains "$T/sudo-grp.out" "(ALL" "High 1: sudo -l -U sudo grants nothing"
if getent group "$(getent passwd sudo | cut -d: -f4)" | grep -q '^sudo:'; then
	fail "a GID of the user sudo is named sudo"
fi
pass "High 1: no GID of ours is named sudo"

# --- Low: provisional entries for pattern matches only to sshd ------------------------------------
UID_ALICE_PROV=$(getent passwd alice | cut -d: -f3)
[ -n "$UID_ALICE_PROV" ] || fail "alice (listed by name) has no provisional entry outside sshd"
if getent passwd bob > "$T/bob-prov"; then cat "$T/bob-prov"; fail "bob (a pattern match) resolves outside sshd before its first login"; fi
if id bob > /dev/null 2>&1; then fail "id bob resolves before its first login"; fi
pass "provisional entries: a listed name resolves everywhere, a pattern match not outside sshd (useradd sees it free)"

hook POST /counters/reset > /dev/null
ssh_as bob bob-password-1 "$(totp bob)" bob
[ $rc = 0 ] && grep -q '^LOGGED-IN$' "$T/bob.txt" || { cat "$T/bob.txt"; tail -20 "$T/sshd.log"; fail "bob's first SSH login by the pattern failed ($rc)"; }
assert_contains "$T/sshd.log" "Accepted keyboard-interactive/pam for bob" "a pattern match's first SSH login (sshd saw the provisional entry)"

# --- Low: the default uid_range ----------------------------------------------------------------
UID_BOB=$(sed -n 's/^uid=\([0-9]*\)(bob).*/\1/p' "$T/bob.txt")
[ -n "$UID_BOB" ] || { cat "$T/bob.txt"; fail "no uid in bob's session"; }
# SSSD's default id-mapping range 200000-2000200000; systemd: 60001-60513 homed, 61184-65519
# dynamic, 524288-1879048191 containers, 2147352576-2147418111 foreign, >= 2^31 unsafe.
in_range() { [ "$UID_BOB" -ge "$1" ] && [ "$UID_BOB" -le "$2" ]; }
for r in "200000 2000200000" "60001 60513" "61184 65519" "524288 1879048191" "2147352576 4294967295"; do
	if in_range $r; then fail "bob's UID $UID_BOB lies in $r"; fi
done
pass "the default uid_range: bob's UID $UID_BOB overlaps neither SSSD's default nor systemd's ranges"
