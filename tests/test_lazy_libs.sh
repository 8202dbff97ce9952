#!/bin/bash
# libcurl, libqrencode and libcrypto are loaded when first needed
# (src/base/dl.h, src/base/ossl.h), not linked: the module and the CLI have
# none of them in DT_NEEDED; a login loads libcurl and libcrypto and still
# works; an account check within account_check_cache (every sudo) loads
# none; with libcurl unloadable (root, a private mount
# namespace hides it) the login is refused with one clear log line while the
# cached account check still passes, and a QR code names the missing
# libqrencode. The real libpam (pam_wrapper, pam_driver), the test IdP over
# HTTPS.
. "$abs_top_srcdir/tests/lib.sh"
command -v readelf >/dev/null || skip "readelf not installed"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
if [ -z "${AG_IN_MOUNT_NS:-}" ] && [ "$(id -u)" = 0 ]; then
	exec unshare --mount --propagation private env AG_IN_MOUNT_NS=1 bash "$0" "$@"
fi

for f in "$MODULE" "$CLI"; do
	needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	echo "$needed" | grep -qx 'libc\.so\.6' || fail "$(basename "$f"): NEEDED not read (got: ${needed:-none})"
	if echo "$needed" | grep -E '^lib(curl|qrencode|crypto|ssl)'; then fail "$(basename "$f") links libcurl, libqrencode or libcrypto"; fi
	pass "$(basename "$f") has no libcurl, libqrencode or libcrypto in DT_NEEDED ($(echo $needed))"
done

new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
idp_start "$T/idp"
write_config "$T/c.conf" "users = alice" "max_attempts_per_minute = 1000" "account_check_cache = 3600"
pam_service ag "auth required $MODULE config=$T/c.conf debug" "account required $MODULE config=$T/c.conf debug"
js() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(eval(process.argv[1]))})' "$1"; }
totp() { hook GET "/totp/$1?offset=${2:-0}" | js j.code; }
# run NAME OP ANSWERS...: pam_driver with the loader's file log (LD_DEBUG=files) in $T/NAME.ld
run() {
	c=$1 op=$2; shift 2
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" LD_DEBUG=files LD_DEBUG_OUTPUT="$T/$c.ld" \
		"$DRIVER" ag alice "$op" "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
	cat "$T/$c.ld".* > "$T/$c.ld" 2>/dev/null || true
}
expect_rc() { grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2"; }; }
loaded() { grep -q "file=$2 .*dynamically loaded by" "$T/$1.ld"; }

run login authenticate alice-password-1 1 "$(totp alice)"
expect_rc login 0
grep -q 'file=.*pam_authgear\.so' "$T/login.ld" || fail "LD_DEBUG=files logged nothing usable"
loaded login libcurl.so.4 || { grep file= "$T/login.ld" | head; fail "the login did not load libcurl"; }
pass "a login works and loads libcurl when it makes its first request"
grep -q "file=libcrypto\.so\.3 " "$T/login.ld" || fail "the login did not load libcrypto"
pass "a login loads libcrypto"
loaded login libqrencode.so.4 && fail "a password login loaded libqrencode"
pass "a password login does not load libqrencode"

run acct acct_mgmt
expect_rc acct 0
assert_contains "$T/acct.log" "account_check result=success requests=0" "the account check within account_check_cache made no request"
grep -q 'file=.*pam_authgear\.so' "$T/acct.ld" || fail "acct: LD_DEBUG=files logged nothing usable"
if grep -E 'file=lib(curl|qrencode|ssl|crypto|nghttp2|gssapi_krb5|ldap)' "$T/acct.ld"; then
	fail "the cached account check loaded a library only requests need"
fi
pass "the cached account check loads neither libcurl nor what it pulls in, nor libcrypto"

[ "$(id -u)" = 0 ] || skip "the rest hides libcurl and libqrencode in a mount namespace (root)"
hide() { # hide SONAME: its file replaced by an empty one, in this namespace only
	local f
	f=$(readlink -f "$(ldconfig -p | awk -v n="$1" '$1 == n && /x86-64|64bit/ {print $NF; exit}')")
	[ -f "$f" ] || fail "cannot find $1"
	: > "$T/empty"
	mount --bind "$T/empty" "$f"
}
code=$(totp alice 1) # the hooks' curl needs libcurl too
hide libcurl.so.4
hide libqrencode.so.4

run acct2 acct_mgmt
expect_rc acct2 0
pass "without a loadable libcurl the cached account check still passes"

run nocurl authenticate alice-password-1 "$code"
grep -q '^rc=0 ' "$T/nocurl.out" && fail "a login passed without libcurl"
assert_contains "$T/nocurl.log" "http: cannot load libcurl.so.4 (is libcurl4 installed?)" "without libcurl the log names the library and its package"
assert_contains "$T/nocurl.out" "error: Sign-in with Authgear is not configured correctly; ask your administrator." "without libcurl the person is told one plain line"
grep -q '^rc=9 ' "$T/nocurl.out" || { cat "$T/nocurl.out"; fail "without libcurl: want PAM_AUTHINFO_UNAVAIL (9)"; }
pass "without libcurl the login fails closed (PAM_AUTHINFO_UNAVAIL)"
if grep '^prompt-' "$T/nocurl.out"; then fail "without libcurl the login still prompted (above)"; fi
pass "without libcurl the login fails before any prompt"
n=$(grep -c "cannot load libcurl" "$T/nocurl.log" || true)
[ "$n" = 1 ] || { cat "$T/nocurl.log"; fail "without libcurl 'cannot load libcurl' logged $n times, want once"; }
pass "without libcurl the reason is logged once per login"

set +e
"$CLI" qr https://example.com/device > "$T/qr.out" 2>&1; rc=$?
set -e
[ $rc -ne 0 ] || fail "a QR code drawn without libqrencode"
assert_contains "$T/qr.out" "cannot load libqrencode.so.4 (is libqrencode4 installed?)" "without libqrencode the CLI names the library and its package"
