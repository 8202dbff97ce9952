#!/bin/bash
# Soak (issue 17): many PAM transactions in ONE process through the real
# libpam (pam_wrapper + tests/tools/pam_driver, PAM_DRIVER_REPEAT) against
# the test IdP over HTTPS, carol's account (password only). Each
# transaction is pam_start, [authenticate,] acct_mgmt, open_session,
# close_session, pam_end. authenticate is a full Authgear password login
# (4-6 real requests); to keep the test short only every SOAK_AUTH_EVERY-th
# transaction (default 10) authenticates, and the others are what sshd runs
# for a public-key login: acct_mgmt (the account check, inside
# account_check_cache: answered from the token cache, zero requests) and
# the session, a store write each way.
#   1. SOAK_N (default 1000: 100 password logins, 900 public-key shaped)
#      without valgrind: every transaction succeeds (its rc, and the audit
#      lines in the module's log); the open file descriptors after the last
#      equal those before the first (nss_wrapper's own files opened before
#      the first sample); the resident set grows less than 1 MiB from
#      transaction 100 to the last (the driver samples /proc/self after each).
#   2. SOAK_VG_N (default 12, every third authenticating: 4 password logins)
#      under valgrind --leak-check=full: every one succeeds, 0 bytes
#      definitely or indirectly lost, no memory error (a leak in one
#      transaction would show once per transaction).
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the store is root's)"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v valgrind >/dev/null || skip "valgrind not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
N=${SOAK_N:-1000}
EVERY=${SOAK_AUTH_EVERY:-10}
VG_N=${SOAK_VG_N:-12}
OPS=authenticate,acct_mgmt,open_session,close_session
PW=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="carol").password)' "$IDP_DIR/fixtures/users.json")

idp_start "$T/idp"
# 100 logins in a minute or two: the IdP's rate limits (token_per_ip) are not what this measures
hook POST /limits '{"rate_limits": false}' > /dev/null || fail "limits hook"
# timeouts for valgrind (TLS 20-50x slower); no throttle in the way of 1,000 logins
write_config "$T/c.conf" "users = carol" "require_mfa = no" "max_attempts_per_minute = 1000" \
	"timeout = 60" "connect_timeout = 60"
pam_service soak "auth required $MODULE config=$T/c.conf" "account required $MODULE config=$T/c.conf" \
	"session required $MODULE config=$T/c.conf"
# drive COUNT EVERY CASE [WRAPPER...]: COUNT transactions in one pam_driver,
# every EVERY-th authenticating
drive() {
	count=$1 every=$2 c=$3; shift 3
	timeout 1200 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		PAM_WRAPPER_DISABLE_DEEPBIND=1 PAM_DRIVER_REPEAT="$count" PAM_DRIVER_AUTH_EVERY="$every" PAM_DRIVER_STATS="$T/$c.stats" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$@" "$DRIVER" soak carol "$OPS" "$PW" > "$T/$c.out" 2>"$T/$c.err" </dev/null
}

# --- 1. SOAK_N transactions: all succeed, fds and RSS flat --------------------------
t0=$(now_ms)
drive "$N" "$EVERY" soak || { echo "exit $?"; tail -5 "$T/soak.out"; tail -20 "$T/soak.log"; fail "soak: the driver failed "; }
secs=$(( ($(now_ms) - t0) / 1000 ))
ok=$(grep -c '^rc=0 ' "$T/soak.out")
[ "$ok" = "$N" ] && [ "$(grep -c '^rc=' "$T/soak.out")" = "$N" ] || { tail -5 "$T/soak.out"; fail "soak: $ok of $N transactions succeeded"; }
logins=$(( (N + EVERY - 1) / EVERY ))
[ "$(grep -c 'audit: user=carol .* method=password .*result=success' "$T/soak.log")" = "$logins" ] \
	|| fail "soak: not $logins successful password logins in the log"
[ "$(grep -c 'audit: user=carol account_check result=success requests=0' "$T/soak.log")" = "$N" ] \
	|| fail "soak: not $N account checks from the cache in the log"
[ "$(grep -c 'session: carol: closed' "$T/soak.log")" = "$N" ] || fail "soak: not $N sessions opened and closed"
grep -v '^#' "$T/soak.stats" > "$T/soak.samples"
[ "$(wc -l < "$T/soak.samples")" = $((N + 1)) ] || fail "soak: the driver's samples are missing"
read -r _ fd0 _ < <(head -n 1 "$T/soak.samples")
read -r _ fdn rssn < <(tail -n 1 "$T/soak.samples")
[ "$fd0" = "$fdn" ] || { grep '^#' "$T/soak.stats"; awk '$2 != prev { print; prev = $2 }' "$T/soak.samples" | head; fail "soak: $fd0 open fds before the first transaction, $fdn after the last"; }
if [ "$N" -ge 200 ]; then
	rss100=$(awk '$1 == 100 { print $3 }' "$T/soak.samples")
	grown=$(( rssn - rss100 ))
	[ "$grown" -lt 1024 ] || fail "soak: the resident set grew by $grown KiB from transaction 100 to $N"
	pass "soak: $N transactions ($logins with a password login; acct_mgmt, open and close session in each) in one process in ${secs} s: all succeeded; $fd0 open fds before and after; RSS ${rss100} KiB at 100, ${rssn} KiB at $N (+${grown} KiB)"
else
	pass "soak: $N transactions in ${secs} s: all succeeded; $fd0 open fds before and after (RSS not judged below 200)"
fi

# --- 2. SOAK_VG_N transactions under valgrind: no leak, no memory error --------------
t0=$(now_ms)
drive "$VG_N" 3 vg valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$T/vg.txt" \
	|| { cat "$T/vg.txt"; tail -5 "$T/vg.out"; fail "soak under valgrind: exit $? (99: leaks or memory errors)"; }
secs=$(( ($(now_ms) - t0) / 1000 ))
[ ! -s "$T/vg.txt" ] || { cat "$T/vg.txt"; fail "soak under valgrind: valgrind reported"; }
[ "$(grep -c '^rc=0 ' "$T/vg.out")" = "$VG_N" ] || { tail -5 "$T/vg.out"; fail "soak under valgrind: not all $VG_N transactions succeeded"; }
vg_logins=$(( (VG_N + 2) / 3 ))
[ "$(grep -c 'audit: user=carol .* method=password .*result=success' "$T/vg.log")" = "$vg_logins" ] \
	|| fail "soak under valgrind: not $vg_logins successful password logins in the log"
pass "soak under valgrind: $VG_N transactions ($vg_logins with a password login) in one process in ${secs} s: all succeeded, 0 bytes lost, no memory errors"
