#!/bin/bash
# The attack catalogue's new rows (tests/attacks/README.md) through the real
# libpam (pam_wrapper + pam_driver), the CLI and the test IdP over HTTPS:
# each case asserts the denial (PAM code, the line the person sees), the
# reason in the log, and that nothing was written wrongly (the store's
# accounts, the token cache of the other users, nss.index and the caches,
# byte for byte, unless the case says what changes by design).
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 missing"
[ "$(id -u)" = 0 ] || skip "needs root (the store refuses files not owned by root)"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
FIXTURE="$IDP_DIR/fixtures/users.json"
ROLES_CLAIM=https://authgear.com/claims/user/roles
ANON_CLAIM=https://authgear.com/claims/user/is_anonymous

idp_start "$T/idp"
write_config "$T/c.conf" "users = alice, bob, carol, dev-*" "timeout = 10" "max_attempts_per_minute = 1000" \
	"account_check_cache = 3600" "[roles]" "unix-admin = authgear-admins" "unix-user = authgear-users"
pam_service ag "auth required $MODULE config=$T/c.conf debug" "account required $MODULE config=$T/c.conf debug" \
	"session required $MODULE config=$T/c.conf debug"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
sub_of() { hook GET "/users/$1" | jget sub; }
totp() { hook GET "/totp/$1" | jget code; }
PW=$(password alice)
DB="$T/state/private/accounts.db"
# the index the module consults for a broken configuration (test builds)
AUTHGEAR_NSS_INDEX="$T/state/nss.index"
export AUTHGEAR_NSS_INDEX

