#!/bin/bash
# The fault matrix's account-check rows (tests/faults/README.md) through the
# real libpam (pam_wrapper + pam_driver) against the test IdP over HTTPS:
#   - 500, 502 and 503 at each request an account check makes, for each
#     account_check mode (refresh, resolver, jwt; with a live and with an
#     expired access token): the requests are the ones a healthy check made
#     with the discovery and JWKS caches removed, so every step is found,
#     not listed by hand;
#   - an expired TLS certificate at the first request of each mode;
#   - kill -9 while the check's token update waits for the store (the IdP
#     has answered the refresh; the store's write lock is held elsewhere),
#     with and without refresh-token rotation; kill -9 in open_session;
#   - a full disk (state_dir on a 1 MiB tmpfs in a private mount namespace)
#     during the check's token update and during open_session.
# Each row asserts the one line the person sees, the PAM code, the reason in
# the log, state_dir unchanged (the store's accounts, token cache and
# sessions, nss.index and the caches), the next check with the IdP healthy
# and a local pam_unix user signing in through the same stack.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 missing"
[ "$(id -u)" = 0 ] || skip "needs root (private mount namespaces, a tmpfs, a root-owned store)"
if [ -z "${AG_IN_MOUNT_NS:-}" ]; then
	unshare --mount --propagation private true 2>/dev/null || skip "cannot create a mount namespace"
	exec unshare --mount --propagation private env AG_IN_MOUNT_NS=1 bash "$0" "$@"
fi
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
DB="$T/state/private/accounts.db"

# faultlocal: passwd through nss_wrapper, shadow bound over /etc/shadow in
# each run's private mount namespace (pam_unix reads the file itself).
echo "faultlocal:x:64990:64990::/nonexistent:/bin/sh" >> "$NSS_WRAPPER_PASSWD"
echo "faultlocal:x:64990:" >> "$NSS_WRAPPER_GROUP"
echo "faultlocal:$(openssl passwd -6 local-secret-1):19000:0:99999:7:::" > "$T/shadow"
chmod 0600 "$T/shadow"

idp_start "$T/idp"
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
# paths: the distinct paths the IdP saw since the last reset, in order
paths() { hook GET /requests | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log([...new Set(JSON.parse(s).map(r=>r.path))].join(" ")))'; }
col() { sqlite3 -readonly "${3:-$DB}" "SELECT t.$1 FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = '$2'"; }
# tok RT CLIENT: the IdP's status for a refresh with RT
tok() { curl -s --cacert "$CA_FILE" -o /dev/null -w '%{http_code}' -d grant_type=refresh_token \
	--data-urlencode "refresh_token=$1" -d client_id="$2" "$ISSUER/oauth2/token"; }

# conf NAME STATE_DIR [lines]: a config and PAM service NAME: pam_authgear
# for auth, account and session, pam_unix after it for a local user.
conf() {
	local n=$1 st=$2; shift 2
	write_config "$T/$n.conf" "users = carol, frank" "require_mfa = no" "max_attempts_per_minute = 1000" \
		"timeout = 10" "login_timeout = 30" "account_check_cache = 0" "$@"
	sed -i "s|^state_dir = .*|state_dir = $st|" "$T/$n.conf"
	pam_service "$n" "auth [success=done ignore=ignore default=die] $MODULE config=$T/$n.conf" \
		"auth required pam_unix.so" \
		"account [success=done ignore=ignore default=die] $MODULE config=$T/$n.conf" \
		"account required pam_unix.so" \
		"session required $MODULE config=$T/$n.conf"
}
conf refresh "$T/state" "account_check = refresh"
conf resolver "$T/state" "account_check = resolver"
conf jwt "$T/state" "account_check = jwt"
sed -i 's/^client_id = .*/client_id = pam_authgear_jwt/' "$T/jwt.conf"
conf rotating "$T/state" "account_check = refresh"
sed -i 's/^client_id = .*/client_id = pam_authgear_rotating/' "$T/rotating.conf"

