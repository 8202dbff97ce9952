#!/bin/bash
# The fault matrix's IdP rows (tests/faults/README.md) through the real libpam
# (pam_wrapper + pam_driver) against the test IdP over HTTPS with a fault
# injected at one step of the login: each row asserts the one line the
# person sees, the PAM code, that login_timeout bounds the attempt, that
# state_dir did not change wrongly (the store passes quick_check, its users,
# groups, memberships, roles and meta are unchanged, nss.index and the
# caches byte for byte) and that a local pam_unix user (nss_wrapper) still
# signs in through the same stack.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 missing"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
FIXTURE="$IDP_DIR/fixtures/users.json"

[ "$(id -u)" = 0 ] || skip "needs root (a private mount namespace for /etc/shadow)"
# A local user pam_unix knows: its passwd entry through nss_wrapper, its
# shadow entry bound over /etc/shadow in a private mount namespace (pam_unix
# reads the shadow file itself, past nss_wrapper).
echo "faultlocal:x:64990:64990::/nonexistent:/bin/sh" >> "$NSS_WRAPPER_PASSWD"
echo "faultlocal:x:64990:" >> "$NSS_WRAPPER_GROUP"
echo "faultlocal:$(openssl passwd -6 local-secret-1):19000:0:99999:7:::" > "$T/shadow"
chmod 0600 "$T/shadow"

idp_start "$T/idp"
# timeout = 30 per request, login_timeout = 6 for the whole call: a hang or
# a drip ends at login_timeout, not at the request's own timeout.
write_config "$T/c.conf" "users = alice, bob" "timeout = 30" "connect_timeout = 2" "login_timeout = 6" \
	"max_attempts_per_minute = 1000"
pam_service ag "auth [success=done ignore=ignore default=die] $MODULE config=$T/c.conf" \
	"auth required pam_unix.so" "account required pam_permit.so"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
totp() { hook GET "/totp/$1" | jget code; }
PW=$(password alice)

# run CASE USER ANSWERS...: transcript in $T/CASE.out, log in $T/CASE.log.
# The rows are the step-by-step order (password, the choice, the code): the
# second factor a login remembers (the one-request order, test_batch.sh) is
# forgotten after each run, so it never selects the batch.
run() {
	local c=$1 user=$2; shift 2
	timeout 120 unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/shadow && exec "$@"' "$T/shadow" env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" ag "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
	[ ! -f "$T/state/private/accounts.db" ] ||
		sqlite3 "$T/state/private/accounts.db" "UPDATE users SET last_factor = NULL WHERE last_factor IS NOT NULL" ||
		fail "forget last_factor"
}

DB="$T/state/private/accounts.db"
local_login() {
	run "$1-local" faultlocal local-secret-1
	grep -q '^rc=0 ' "$T/$1-local.out" || { cat "$T/$1-local.out" "$T/$1-local.log"; fail "$1: the local user did not sign in"; }
}

# row CASE LINE RC REASON: alice's login under the fault in place; exactly
# the one error LINE, rc=RC, REASON in the log, at most login_timeout (6 s)
# plus a loose 30 s for a loaded machine; state unchanged; a local login.
row() {
	local c=$1 line=$2 want_rc=$3 reason=$4
	code=$(totp alice)
	start=$(now_ms)
	run "$c" alice "$PW" 1 "$code"
	elapsed=$(( $(now_ms) - start ))
	hook POST /faults/clear '{}' >/dev/null
	[ "$(grep -c '^error: ' "$T/$c.out")" = 1 ] || { cat "$T/$c.out"; fail "$c: want exactly one error line"; }
	grep -qxF "error: $line" "$T/$c.out" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: want the line '$line'"; }
	grep -q "^rc=$want_rc " "$T/$c.out" || { cat "$T/$c.out"; fail "$c: want rc=$want_rc"; }
	grep -qF -- "$reason" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: log lacks '$reason'"; }
	[ $elapsed -le 36000 ] || fail "$c: took $elapsed ms (login_timeout = 6)"
	expect_state_unchanged "$c"
	local_login "$c"
	pass "$c: '$line' rc=$want_rc in ${elapsed} ms; state_dir unchanged; the local user signs in"
}
fault() { hook POST /faults/clear '{}' >/dev/null; hook POST /faults "$1" >/dev/null || fail "fault $1"; }

# --- a good login first: alice bound, caches filled ------------------------------
run warmup alice "$PW" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/warmup.out" || { cat "$T/warmup.out" "$T/warmup.log"; fail "warmup login"; }
local_login warmup
mkdir "$T/cache-copy"
cp -a "$T/state/private/discovery.json" "$T/cache-copy/"
JWKS_CACHE=$(cd "$T/state/private" && ls | grep -i jwks | head -1)
[ -n "$JWKS_CACHE" ] || { ls -la "$T/state/private"; fail "no JWKS cache after a login"; }
cp -a "$T/state/private/$JWKS_CACHE" "$T/cache-copy/"
state_snapshot before