# run CASE SERVICE USER OPS ANSWERS...: transcript $T/CASE.out, log $T/CASE.log
# (the step-by-step order: the remembered second factor is forgotten first).
run() {
	local c=$1 svc=$2 user=$3 ops=$4; shift 4
	[ -n "${NOFORGET:-}" ] || [ ! -f "$DB" ] || sqlite3 "$DB" "UPDATE users SET last_factor = NULL WHERE last_factor IS NOT NULL" ||
		fail "forget last_factor"
	timeout 120 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" "$ops" "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
# deny CASE RC LINE REASON: the case's transcript ends with rc=RC, has the
# error LINE (unless empty), the log has REASON, state_dir unchanged.
deny() {
	local c=$1 rc=$2 line=$3 reason=$4
	grep -q "^rc=$rc " "$T/$c.out" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: want rc=$rc"; }
	[ -z "$line" ] || grep -qxF "error: $line" "$T/$c.out" || { cat "$T/$c.out"; fail "$c: want the line '$line'"; }
	grep -qF -- "$reason" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: log lacks '$reason'"; }
	expect_state_unchanged "$c"
	pass "$c: rc=$rc${line:+ '$line'}; log: $reason; state_dir unchanged"
}
UNVERIFIED="Sign-in failed: the sign-in service's answer could not be verified."
BROKEN="Sign-in is unavailable: this host's Authgear configuration is broken."
LOCALIO="Sign-in failed: a local file could not be read or written."

# --- alice and bob signed in (bound, token cache filled, caches written) ------------
run warm-alice ag alice authenticate,acct_mgmt "$PW" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/warm-alice.out" || { cat "$T/warm-alice.out" "$T/warm-alice.log"; fail "alice's first login"; }
run warm-bob ag bob authenticate,acct_mgmt "$(password bob)" "$(totp bob)"
grep -q '^rc=0 ' "$T/warm-bob.out" || { cat "$T/warm-bob.out" "$T/warm-bob.log"; fail "bob's first login"; }
SUB_ALICE=$(sub_of alice) SUB_BOB=$(sub_of bob)
[ "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM tokens")" = 2 ] || fail "want two token rows after the warm-up"
state_snapshot before

# --- username injection through PAM_USER, at every entry point ----------------------
# The pattern dev-* would take a name the grammar let through: none of these
# reaches the IdP, the store or the index (PAM_IGNORE, then the stack's
# default: 6 PAM_PERM_DENIED with nothing else in it).
LONG=dev-$(printf 'a%.0s' $(seq 296))
hook POST /counters/reset >/dev/null
i=0
for name in "alice"$'\n' "dev-x"$'\n'"root" "../root" "dev-../root" "-oProxyCommand=sh" "dev-x -oProxyCommand=sh" \
	"$LONG" "dev-"$'\xd0\xb0'"lice" $'\xef\xbd\x81'"lice" "dev-x"$'\xe2\x80\x8b' "alice " "ALICE" "dev-x:0:0"; do
	i=$((i + 1))
	for ops in authenticate acct_mgmt open_session; do
		c=user-inject-$i-$ops
		run "$c" ag "$name" "$ops" "$PW" 1 000000
		grep -q '^rc=\(6\|7\|25\|28\) ' "$T/$c.out" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: a hostile PAM_USER was not refused"; }
		grep -q '^prompt' "$T/$c.out" && { cat "$T/$c.out"; fail "$c: prompted for a hostile name"; }
		grep -qF "is not an Authgear user here; ignored" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: no reason logged"; }
	done
done
[ "$(requests)" = 0 ] || fail "a hostile PAM_USER reached the IdP"
expect_state_unchanged user-inject
pass "user-inject: $i hostile PAM_USER names (newline, ../root, -oProxyCommand=, 300 bytes, confusables, zero-width, ':') at authenticate, acct_mgmt and open_session: no prompt, zero requests, reason logged, state_dir unchanged"

# --- username injection through the CLI ------------------------------------------
i=0
for name in "alice"$'\n' "../root" "-oProxyCommand=sh" "$LONG" $'\xd0\xb0'"lice"; do
	i=$((i + 1))
	for cmd in "forget" "pin 5000" "status" "check-account"; do
		set -- $cmd
		c=cli-inject-$i-$1
		if "$CLI" "$1" --config "$T/c.conf" -- "$name" ${2:-} > "$T/$c.out" 2>&1; then
			cat "$T/$c.out"; fail "$c: the CLI accepted a hostile name"
		fi
		tr "\n" " " < "$T/$c.out" | grep -q "is not a valid user name\|no user .* in the store\|is not an Authgear user here" ||
			{ cat "$T/$c.out"; fail "$c: no reason printed"; }
	done
done
[ "$(requests)" = 0 ] || fail "a hostile CLI name reached the IdP"
# A name with / never becomes part of a path (the per-user lock file).
mkdir "$T/state/private/check-x"
"$CLI" forget --config "$T/c.conf" -- "x/../../../escape" > "$T/cli-inject-slash.out" 2>&1 && fail "forget x/../../../escape succeeded"
[ ! -e "$T/escape.lock" ] || fail "cli-inject-slash: forget created $T/escape.lock outside state_dir"
rmdir "$T/state/private/check-x"
expect_state_unchanged cli-inject
pass "cli-inject: $i hostile names at forget, pin, status and check-account: exit non-zero with the reason, zero requests, state_dir unchanged"

# --- username injection through the configuration ------------------------------
# A hostile name in [uids] or [roles] is a syntax error with file:line: the
# bound alice is refused (not passed on to a local password), nothing written.
for v in "[uids]|-oProxyCommand = 200000" "[uids]|../root = 200000" "[roles]|unix-admin = ../root" "[roles]|unix-admin = -oProxyCommand=sh"; do
	c=config-inject-$(echo "$v" | tr -c 'a-z0-9' - | sed 's/--*/-/g; s/-$//')
	cp "$T/c.conf" "$T/inj.conf"
	printf '%s\n' "$(echo "$v" | tr '|' '\n')" >> "$T/inj.conf"
	pam_service inj "auth required $MODULE config=$T/inj.conf" "account required $MODULE config=$T/inj.conf"
	run "$c" inj alice authenticate "$PW"
	deny "$c" 9 "$BROKEN" "$T/inj.conf:"
	run "$c-acct" inj alice acct_mgmt
	deny "$c-acct" 9 "$BROKEN" "$T/inj.conf:"
done
# In users = a hostile entry is a configuration error with file:line: even
# a listed, valid name (alice) is refused with it (no prompt, no request).
for v in "../root" "-oProxyCommand=sh"; do
	c=config-users-$(echo "$v" | tr -c 'a-z0-9' - | sed 's/--*/-/g; s/^-//; s/-$//')
	sed "s|^users = .*|users = alice, $v|" "$T/c.conf" > "$T/inj.conf"; chmod 0600 "$T/inj.conf"
	pam_service inj "auth required $MODULE config=$T/inj.conf debug"
	hook POST /counters/reset >/dev/null
	run "$c" inj alice authenticate "$PW"
	deny "$c" 9 "$BROKEN" "users: '$v' can never be a Unix user name"
	grep -qF "$T/inj.conf:" "$T/$c.log" || fail "$c: the log does not name file:line"
	[ "$(requests)" = 0 ] || fail "$c: a request was made"
done

# --- username injection through the IdP's claims ---------------------------------
i=0
for spec in "{\"payload\":{\"sub\":\"$SUB_ALICE\n\"}}" "{\"payload\":{\"sub\":\"../root\"}}" \
	"{\"payload\":{\"$ROLES_CLAIM\":[\"unix-admin\n\"]}}" "{\"payload\":{\"$ROLES_CLAIM\":[\"unix-admin\u0000x\"]}}"; do
	i=$((i + 1)); c=claim-inject-$i
	hook POST /tokens/next-id-token "$spec" >/dev/null
	run "$c" ag alice authenticate "$PW" 1 "$(totp alice)"
	hook POST /tokens/clear >/dev/null
	case $i in
	2) deny "$c" 6 "This user name is linked to another Authgear account." "store: alice is bound to sub $SUB_ALICE; refusing sub ../root" ;;
	4) deny "$c" "[79]" "" "is not allowed without JSON_ALLOW_NUL" ;; # a NUL in the name: the JSON is refused
	*) deny "$c" 7 "$UNVERIFIED" "without control characters" ;;
	esac