# run CASE SERVICE USER OPS [ANSWERS...]: transcript $T/CASE.out, log $T/CASE.log
run() {
	local c=$1 svc=$2 user=$3 ops=$4; shift 4
	timeout 120 unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/shadow && exec "$@"' "$T/shadow" \
		env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" AUTHGEAR_TEST_LOG="$T/$c.log" \
		"$DRIVER" "$svc" "$user" "$ops" "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
expect_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2"; }; }
# expect_line CASE LINE: exactly one error line, LINE
expect_line() {
	[ "$(grep -c '^error: ' "$T/$1.out")" = 1 ] && grep -qxF "error: $2" "$T/$1.out" ||
		{ cat "$T/$1.out" "$T/$1.log"; fail "$1: want the one line '$2'"; }
}
expect_log() { grep -qF -- "$2" "$T/$1.log" || { cat "$T/$1.log"; fail "$1: log lacks '$2'"; }; }
login() { run "$1" "$2" "$3" authenticate "$3-password-1"; expect_rc "$1" 0; }
# healthy CASE SERVICE USER: the next check, the IdP healthy, succeeds
healthy() { run "$1-next" "$2" "$3" acct_mgmt; expect_rc "$1-next" 0; expect_log "$1-next" "account: $3: checked"; }
# local_ok CASE SERVICE: faultlocal signs in (auth + account) through the same stack
local_ok() {
	run "$1-local" "$2" faultlocal authenticate,acct_mgmt local-secret-1
	expect_rc "$1-local" 0 # (both: the driver stops at the first failure)
}
SERVER="The sign-in service failed; try again later."
TLS="Cannot reach the sign-in service securely; ask your administrator."
IOLINE="Sign-in failed: a local file could not be read or written."
ENDED="Your Authgear session has ended; sign in again with your password and code."

# --- frank (refresh and resolver), carol (jwt) signed in; the caches filled ----
login l-frank refresh frank
login l-carol jwt carol
for u in frank carol; do [ -n "$(col refresh_token $u)" ] || fail "no cached refresh token for $u"; done
[ -f "$T/state/private/discovery.json" ] && [ -f "$T/state/private/jwks.json" ] || { ls -la "$T/state/private"; fail "caches"; }
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
cp -a "$T/state" "$T/state-saved"
# restore: the state of right after the logins (the tokens stay valid at
# the IdP: these clients do not rotate)
restore() { rm -rf "$T/state"; cp -a "$T/state-saved" "$T/state"; }
step_name() {
	case $1 in
	/.well-known/openid-configuration) echo discovery ;; /oauth2/jwks) echo jwks ;;
	/oauth2/token) echo token ;; /_resolver/resolve) echo resolver ;; /oauth2/userinfo) echo userinfo ;;
	*) echo "other" ;;
	esac
}
# prepare USER SCENARIO [PATH]: the saved state, the access token expired
# for "expired", and the cache PATH itself serves removed (a discovery or
# JWKS fault must not leave a cache behind)
prepare() {
	restore
	[ "$2" = live ] || sqlite3 "$DB" "UPDATE tokens SET access_expires = 1 WHERE user_id = (SELECT id FROM users WHERE name = '$1')"
	case ${3:-all} in
	all) rm "$T/state/private/discovery.json" "$T/state/private/jwks.json" ;;
	/.well-known/openid-configuration) rm "$T/state/private/discovery.json" ;;
	/oauth2/jwks) rm "$T/state/private/jwks.json" ;;
	esac
}

