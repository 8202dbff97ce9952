#!/bin/bash
# bench/login.sh [N]: CPU and requests per password + TOTP login, pam_authgear
# (authgear-pam login, the same code path as the PAM module) against a bare
# curl doing the same five requests, both against the bundled test IdP in the
# same run, rate limits off. Not a test: it prints numbers.
#
#   bench/login.sh 20          (from a built tree; the IdP's node_modules installed)
set -euo pipefail
N=${1:-20}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILDDIR:-$top}
cli=$build/src/authgear-pam
idp=$build/tests/idp
[ -x "$cli" ] || { echo "bench: build first ($cli missing)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bench-login.XXXXXX)
trap '"$idp/stop.sh" "$tmp/idp" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

"$idp/start.sh" --state "$tmp/idp" --no-rate-limits >/dev/null
. "$tmp/idp/idp.env"
cat > "$tmp/c.conf" <<EOF
issuer = $ISSUER
client_id = pam_authgear
redirect_uri = http://127.0.0.1/pam_authgear/callback
ca_file = $CA_FILE
state_dir = $tmp/state
users = demo
max_attempts_per_minute = 1000
EOF
chmod 600 "$tmp/c.conf"
password=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="demo").password)' "$idp/fixtures/users.json")
totp() { curl -s "$HOOK_URL/totp/demo" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))'; }
requests() { curl -s "$HOOK_URL/counters" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
# CPU from wait4 (bench/cpu_time: ms to the microsecond; GNU time: hundredths of a second)
CPU_TIME=$build/bench/cpu_time
[ -x "$CPU_TIME" ] || make -C "$build" bench/cpu_time > /dev/null || { echo "bench: cannot build $CPU_TIME" >&2; exit 1; }
cpu_ms() { awk '{ printf "%.1f", $1 }' "$1"; }

# authgear-pam login refuses a name that does not resolve through NSS: demo
# as a host account (listed by name) through nss_wrapper.
cp /etc/passwd "$tmp/passwd"; cp /etc/group "$tmp/group"
echo "demo:x:64200:64200::/nonexistent:/bin/sh" >> "$tmp/passwd"
# One pam_authgear login; its CPU (user+sys) goes to $tmp/cpu.
module_login() {
	printf '%s\n%s\n' "$password" "$(totp)" | LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD="$tmp/passwd" \
		NSS_WRAPPER_GROUP="$tmp/group" "$CPU_TIME" "$tmp/cpu" "$cli" login --config "$tmp/c.conf" demo > "$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
}

# The same five requests with curl; the CPU of the curl processes only.
curl_login() {
	local verifier challenge q st fin loc code total=0
	verifier=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
	challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
	c() { "$CPU_TIME" "$tmp/c1" curl -s --cacert "$CA_FILE" "$@"; total=$(awk -v t="$total" '{ print t + $1 }' "$tmp/c1"); }
	c -o /dev/null -D "$tmp/h1" "$ISSUER/oauth2/authorize?client_id=pam_authgear&redirect_uri=http%3A%2F%2F127.0.0.1%2Fpam_authgear%2Fcallback&response_type=code&scope=openid%20offline_access&code_challenge=$challenge&code_challenge_method=S256&state=benchstate&nonce=benchnonce&x_sso_enabled=false"
	q=$(sed -n 's/^[Ll]ocation: [^?]*?\(.*\)\r$/\1/p' "$tmp/h1")
	c -o "$tmp/b2" -H 'content-type: application/json' -d "{\"type\":\"login\",\"name\":\"default\",\"url_query\":\"$q\",\"batch_input\":[{\"identification\":\"username\",\"login_id\":\"demo\"},{\"authentication\":\"primary_password\",\"password\":\"$password\"}]}" "$ISSUER/api/v1/authentication_flows"
	st=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).result.state_token)' "$tmp/b2")
	c -o "$tmp/b3" -H 'content-type: application/json' -d "{\"state_token\":\"$st\",\"input\":{\"authentication\":\"secondary_totp\",\"code\":\"$(totp)\"}}" "$ISSUER/api/v1/authentication_flows/states/input"
	fin=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).result.action.data.finish_redirect_uri)' "$tmp/b3")
	c -o /dev/null -D "$tmp/h4" "$fin"
	code=$(sed -n 's/^[Ll]ocation: .*[?&]code=\([^&\r]*\).*$/\1/p' "$tmp/h4")
	c -o "$tmp/b5" -d "grant_type=authorization_code&code=$code&redirect_uri=http%3A%2F%2F127.0.0.1%2Fpam_authgear%2Fcallback&client_id=pam_authgear&code_verifier=$verifier" "$ISSUER/oauth2/token"
	grep -q '"id_token"' "$tmp/b5" || { echo "bench: curl login failed" >&2; cat "$tmp/b5" >&2; exit 1; }
	echo "$total 0" > "$tmp/cpu"
}

module_login # warm the discovery and JWKS caches
m_cpu=0 c_cpu=0
curl -s -XPOST "$HOOK_URL/counters/reset" >/dev/null
for _ in $(seq "$N"); do module_login; m_cpu=$(awk -v a="$m_cpu" -v b="$(cpu_ms "$tmp/cpu")" 'BEGIN{print a+b}'); done
m_req=$(requests)
curl -s -XPOST "$HOOK_URL/counters/reset" >/dev/null
for _ in $(seq "$N"); do curl_login; c_cpu=$(awk -v a="$c_cpu" -v b="$(cpu_ms "$tmp/cpu")" 'BEGIN{print a+b}'); done
c_req=$(requests)

printf '%-34s %12s %12s\n' "per login ($N logins)" "CPU ms" "requests"
printf '%-34s %12.1f %12.1f\n' "pam_authgear (authgear-pam login)" "$(awk -v a="$m_cpu" -v n="$N" 'BEGIN{print a/n}')" "$(awk -v a="$m_req" -v n="$N" 'BEGIN{print a/n}')"
printf '%-34s %12.1f %12.1f\n' "bare curl, same 5 requests" "$(awk -v a="$c_cpu" -v n="$N" 'BEGIN{print a/n}')" "$(awk -v a="$c_req" -v n="$N" 'BEGIN{print a/n}')"
printf '%-34s %12.2f\n' "ratio module / curl (CPU)" "$(awk -v a="$m_cpu" -v b="$c_cpu" 'BEGIN{print a/b}')"
