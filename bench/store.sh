#!/bin/bash
# bench/store.sh [RUNS]: the local cost of the SQLite store as it grows
# (issue "store on SQLite", scale goals). For 0, 10,000 and 100,000 other
# users in the store: the CPU (user+sys) and peak RSS of a repeat
# password login of one user (authgear-pam login: the module's code path)
# against the bundled test IdP (rate limits off), the CPU of a first login
# (a new user: a small delta next to the NSS index, nss.index.delta), `authgear-pam reindex`; and
# `authgear-pam import` of 100,000 pins into an empty store. Medians of
# RUNS (default 5) rounds, in each of which the three stores take turns;
# CPU from wait4 (bench/cpu_time, microseconds). Prints a table and the
# ratios to the empty store. Not a
# test: it prints numbers. Needs root (the store is root-only). A login needs
# the name to resolve through NSS: logins run under nss_wrapper with the
# build's NSS module reading this store's index (AUTHGEAR_NSS_INDEX), as on
# a host whose nsswitch.conf lists authgear; the same for every row.
set -euo pipefail
RUNS=${1:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILDDIR:-$top}
cli=$build/src/authgear-pam
idp=$build/tests/idp
nss_module=$build/src/.libs/libnss_authgear.so.2
cpu_time=$build/bench/cpu_time
[ -x "$cli" ] && [ -f "$nss_module" ] || { echo "bench: build first ($cli or $nss_module missing)" >&2; exit 1; }
[ -x "$cpu_time" ] || make -C "$build" bench/cpu_time > /dev/null || { echo "bench: cannot build $cpu_time" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench: run as root (the store is root-only)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bench-store.XXXXXX)
chmod 0755 "$tmp"
trap '"$idp/stop.sh" "$tmp/idp" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

# password-only users: bench (repeat logins), first0..first9 (one first login each)
node -e '
const j = require(process.argv[1]);
j.users = ["bench", ...Array.from({ length: 40 }, (_, i) => "first" + i)].map((n, i) => ({
  username: n, sub: "00000000-0000-4000-9000-" + String(i).padStart(12, "0"), email: n + "@example.com",
  password: n + "-password", roles: ["unix-user"], verified: true }));
require("fs").writeFileSync(process.argv[2], JSON.stringify(j));' "$idp/fixtures/users.json" "$tmp/users.json"
"$idp/start.sh" --state "$tmp/idp" --users "$tmp/users.json" --no-rate-limits >/dev/null
. "$tmp/idp/idp.env"
# conf N: $tmp/c-N.conf, the configuration of the store of size N
# (state_dir $tmp/state-N); a store per size, so the sizes can take turns
conf() {
	cat > "$tmp/c-$1.conf" <<EOF
issuer = $ISSUER
client_id = pam_authgear
redirect_uri = http://127.0.0.1/pam_authgear/callback
ca_file = $CA_FILE
state_dir = $tmp/state-$1
users = bench, first*, u*
require_mfa = no
max_attempts_per_minute = 1000
[roles]
unix-user = bench-team
EOF
	chmod 600 "$tmp/c-$1.conf"
}
printf 'root:x:0:0:root:/root:/bin/bash\n' > "$tmp/passwd"
printf 'root:x:0:\n' > "$tmp/group"
# NW N: nss_wrapper with the build's NSS module on the index of store N
NW() {
	echo env LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD="$tmp/passwd" NSS_WRAPPER_GROUP="$tmp/group" \
		NSS_WRAPPER_MODULE_SO_PATH="$nss_module" NSS_WRAPPER_MODULE_FN_PREFIX=authgear \
		AUTHGEAR_NSS_INDEX="$tmp/state-$1/nss.index"
}