# --- 500, 502, 503 at each request of each mode --------------------------------------
# The mode-scenario-step rows the matrix lists (tests/faults/README.md); the
# steps found below must be exactly these.
ROWS_WANT="refresh-expired-discovery refresh-expired-token refresh-expired-jwks resolver-live-resolver
resolver-expired-discovery resolver-expired-token resolver-expired-jwks resolver-expired-resolver
jwt-live-discovery jwt-live-jwks jwt-expired-discovery jwt-expired-token jwt-expired-jwks"
n=0 ran=
for spec in refresh:frank:expired resolver:frank:live resolver:frank:expired jwt:carol:live jwt:carol:expired; do
	IFS=: read -r mode user scen <<< "$spec"
	# the requests a healthy check of this kind makes, the caches gone
	prepare "$user" "$scen"
	hook POST /counters/reset >/dev/null
	run "probe-$mode-$scen" "$mode" "$user" acct_mgmt
	expect_rc "probe-$mode-$scen" 0
	steps=$(paths)
	[ -n "$steps" ] || fail "$mode-$scen: a check with no caches made no request"
	echo "($mode, $scen access token: $steps)"
	for path in $steps; do
		ran="$ran $mode-$scen-$(step_name "$path")"
		for status in 500 502 503; do
			c=$mode-$scen-$(step_name "$path")-$status
			prepare "$user" "$scen" "$path"
			state_snapshot before
			hook POST /counters/reset >/dev/null
			hook POST /faults "{\"path\":\"$path\",\"type\":\"status\",\"status\":$status}" >/dev/null
			run "$c" "$mode" "$user" acct_mgmt
			hook POST /faults/clear '{}' >/dev/null
			expect_rc "$c" 9
			expect_line "$c" "$SERVER"
			expect_log "$c" "account: $user: Authgear unreachable (server); denied"
			grep -qE "server error $status|HTTP $status" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: the status is not logged"; }
			[ "$(counter "$path")" -ge 1 ] || fail "$c: the fault's request never came"
			expect_state_unchanged "$c"
			healthy "$c" "$mode" "$user"
			local_ok "$c" "$mode"
			n=$((n + 1))
			pass "$c: '$SERVER' rc=9 (PAM_AUTHINFO_UNAVAIL); state_dir unchanged; the next check succeeds; the local user signs in"
		done
	done
done
[ "${ran# }" = "$(echo $ROWS_WANT)" ] || fail "the steps found ($ran) are not the matrix's rows ($ROWS_WANT)"
[ $n = 39 ] || fail "$n 5xx rows ran, want 39 (13 steps, 3 statuses)"
pass "5xx at an account check: $n rows"

# --- an expired certificate at an account check ----------------------------------------
for spec in refresh-tls-expired:refresh:frank:expired resolver-tls-expired:resolver:frank:live jwt-tls-expired:jwt:carol:expired; do
	IFS=: read -r c mode user scen <<< "$spec"
	prepare "$user" "$scen" none
	state_snapshot before
	hook POST /faults/tls '{"cert":"expired"}' >/dev/null
	run "$c" "$mode" "$user" acct_mgmt
	hook POST /faults/tls '{"cert":"normal"}' >/dev/null
	expect_rc "$c" 9
	expect_line "$c" "$TLS"
	expect_log "$c" "certificate has expired"
	expect_log "$c" "account: $user: Authgear unreachable (tls); denied"
	expect_state_unchanged "$c"
	healthy "$c" "$mode" "$user"
	local_ok "$c" "$mode"
	pass "$c: '$TLS' rc=9; state_dir unchanged; the next check succeeds; the local user signs in"
done

# --- kill -9 while the check's token update waits for the store --------------------------
# The store's write lock held by another connection (sqlite3 on a FIFO): the
# check refreshes at the IdP, then waits for the lock to write the new token
# (up to login_timeout); it is killed there, after the IdP answered and
# before any commit.
LOCK_PID=
hold_lock() {
	rm -f "$T/lock.fifo"; mkfifo "$T/lock.fifo"
	sqlite3 "$1" < "$T/lock.fifo" > /dev/null 2>&1 &
	LOCK_PID=$!
	exec 7> "$T/lock.fifo"
	echo "BEGIN IMMEDIATE;" >&7
	for _ in $(seq 100); do sqlite3 "$1" ".timeout 0" "BEGIN IMMEDIATE;" "ROLLBACK;" 2>/dev/null || return 0; sleep 0.1; done
	fail "could not take the store's write lock"
}
release_lock() { [ -z "$LOCK_PID" ] || { echo "ROLLBACK;" >&7; exec 7>&-; wait "$LOCK_PID" 2>/dev/null; LOCK_PID=; }; return 0; }
CLEANUP_HOOKS="release_lock $CLEANUP_HOOKS"
# killed CASE SERVICE USER OPS STATE_DIR WAIT: OPS in the background, the
# store locked; once WAIT succeeds (polled), kill -9; the lock released.
killed() {
	local c=$1 svc=$2 user=$3 ops=$4 st=$5 waitfor=$6 pid
	hold_lock "$st/private/accounts.db"
	env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" AUTHGEAR_TEST_LOG="$T/$c.log" \
		PAM_DRIVER_TRACE=1 "$DRIVER" "$svc" "$user" "$ops" > "$T/$c.out" 2>"$T/$c.err" &
	pid=$!
	for _ in $(seq 300); do eval "$waitfor" && break; sleep 0.1; done
	eval "$waitfor" || { release_lock; wait $pid; cat "$T/$c.out" "$T/$c.log"; fail "$c: never reached the point to kill at"; }
	sleep 0.5
	kill -0 $pid 2>/dev/null || { release_lock; cat "$T/$c.out" "$T/$c.log"; fail "$c: it finished while the store was locked"; }
	kill -9 $pid
	wait $pid 2>/dev/null
	release_lock
	! grep -q '^rc=' "$T/$c.out" || fail "$c: it finished before the kill"
}
refreshed() { hook GET '/requests?path=/oauth2/token' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.exit(JSON.parse(s).some(r=>r.status===200&&r.done_ms)?0:1))'; }

