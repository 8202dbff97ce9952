#!/bin/bash
# Sessions, logout and the token cache at rest (issue 13) through the real
# libpam (pam_wrapper) against the test IdP over HTTPS: open_session records
# a session, close_session removes it and with revoke_on_logout the last
# close revokes the refresh token (the IdP refuses it afterwards); stale
# sessions do not hold the count up; authgear-pam status shows no token and
# forget revokes first (and says so when the IdP is down); token_key_file
# seals the token columns (the database file holds no token the IdP issued)
# and a wrong key denies with a logged reason.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
[ "$(id -u)" = 0 ] || skip "needs root (the store and token_key_file are root's)"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
DB="$T/state/private/accounts.db"

idp_start "$T/idp"
COMMON="users = carol, bob|max_attempts_per_minute = 1000|require_mfa = no|account_check_cache = 0"
conf() { f=$1; shift; IFS='|' read -ra base <<<"$COMMON"; write_config "$f" "${base[@]}" "$@"; }
conf "$T/rev.conf" "revoke_on_logout = yes"
conf "$T/keep.conf"
for s in rev keep; do
	pam_service $s "auth required $MODULE config=$T/$s.conf debug" "account required $MODULE config=$T/$s.conf debug" \
		"session required $MODULE config=$T/$s.conf debug"
done

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
# run CASE SERVICE USER OPS ANSWERS...: transcript in $T/CASE.out, log in $T/CASE.log
run() {
	c=$1 svc=$2 user=$3 op=$4; shift 4
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" "$op" "$@" > "$T/$c.out" 2>"$T/$c.err" </dev/null
	touch "$T/$c.log"
}
# hold CASE SERVICE USER OPS...: like run, in the background, stopped at "pause" until release CASE
hold() {
	c=$1 svc=$2 user=$3 op=$4; shift 4
	mkfifo "$T/$c.fifo"
	env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" AUTHGEAR_TEST_LOG="$T/$c.log" \
		PAM_DRIVER_TTY="${TTY_OF:-pts/9}" PAM_DRIVER_RHOST="${RHOST_OF:-192.0.2.9}" \
		"$DRIVER" "$svc" "$user" "$op" "$@" > "$T/$c.out" 2>"$T/$c.err" < "$T/$c.fifo" &
	eval "PID_$c=$!"
	exec {fd}>"$T/$c.fifo"
	eval "FD_$c=$fd"
	for _ in $(seq 600); do grep -q '^paused' "$T/$c.out" && return 0; grep -q '^rc=' "$T/$c.out" && break; sleep 0.1; done
	cat "$T/$c.out" "$T/$c.log" 2>/dev/null; fail "$c did not reach its pause"
}
release() {
	eval "fd=\$FD_$1 pid=\$PID_$1"
	echo go >&"$fd"; exec {fd}>&-
	wait "$pid" || true
}
expect_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2"; }; }
col() { sqlite3 -readonly "$DB" "SELECT t.$1 FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = '$2'"; }
sessions() { sqlite3 -readonly "$DB" "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = '$1'"; }
# live TOKEN: whether the IdP still takes the refresh token (a refresh grant, asked directly)
live() {
	st=$(curl -s --cacert "$CA_FILE" -o "$T/refresh.json" -w '%{http_code}' -d grant_type=refresh_token \
		--data-urlencode "refresh_token=$1" -d client_id=pam_authgear "$ISSUER/oauth2/token")
	[ "$st" = 200 ] && return 0
	grep -q invalid_grant "$T/refresh.json" || fail "refresh answered $st: $(cat "$T/refresh.json")"
	return 1
}
issued() { hook GET "/users/$1/refresh-tokens" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).refresh_tokens.join("\n")))'; }
status() { "$CLI" status --config "$1" "$2" > "$T/status.out" 2>&1; }

# --- one session: recorded with tty, rhost and pid; its close revokes -------------------
hold one rev carol authenticate,acct_mgmt,setcred,open_session,pause,close_session carol-password-1
RT=$(col refresh_token carol)
[ -n "$RT" ] || fail "no refresh token cached after the login"
[ "$(sessions carol)" = 1 ] || fail "open_session recorded $(sessions carol) sessions"
row=$(sqlite3 -readonly "$DB" "SELECT tty || ' ' || rhost || ' ' || pid FROM sessions")
[ "$row" = "pts/9 192.0.2.9 $PID_one" ] || fail "the session row is '$row', want 'pts/9 192.0.2.9 $PID_one'"
pass "open_session records the session: PAM_TTY, PAM_RHOST, the pid of the process holding it"
live "$RT" || fail "the refresh token is not live during the session"
status "$T/rev.conf" carol || { cat "$T/status.out"; fail "status failed"; }
for w in "binding" "uid" "unix-user" "last login" "refresh token cached" "sessions       1" "pts/9" "192.0.2.9"; do
	grep -qF -- "$w" "$T/status.out" || { cat "$T/status.out"; fail "status lacks '$w'"; }
