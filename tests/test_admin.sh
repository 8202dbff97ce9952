#!/bin/sh
# The administrator's side of a login: `authgear-pam throttle [--clear]`
# after logins that failed through a real libpam; files the module and the
# CLI create are root:root even when the process runs with another group (a
# login under sudo); and a provisional entry (allow-listed, no login yet)
# answers getpwnam, getpwuid, getgrnam and getgrgid alike, through the real
# glibc in a private mount namespace.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (the store is root's; mount namespace)"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v setpriv >/dev/null || skip "setpriv missing"
new_tmpdir

# --- files are root:root, whatever the process's group ---------------------------
write_config "$T/c.conf" "users = alice, dana, dev-*" "connect_timeout = 1" "max_attempts_per_minute = 3"
setpriv --regid=65534 --clear-groups "$CLI" pin --config "$T/c.conf" dana 250000 > "$T/pin.out" 2>&1 ||
	{ cat "$T/pin.out"; fail "pin"; }
pam_service ag "auth required $MODULE config=$T/c.conf"
for i in 1 2 3; do
	set +e
	echo wrong | timeout 60 setpriv --regid=65534 --clear-groups env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$T/pamd" AUTHGEAR_TEST_LOG="$T/module.log" \
		"${PAMTESTER:-pamtester}" -v ag alice authenticate > "$T/out.$i" 2>&1
	set -e
done
for f in "$T/state" "$T/state/private" "$T/state/private/accounts.db" \
	"$T/state/nss.index"; do
	[ -e "$f" ] || fail "$f was not created"
	own=$(stat -c %U:%G "$f")
	[ "$own" = root:root ] || fail "$f is $own, not root:root (created with group nogroup)"
done
pass "state_dir, private/, accounts.db and nss.index are root:root"

# --- throttle: show, refuse, clear -------------------------------------------------
"$CLI" throttle --config "$T/c.conf" alice > "$T/throttle.out" || fail "throttle exit status"
assert_contains "$T/throttle.out" "alice: 3 attempts in the last minute (at most 3 from one address, 12 from all): refused locally for" "throttle shows the failures and the refusal"
set +e
echo wrong | run_pamtester ag alice authenticate; rc=$?
set -e
[ $rc -ne 0 ] || fail "a throttled login succeeded"
assert_contains "$T/out" "Too many attempts; try again in" "the fourth login is refused locally"
"$CLI" throttle --config "$T/c.conf" --clear alice > "$T/clear.out" || fail "throttle --clear exit status"
assert_contains "$T/clear.out" "alice: cleared 3 attempts of the last minute" "throttle --clear forgets them"
"$CLI" throttle --config "$T/c.conf" alice > "$T/after.out" || fail "throttle exit status"
assert_contains "$T/after.out" "alice: 0 attempts in the last minute (at most 3 from one address, 12 from all): not refused" "nothing left after --clear"
: > "$T/module.log"
set +e
echo wrong | run_pamtester ag alice authenticate
set -e
assert_not_contains "$T/out" "Too many attempts" "after --clear the login is not refused locally"
assert_not_contains "$T/module.log" "refused locally" "no local refusal logged after --clear"
set +e
"$CLI" pin --config "$T/c.conf" --clear dana 250001 > "$T/badopt" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "--clear accepted by pin: exit $rc"
pass "--clear belongs to throttle only"

# --- provisional entries: by name, by UID, and their private group -----------------
command -v unshare >/dev/null || skip "unshare missing"
# A fixed file, not the host's: a concurrent test may be editing /etc/nsswitch.conf.
printf 'passwd:         files systemd authgear\ngroup:          files systemd authgear\nshadow:         files\nhosts:          files dns\n' > "$T/nsswitch.conf"
"$CLI" pin --config "$T/c.conf" dev-pinned 250002 > /dev/null || fail "pin dev-pinned"
in_ns() {
	unshare --mount --propagation private sh -c 'mount --bind "$1" /etc/nsswitch.conf || exit 97; shift; exec "$@"' \
		sh "$T/nsswitch.conf" env LD_LIBRARY_PATH="$abs_top_builddir/src/.libs" AUTHGEAR_NSS_INDEX="$T/state/nss.index" "$@"
}
in_ns id dana > "$T/id.out" 2>&1 || { cat "$T/id.out"; fail "id dana"; }
[ "$(cat "$T/id.out")" = "uid=250000(dana) gid=250000(dana) groups=250000(dana)" ] ||
	fail "id dana before the first login: $(cat "$T/id.out")"
pass "id dana before the first login: $(cat "$T/id.out")"
in_ns getent passwd 250000 > "$T/byuid.out" || fail "getpwuid of dana's provisional UID: not found"
assert_contains "$T/byuid.out" "dana:*:250000:250000::/home/dana:/bin/bash" "getpwuid answers the provisional entry"
in_ns getent group 250000 > "$T/bygid.out" || fail "getgrgid of dana's private group: not found"
assert_contains "$T/bygid.out" "dana:*:250000:" "getgrgid answers the private group"
in_ns getent group dana > "$T/bygname.out" || fail "getgrnam dana: not found"
assert_contains "$T/bygname.out" "dana:*:250000:" "getgrnam answers the private group"
# alice: not pinned, her first hash candidate; both ways agree.
in_ns getent passwd alice > "$T/alice.out" || fail "getpwnam alice"
auid=$(cut -d: -f3 "$T/alice.out")
in_ns getent passwd "$auid" > "$T/alice-uid.out" || fail "getpwuid $auid (alice's provisional UID)"
assert_contains "$T/alice-uid.out" "alice:*:$auid:$auid:" "getpwuid of an unpinned allow-listed name agrees with getpwnam"
# A name matched by a pattern only (dev-*) and pinned: pins lead back.
in_ns getent passwd 250002 > "$T/devpin.out" || fail "getpwuid 250002 (dev-pinned)"
assert_contains "$T/devpin.out" "dev-pinned:*:250002:" "a pinned name under a pattern answers by UID"
# A UID nobody provisional has: not found.
if in_ns getent passwd 250003 > /dev/null; then fail "getpwuid 250003 answered"; fi
pass "a UID no provisional entry has is not found"