# without rotation: the old refresh token stays stored and valid
restore
RT0=$(col refresh_token frank)
state_snapshot before
hook POST /counters/reset >/dev/null
killed kill-check refresh frank acct_mgmt "$T/state" refreshed
expect_state_unchanged kill-check
[ "$(col refresh_token frank)" = "$RT0" ] || fail "kill-check: the stored refresh token changed"
healthy kill-check refresh frank
local_ok kill-check refresh
pass "kill-check: kill -9 after the refresh, before its write: the old token stored, state_dir unchanged; the next check succeeds"

# with rotation: the IdP rotated, the new token died with the process; the
# old one is stored (nothing corrupted) but Authgear refuses it: the next
# check ends the session and asks for a password login, which works
login l-rot rotating frank
RT0=$(col refresh_token frank)
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
state_snapshot before
hook POST /counters/reset >/dev/null
killed kill-check-rotated rotating frank acct_mgmt "$T/state" refreshed
expect_state_unchanged kill-check-rotated
[ "$(col refresh_token frank)" = "$RT0" ] || fail "kill-check-rotated: the stored refresh token changed"
[ "$(tok "$RT0" pam_authgear_rotating)" = 400 ] || fail "kill-check-rotated: the old token still works at the IdP (no rotation?)"
run kill-check-rotated-next rotating frank acct_mgmt
expect_rc kill-check-rotated-next 6
expect_line kill-check-rotated-next "$ENDED"
expect_log kill-check-rotated-next "account: frank: Authgear session ended (invalid_grant)"
login kill-check-rotated-login rotating frank
healthy kill-check-rotated-relogin rotating frank
local_ok kill-check-rotated rotating
pass "kill-check-rotated: kill -9 after a rotating refresh, before its write: the old token stored (rotated away at Authgear); the next check: '$ENDED' rc=6; a password login then works"

# open_session killed while it waits for the store: no session recorded
restore
state_snapshot before
sleep_done() { [ -s "$T/$1.err" ] && grep -q '^op open_session' "$T/$1.err"; }
killed kill-session refresh frank open_session "$T/state" "sleep_done kill-session"
expect_state_unchanged kill-session
run kill-session-next refresh frank open_session
expect_rc kill-session-next 0
[ "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM sessions")" = 1 ] || fail "kill-session: the next open_session recorded no session"
local_ok kill-session refresh
pass "kill-session: kill -9 in open_session's write: nothing recorded; the next open_session records its session"

