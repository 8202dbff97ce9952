#!/bin/bash
# login_timeout bounds the store's wait for another writer's lock, through
# the real libpam (pam_wrapper + tests/tools/pam_driver) against the test IdP
# over HTTPS. Another process (the sqlite3 CLI) holds the store's write lock
# (BEGIN IMMEDIATE), as a stuck or slow writer would:
#   1. from before the login: the throttle's transaction (before any request)
#      waits at most login_timeout, not the store's own 10 s, and the login
#      fails closed with one plain line and zero requests;
#   2. taken once the login's requests have started: the login's final
#      transaction waits only for what is left of login_timeout;
#   3. held for most of login_timeout, then every request hangs: the whole
#      call ends at login_timeout from its start (one deadline for the lock
#      wait and the requests; two budgets would let it run ~2x).
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the store is root's)"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v sqlite3 > /dev/null || skip "sqlite3 (the CLI) not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
FIXTURE="$IDP_DIR/fixtures/users.json"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
run() { # run CASE CONFIG: carol's password login; transcript in $T/CASE.out, log in $T/CASE.log
	pam_service "$1" "auth required $MODULE config=$2"
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" PAM_DRIVER_TRACE=1 \
		AUTHGEAR_TEST_LOG="$T/$1.log" "$DRIVER" "$1" carol authenticate "$CAROL_PW" > "$T/$1.out" 2>"$T/$1.trace"
	touch "$T/$1.log"
}
# op_ms CASE: how long pam_authenticate itself took (the driver's trace:
# from the call, the module loaded, to its return), free of the process
# start a loaded machine stretches.
op_ms() { sed -n 's/^op authenticate t_ms=//p; s/^end t_ms=\([0-9]*\).*/-\1/p' "$T/$1.trace" | paste -sd' ' | awk '{print -($2 + $1)}'; }

idp_start "$T/idp"
CAROL_PW=$(password carol) # read once: a node start inside the timed runs is noise
BASE=("users = carol" "require_mfa = no" "max_attempts_per_minute = 1000" "timeout = 30")
write_config "$T/c.conf" "${BASE[@]}" "login_timeout = 5"
run first "$T/c.conf"
grep -q '^rc=0 ' "$T/first.out" || { cat "$T/first.out" "$T/first.log"; fail "carol's first login"; }
DB="$T/state/private/accounts.db"
[ -f "$DB" ] || fail "no store at $DB"

# The lock holder: sqlite3 reading its statements from a FIFO, so the lock
# stays until we end it.
LOCKER=
unlock() {
	[ -n "$LOCKER" ] || return 0
	echo "ROLLBACK;" >&3 2>/dev/null || true
	exec 3>&-
	wait "$LOCKER" 2>/dev/null || true
	LOCKER=
}
CLEANUP_HOOKS="$CLEANUP_HOOKS unlock"
locked() { ! sqlite3 -cmd ".timeout 0" "$DB" "BEGIN IMMEDIATE; ROLLBACK;" > /dev/null 2>&1; }
lock() {
	rm -f "$T/lock.fifo"; mkfifo "$T/lock.fifo"
	rm -f "$T/have-lock"
	# -bail and the marker: the lock is the CLI's own, not a login's
	# transaction that happens to hold it (the throttle's, before the
	# requests) while the CLI's BEGIN failed.
	sqlite3 -bail -cmd ".timeout 30000" "$DB" < "$T/lock.fifo" > "$T/locker.out" 2>&1 &
	LOCKER=$!
	exec 3> "$T/lock.fifo"
	echo "BEGIN IMMEDIATE;" >&3
	echo ".shell touch '$T/have-lock'" >&3
	for _ in $(seq 300); do [ -e "$T/have-lock" ] && locked && return 0; sleep 0.1; done
	cat "$T/locker.out"
	fail "the sqlite3 CLI did not take the write lock"
}

# --- 1. The lock held from before the login ------------------------------------------
lock
hook POST /counters/reset > /dev/null
t0=$(now_ms)
run held "$T/c.conf"
ms=$(( $(now_ms) - t0 ))
unlock
if grep -q '^rc=0 ' "$T/held.out"; then cat "$T/held.out"; fail "carol signed in while the store was locked"; fi
assert_contains "$T/held.out" "error: Sign-in failed: a local file could not be read or written." "the person gets one plain line"
assert_contains "$T/held.log" "still locked by another writer after 5000 ms" "the wait was login_timeout (5 s), not the store's 10 s"
[ "$(requests)" = 0 ] || { hook GET /counters; fail "a login that could not record its attempt made requests"; }
# The store's own wait alone is 10 s: the call (pam_authenticate, measured
# in the driver) gave up after login_timeout = 5 s, with 3.5 s of slack.
op=$(op_ms held)
[ -n "$op" ] && [ "$op" -ge 4500 ] && [ "$op" -lt 8500 ] \
	|| { cat "$T/held.log" "$T/held.trace"; fail "login_timeout = 5 with the store locked: pam_authenticate took $op ms"; }
pass "the store locked by another writer: refused after $op ms in pam_authenticate ($ms ms in all; login_timeout = 5), zero requests"