done
for tok in $RT $(col access_token carol) $(col id_token carol); do
	grep -qF -- "$tok" "$T/status.out" && fail "status shows a token"
	grep -qF -- "${tok:0:12}" "$T/status.out" && fail "status shows part of a token"
done
pass "status: binding, UID, roles, last login, tokens cached, the open session; no token bytes"
hook POST /counters/reset >/dev/null
release one
expect_rc one 0
counts=$(hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const c=JSON.parse(s);console.log(Object.keys(c).sort().map(k=>k+"="+c[k]).join(" "))})')
[ "$counts" = "/oauth2/revoke=1" ] || fail "the logout made these requests: '$counts', want one revoke (discovery cached)"
pass "the logout is one HTTPS request: POST /oauth2/revoke"
[ "$(sessions carol)" = 0 ] || fail "close_session left $(sessions carol) sessions"
live "$RT" && fail "after the last close the refresh token still works at the IdP"
[ -z "$(col refresh_token carol)" ] && [ -z "$(col access_token carol)" ] || fail "the cache kept tokens after logout"
assert_contains "$T/one.log" "refresh token revoked at Authgear" "the revocation is logged"
run after rev carol acct_mgmt
grep -q "Permission denied" "$T/after.out" || fail "an account check after logout passed"
pass "revoke_on_logout: the last close revokes at the IdP (a refresh grant is refused) and drops the cache"

# --- two sessions: the first close keeps the token, the last revokes ----------------------
hold a rev carol authenticate,open_session,pause,close_session carol-password-1
RT=$(col refresh_token carol)
TTY_OF=pts/10 hold b rev carol acct_mgmt,open_session,pause,close_session  # a public-key login: no auth
[ "$(sessions carol)" = 2 ] || fail "two sessions open, $(sessions carol) recorded"
release a
expect_rc a 0
live "$RT" || fail "the first of two closes revoked the token"
[ "$(col refresh_token carol)" = "$RT" ] || fail "the first close dropped the cached token"
pass "two sessions: the first close keeps the token (live at the IdP, still cached)"
release b
expect_rc b 0
live "$RT" && fail "the last of two closes did not revoke"
pass "two sessions: the last close revokes"

# --- a stale session (its process killed) does not hold the count up ----------------------
hold dead rev carol authenticate,open_session,pause,close_session carol-password-1
RT=$(col refresh_token carol)
kill -9 "$PID_dead"; wait "$PID_dead" 2>/dev/null || true
[ "$(sessions carol)" = 1 ] || fail "the killed session's row is not there to be stale"
status "$T/rev.conf" carol
assert_contains "$T/status.out" "(stale: its process is gone)" "status marks a session whose process is gone"
run alive rev carol acct_mgmt,open_session,close_session
expect_rc alive 0
assert_contains "$T/alive.log" "is gone without closing; removed" "the stale session is removed and logged"
live "$RT" && fail "a stale session kept the token from being revoked"
pass "a killed session's row is stale: the next close counts only live sessions and revokes"

# --- revoke_on_logout = no (default): the close keeps the token --------------------------
run keep keep carol authenticate,open_session,close_session carol-password-1
expect_rc keep 0
RT=$(col refresh_token carol)
[ -n "$RT" ] && live "$RT" || fail "revoke_on_logout = no: the close revoked or dropped the token"
[ "$(sessions carol)" = 0 ] || fail "the session was not removed"
pass "revoke_on_logout = no: close removes the session, the token stays cached and live"