done

# --- sub swap, another client's token, anonymous ---------------------------------------
hook POST /tokens/next-id-token "{\"payload\":{\"sub\":\"$SUB_BOB\"}}" >/dev/null
run sub-swap ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
deny sub-swap 6 "This user name is linked to another Authgear account." "store: alice is bound to sub $SUB_ALICE; refusing sub $SUB_BOB"
hook POST /tokens/next-id-token '{"payload":{"aud":["pam_authgear_jwt"],"azp":"pam_authgear_jwt"}}' >/dev/null
run other-client ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
deny other-client 7 "$UNVERIFIED" "claims: aud does not contain client_id pam_authgear"
hook POST /tokens/next-id-token "{\"payload\":{\"$ANON_CLAIM\":true}}" >/dev/null
run anonymous-token ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
deny anonymous-token 6 "" "anonymous Authgear user refused"

# --- roles of the wrong type; roles naming privileged groups nobody mapped -------------
hook POST /tokens/next-id-token "{\"payload\":{\"$ROLES_CLAIM\":\"unix-admin\"}}" >/dev/null
run roles-string ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
deny roles-string 7 "$UNVERIFIED" "$ROLES_CLAIM is not an array"
hook POST /tokens/next-id-token "{\"payload\":{\"$ROLES_CLAIM\":{\"unix-admin\":true}}}" >/dev/null
run roles-object ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
deny roles-object 7 "$UNVERIFIED" "$ROLES_CLAIM is not an array"
node -e 'console.log(JSON.stringify({payload:{[process.argv[1]]:Array.from({length:100000},(_,i)=>"r"+i)}}))' "$ROLES_CLAIM" > "$T/roles100k.json"
curl -fsS -X POST -H 'content-type: application/json' --data-binary @"$T/roles100k.json" "$HOOK_URL/tokens/next-id-token" >/dev/null
run roles-100k ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /tokens/clear >/dev/null
grep -q '^rc=\(7\|9\) ' "$T/roles-100k.out" || { cat "$T/roles-100k.out"; fail "roles-100k: want a denial"; }
grep -qF "too long" "$T/roles-100k.log" || grep -qF "over the body limit" "$T/roles-100k.log" ||
	{ cat "$T/roles-100k.log"; fail "roles-100k: no size reason logged"; }