SERVER="The sign-in service failed; try again later."
ODD="The sign-in service answered unexpectedly; ask your administrator."
SLOW="The sign-in service did not answer in time; try again later."
UNREACH="Cannot reach the sign-in service; try again later."
TLS="Cannot reach the sign-in service securely; ask your administrator."
UNVERIFIED="Sign-in failed: the sign-in service's answer could not be verified."
FLOW=/api/v1/authentication_flows
INPUT=/api/v1/authentication_flows/states/input

# --- 5xx at each step --------------------------------------------------------------
# discovery and JWKS: their caches removed, so the login must fetch them; a
# failed fetch must not leave a cache behind (restored after the row).
rm "$T/state/private/discovery.json"
state_snapshot before
fault '{"path":"/.well-known/openid-configuration","type":"http500"}'
row discovery-500 "$SERVER" 9 "server error 500"
cp -a "$T/cache-copy/discovery.json" "$T/state/private/"
rm "$T/state/private/$JWKS_CACHE"
state_snapshot before
fault '{"path":"/oauth2/jwks","type":"status","status":503}'
row jwks-503 "$SERVER" 9 "server error 503"
cp -a "$T/cache-copy/$JWKS_CACHE" "$T/state/private/"
state_snapshot before
fault '{"path":"/oauth2/authorize","type":"status","status":502}'
row authorize-502 "$SERVER" 9 "502"
fault '{"path":"'$FLOW'","type":"status","status":502}'
row flow-502 "$SERVER" 9 "502"
fault '{"path":"'$INPUT'","type":"status","status":503,"count":1}'
row password-503 "$SERVER" 9 "503"
fault '{"path":"/oauth2/token","type":"http500"}'
row token-500 "$SERVER" 9 "server error 500"

# --- answers that are not what they claim ------------------------------------------
fault '{"path":"'$FLOW'","type":"html200"}'
row flow-html200 "$ODD" 9 "authflow: invalid JSON"
fault '{"path":"/oauth2/token","type":"truncated_json"}'
row token-truncated "$ODD" 9 "invalid JSON"
fault '{"path":"'$INPUT'","type":"oversized","bytes":3145728}'
row input-oversized "$ODD" 9 "response over the body limit"
fault '{"path":"/oauth2/token","type":"cut_connection"}'
row token-cut "$UNREACH" 9 "token"

# --- an IdP that accepts and never answers, or drips: login_timeout ends it ----------
fault '{"path":"'$FLOW'","type":"hang"}'
row flow-hang "$SLOW" 9 "cut at login_timeout (6 s)"
[ $elapsed -ge 4500 ] || fail "flow-hang: ended after $elapsed ms, before login_timeout (6 s)"
fault '{"path":"/oauth2/token","type":"drip","interval":1}'
row token-drip "$SLOW" 9 "cut at login_timeout (6 s)"
[ $elapsed -ge 4500 ] || fail "token-drip: ended after $elapsed ms, before login_timeout (6 s)"

# --- TLS: wrong host name, unknown CA --------------------------------------------------
hook POST /faults/tls '{"cert":"wrong_host"}' >/dev/null
row tls-wrong-host "$TLS" 9 "no alternative certificate subject name matches target host name"
hook POST /faults/tls '{"cert":"wrong_ca"}' >/dev/null
row tls-unknown-ca "$TLS" 9 "unable to get local issuer certificate"
hook POST /faults/tls '{"cert":"normal"}' >/dev/null

# --- the IdP's clock 10 min off (its token times; the module's clock is the host's) ----
now=$(date +%s)
hook POST /tokens/next-id-token "{\"payload\":{\"iat\":$((now + 600)),\"auth_time\":$((now + 600)),\"exp\":$((now + 4200))}}" >/dev/null
row clock-ahead-10min "$UNVERIFIED" 7 "iat in the future"
hook POST /tokens/clear >/dev/null
# 10 min behind: the token is still inside its lifetime, the login succeeds
# (leeway bounds only the future side); nothing is refused that should pass.
now=$(date +%s)
hook POST /tokens/next-id-token "{\"payload\":{\"iat\":$((now - 600)),\"auth_time\":$((now - 600)),\"exp\":$((now + 3000))}}" >/dev/null
run clock-behind-10min alice "$PW" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
grep -q '^rc=0 ' "$T/clock-behind-10min.out" || { cat "$T/clock-behind-10min.out" "$T/clock-behind-10min.log"; fail "clock-behind-10min: want a successful login"; }
[ "$(sqlite3 -readonly "$DB" 'PRAGMA quick_check')" = ok ] || fail "clock-behind-10min: quick_check"
local_login clock-behind-10min
pass "clock-behind-10min: the login succeeds; the local user signs in"
state_snapshot before