# --- 2. The lock taken while the requests run: the final write gets what is left --------
write_config "$T/slow.conf" "${BASE[@]}" "login_timeout = 8"
hook POST /counters/reset > /dev/null
hook POST /faults '{"path":"*","type":"delay","seconds":1}' > /dev/null
t0=$(now_ms)
run slow "$T/slow.conf" &
RUN=$!
for _ in $(seq 200); do [ "$(requests)" -gt 0 ] && break; sleep 0.05; done
[ "$(requests)" -gt 0 ] || fail "the slow login made no request"
lock
wait "$RUN" || true
ms=$(( $(now_ms) - t0 ))
unlock
hook POST /faults/clear '{}' > /dev/null
if grep -q '^rc=0 ' "$T/slow.out"; then cat "$T/slow.out" "$T/slow.log"; fail "carol signed in while the store was locked"; fi
assert_contains "$T/slow.out" "error: Sign-in failed: a local file could not be read or written." "the person gets one plain line"
waited=$(sed -n 's/.*still locked by another writer after \([0-9]*\) ms.*/\1/p' "$T/slow.log" | head -1)
[ -n "$waited" ] || { cat "$T/slow.log"; fail "the final transaction did not wait for the lock"; }
[ "$waited" -lt 8000 ] || fail "the final transaction waited $waited ms, more than login_timeout = 8 allows"
pass "the lock taken after the requests began: the final transaction waited $waited ms (what was left of login_timeout = 8), the call took $ms ms"

# --- 3. One deadline for the whole call: the lock wait and the requests draw from it ---
# The lock is held for 7 of login_timeout's 10 s, then the IdP accepts every
# request and never answers. The call must end at login_timeout from its
# start (~10 s); a fresh budget for the requests after the wait would end it
# at ~17 s. The bound leaves 4 s for a loaded machine.
write_config "$T/whole.conf" "${BASE[@]}" "login_timeout = 10"
hook POST /counters/reset > /dev/null
hook POST /faults '{"path":"*","type":"hang"}' > /dev/null
lock
t0=$(now_ms)
run whole "$T/whole.conf" &
RUN=$!
sleep 7
[ "$(requests)" = 0 ] || { hook GET /counters; fail "a request went out while the store was locked"; }
kill -0 "$RUN" 2>/dev/null || { cat "$T/whole.out" "$T/whole.log"; fail "the login did not wait for the lock"; }
unlock
wait "$RUN" || true
ms=$(( $(now_ms) - t0 ))
hook POST /faults/clear '{}' > /dev/null
if grep -q '^rc=0 ' "$T/whole.out"; then cat "$T/whole.out" "$T/whole.log"; fail "carol signed in with a hanging IdP"; fi
[ "$(requests)" -gt 0 ] || { cat "$T/whole.log"; fail "no request was made after the lock was released"; }
grep -Eq "cut at login_timeout|login_timeout \(10 s\) reached" "$T/whole.log" || { cat "$T/whole.log"; fail "the call did not end at login_timeout"; }
[ "$ms" -lt 14000 ] || { cat "$T/whole.log"; fail "login_timeout = 10 with the lock held 7 s, then a silent IdP: the call took $ms ms (two budgets, not one deadline)"; }
[ "$ms" -ge 9000 ] || { cat "$T/whole.log"; fail "the call ended after $ms ms, before login_timeout (10 s)"; }
pass "the lock held 7 s, then a silent IdP: the whole call ended after $ms ms (login_timeout = 10 from its start)"

# --- 4. An account check: the per-user lock held by another process ----------------------
# A check or login that refreshes holds it across its requests; a check that
# waits for it draws from its own login_timeout, like the store's lock. The
# holder keeps it 40 s: without the deadline the check would wait for all of it.
write_config "$T/acct.conf" "${BASE[@]}" "login_timeout = 5" "account_check_cache = 0"
pam_service acct "account required $MODULE config=$T/acct.conf"
HOLDER=
release_holder() { [ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null || true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS release_holder"
flock "$T/state/private/check-carol.lock" sleep 40 &
HOLDER=$!
for _ in $(seq 100); do flock -n "$T/state/private/check-carol.lock" true || break; sleep 0.1; done
flock -n "$T/state/private/check-carol.lock" true && fail "the holder did not take the per-user lock"
hook POST /counters/reset > /dev/null
t0=$(now_ms)
timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
	AUTHGEAR_TEST_LOG="$T/acct.log" "$DRIVER" acct carol acct_mgmt > "$T/acct.out" 2>&1 || true
ms=$(( $(now_ms) - t0 ))
release_holder
if grep -q '^rc=0 ' "$T/acct.out"; then cat "$T/acct.out" "$T/acct.log"; fail "the account check passed without its check"; fi
assert_contains "$T/acct.log" "cannot lock the check: another check or login held it until login_timeout" "the check gave up at login_timeout and says why"
[ "$(requests)" = 0 ] || { hook GET /counters; fail "the check made requests without the per-user lock"; }
[ "$ms" -lt 25000 ] || { cat "$T/acct.log"; fail "login_timeout = 5 with the per-user lock held 40 s: the check took $ms ms"; }
[ "$ms" -ge 4500 ] || { cat "$T/acct.log"; fail "the check gave up after $ms ms, before login_timeout (5 s)"; }
pass "an account check with the per-user lock held elsewhere: refused after $ms ms (login_timeout = 5), zero requests"
