#!/bin/bash
# bench/sudo.sh [N]: `sudo -n true` with a valid sudo timestamp, N runs (200),
# with pam_authgear in the sudo stack (auth reauth and account; the account
# check within account_check_cache: no request) against the same stack
# without it, and the ratio (goal <= 1.2). CPU, not wall time (a loaded
# machine blurs wall time): user + sys of the sudo processes and their
# children (the shell's `times`: RUSAGE_CHILDREN of the loop). The stacks
# alternate in rounds, so a change of load hits both. BASELINE_MODULE=PATH
# adds a third stack with that build of the module (before/after a change,
# in the same run; the same store and configuration). The real sudo in a private mount
# namespace (our NSS module and nsswitch.conf by overlay and bind mount, as
# tests/test_sudo.sh), the bundled test IdP. Root; not a test: it prints
# numbers.
#
#   sudo bench/sudo.sh 200     (from a built tree; the IdP's node_modules installed)
set -euo pipefail
N=${1:-200}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILDDIR:-$top}
[ "$(id -u)" = 0 ] || { echo "bench: needs root (sudo, mount namespace)" >&2; exit 1; }
if [ -z "${AG_IN_MOUNT_NS:-}" ]; then
	exec unshare --mount --propagation private env AG_IN_MOUNT_NS=1 bash "$0" "$@"
fi
cli=$build/src/authgear-pam module=$build/src/.libs/pam_authgear.so nss=$build/src/.libs/libnss_authgear.so.2
idp=$build/tests/idp
[ -x "$cli" ] && [ -f "$module" ] && [ -f "$nss" ] || { echo "bench: build first" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bench-sudo.XXXXXX)
chmod 0755 "$tmp"
trap '"$idp/stop.sh" "$tmp/idp" >/dev/null 2>&1; umount -R /etc/sudoers.d /etc/pam.d /etc/nsswitch.conf /var/lib /run/sudo 2>/dev/null; rm -rf "$tmp"' EXIT