expect_state_unchanged roles-100k
pass "roles-100k: a roles claim of 100,000 entries refused by size; state_dir unchanged"
# Roles the IdP names but [roles] does not map never become Unix groups,
# however privileged their names: alice signs in with her mapped groups only.
hook POST /users/alice/roles '{"roles":["unix-admin","sudo","root","wheel","adm","shadow","disk","docker"]}' >/dev/null
run roles-unmapped ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /users/alice/roles '{"roles":["unix-admin","unix-user"]}' >/dev/null
grep -q '^rc=0 ' "$T/roles-unmapped.out" || { cat "$T/roles-unmapped.out" "$T/roles-unmapped.log"; fail "roles-unmapped: alice must still sign in"; }
got=$(sqlite3 -readonly "$DB" "SELECT g.name FROM groups g JOIN memberships m ON m.group_id = g.id JOIN users u ON u.id = m.user_id WHERE u.name = 'alice' ORDER BY 1" | tr '\n' ' ')
for g in sudo root wheel adm shadow disk docker; do
	sqlite3 -readonly "$DB" "SELECT name FROM groups" | grep -qx "$g" && fail "roles-unmapped: a group $g was created"
	AUTHGEAR_NSS_INDEX="$T/state/nss.index" "$abs_top_builddir/tests/tools/nss_lookup" group "$g" 2>/dev/null | grep -q 'authgear' &&
		fail "roles-unmapped: the index answers the group $g"
done
case " $got" in *" authgear-admins "*) ;; *) fail "roles-unmapped: alice lost her mapped group ($got)" ;; esac
pass "roles-unmapped: roles sudo, root, wheel, adm, shadow, disk, docker mapped to nothing: alice's groups are $got"
state_snapshot before

# --- PAM_USER changed between authenticate and acct_mgmt / open_session ---------------
# bob has a fresh token cache: a check of bob alone would pass. After alice
# authenticated in this handle, the module refuses to check someone else.
for op in acct_mgmt open_session; do
	c=user-changed-$op
	run "$c" ag alice "authenticate,user=bob,$op" "$PW" 1 "$(totp alice)"
	grep -q "^$op: rc=" "$T/$c.out" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: $op after PAM_USER changed to bob passed"; }
	grep -qF "PAM_USER changed from alice to bob after authentication" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: no reason logged"; }
	# alice's login itself wrote her row (last login, tokens): compare bob's only
	sqlite3 -readonly "$DB" "SELECT t.* FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = 'bob'" > "$T/bob.now"
	sed -n '/^== \* FROM tokens/,/^== \* FROM sessions/p' "$T/snap.before" | grep "^$(sqlite3 -readonly "$DB" "SELECT id FROM users WHERE name = 'bob'")|" > "$T/bob.before"
	diff -u "$T/bob.before" "$T/bob.now" || fail "$c: bob's token cache changed"
	[ "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM sessions")" = 0 ] || fail "$c: a session was recorded"
	pass "$c: authenticate as alice, PAM_USER set to bob, $op refused with the reason logged; bob's cache untouched, no session"
done
state_snapshot before

# --- a cache row swapped for another user's (sub mismatch) ------------------------------
# alice's row carries bob's refresh token and sub; outside the cache window
# the check refreshes and sees bob's sub: denied, alice's row dropped, bob's
# and the bindings untouched.
sqlite3 "$DB" "UPDATE tokens SET refresh_token = (SELECT refresh_token FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = 'bob'),
	sub = '$SUB_BOB', checked_at = 1, check_ok_at = 1 WHERE user_id = (SELECT id FROM users WHERE name = 'alice')"
run cache-swap ag alice acct_mgmt
grep -q '^rc=\(6\|7\) ' "$T/cache-swap.out" || { cat "$T/cache-swap.out" "$T/cache-swap.log"; fail "cache-swap: want a denial"; }
grep -qF "another sub" "$T/cache-swap.log" || { cat "$T/cache-swap.log"; fail "cache-swap: no reason logged"; }
[ "$(sqlite3 -readonly "$DB" "SELECT sub FROM users WHERE name = 'alice'")" = "$SUB_ALICE" ] || fail "cache-swap: alice's binding changed"
[ "$(sqlite3 -readonly "$DB" "SELECT sub FROM users WHERE name = 'bob'")" = "$SUB_BOB" ] || fail "cache-swap: bob's binding changed"
sqlite3 -readonly "$DB" "SELECT t.* FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = 'bob'" > "$T/bob.now"
sed -n '/^== \* FROM tokens/,/^== \* FROM sessions/p' "$T/snap.before" | grep "^$(sqlite3 -readonly "$DB" "SELECT id FROM users WHERE name = 'bob'")|" > "$T/bob.before"
diff -u "$T/bob.before" "$T/bob.now" || fail "cache-swap: bob's token cache changed"
pass "cache-swap: alice's cache row with bob's token and sub: denied ('another sub'), bindings and bob's row untouched"
run cache-swap-relogin ag alice authenticate,acct_mgmt "$PW" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/cache-swap-relogin.out" || { cat "$T/cache-swap-relogin.out" "$T/cache-swap-relogin.log"; fail "alice's login after the swap"; }
state_snapshot before