# --- a full disk during the check's token update and during open_session ----------------
D="$T/small"
small_tmpfs "$D"
DDB="$D/state/private/accounts.db"
conf drefresh "$D/state" "account_check = refresh"
conf drotating "$D/state" "account_check = refresh"
sed -i 's/^client_id = .*/client_id = pam_authgear_rotating/' "$T/drotating.conf"
login d-login drefresh frank
sqlite3 "$DDB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
rm -rf "$T/dstate-saved"; cp -a "$D/state" "$T/dstate-saved"
drestore() { rm -rf "$D/state" "$D/fill"; cp -a "$T/dstate-saved" "$D/state"; }
fill() { local avail; avail=$(df --output=avail -k "$D" | tail -1); [ "$avail" -le "$1" ] || dd if=/dev/zero of="$D/fill" bs=1k count=$((avail - $1)) 2>/dev/null || true; }
# full CASE SERVICE OPS RC LINE: OPS with 0 .. 200 KiB free; a failure must
# say LINE (unless empty), RC, "disk full" in the log and leave the state as
# it was; FULL_MID counts the failures after the IdP answered
full() {
	local c=$1 svc=$2 ops=$3 want_rc=$4 line=$5 kb
	FULL_MID=0 FULL_FAILED=0 FULL_KB=
	for kb in 0 4 8 12 16 24 32 48 64 96 128 200; do
		drestore
		state_snapshot before "$D/state"
		fill "$kb"
		hook POST /counters/reset >/dev/null
		run "$c-$kb" "$svc" frank "$ops"
		rm -f "$D/fill"
		grep -q '^rc=0 ' "$T/$c-$kb.out" && continue
		FULL_FAILED=$((FULL_FAILED + 1))
		expect_rc "$c-$kb" "$want_rc"
		[ -z "$line" ] || expect_line "$c-$kb" "$line"
		expect_log "$c-$kb" "disk full"
		expect_state_unchanged "$c-$kb ($kb KiB free)" "$D/state"
		if [ "$(requests)" -gt 0 ]; then FULL_MID=$((FULL_MID + 1)); FULL_KB=$kb; fi
		# space back: the next one works
		run "$c-$kb-next" "$svc" frank "$ops"
		expect_rc "$c-$kb-next" 0
		local_ok "$c-$kb" "$svc"
	done
	[ $FULL_FAILED -gt 0 ] || fail "$c: no free-space level failed"
}
full disk-check drefresh acct_mgmt 6 "$IOLINE"
[ $FULL_MID -gt 0 ] || fail "disk-check: no level failed after the refresh reached the IdP"
pass "disk-check: $FULL_FAILED levels failed ($FULL_MID after the refresh): '$IOLINE' rc=6, 'disk full' logged, state_dir unchanged; the next check succeeds once space is back"

# with rotation, at a level that failed after the refresh: the new token
# could not be written; the old one stays (rotated away at Authgear) and
# the next check ends the session
drestore
login d-rot-login drotating frank
sqlite3 "$DDB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
RT0=$(col refresh_token frank "$DDB")
state_snapshot before "$D/state"
fill "$FULL_KB"
hook POST /counters/reset >/dev/null
run disk-check-rotated drotating frank acct_mgmt
rm -f "$D/fill"
if grep -q '^rc=0 ' "$T/disk-check-rotated.out"; then
	pass "disk-check-rotated: the write fit at $FULL_KB KiB free this time (no row)"
else
	expect_rc disk-check-rotated 6
	expect_line disk-check-rotated "$IOLINE"
	expect_log disk-check-rotated "disk full"
	expect_state_unchanged disk-check-rotated "$D/state"
	[ "$(col refresh_token frank "$DDB")" = "$RT0" ] || fail "disk-check-rotated: the stored token changed"
	run disk-check-rotated-next drotating frank acct_mgmt
	expect_rc disk-check-rotated-next 6
	expect_line disk-check-rotated-next "$ENDED"
	pass "disk-check-rotated: disk full after a rotating refresh: '$IOLINE' rc=6, the old token kept; the next check: '$ENDED' rc=6"
fi

full disk-session drefresh open_session 14 ""
pass "disk-session: $FULL_FAILED levels failed: PAM_SESSION_ERR (14), 'disk full' logged, nothing recorded; the next open_session records its session"

# --- no token in any log or transcript ----------------------------------------------
for f in "$T"/*.log "$T"/*.out; do
	grep -qF -- "$RT0" "$f" && fail "a refresh token is in $f"
done
pass "no refresh token in any log or transcript"
