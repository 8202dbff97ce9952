#!/bin/bash
# valgrind --leak-check=full over the core: the unit tests, the OIDC core
# driven against the real test IdP (success and failure paths, each exit
# status asserted), and pam_authgear.so itself through pamtester: a password
# + TOTP login and a device login, both required to succeed. Any definitely
# or indirectly lost byte, or any memory error, fails the test.
. "$abs_top_srcdir/tests/lib.sh"
command -v valgrind >/dev/null || skip "valgrind not installed"
new_tmpdir
PROBE="$abs_top_builddir/tests/tools/oidc_probe"

vg() {
	name=$1; shift
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
		--error-exitcode=99 --log-file="$T/vg-$name.txt" "$@" > "$T/out-$name.txt" 2>&1
	rc=$?
	if [ $rc -eq 99 ] || [ -s "$T/vg-$name.txt" ]; then
		{ cat "$T/vg-$name.txt"; fail "$name: valgrind found errors or leaks"; } >&2 # (callers capture stdout)
	fi
	echo "$rc"
}

# The fuzz replays run under ASan, which cannot share a process with valgrind.
for t in $(printf '%s\n' $UNIT_TESTS | grep '^tests/unit/'); do
	rc=$(vg "$(basename "$t")" "$abs_top_builddir/$t") || exit 1
	[ "$rc" = 0 ] || { cat "$T/out-$(basename "$t").txt"; fail "$t failed under valgrind"; }
	pass "$t: 0 bytes lost, no memory errors"
done

# One IdP with its device switch on serves every login below.
idp_start "$T/idp" --device
# valgrind runs TLS 20-50x slower: on a loaded 2-core machine a 3 s request
# timeout failed the first request (CI, 4.5 s with 0 bytes received), and
# the default connect_timeout (5 s, which covers the TLS handshake) failed
# check's first connection at load 17. Every configuration below takes the
# largest of both (60 s).
VG_TIMEOUTS=("timeout = 60" "connect_timeout = 60")
write_config "$T/c.conf" "${VG_TIMEOUTS[@]}"
rc=$(vg check "$CLI" check --config "$T/c.conf") || exit 1
[ "$rc" = 0 ] || { cat "$T/out-check.txt"; fail "check failed"; }
pass "authgear-pam check against the IdP: 0 bytes lost, no memory errors"
IDP_DIR="$IDP_DIR" ISSUER="$ISSUER" CA_FILE="$CA_FILE" HOOK_URL="$HOOK_URL" \
	node "$abs_top_srcdir/tests/tools/get-code.mjs" alice > "$T/code.json" || fail "test login"
set -- $(node -e 'const j=require(process.argv[1]);console.log(j.code,j.verifier,j.nonce)' "$T/code.json")
# NAME WANT STEP...: each probe's exit status is asserted, so the success
# paths really run (a failing exchange would leave only failure paths).
while read -r name want step; do
	eval "set -- $step"
	rc=$(vg "$name" "$PROBE" "$T/c.conf" "$@") || exit 1
	case $want in
	ok) [ "$rc" = 0 ] || { cat "$T/out-$name.txt"; fail "oidc_probe $name: want success, got exit $rc"; } ;;
	fail) [ "$rc" != 0 ] || { cat "$T/out-$name.txt"; fail "oidc_probe $name: want a failure"; } ;;
	esac
	pass "oidc_probe $name ($want, exit $rc): 0 bytes lost, no memory errors"
done <<EOF
exchange ok exchange $1 $2 $3 $T/tok.json
refresh ok refresh $T/tok.json
userinfo ok userinfo $T/tok.json
revoke ok revoke $T/tok.json
refresh-revoked fail refresh $T/tok.json
exchange-reused fail exchange $1 $2 $3 $T/tok2.json
get-closed-port fail get https://127.0.0.1:1/
EOF
grep -qx "sub=2f91682e-7cf4-4bd7-b86f-d91a20e3de70" "$T/out-exchange.txt" || { cat "$T/out-exchange.txt"; fail "exchange printed no sub"; }

# --- the PAM module through pamtester (pam_wrapper): password + TOTP, and a device login ---
command -v pamtester >/dev/null || skip "pamtester not installed"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
# vg_pam NAME USER: pamtester authenticate under valgrind, stdin the answers;
# success and the module's audit line are required, 0 bytes lost.
vg_pam() {
	rc=$(export LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		PAM_WRAPPER_DISABLE_DEEPBIND=1 AUTHGEAR_TEST_LOG="$T/$1.log"; vg "$1" pamtester -v "$1" "$2" authenticate) || exit 1
	[ "$rc" = 0 ] && grep -q "successfully authenticated" "$T/out-$1.txt" \
		|| { cat "$T/out-$1.txt" "$T/$1.log"; fail "$1: pamtester under valgrind: want success, got exit $rc"; }
	grep -q "audit: user=$2 .* result=success" "$T/$1.log" || { cat "$T/$1.log"; fail "$1: no successful audit line"; }
}
write_config "$T/pw.conf" "users = bob" "${VG_TIMEOUTS[@]}"
pam_service pw "auth required $MODULE config=$T/pw.conf"
PW=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="bob").password)' "$IDP_DIR/fixtures/users.json")
TOTP=$(hook GET /totp/bob | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))')
printf '%s\n%s\n' "$PW" "$TOTP" > "$T/pw.answers"
vg_pam pw bob < "$T/pw.answers"
grep -q "audit: user=bob .* method=password amr=[^ ]*otp" "$T/pw.log" || { cat "$T/pw.log"; fail "pw: not a password + TOTP login"; }
pass "pam_authgear.so password + TOTP login under valgrind: success, 0 bytes lost, no memory errors"

# The account check on bob's cached tokens, resolver mode with the access
# token expired: the refresh grant, the ID token's verification and the
# resolver's headers, all in one run.
write_config "$T/res.conf" "users = bob" "${VG_TIMEOUTS[@]}" "account_check = resolver" "account_check_cache = 0"
pam_service res "account required $MODULE config=$T/res.conf"
sqlite3 "$T/state/private/accounts.db" "UPDATE tokens SET access_expires = 1"
rc=$(export LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
	PAM_WRAPPER_DISABLE_DEEPBIND=1 AUTHGEAR_TEST_LOG="$T/res.log"; vg res pamtester -v res bob acct_mgmt) || exit 1
[ "$rc" = 0 ] && grep -q "checked at Authgear (resolver, refreshed)" "$T/res.log" ||
	{ cat "$T/out-res.txt" "$T/res.log"; fail "res: account check under valgrind: want success, got exit $rc"; }
pass "pam_authgear.so account check (resolver, refreshed first) under valgrind: success, 0 bytes lost, no memory errors"

hook POST /device/config '{"interval":1,"user_code":"WDJB-MJHT"}' >/dev/null || fail "device config"
write_config "$T/dev.conf" "users = alice" "methods = device" "${VG_TIMEOUTS[@]}"
sed -i 's/^client_id = .*/client_id = pam_authgear_device/' "$T/dev.conf"
pam_service dev "auth required $MODULE config=$T/dev.conf"
# the phone's part: approve as soon as the module has asked for a code
( for _ in $(seq 600); do
	hook POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}' >/dev/null 2>&1 && exit 0; sleep 0.2
  done; exit 1 ) &
APPROVER=$!
vg_pam dev alice <<< ""
wait $APPROVER || fail "dev: the device code was never approved"
grep -q "audit: user=alice .* method=device" "$T/dev.log" || { cat "$T/dev.log"; fail "dev: not a device login"; }
pass "pam_authgear.so device login under valgrind: success, 0 bytes lost, no memory errors"