# --- a new login revokes the grant it replaces ---------------------------------------------
# Each login with offline_access is a new offline grant at Authgear; the cache keeps one
# refresh token per user, so the one a login replaces is revoked once the login committed.
OLD=$RT
hook POST /counters/reset >/dev/null
run again keep carol authenticate carol-password-1
expect_rc again 0
RT=$(col refresh_token carol)
[ -n "$RT" ] && [ "$RT" != "$OLD" ] || fail "the second login did not cache a new refresh token"
[ "$(counter /oauth2/revoke)" = 1 ] || { hook GET /counters; fail "the second login made $(counter /oauth2/revoke) revocations, want 1"; }
live "$OLD" && fail "the refresh token the second login replaced still works at the IdP"
live "$RT" || fail "the second login's own refresh token is refused"
assert_contains "$T/again.log" "the refresh token this login replaced is revoked at Authgear" "the revocation is logged"
pass "a returning login revokes the refresh token it replaces (one POST /oauth2/revoke); its own stays live"
hook POST /faults '{"path":"/oauth2/revoke","type":"http500","count":1}' >/dev/null
OLD=$RT
run again2 keep carol authenticate carol-password-1
expect_rc again2 0
RT=$(col refresh_token carol)
[ "$RT" != "$OLD" ] && live "$RT" || fail "a failed revocation kept the new token out of the cache"
assert_contains "$T/again2.log" "could not revoke the refresh token this login replaced" "a failed revocation is logged"
pass "a revocation that fails does not fail the login (logged; the new token is cached)"
hook POST /faults/clear '{}' >/dev/null
# --- PAM_TTY and PAM_RHOST are the caller's: escaped in the store, the log and status -----
# A newline would start a forged log line; ESC sequences would drive the
# admin's terminal at authgear-pam status. The driver sets them as given.
BAD_RHOST=$'evil\n\e[31mred' BAD_TTY=$'pts/\e]0;owned\a'
RHOST_OF=$BAD_RHOST TTY_OF=$BAD_TTY hold esc keep carol authenticate,open_session,pause,close_session carol-password-1
want_rhost='evil\x0a\x1b[31mred' want_tty='pts/\x1b]0;owned\x07'
row=$(sqlite3 -readonly "$DB" "SELECT tty || ' ' || rhost FROM sessions")
[ "$row" = "$want_tty $want_rhost" ] || { printf '%q\n' "$row"; fail "the session row holds PAM_TTY/PAM_RHOST unescaped"; }
assert_contains "$T/esc.log" "opened (tty $want_tty, from $want_rhost, pid $PID_esc)" "the log line carries them escaped"
status "$T/keep.conf" carol || { cat "$T/status.out"; fail "status failed"; }
assert_contains "$T/status.out" "tty $want_tty from $want_rhost" "status shows them escaped"
if grep -q $'\e' "$T/status.out" "$T/esc.log"; then fail "an ESC byte reached the log or status output"; fi
release esc
expect_rc esc 0
RT=$(col refresh_token carol) # this login's, for the checks below
pass "PAM_TTY and PAM_RHOST with a newline and escape sequences: escaped (\\xHH) in the store, the log and status"

# --- check-account: the account check from a terminal, each step timed ------------------
"$CLI" check-account --config "$T/keep.conf" carol > "$T/ca.out" 2>&1 || { cat "$T/ca.out"; fail "check-account denied a live user"; }
assert_contains "$T/ca.out" "checked at Authgear (refresh)" "check-account runs the refresh check"
grep -qE '^ +[0-9]+\.[0-9] ms  http: POST https://.*/oauth2/token: 200' "$T/ca.out" || { cat "$T/ca.out"; fail "check-account: no timed token step"; }
grep -qE '^allowed: 1 request, [0-9.]+ ms$' "$T/ca.out" || { cat "$T/ca.out"; fail "check-account: no result line"; }
grep -qF -- "$RT" "$T/ca.out" && fail "check-account prints the refresh token"
pass "check-account: each step with its duration, the result and the request count; no token"

# --- forget: revokes at Authgear first, then removes everything ----------------------------
"$CLI" forget --config "$T/keep.conf" carol > "$T/forget.out" 2>&1 || { cat "$T/forget.out"; fail "forget failed"; }
assert_contains "$T/forget.out" "revoked carol's refresh token at Authgear" "forget says it revoked"
live "$RT" && fail "forget did not revoke the refresh token"
[ "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM users WHERE name = 'carol'")" = 0 ] || fail "forget left carol"
[ "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM tokens")" = 0 ] || fail "forget left a token row"
pass "forget: the refresh token is refused at the IdP, the user and its tokens are gone"
"$CLI" check-account --config "$T/keep.conf" carol > "$T/ca2.out" 2>&1 && { cat "$T/ca2.out"; fail "check-account allowed a forgotten user"; }
assert_contains "$T/ca2.out" "denied (denied): Sign in once with your password and code." "check-account after forget: denied, with the person's line"

# --- token_key_file: sealed columns; a wrong key denies ----------------------------------
head -c 32 /dev/urandom > "$T/token.key"; chmod 0600 "$T/token.key"
conf "$T/sealed.conf" "revoke_on_logout = yes" "token_key_file = $T/token.key"
pam_service sealed "auth required $MODULE config=$T/sealed.conf debug" "account required $MODULE config=$T/sealed.conf debug" \
	"session required $MODULE config=$T/sealed.conf debug"
