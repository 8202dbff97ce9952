#!/bin/bash
# bench/latency.sh [N]: how long the person waits per password + TOTP login
# with the issuer 0, 50 and 200 ms away (bench/delay_proxy.mjs, an HTTP
# CONNECT proxy on loopback that delays every byte, in front of the test IdP),
# through the real libpam (pam_wrapper, tests/tools/pam_driver, the person
# "typing" 1.5 s per answer). Waiting = from each answer to the next prompt
# or the end. Discovery and JWKS cached. Not a test: it prints numbers.
#
#   first login: a name that only matches a pattern (users = d*), not bound:
#                no prewarm, no batch, which is also the old step-by-step
#                order of a returning user before issue 18;
#   returning, step by step: the same user bound, its last factor forgotten
#                (sqlite3): authorize prewarmed while Password: is up;
#   returning, batch: bound, last login with TOTP: both prompts first, the
#                prewarm, then identify + password + code in one request.
#
#   bench/latency.sh 3         (from a built tree with --enable-test-hooks)
set -euo pipefail
N=${1:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILDDIR:-$top}
cli=$build/src/authgear-pam
driver=$build/tests/tools/pam_driver
module=$build/src/.libs/pam_authgear.so
idp=$build/tests/idp
[ -x "$driver" ] && [ -f "$module" ] || { echo "bench: build first (make && make check TESTS=)" >&2; exit 1; }
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || { echo "bench: needs pam_wrapper" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bench-latency.XXXXXX)
proxy_pid=
trap '[ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null; "$idp/stop.sh" "$tmp/idp" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

"$idp/start.sh" --state "$tmp/idp" --no-rate-limits >/dev/null
. "$tmp/idp/idp.env"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$tmp/c.conf" <<EOC
issuer = $ISSUER
client_id = pam_authgear
redirect_uri = http://127.0.0.1/pam_authgear/callback
ca_file = $CA_FILE
state_dir = $tmp/state
proxy = http://127.0.0.1:$port
users = d*
timeout = 30
max_attempts_per_minute = 1000
EOC
chmod 600 "$tmp/c.conf"
mkdir -p "$tmp/pamd"
# the module refuses a name NSS cannot resolve: demo through nss_wrapper, with
# the first-candidate UID of our NSS module's provisional entry (a host account
# of that name would never be a pattern's; src/common/uid.c, as test_latency.sh)
uid=$(node -e 'const M=(1n<<64n)-1n; let h=0xcbf29ce484222325n;
for (const b of Buffer.from("u:demo")) { h^=BigInt(b); h=(h*0x100000001b3n)&M; }
const mix=(x)=>{x^=x>>33n; x=(x*0xff51afd7ed558ccdn)&M; x^=x>>33n; x=(x*0xc4ceb9fe1a85ec53n)&M; return x^(x>>33n);};
console.log(String(2001000000n+mix(h)%(2147000000n-2001000000n+1n)))')
cp /etc/passwd "$tmp/passwd"; cp /etc/group "$tmp/group"
echo "demo:*:$uid:$uid::/nonexistent:/bin/sh" >> "$tmp/passwd"
export NSS_WRAPPER_PASSWD="$tmp/passwd" NSS_WRAPPER_GROUP="$tmp/group"
echo "auth required $module config=$tmp/c.conf" > "$tmp/pamd/ag"
password=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="demo").password)' "$idp/fixtures/users.json")
totp() { curl -s "$HOOK_URL/totp/demo" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))'; }

# One login; prints the person's waiting time in ms (answer -> next prompt or end, summed).
login() {
	local code
	code=$(totp)
	env LD_PRELOAD="libpam_wrapper.so libnss_wrapper.so" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/pamd" PAM_DRIVER_TRACE=1 \
		PAM_DRIVER_WAIT_MS=1500 "$driver" ag demo authenticate "$password" "$code" > "$tmp/out" 2> "$tmp/trace" ||
		{ cat "$tmp/out" "$tmp/trace" >&2; exit 1; }
	# total, and the first wait alone (password -> Verification code:)
	awk '/^answer /{split($2,a,"="); t=a[2]} /^(prompt|end) /{split($2,a,"="); if (t) { w+=a[2]-t; if (!seen) { f=a[2]-t; seen=1 } } t=0}
		END{print w, f}' "$tmp/trace"
}

avg() { awk -v c="$1" '{s+=$c} END{printf "%.0f", s/NR}'; }
declare -A wait
for rtt in 0 50 200; do
	node "$top/bench/delay_proxy.mjs" "$port" "$rtt" > "$tmp/proxy.out" &
	proxy_pid=$!
	for _ in $(seq 50); do grep -q listening "$tmp/proxy.out" 2>/dev/null && break; sleep 0.1; done
	"$cli" forget --config "$tmp/c.conf" demo >/dev/null 2>&1 || true
	login >/dev/null # discovery and JWKS into the cache
	: > "$tmp/first"; : > "$tmp/ret"; : > "$tmp/batch"
	for _ in $(seq "$N"); do
		"$cli" forget --config "$tmp/c.conf" demo >/dev/null
		login >> "$tmp/first"
		sqlite3 "$tmp/state/private/accounts.db" "UPDATE users SET last_factor = NULL"
		login >> "$tmp/ret"
		login >> "$tmp/batch"
	done
	for k in first ret batch; do
		wait[$k,$rtt]=$(avg 1 < "$tmp/$k")
		wait[${k}1,$rtt]=$(avg 2 < "$tmp/$k")
	done
	kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=
done

printf '%-52s %8s %8s %8s %14s\n' "person's waiting per login, ms ($N logins each)" "RTT 0" "RTT 50" "RTT 200" "round trips"
for k in first ret batch first1 ret1 batch1; do
	case $k in
	first) name="first login / old step-by-step order" ;;
	ret) name="returning, step by step (prewarmed)" ;;
	batch) name="returning, batch (prewarmed, one flow request)" ;;
	first1) name="  of it between the prompts, first login" ;;
	ret1) name="  of it between the prompts, step by step" ;;
	batch1) name="  of it between the prompts, batch" ;;
	esac
	printf '%-52s %8s %8s %8s %14s\n' "$name" "${wait[$k,0]}" "${wait[$k,50]}" "${wait[$k,200]}" \
		"$(awk -v a="${wait[$k,0]}" -v b="${wait[$k,200]}" 'BEGIN{printf "%.1f", (b-a)/200}')"
done