# run FILE CMD...: CPU ms and peak RSS KiB of one command (stdin: $tmp/in)
# into FILE (bench/cpu_time: wait4's microseconds; GNU time's hundredths
# of a second made a 30 ms login 30 or 40)
run() {
	local out=$1; shift
	"$cpu_time" "$tmp/t" "$@" < "$tmp/in" > "$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }
	awk '{ printf "%.1f %d\n", $1, $2 }' "$tmp/t" >> "$out"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# login N NAME: the command line of one login of NAME into store N (its password into $tmp/in)
login() { printf '%s\n' "$2-password" > "$tmp/in"; echo "$(NW "$1")" "$cli" login --config "$tmp/c-$1.conf" "$2"; }
: > "$tmp/in"

# fill N: store N with N bound users (UIDs, one group each), built with sqlite3
fill() {
	rm -rf "$tmp/state-$1"
	"$cli" reindex --config "$tmp/c-$1.conf" > /dev/null
	sqlite3 "$tmp/state-$1/private/accounts.db" "
BEGIN;
INSERT INTO groups (name, gid, local) VALUES ('bench-team', 1900000000, 0);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
INSERT INTO users (name, sub, uid, bound_at, last_login)
	SELECT printf('u%06d', i), printf('sub-%06d', i), 300000 + i, 1700000000, 1700000000 FROM n WHERE $1 > 0;
INSERT INTO memberships (user_id, group_id, pos) SELECT id, 1, 0 FROM users;
INSERT INTO roles (user_id, pos, role) SELECT id, 0, 'unix-user' FROM users;
COMMIT;"
}

SIZES="0 10000 100000"
for n in $SIZES; do
	conf "$n"
	fill "$n"
	: > "$tmp/warm"
	run "$tmp/warm" $(login "$n" bench) # bench's first login; warms the discovery and JWKS caches
	: > "$tmp/reindex-$n"; : > "$tmp/first-$n"; : > "$tmp/repeat-$n"
done
# The sizes take turns in every round, so a change of the machine's speed
# (this one drifted by a third between rows measured one after another)
# hits every size alike.
first=0
for _ in $(seq "$RUNS"); do
	for n in $SIZES; do
		run "$tmp/reindex-$n" "$cli" reindex --config "$tmp/c-$n.conf"
		run "$tmp/first-$n" $(login "$n" "first$first")
		run "$tmp/repeat-$n" $(login "$n" bench)
	done
	first=$((first + 1))
done
: > "$tmp/in"
declare -A REP_CPU REP_RSS FIRST_CPU REINDEX
for n in $SIZES; do
	REP_CPU[$n]=$(cut -d' ' -f1 "$tmp/repeat-$n" | median)
	REP_RSS[$n]=$(cut -d' ' -f2 "$tmp/repeat-$n" | median)
	FIRST_CPU[$n]=$(cut -d' ' -f1 "$tmp/first-$n" | median)
	REINDEX[$n]=$(cut -d' ' -f1 "$tmp/reindex-$n" | median)
done

# import of 100,000 pins into an empty store (wall time and CPU)
conf import
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "p%06d:%d\n", i, 500000 + i }' > "$tmp/pins"
: > "$tmp/import"
for _ in $(seq "$RUNS"); do
	rm -rf "$tmp/state-import"
	start=$(date +%s.%N)
	run "$tmp/import" "$cli" import --config "$tmp/c-import.conf" "$tmp/pins"
	echo "$(date +%s.%N) $start" | awk '{ printf "%.0f\n", ($1 - $2) * 1000 }' >> "$tmp/import.wall"
done
IMPORT_CPU=$(cut -d' ' -f1 "$tmp/import" | median)
IMPORT_WALL=$(median < "$tmp/import.wall")

printf '%-34s %12s %12s %12s\n' "stored users" 0 10000 100000
printf '%-34s %12s %12s %12s\n' "repeat login CPU (ms)" "${REP_CPU[0]}" "${REP_CPU[10000]}" "${REP_CPU[100000]}"
printf '%-34s %12s %12s %12s\n' "repeat login peak RSS (KiB)" "${REP_RSS[0]}" "${REP_RSS[10000]}" "${REP_RSS[100000]}"
printf '%-34s %12s %12s %12s\n' "first login CPU (ms)" "${FIRST_CPU[0]}" "${FIRST_CPU[10000]}" "${FIRST_CPU[100000]}"
printf '%-34s %12s %12s %12s\n' "reindex CPU (ms)" "${REINDEX[0]}" "${REINDEX[10000]}" "${REINDEX[100000]}"
awk -v a="${REP_CPU[0]}" -v b="${REP_CPU[100000]}" -v c="${REP_RSS[0]}" -v d="${REP_RSS[100000]}" \
    -v f="${FIRST_CPU[100000]}" 'BEGIN {
	printf "ratio 100k/0: repeat-login CPU %.2fx (goal <= 1.2x), peak RSS %.2fx (goal <= 1.2x)\n", b / a, d / c
	printf "first login at 100k: %.1f ms CPU, %.1f ms above the repeat login (goal <= 50 ms)\n", f, f - b }'
echo "import of 100,000 pins: ${IMPORT_WALL} ms wall, ${IMPORT_CPU} ms CPU (goal <= 2 s)"
echo "reindex of 100,000 users: ${REINDEX[100000]} ms CPU (goal <= 1 s)"
echo "($RUNS runs each, medians; CPU = user + sys of the whole authgear-pam process, TLS included)"
awk -v a="${REP_CPU[0]}" -v b="${REP_CPU[100000]}" -v c="${REP_RSS[0]}" -v d="${REP_RSS[100000]}" \
    -v f="${FIRST_CPU[100000]}" -v i="$IMPORT_CPU" -v w="$IMPORT_WALL" -v r="${REINDEX[100000]}" 'BEGIN {
	printf "RESULT repeat_cpu_ratio=%.2f repeat_rss_ratio=%.2f first_above_ms=%.1f import_cpu_ms=%s import_wall_ms=%s reindex_cpu_ms=%s\n",
		b / a, d / c, f - b, i, w, r }'
