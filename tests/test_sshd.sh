#!/bin/bash
# A real sshd on loopback (keyboard-interactive) with a private PAM service
# stacking pam_authgear before pam_unix: an allow-listed local account logs
# in with password + TOTP from the test IdP, and a pam_unix user with a local
# password still logs in through the same stack. Everything under /etc that
# the test needs is bind-mounted in a private mount namespace.
. "$abs_top_srcdir/tests/lib.sh"
sshd_test_begin
new_tmpdir
idp_start "$T/idp"
write_config "$T/c.conf" "users = alice"

# Private /etc: passwd/shadow/group with two local users, and a pam.d with
# our service: pam_authgear for Authgear users; PAM_IGNORE for everyone
# else, who go on to pam_unix.
private_etc_users alice:64001 localpw:64002:local-secret-1
private_pam_service sshd-ag "[success=done ignore=ignore default=die]"
sshd_start sshd-ag

EXP="$abs_top_srcdir/tests/tools/ssh_login.exp"
WHO='echo LOGGED-IN-AS-$(id -un)'
expect -f "$EXP" "$PORT" alice "$(password alice)" "$(totp alice)" "$WHO" > "$T/alice.out" 2>&1 \
	|| { cat "$T/alice.out" "$T/sshd.log"; fail "alice over ssh"; }
assert_contains "$T/alice.out" "LOGGED-IN-AS-alice" "alice logged in over sshd with password + TOTP"
assert_contains "$T/alice.out" "Verification code:" "sshd showed the code prompt"
assert_contains "$T/sshd.log" "Accepted keyboard-interactive/pam for alice from 127.0.0.1" "sshd accepted alice through PAM"

if expect -f "$EXP" "$PORT" alice "wrong-password" 000000 "$WHO" > "$T/alice-bad.out" 2>&1; then fail "alice with a wrong password"; fi
# OpenSSH shows PAM messages only together with a next prompt: the final
# "Incorrect password or code." never reaches an ssh client (README, Troubleshoot).
assert_contains "$T/alice-bad.out" "Permission denied" "a wrong password is refused"
assert_contains "$T/sshd.log" "Failed keyboard-interactive/pam for alice" "sshd logged the failure"

hook POST /counters/reset >/dev/null
expect -f "$EXP" "$PORT" localpw local-secret-1 - "$WHO" > "$T/local.out" 2>&1 \
	|| { cat "$T/local.out" "$T/sshd.log"; fail "pam_unix user over ssh"; }
assert_contains "$T/local.out" "LOGGED-IN-AS-localpw" "a pam_unix user still logs in through the same stack"
n=$(requests)
[ "$n" = 0 ] || fail "the pam_unix login made $n requests at the IdP"
pass "the pam_unix login made no request at the IdP"

hook POST /counters/reset >/dev/null
expect -f "$EXP" "$PORT" nosuchuser whatever - "$WHO" > "$T/nosuch.out" 2>&1; rc=$?
# 1 is expect's "Permission denied": sshd answered and refused (not a timeout, 2, or ssh's 255).
[ $rc = 1 ] || { cat "$T/nosuch.out" "$T/sshd.log"; fail "an unknown user: want denied (1), got $rc"; }
if grep -q "Verification code" "$T/nosuch.out"; then fail "an unknown user reached pam_authgear's prompts"; fi
assert_contains "$T/sshd.log" "Failed keyboard-interactive/pam for invalid user nosuchuser from 127.0.0.1" "sshd answered and refused the unknown user"
n=$(requests)
[ "$n" = 0 ] || fail "an unknown name made $n requests at the IdP"
pass "an unknown name over ssh: refused without a request at the IdP"