libdir=$(dirname "$(ldd /bin/sh | awk '/libc\.so\.6/ {print $3}')")
overlay() { mkdir -p "$2" "$2.work"; mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$2.work" "$1"; }
mkdir -p "$tmp/ov/lib"; install -m 0644 "$nss" "$tmp/ov/lib/libnss_authgear.so.2"
overlay "$libdir" "$tmp/ov/lib"; overlay /var/lib "$tmp/ov/varlib"; rm -rf /var/lib/authgear
overlay /etc/sudoers.d "$tmp/ov/sudoers.d"; overlay /etc/pam.d "$tmp/ov/pam.d"
sed -E 's/^passwd:.*$/passwd:         files authgear/; s/^group:.*$/group:          files [SUCCESS=merge] authgear/' \
	/etc/nsswitch.conf > "$tmp/nsswitch.conf"
mount --bind "$tmp/nsswitch.conf" /etc/nsswitch.conf
# sudo's timestamps of this run stay in the namespace
mkdir -p /run/sudo && mount -t tmpfs -o mode=0711 tmpfs /run/sudo

"$idp/start.sh" --state "$tmp/idp" --no-rate-limits >"$tmp/idp-start.out" 2>&1 || { cat "$tmp/idp-start.out" >&2; exit 1; }
. "$tmp/idp/idp.env"
cat > "$tmp/c.conf" <<EOF2
issuer = $ISSUER
client_id = pam_authgear
redirect_uri = http://127.0.0.1/pam_authgear/callback
ca_file = $CA_FILE
users = demo
max_attempts_per_minute = 1000
account_check_cache = 3600
[roles]
unix-user = authgear-users
EOF2
chmod 600 "$tmp/c.conf"
cat > /etc/pam.d/sudo-with <<EOF2
auth     [success=done ignore=ignore default=die module_unknown=ignore]  $module config=$tmp/c.conf reauth
@include common-auth
account  [success=ok ignore=ignore default=die module_unknown=ignore]    $module config=$tmp/c.conf
@include common-account
@include common-session-noninteractive
EOF2
cat > /etc/pam.d/sudo-without <<EOF2
@include common-auth
@include common-account
@include common-session-noninteractive
EOF2
drop_in() { # drop_in SERVICE
	printf 'Defaults:demo pam_service=%s, timestamp_type=global, timestamp_timeout=60, lecture=never\n%%authgear-users ALL=(ALL) /usr/bin/true\n' "$1" > "$tmp/authgear"
	visudo -cf "$tmp/authgear" >/dev/null
	install -m 0440 "$tmp/authgear" /etc/sudoers.d/authgear
}
totp() { curl -s "$HOOK_URL/totp/demo?offset=${1:-0}" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))'; }
requests() { curl -s "$HOOK_URL/counters" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
as_demo() { (cd /tmp && setpriv --reuid=demo --regid="$(id -g demo)" --init-groups "$@"); }

"$cli" reindex --config "$tmp/c.conf" >/dev/null
printf '%s\n%s\n' demo-password-1 "$(totp)" | "$cli" login --config "$tmp/c.conf" demo >"$tmp/login.out" 2>&1 ||
	{ cat "$tmp/login.out"; exit 1; }
drop_in sudo-with
sleep 1.1
curl -s -XPOST "$HOOK_URL/counters/reset" >/dev/null
printf '%s\n' "$(totp 1)" | as_demo sudo -S true 2>"$tmp/first.err" || { cat "$tmp/first.err"; exit 1; }
reauth_requests=$(requests)

# run SERVICE RUNS: CPU microseconds (user + sys) of RUNS `sudo -n true`
# (the timestamp is valid: no auth), appended to $tmp/cpu-SERVICE
run() {
	drop_in "$1"
	as_demo sudo -n true || { echo "bench: sudo -n true failed with $1" >&2; exit 1; }
	# times' second line: the children's user and sys time (0m0.123s each)
	as_demo bash -c 'for ((i = 0; i < '"$2"'; i++)); do sudo -n true || exit 1; done; times' |
		awk 'NR == 2 { for (f = 1; f <= 2; f++) { split($f, a, /[ms]/); t += (a[1] * 60 + a[2]) * 1e6 } print t }' \
		>> "$tmp/cpu-$1"
}
total() { awk '{ s += $1 } END { printf "%d", s }' "$tmp/cpu-$1"; }
services="sudo-without sudo-with"
if [ -n "${BASELINE_MODULE:-}" ]; then
	sed "s#$module#$BASELINE_MODULE#" /etc/pam.d/sudo-with > /etc/pam.d/sudo-baseline
	services="$services sudo-baseline"
fi
ROUNDS=1
curl -s -XPOST "$HOOK_URL/counters/reset" >/dev/null
for r in $(seq $ROUNDS); do
	for svc in $services; do run "$svc" $(( N / ROUNDS + (r <= N % ROUNDS) )); done
done
as_demo true; drop_in sudo-with; perf record -a -q -F 10000 -g -o /tmp/perf-with.data -- setpriv --reuid=demo --regid="$(id -g demo)" --init-groups bash -c "cd /tmp; for i in \$(seq 100); do sudo -n true; done" ; drop_in sudo-without; perf record -a -q -F 10000 -g -o /tmp/perf-without.data -- setpriv --reuid=demo --regid="$(id -g demo)" --init-groups bash -c "cd /tmp; for i in \$(seq 100); do sudo -n true; done"; with_requests=$(requests)
without=$(total sudo-without) with=$(total sudo-with)
baseline=$([ -z "${BASELINE_MODULE:-}" ] || total sudo-baseline)
awk -v n="$N" -v w="$with" -v wo="$without" -v b="$baseline" -v bm="${BASELINE_MODULE:-}" \
	-v rr="$reauth_requests" -v wr="$with_requests" 'BEGIN {
	printf "sudo -n true, %d runs per stack, valid timestamp, CPU (user + sys of sudo and its children):\n", n
	printf "  without pam_authgear: %8.3f ms per run\n", wo / n / 1000
	printf "  with pam_authgear:    %8.3f ms per run (account check within account_check_cache)\n", w / n / 1000
	if (bm != "")
		printf "  with %s: %8.3f ms per run, ratio %.2fx\n", bm, b / n / 1000, b / wo
	printf "  requests at the IdP during the runs: %d\n", wr
	printf "  ratio: %.2fx (goal <= 1.2x)\n", w / wo
	printf "one reauthentication (sudo -S true, reauth_with = code): %d HTTPS requests at the IdP\n", rr
}'
