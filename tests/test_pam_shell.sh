#!/bin/sh
# pam_authgear.so through a real libpam (pam_wrapper + pamtester, private
# service directory): it loads, logs its reasons, fails closed, and local
# accounts keep working when its configuration is broken.
. "$abs_top_srcdir/tests/lib.sh"
[ -f /usr/lib/x86_64-linux-gnu/libpam_wrapper.so ] || ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
new_tmpdir

# 1. Configured, the IdP unreachable: an allow-listed user is asked for the
#    password, then told in one line; the reason is logged.
write_config "$T/ok.conf" "users = alice" "connect_timeout = 1"
pam_service ag "auth required $MODULE config=$T/ok.conf" "account required $MODULE config=$T/ok.conf"
set +e
echo secret | run_pamtester ag alice authenticate; rc=$?
set -e
[ $rc -ne 0 ] || fail "authenticate succeeded with the IdP unreachable"
assert_contains "$T/out" "Cannot reach the sign-in service; try again later." "the person is told in one line"
assert_contains "$T/module.log" "Couldn't connect to server" "the reason is logged"

# 2. Broken configuration: denied, with the file:line reason in the log.
write_config "$T/bad.conf" "timeout = forever"
pam_service ag "auth required $MODULE config=$T/bad.conf"
set +e
echo | run_pamtester ag alice authenticate; rc=$?
set -e
[ $rc -ne 0 ] || fail "authenticate succeeded with a broken config"
assert_contains "$T/module.log" "err $T/bad.conf:6: timeout: must be a whole number of seconds from 1 to 300" "config error logged with file:line"
assert_not_contains "$T/out" "Password" "no prompt with a broken configuration"

# 3. Unsafe permissions: denied and logged.
write_config "$T/perm.conf"
chmod 0666 "$T/perm.conf"
pam_service ag "auth required $MODULE config=$T/perm.conf"
set +e
echo | run_pamtester ag alice authenticate; rc=$?
set -e
[ $rc -ne 0 ] || fail "authenticate succeeded with a world-writable config"
assert_contains "$T/module.log" "mode 0666 is writable by group or others" "unsafe mode logged"

# 4. Local accounts keep working when our config is missing or broken: the
#    stack line of pam.d/sshd, before a local module that succeeds (pam_permit
#    stands in for pam_unix).
pam_service local "auth [success=done ignore=ignore default=die] $MODULE config=$T/absent.conf" \
	"auth required pam_permit.so" "account required pam_permit.so"
echo | run_pamtester local root authenticate acct_mgmt || { cat "$T/out"; fail "local login broke with our config missing"; }
assert_contains "$T/out" "successfully authenticated" "local login still works"
assert_contains "$T/module.log" "$T/absent.conf: file not found" "missing config logged"
pam_service local "auth [success=done ignore=ignore default=die] $MODULE config=$T/perm.conf" \
	"auth required pam_permit.so"
echo | run_pamtester local root authenticate || { cat "$T/out"; fail "local login broke with our config unsafe"; }
pass "local login still works with an unsafe config"

# 5. Unknown module arguments are logged, not fatal.
#    The login goes on: the password prompt, then the attempt to reach the
#    (unreachable) IdP, as in case 1.
pam_service ag "auth required $MODULE config=$T/ok.conf frobnicate"
: > "$T/module.log"
set +e
echo secret | run_pamtester ag alice authenticate
set -e
assert_contains "$T/module.log" "unknown module argument 'frobnicate' ignored" "unknown argument logged"
assert_contains "$T/out" "Password: " "the login goes on past an unknown argument (password prompt)"
assert_contains "$T/module.log" "Couldn't connect to server" "the login went on to the IdP after an unknown argument"

# 6. An unknown key is logged and fails Authgear users (a typo must not drop a
# rule, issue 11; tests/test_security.sh has the rest).
write_config "$T/future.conf" "future_key = 1" "users = alice" "connect_timeout = 1"
pam_service ag "auth required $MODULE config=$T/future.conf"
set +e
echo secret | run_pamtester ag alice authenticate
set -e
assert_contains "$T/module.log" "$T/future.conf:6: unknown key 'future_key' ignored" "unknown key logged and ignored"
assert_not_contains "$T/out" "Password: " "no prompt with an unknown key"
assert_contains "$T/out" "Authentication service cannot retrieve authentication info" "an unknown key fails an Authgear user"
