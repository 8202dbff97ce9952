#!/bin/sh
# The PAM module exports only pam_sm_*, the NSS module only _nss_authgear_*,
# and the NSS module needs nothing but libc (no network, TLS or JSON library).
. "$abs_top_srcdir/tests/lib.sh"

command -v nm >/dev/null || skip "nm not installed"
command -v readelf >/dev/null || skip "readelf not installed"
[ -f "$MODULE" ] || fail "missing $MODULE"
[ -f "$NSS_MODULE" ] || fail "missing $NSS_MODULE"

exports() { nm -D --defined-only "$1" | awk '$2 ~ /^[TtWDdBbRrVvi]$/ {print $3}' | sort; }

want_pam="pam_sm_acct_mgmt
pam_sm_authenticate
pam_sm_chauthtok
pam_sm_close_session
pam_sm_open_session
pam_sm_setcred"
got_pam=$(exports "$MODULE")
[ "$got_pam" = "$want_pam" ] || fail "pam_authgear.so exports:
$got_pam"
pass "pam_authgear.so exports exactly the six pam_sm_* functions"

want_nss="_nss_authgear_endgrent
_nss_authgear_endpwent
_nss_authgear_getgrent_r
_nss_authgear_getgrgid_r
_nss_authgear_getgrnam_r
_nss_authgear_getpwent_r
_nss_authgear_getpwnam_r
_nss_authgear_getpwuid_r
_nss_authgear_initgroups_dyn
_nss_authgear_setgrent
_nss_authgear_setpwent"
got_nss=$(exports "$NSS_MODULE")
[ "$got_nss" = "$want_nss" ] || fail "libnss_authgear.so.2 exports:
$got_nss"
pass "libnss_authgear.so.2 exports exactly the _nss_authgear_* functions"

soname=$(readelf -d "$NSS_MODULE" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libnss_authgear.so.2" ] || fail "NSS soname is '$soname'"
pass "NSS soname is libnss_authgear.so.2"

needed=$(readelf -d "$NSS_MODULE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for lib in $needed; do
	case $lib in
	libc.so.6|ld-linux*.so.*) ;;
	*) fail "libnss_authgear.so.2 needs $lib (only libc is allowed)" ;;
	esac
done
# An empty list would mean readelf's output was not read: libc must be there.
echo "$needed" | grep -qx 'libc\.so\.6' || fail "libnss_authgear.so.2's NEEDED lacks libc.so.6 (got: ${needed:-none})"
pass "libnss_authgear.so.2 needs only libc (NEEDED: $(echo $needed))"

# The PAM module must not leak core symbols either (no ag_* in the dynamic table).
if nm -D "$MODULE" | grep -q ' ag_'; then fail "core symbols visible in pam_authgear.so"; fi
pass "no core symbols in the PAM module's dynamic table"
