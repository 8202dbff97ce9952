#!/bin/bash
# bench/account.sh [N]: the module's account check (pam_sm_acct_mgmt through
# the real libpam, pam_wrapper, tests/tools/pam_driver) of a user that has
# logged in, N times (20) inside account_check_cache (the cached result: no
# request) and N times outside it (account_check_cache = 0: a refresh grant
# each time): HTTPS requests and CPU (user+sys of the driver process) per
# check. Then the callgrind instruction count (Ir) of one warm password +
# TOTP login (pam_sm_authenticate and everything it calls; the discovery and
# JWKS caches warm, the user bound), a regression guard that a loaded
# machine does not blur. Against the bundled test IdP, rate limits off. Not a
# test: it prints numbers. Prints "RESULT key=value ..." last for bench/run.
#
#   bench/account.sh 20        (from a built tree; the IdP's node_modules installed)
set -euo pipefail
N=${1:-20}
top=$(cd "$(dirname "$0")/.." && pwd)
abs_top_srcdir=$top abs_top_builddir=${BUILDDIR:-$top}
TEST_NAME=bench-account
. "$top/tests/lib.sh"
set -e
DRIVER=$abs_top_builddir/tests/tools/pam_driver
CPU_TIME=$abs_top_builddir/bench/cpu_time # microseconds (GNU time: hundredths of a second)
[ -x "$CPU_TIME" ] || make -C "$abs_top_builddir" bench/cpu_time > /dev/null || { echo "bench: cannot build $CPU_TIME" >&2; exit 1; }
[ -x "$DRIVER" ] && [ -f "$MODULE" ] || { echo "bench: build first (make check builds $DRIVER)" >&2; exit 1; }
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || { echo "bench: pam_wrapper not installed" >&2; exit 1; }
T=$(mktemp -d /tmp/bench-account.XXXXXX)
chmod 0755 "$T"
trap '"$IDP_DIR/stop.sh" "$T/idp" >/dev/null 2>&1; rm -rf "$T"' EXIT
nss_users
"$IDP_DIR/start.sh" --state "$T/idp" --no-rate-limits >/dev/null
. "$T/idp/idp.env"
write_config "$T/in.conf" "users = carol, bob" "max_attempts_per_minute = 1000" "require_mfa = no" \
	"account_check_cache = 3600"
write_config "$T/out.conf" "users = carol, bob" "max_attempts_per_minute = 1000" "require_mfa = no" \
	"account_check_cache = 0"
pam_service in "auth required $MODULE config=$T/in.conf" "account required $MODULE config=$T/in.conf"
pam_service out "auth required $MODULE config=$T/out.conf" "account required $MODULE config=$T/out.conf"

# drive SERVICE USER OP ANSWERS...: one PAM operation; its CPU ms appended to $T/cpu
drive() {
	local svc=$1 user=$2 op=$3; shift 3
	# a failed run exits non-zero: without the || set -e ended the bench
	# here, silently (bench/run's account row printed nothing)
	env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		"$CPU_TIME" "$T/t" ${VG:-} "$DRIVER" "$svc" "$user" "$op" "$@" > "$T/out" 2>&1 || true
	grep -q '^rc=0 ' "$T/out" || { cat "$T/out" >&2; echo "bench: $op of $user failed" >&2; exit 1; }
	awk '{ printf "%.1f\n", $1 }' "$T/t" >> "$T/cpu"
}
mean() { awk '{ s += $1 } END { printf "%.1f", s / NR }' "$T/cpu"; }
per() { awk -v a="$1" -v n="$N" 'BEGIN { printf "%.1f", a / n }'; }

drive in carol authenticate "$(password carol)" # binds carol, caches her tokens
declare -A CPU REQ
for w in in out; do
	: > "$T/cpu"
	hook POST /counters/reset >/dev/null
	for _ in $(seq "$N"); do drive "$w" carol acct_mgmt; done
	REQ[$w]=$(per "$(requests)")
	CPU[$w]=$(mean)
done

# callgrind: bob (password + TOTP), one login to bind and warm, then the measured one
drive in bob authenticate "$(password bob)" "$(totp bob)"
# The start of the next TOTP window (the IdP refuses a code twice): the
# code then has its whole 30 s for valgrind's start, which a loaded machine
# stretches past the rest of a window.
sleep $((31 - $(date +%s) % 30))
VG="valgrind --tool=callgrind --callgrind-out-file=$T/cg.out --toggle-collect=pam_sm_authenticate" \
	drive in bob authenticate "$(password bob)" "$(totp bob)"
IR=$(callgrind_annotate "$T/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }') # reads to the end: no SIGPIPE under pipefail

printf '%-44s %10s %10s\n' "account check (pam_sm_acct_mgmt, $N runs)" "CPU ms" "requests"
printf '%-44s %10s %10s\n' "inside account_check_cache (cached)" "${CPU[in]}" "${REQ[in]}"
printf '%-44s %10s %10s\n' "outside (account_check_cache = 0: refresh)" "${CPU[out]}" "${REQ[out]}"
echo "one warm password+TOTP login, pam_sm_authenticate under callgrind: $IR instructions (Ir)"
echo "RESULT acct_in_cpu=${CPU[in]} acct_in_req=${REQ[in]} acct_out_cpu=${CPU[out]} acct_out_req=${REQ[out]} login_ir=$IR"
