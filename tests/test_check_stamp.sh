#!/bin/bash
# Check stamps (src/accounts/stamp.h): an account check within
# account_check_cache answered without opening SQLite, through the real libpam
# (pam_wrapper) against the test IdP. What is asserted: the first check in
# the window writes the stamp and the next one uses it (no request, the
# database not opened: strace); any commit to the store, ours or the sqlite3
# shell's, makes the next check read the database again (a row changed to
# revoked by hand is refused at once); a stamp past the window, damaged,
# copied from another user, not root's alone or a symlink is not used; a
# replaced token_key_file is noticed.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
[ "$(id -u)" = 0 ] || skip "needs root (the store is root's)"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
command -v strace >/dev/null || skip "strace not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
P="$T/state/private"
DB="$P/accounts.db"

idp_start "$T/idp"
head -c 32 /dev/urandom > "$T/token.key"; chmod 0600 "$T/token.key"
write_config "$T/c.conf" "users = carol, bob" "max_attempts_per_minute = 1000" "require_mfa = no" \
	"account_check_cache = 200" "token_key_file = $T/token.key"
pam_service ag "auth required $MODULE config=$T/c.conf debug" "account required $MODULE config=$T/c.conf debug"

# run CASE USER OP [ANSWER...]: transcript in $T/CASE.out, log in $T/CASE.log
run() {
	c=$1 user=$2 op=$3; shift 3
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" ${STRACE:+strace -f -qq -e trace=openat -o "$T/$c.strace"} \
		"$DRIVER" ag "$user" "$op" "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
expect_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2"; }; }
stamped() { grep -q "(check stamp)" "$T/$1.log"; }
# check CASE USER: an account check that passes; "stamp" or "db": which answered
check() {
	run "$1" "$2" acct_mgmt
	expect_rc "$1" 0
	if [ "$3" = stamp ]; then
		stamped "$1" || { cat "$T/$1.log"; fail "$1: the check did not use the stamp"; }
	else
		! stamped "$1" || { cat "$T/$1.log"; fail "$1: the check used a stamp it must not trust"; }
	fi
}

run login carol authenticate carol-password-1
expect_rc login 0
[ ! -e "$P/checked-carol" ] || fail "a login wrote a stamp (only a check that read the row may)"
check c1 carol db
[ -f "$P/checked-carol" ] && [ "$(stat -c '%a %u %s' "$P/checked-carol")" = "600 0 152" ] ||
	fail "no stamp after the first check, or not root's 0600: $(stat -c '%a %u %s' "$P/checked-carol" 2>&1)"
hook POST /counters/reset >/dev/null
STRACE=1 check c2 carol stamp
[ "$(requests)" = 0 ] || fail "the stamped check made $(requests) requests"
grep -q "accounts.db-shm" "$T/c2.strace" || fail "the stamped check did not read the WAL-index header"
grep -q 'openat.*accounts\.db", O_RDWR' "$T/c2.strace" && fail "the stamped check opened the database with SQLite"
assert_contains "$T/c2.log" "account_check result=success requests=0" "the stamped check's audit line"
pass "the first check in the window writes a root-only stamp; the next is answered from it: no request, SQLite not opened"

# Any commit changes the fingerprint: the sqlite3 shell marking the row revoked.
sqlite3 "$DB" "UPDATE tokens SET check_result = 'revoked' WHERE user_id = (SELECT id FROM users WHERE name = 'carol')"
run c3 carol acct_mgmt
grep -q "Permission denied" "$T/c3.out" || { cat "$T/c3.out" "$T/c3.log"; fail "a row revoked by another SQLite client passed the check"; }
! stamped c3 || fail "c3 used the stamp"
[ ! -e "$P/checked-carol" ] || fail "the refused check left the stamp"
pass "a row changed by another SQLite client (revoked) is refused at the next check; the stamp is removed"

# Another user's login is a commit too: carol's stamp is not used, then renewed.
run login2 carol authenticate carol-password-1
expect_rc login2 0
check c4 carol db
check c5 carol stamp
totp_login loginb ag bob
check c6 carol db
check c7 carol stamp
pass "another user's login invalidates the stamp (any commit does); the next check renews it"

# Past the window: the stamp says nothing; a refresh at the IdP.
hook POST /counters/reset >/dev/null
AUTHGEAR_TEST_CLOCK_OFFSET=250 check c8 carol db
[ "$(requests)" = 1 ] || fail "the check past the window made $(requests) requests, want 1 (a refresh)"
pass "past account_check_cache the stamp is not used: one refresh"

# Damaged, copied, unsafe stamps are not used.
check c9 carol db
check c10 carol stamp
cp -p "$P/checked-carol" "$T/good.stamp"
printf '\001' | dd of="$P/checked-carol" bs=1 seek=9 conv=notrunc status=none
check c11 carol db
cmp -s "$P/checked-carol" "$T/good.stamp" || fail "the damaged stamp was not rewritten"
check c12 carol stamp
pass "a damaged stamp (one byte) is not used, and the next database read rewrites it"
sqlite3 "$DB" "UPDATE tokens SET refresh_token = NULL WHERE user_id = (SELECT id FROM users WHERE name = 'bob')"
run b1 bob acct_mgmt
grep -q "Permission denied" "$T/b1.out" || { cat "$T/b1.out" "$T/b1.log"; fail "bob without a token passed"; }
# carol's stamp for the database as it is now, copied to bob
check c13 carol db
check c14 carol stamp
cp -p "$P/checked-carol" "$P/checked-bob"
run b2 bob acct_mgmt
grep -q "Permission denied" "$T/b2.out" || { cat "$T/b2.out" "$T/b2.log"; fail "carol's stamp let bob in"; }
! stamped b2 || fail "b2 used carol's stamp"
pass "a stamp copied from another user's file is not that user's"
check c15 carol stamp
chmod 0644 "$P/checked-carol"
check c16 carol db
[ "$(stat -c %a "$P/checked-carol")" = 600 ] || fail "the stamp was rewritten with mode $(stat -c %a "$P/checked-carol")"
chown 1:1 "$P/checked-carol"
check c17 carol db
[ "$(stat -c %u "$P/checked-carol")" = 0 ] || fail "the stamp was rewritten not root's"
rm -f "$P/checked-carol"; : > "$T/target"; ln -s "$T/target" "$P/checked-carol"
check c18 carol db
[ -s "$T/target" ] && fail "the stamp was written through a symlink"
[ -L "$P/checked-carol" ] && fail "the symlink stays"
check c19 carol db
check c19b carol stamp
pass "a stamp another user could have written (mode 0644, not root's) or a symlink is not used; the check writes its own"

# A torn or foreign WAL-index header: not trusted (SQLite rebuilds it at its next open).
printf '\377' | dd of="$DB-shm" bs=1 seek=60 conv=notrunc status=none
check c20 carol db
check c21 carol stamp
pass "a WAL-index header whose two copies differ is not trusted"

# token_key_file replaced with another key: the check reads the database, which refuses.
head -c 32 /dev/urandom > "$T/token.key.new"; chmod 0600 "$T/token.key.new"; mv "$T/token.key.new" "$T/token.key"
run c22 carol acct_mgmt
grep -q "Permission denied" "$T/c22.out" || { cat "$T/c22.out" "$T/c22.log"; fail "a replaced token key passed the stamped check"; }
! stamped c22 || fail "c22 used the stamp"
assert_contains "$T/c22.log" "does not open with token_key_file" "the replaced key: the database's reason"
pass "a replaced token_key_file is noticed: the check reads the database, which refuses"