# --- symlinks planted at every store, index and cache path ------------------------------
# Each path replaced by a symlink to a decoy: the login is refused or the
# symlink replaced (never followed): the decoy is unchanged.
mkdir "$T/decoy"
i=0
for p in private/accounts.db private/accounts.db-wal nss.index private/discovery.json private/jwks.json private; do
	i=$((i + 1)); c=symlink-$(echo "$p" | tr '/.' '--')
	sqlite3 "$DB" "UPDATE users SET last_factor = NULL" || fail "forget last_factor"
	cp -a "$T/state" "$T/state-saved"
	rm -rf "$T/decoy/target"
	if [ -e "$T/state/$p" ]; then cp -a "$T/state/$p" "$T/decoy/target"; rm -rf "$T/state/$p"; else echo decoy > "$T/decoy/target"; fi
	( cd "$T/decoy" && find target -print0 | sort -z | xargs -0 sha256sum 2>/dev/null ) > "$T/decoy.sum"
	ln -s "$T/decoy/target" "$T/state/$p"
	NOFORGET=1 run "$c" ag alice authenticate "$PW" 1 "$(totp alice)"
	( cd "$T/decoy" && find target -print0 | sort -z | xargs -0 sha256sum 2>/dev/null ) | diff -u "$T/decoy.sum" - ||
		fail "$c: the symlink's target was written"
	if grep -q '^rc=0 ' "$T/$c.out"; then
		[ ! -L "$T/state/$p" ] || fail "$c: signed in through a symlink left in place"
		case $p in *.json) grep -qF "is a symlink; not followed, refetching" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: the cache was read through the symlink"; } ;; esac
		echo "$c: replaced, not followed" >> "$T/symlink.results"
	else
		grep -q '^rc=9 ' "$T/$c.out" || { cat "$T/$c.out"; fail "$c: want PAM_AUTHINFO_UNAVAIL"; }
		grep -qi "symlink\|not a directory\|not a regular file\|Too many levels" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: no reason logged"; }
		echo "$c: refused" >> "$T/symlink.results"
	fi
	rm -rf "$T/state"; mv "$T/state-saved" "$T/state"
	pass "$c:$(tail -1 "$T/symlink.results" | cut -d: -f2); the decoy unchanged"
done
# The store's own files are never replaced: a symlink there refuses the login.
for p in private-accounts-db private-accounts-db-wal private; do
	grep -qx "symlink-$p: refused" "$T/symlink.results" || { cat "$T/symlink.results"; fail "symlink-$p: want a refusal"; }
done
state_snapshot before

# --- a world-writable configuration; an issuer over plain http ---------------------------
cp "$T/c.conf" "$T/ww.conf"; chmod 0666 "$T/ww.conf"
pam_service ww "auth required $MODULE config=$T/ww.conf" "account required $MODULE config=$T/ww.conf"
run config-world-writable ww alice authenticate "$PW"
deny config-world-writable 9 "$BROKEN" "$T/ww.conf"
run config-world-writable-acct ww alice acct_mgmt
deny config-world-writable-acct 9 "$BROKEN" "$T/ww.conf"
sed "s|^issuer = https://|issuer = http://|" "$T/c.conf" > "$T/http.conf"; chmod 0600 "$T/http.conf"
pam_service http "auth required $MODULE config=$T/http.conf"
hook POST /counters/reset >/dev/null
run issuer-http http alice authenticate "$PW"
deny issuer-http 9 "The sign-in service answered unexpectedly; ask your administrator." "refused, only https is allowed"
[ "$(requests)" = 0 ] || fail "issuer-http: a request was made"