totp_login s1 sealed bob
run s2 sealed bob acct_mgmt
expect_rc s2 0
[ "$(sqlite3 -readonly "$DB" "SELECT typeof(t.refresh_token) || typeof(t.access_token) || typeof(t.id_token) FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = 'bob'")" = blobblobblob ] ||
	fail "token_key_file: the token columns are not sealed"
sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
BOBRT=$(issued bob)
[ -n "$BOBRT" ] || fail "the IdP issued bob no refresh token"
for tok in $BOBRT; do
	for f in "$DB" "$DB-wal"; do
		[ -f "$f" ] || continue
		grep -qaF -- "$tok" "$f" && fail "token_key_file: $f holds a refresh token the IdP issued"
		grep -qaF -- "${tok#*.}" "$f" && fail "token_key_file: $f holds a refresh token's secret part"
	done
done
pass "token_key_file: the database file holds none of the refresh tokens the IdP issued (sealed BLOBs); the check reads them"
status "$T/sealed.conf" bob
assert_contains "$T/status.out" "sealed (token_key_file)" "status says the tokens are sealed"
head -c 32 /dev/urandom > "$T/other.key"; chmod 0600 "$T/other.key"
sed -i "s|^token_key_file = .*|token_key_file = $T/other.key|" "$T/sealed.conf"
run wrong sealed bob acct_mgmt
grep -q "Permission denied" "$T/wrong.out" || { cat "$T/wrong.out" "$T/wrong.log"; fail "a wrong key did not deny"; }
assert_contains "$T/wrong.log" "does not open with token_key_file" "a wrong key: the reason is logged"
for bad in 0644 0640; do
	chmod $bad "$T/other.key"
	run badmode sealed bob acct_mgmt
	grep -q "Permission denied\|Authentication service cannot retrieve" "$T/badmode.out" || { cat "$T/badmode.out"; fail "key mode $bad accepted"; }
	assert_contains "$T/badmode.log" "token_key_file $T/other.key" "key file mode $bad: refused with the reason"
done
chmod 0600 "$T/other.key"; head -c 31 /dev/urandom > "$T/other.key"
run badsize sealed bob acct_mgmt
grep -q "rc=0 " "$T/badsize.out" && fail "a 31-byte key was accepted"
assert_contains "$T/badsize.log" "must hold exactly 32 random bytes" "a short key is refused with the reason"
chown 1:1 "$T/other.key"; head -c 32 /dev/urandom > "$T/other.key"
run badowner sealed bob acct_mgmt
grep -q "rc=0 " "$T/badowner.out" && fail "a key file not owned by root was accepted"
assert_contains "$T/badowner.log" "owned by uid 1" "a key file owned by another user is refused"
"$CLI" check --config "$T/sealed.conf" > "$T/check-bad.out" 2>&1
grep -qE "^FAIL +token_key .*owned by uid 1" "$T/check-bad.out" || { cat "$T/check-bad.out"; fail "check: no token_key failure"; }
chown 0:0 "$T/other.key"
"$CLI" check --config "$T/sealed.conf" > "$T/check-ok.out" 2>&1
grep -qE "^ok +token_key .*32 bytes" "$T/check-ok.out" || { cat "$T/check-ok.out"; fail "check: no token_key ok line"; }
pass "authgear-pam check reports an unusable token_key_file with its reason, and a usable one"

# --- tokens absent from every log and from the NSS index ---------------------------------
ALL="$(issued carol) $(issued bob)"
for tok in $ALL; do
	for f in "$T"/*.log "$T"/*.out "$T"/*.err "$T/state/nss.index"; do
		[ -f "$f" ] || continue
		grep -qF -- "$tok" "$f" && fail "a refresh token is in $f"
	done
done
pass "no refresh token the IdP issued is in any log, transcript, status output or the NSS index"

# --- forget with the IdP down --------------------------------------------------------------
sed -i "s|^token_key_file = .*|token_key_file = $T/token.key|" "$T/sealed.conf"
idp_stop_current; IDP_STATE=
"$CLI" forget --config "$T/sealed.conf" bob > "$T/forgetdown.out" 2>&1 && { cat "$T/forgetdown.out"; fail "forget with the IdP down exited 0"; }
assert_contains "$T/forgetdown.out" "could not revoke bob's refresh token at Authgear" "forget with the IdP down says so"
assert_contains "$T/forgetdown.out" "forgot bob" "and removes the user anyway"
[ "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM users WHERE name = 'bob'")" = 0 ] || fail "forget (IdP down) left bob"
pass "forget with the IdP down: says the revocation failed, removes everything here, exits 1"