# --- discovery that changes its issuer; a host name that does not resolve --------------
rm "$T/state/private/discovery.json"
state_snapshot before
fault '{"path":"/.well-known/openid-configuration","type":"wrong_issuer"}'
row discovery-issuer-changed "$ODD" 9 "issuer"
cp -a "$T/cache-copy/discovery.json" "$T/state/private/"
state_snapshot before
# DNS failure: the issuer's host name does not resolve (.invalid, RFC 6761).
cp "$T/c.conf" "$T/c.conf.saved"
sed -i "s|^issuer = https://127.0.0.1:|issuer = https://idp.invalid:|" "$T/c.conf"
row dns-failure "$UNREACH" 9 "Could not resolve host"
cp "$T/c.conf.saved" "$T/c.conf"
state_snapshot before

# --- JWKS rotation inside one login -------------------------------------------------
# The cached JWKS (fetched over a minute ago, so a kid miss may refetch)
# lacks the key that signs this login's ID token: one refetch, then the
# login goes on. A kid in neither the cached nor the refetched JWKS: one
# refetch, then refused. Only jwks.json may change (the refetch rewrites it).
backdate_jwks() { node -e 'const f=process.argv[1],j=require(f);j.fetched_at-=120;require("fs").writeFileSync(f,JSON.stringify(j))' "$T/state/private/$JWKS_CACHE"; }
no_jwks() { grep -v " ./private/$JWKS_CACHE\$" "$1"; }
jwks_row_state() {
	[ "$(sqlite3 -readonly "$DB" 'PRAGMA quick_check')" = ok ] || fail "$1: store quick_check failed"
	state_snapshot after
	diff -u <(no_jwks "$T/snap.before") <(no_jwks "$T/snap.after") || fail "$1: state_dir changed (beyond jwks.json)"
	[ "$(counter /oauth2/jwks)" = 1 ] || fail "$1: want exactly one JWKS refetch, saw $(counter /oauth2/jwks)"
}
backdate_jwks
hook POST /keys/rotate '{}' >/dev/null
NEW_KID=$(hook GET /keys | jget signing_kid)
grep -qF "$NEW_KID" "$T/state/private/$JWKS_CACHE" && fail "jwks-rotation: the cached JWKS has the new kid already"
hook POST /counters/reset >/dev/null
run jwks-rotation alice "$PW" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/jwks-rotation.out" || { cat "$T/jwks-rotation.out" "$T/jwks-rotation.log"; fail "jwks-rotation: want a successful login"; }
grep -qF "jwks: refetched after an unknown kid (" "$T/jwks-rotation.log" || { cat "$T/jwks-rotation.log"; fail "jwks-rotation: the refetch is not logged"; }
grep -qF "$NEW_KID" "$T/state/private/$JWKS_CACHE" || fail "jwks-rotation: the new kid is not in the cached JWKS"
[ "$(counter /oauth2/jwks)" = 1 ] || fail "jwks-rotation: want exactly one JWKS refetch, saw $(counter /oauth2/jwks)"
[ "$(sqlite3 -readonly "$DB" 'PRAGMA quick_check')" = ok ] || fail "jwks-rotation: store quick_check failed"
local_login jwks-rotation
pass "jwks-rotation: the ID token's kid not in the cached JWKS: one refetch, signed in; the local user signs in"
backdate_jwks
state_snapshot before
hook POST /counters/reset >/dev/null
hook POST /tokens/next-id-token '{"key":"fresh","kid":"kid-in-neither-jwks"}' >/dev/null
run jwks-unknown-kid alice "$PW" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
grep -q '^rc=7 ' "$T/jwks-unknown-kid.out" || { cat "$T/jwks-unknown-kid.out" "$T/jwks-unknown-kid.log"; fail "jwks-unknown-kid: want rc=7"; }
[ "$(grep -c '^error: ' "$T/jwks-unknown-kid.out")" = 1 ] && grep -qxF "error: $UNVERIFIED" "$T/jwks-unknown-kid.out" ||
	{ cat "$T/jwks-unknown-kid.out"; fail "jwks-unknown-kid: want the one line '$UNVERIFIED'"; }
grep -qF "kid kid-in-neither-jwks not in JWKS" "$T/jwks-unknown-kid.log" || { cat "$T/jwks-unknown-kid.log"; fail "jwks-unknown-kid: reason"; }
jwks_row_state jwks-unknown-kid
local_login jwks-unknown-kid
pass "jwks-unknown-kid: a kid in neither JWKS: one refetch, then refused (rc=7, '$UNVERIFIED'); state unchanged but jwks.json; the local user signs in"
state_snapshot before

# --- the IdP down: connection refused ------------------------------------------------
"$IDP_DIR/stop.sh" "$T/idp" >/dev/null
IDP_STATE=
hook() { :; }
totp() { echo 000000; }
row refused "$UNREACH" 9 "Couldn't connect to server"

# --- no password or code in any log or under state_dir -------------------------------
if grep -rqF -- "$PW" "$T"/*.log "$T/state"; then fail "the password leaked into a log or state_dir"; fi
pass "no password in the logs or under state_dir"