# --- the authorization redirect without state; the IdP skipping the second factor --------
hook POST /quirks '{"consent_location":"missing_state"}' >/dev/null
run state-missing ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /quirks/clear >/dev/null
deny state-missing 9 "" "consent:"
hook POST /quirks '{"consent_location":"tampered_state"}' >/dev/null
run state-mismatch ag alice authenticate "$PW" 1 "$(totp alice)"
hook POST /quirks/clear >/dev/null
deny state-mismatch 9 "" "consent: state mismatch in the redirect; denying"
hook POST /quirks '{"skip_second_factor":true}' >/dev/null
run skip-2fa ag alice authenticate "$PW"
hook POST /quirks/clear >/dev/null
deny skip-2fa 7 "" "second factor required but not proven"
# amr claiming mfa on a flow that never asked for it is not believed either
hook POST /quirks '{"skip_second_factor":true}' >/dev/null
hook POST /tokens/next-id-token '{"payload":{"amr":["mfa","otp","pwd"]}}' >/dev/null
run skip-2fa-amr ag alice authenticate "$PW"
hook POST /quirks/clear >/dev/null; hook POST /tokens/clear >/dev/null
deny skip-2fa-amr 7 "" "second factor required but not proven"

# --- no secret in any log or under state_dir -------------------------------------------
if grep -rqF -- "$PW" "$T"/*.log "$T/state"; then fail "the password leaked into a log or state_dir"; fi
pass "no password in the logs or under state_dir"

# --- a replayed device code (RFC 8628) ---------------------------------------------------
# The device IdP (the last part: the other IdP is stopped) and a state_dir of
# its own. alice signs in once by device code; then the IdP's device
# authorization answers that redeemed device_code again (replay_device_code):
# the module's poll with it is refused by the IdP (invalid_grant), the login
# is refused with the reason logged, and nothing is written.
idp_stop_current
idp_start "$T/idp-device" --device
hook POST /device/config '{"interval":1,"user_code":"WDJB-MJHT"}' >/dev/null
write_config "$T/dev.conf" "users = alice" "methods = device" "timeout = 10" "max_attempts_per_minute = 1000"
sed -i "s|^client_id = .*|client_id = pam_authgear_device|; s|^state_dir = .*|state_dir = $T/dstate|" "$T/dev.conf"
pam_service dev "auth required $MODULE config=$T/dev.conf debug"
DB="$T/dstate/private/accounts.db"
dc_hashes() { hook GET "/requests?path=/oauth2/token" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log([...new Set(JSON.parse(s).map(r=>r.device_code_sha256).filter(Boolean))].join(" ")))'; }
hook POST /counters/reset >/dev/null
( for _ in $(seq 300); do [ "$(counter /oauth2/token)" -ge 1 ] && break; sleep 0.2; done
  hook POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}' > /dev/null ) &
run device-first dev alice authenticate ""
wait $!
grep -q '^rc=0 ' "$T/device-first.out" || { cat "$T/device-first.out" "$T/device-first.log"; fail "device-first: alice's device login"; }
FIRST_DC=$(dc_hashes)
[ -n "$FIRST_DC" ] || fail "device-first: no device_code poll seen"
state_snapshot before "$T/dstate"
hook POST /device/config '{"replay_device_code":true}' >/dev/null
hook POST /counters/reset >/dev/null
run device-code-replay dev alice authenticate ""
[ "$(dc_hashes)" = "$FIRST_DC" ] || fail "device-code-replay: the poll did not carry the redeemed device_code"
grep -q '^rc=0 ' "$T/device-code-replay.out" && { cat "$T/device-code-replay.out"; fail "device-code-replay: signed in with a redeemed device code"; }
grep -q '^rc=7 ' "$T/device-code-replay.out" || { cat "$T/device-code-replay.out" "$T/device-code-replay.log"; fail "device-code-replay: want rc=7"; }
grep -qF "invalid_grant" "$T/device-code-replay.log" || { cat "$T/device-code-replay.log"; fail "device-code-replay: the reason is not logged"; }
expect_state_unchanged device-code-replay "$T/dstate"
pass "device-code-replay: a redeemed device_code polled again: refused by the IdP (invalid_grant), rc=7, logged; state_dir unchanged"
