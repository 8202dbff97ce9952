#!/bin/bash
# The OIDC core against the real test IdP over HTTPS: discovery and its cache,
# code exchange, refresh (rotation off and on), userinfo, revocation, one TLS
# connection per transaction, and the network-level attacks and faults, each
# failing closed with its own error and its reason in the captured log.
. "$abs_top_srcdir/tests/lib.sh"
new_tmpdir
PROBE="$abs_top_builddir/tests/tools/oidc_probe"

idp_start "$T/idp"
write_config "$T/c.conf" "timeout = 3" "connect_timeout = 2"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
count() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]||0))' "$1"; }
# probe CASE CONFIG ARGS...: run the probe; its output in $T/CASE.out, log lines in $T/CASE.log
probe() {
	c=$1; conf=$2; shift 2
	AUTHGEAR_TEST_LOG="$T/$c.log" timeout 30 "$PROBE" "$conf" "$@" > "$T/$c.out" 2>"$T/$c.err"
}
# expect CASE RESULT LOG-REASON CONFIG ARGS...: the probe fails with RESULT and logs REASON
expect() {
	c=$1 want=$2 reason=$3; shift 3
	: > "$T/$c.log"
	if probe "$c" "$@"; then cat "$T/$c.out" "$T/$c.err"; fail "$c: succeeded"; fi
	grep -qx "result=$want" "$T/$c.out" || { cat "$T/$c.out" "$T/$c.err"; fail "$c: want result=$want"; }
	grep -qF -- "$reason" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: log lacks '$reason'"; }
	pass "$c: refused ($want) with '$reason' in the log"
}
get_code() {
	IDP_DIR="$IDP_DIR" ISSUER="$ISSUER" CA_FILE="$CA_FILE" HOOK_URL="$HOOK_URL" CLIENT_ID="${CLIENT_ID:-}" \
		node "$abs_top_srcdir/tests/tools/get-code.mjs" "$@" > "$T/code.json" || fail "test login at the IdP failed"
	set -- $(node -e 'const j=require(process.argv[1]);console.log(j.code,j.verifier,j.nonce)' "$T/code.json")
	CODE=$1 VERIFIER=$2 NONCE=$3
}
field() { sed -n "s/^$1=//p" "$T/$2.out"; }

# --- authgear-pam check against the IdP ---------------------------------------
"$CLI" check --config "$T/c.conf" > "$T/check.out" 2>&1 || { cat "$T/check.out"; fail "check against a healthy IdP"; }
for name in config state_dir issuer clock discovery device jwks algs authflow; do
	grep -qE "^ok +$name " "$T/check.out" || { cat "$T/check.out"; fail "check: $name not ok"; }
done
assert_contains "$T/check.out" "no device authorization endpoint advertised" "check reports the missing device endpoint"
assert_contains "$T/check.out" "1 key: " "check reports the JWKS keys"
sed "s|^issuer = .*|issuer = https://127.0.0.1:1|" "$T/c.conf" > "$T/down.conf"; chmod 600 "$T/down.conf"
if "$CLI" check --config "$T/down.conf" > "$T/check-down.out" 2>&1; then fail "check passed with the issuer down"; fi
grep -qE "^FAIL +issuer +http: GET https://127.0.0.1:1/.well-known/openid-configuration: Couldn't connect" "$T/check-down.out" \
	|| { cat "$T/check-down.out"; fail "check: issuer failure line"; }
pass "authgear-pam check: every check ok against the IdP; exit 1 with the reason when the issuer is down"

# --- cache_ttl: discovery and the JWKS are refetched once older than cache_ttl ------------------
write_config "$T/ttl.conf" "timeout = 3" "cache_ttl = 120"
age() { node -e 'const fs=require("fs"),f=process.argv[1],j=JSON.parse(fs.readFileSync(f));j.fetched_at-=Number(process.argv[2]);fs.writeFileSync(f,JSON.stringify(j))' "$T/state/private/$1.json" "$2"; }
rm -f "$T/state/private/discovery.json" "$T/state/private/jwks.json"
probe ttl-fill "$T/ttl.conf" jwks > /dev/null 2>&1 || { cat "$T/ttl-fill.out" "$T/ttl-fill.log"; fail "ttl: first fetch"; }
hook POST /counters/reset >/dev/null
age discovery 100; age jwks 100
probe ttl-fresh "$T/ttl.conf" jwks || { cat "$T/ttl-fresh.log"; fail "ttl: cached fetch"; }
[ "$(count /.well-known/openid-configuration)" = 0 ] && [ "$(count /oauth2/jwks)" = 0 ] \
	|| { hook GET /counters; fail "ttl: a 100 s old cache was refetched with cache_ttl = 120"; }
age discovery 30; age jwks 30
probe ttl-expired "$T/ttl.conf" jwks || { cat "$T/ttl-expired.log"; fail "ttl: refetch"; }
[ "$(count /.well-known/openid-configuration)" = 1 ] && [ "$(count /oauth2/jwks)" = 1 ] \
	|| { hook GET /counters; fail "ttl: a 130 s old cache was not refetched once with cache_ttl = 120"; }
pass "cache_ttl = 120: discovery and JWKS served from a 100 s old cache, refetched once at 130 s"

# --- clock skew: the issuer's Date header 10 minutes behind ours, leeway 60 s -----------------
hook POST /faults "{\"path\":\"/.well-known/openid-configuration\",\"type\":\"date_skew\",\"seconds\":-600}" >/dev/null || fail "date_skew fault"
rm -f "$T/state/private/discovery.json"
if "$CLI" check --config "$T/c.conf" > "$T/check-skew.out" 2>&1; then cat "$T/check-skew.out"; fail "check passed with a 600 s clock skew"; fi
grep -qE "^FAIL +clock +skew \+(59[89]|60[012]) s against the issuer's Date header \(leeway 60 s\)$" "$T/check-skew.out" \
	|| { cat "$T/check-skew.out"; fail "check: want the clock skew failure line"; }
hook POST /faults/clear '{}' >/dev/null
rm -f "$T/state/private/discovery.json"
"$CLI" check --config "$T/c.conf" > "$T/check-noskew.out" 2>&1 || { cat "$T/check-noskew.out"; fail "check after the skew fault was cleared"; }
pass "check fails with the skew when the issuer's clock is 600 s off (leeway 60 s), passes again without it"

# --- a device-only configuration on an issuer without the Flow API (any RFC 8628 issuer) ---
# No redirect_uri (nothing redirects), and the Flow API answering 404 as a
# non-Authgear issuer would: check passes and says the Flow API is not required.
sed '/^redirect_uri = /d' "$T/c.conf" > "$T/devonly.conf"; echo "methods = device" >> "$T/devonly.conf"; chmod 600 "$T/devonly.conf"
sed '/^redirect_uri = /d' "$T/c.conf" > "$T/noredirect.conf"; chmod 600 "$T/noredirect.conf"
hook POST /faults '{"path":"/api/v1/authentication_flows","type":"status","status":404,"body":"404 page not found","content_type":"text/plain"}' >/dev/null \
	|| fail "404 fault"
"$CLI" check --config "$T/devonly.conf" > "$T/check-dev.out" 2>&1 || { cat "$T/check-dev.out"; fail "check of a device-only config failed on an issuer without the Flow API"; }
grep -qE "^ok +authflow +Authentication Flow API not required \(methods = device\)$" "$T/check-dev.out" \
	|| { cat "$T/check-dev.out"; fail "check: want the Flow API reported as not required"; }
grep -qE "^ok +mfa_amr +device logins prove a second factor with amr holding all of one of: mfa, pwd\+otp, pwd\+hwk, pwd\+swk, pwd\+sms$" "$T/check-dev.out" \
	|| { cat "$T/check-dev.out"; fail "check: want the mfa_amr combinations shown"; }
pass "check with methods = device and no redirect_uri: passes; the Flow API (404 here) is reported as not required"
if "$CLI" check --config "$T/c.conf" > "$T/check-404.out" 2>&1; then cat "$T/check-404.out"; fail "check with the password method passed while the Flow API answers 404"; fi
grep -qE "^FAIL +authflow .*does not answer like Authgear's Flow API \(status 404\)" "$T/check-404.out" \
	|| { cat "$T/check-404.out"; fail "check: the password method needs the Flow API"; }
pass "check with the password method fails on the same issuer (Flow API 404)"
"$CLI" check --config "$T/noredirect.conf" > "$T/check-noredirect.out" 2>&1 && fail "a password config without redirect_uri passed check"
assert_contains "$T/check-noredirect.out" "required key 'redirect_uri' is missing (methods include password)" "redirect_uri is required with the password method"
hook POST /faults/clear '{}' >/dev/null

# --- client_secret_file: root-only, one line ------------------------------------
printf 's3cret\n' > "$T/secret"; chmod 0644 "$T/secret"
write_config "$T/secret.conf" "client_secret_file = $T/secret"
expect secret-mode config "client_secret_file $T/secret: mode 0644 lets others read a secret; use 0600" "$T/secret.conf" discovery
chmod 0600 "$T/secret"
probe secret-ok "$T/secret.conf" discovery || { cat "$T/secret-ok.err"; fail "a 0600 client secret file"; }
pass "a 0600 client secret file is accepted"

# --- discovery and its cache ----------------------------------------------
rm -f "$T/state/private/discovery.json"
hook POST /counters/reset >/dev/null
probe disc1 "$T/c.conf" discovery || { cat "$T/disc1.out" "$T/disc1.err"; fail "discovery"; }
[ "$(field issuer disc1)" = "$ISSUER" ] || fail "discovery issuer"
[ -z "$(field device_authorization_endpoint disc1)" ] || fail "Authgear advertises no device endpoint"
probe disc2 "$T/c.conf" discovery || fail "discovery from cache"
[ "$(count /.well-known/openid-configuration)" = 1 ] || fail "discovery fetched more than once"
[ "$(stat -c %a "$T/state/private")" = 700 ] || fail "private state dir mode"
[ "$(stat -c %a "$T/state/private/discovery.json")" = 600 ] || fail "discovery cache mode"
pass "discovery fetched once, then served from a 0600 cache in a 0700 directory"

# --- code exchange, refresh without rotation, userinfo, revoke ----------------
hook POST /counters/reset >/dev/null
get_code alice
probe exch "$T/c.conf" exchange "$CODE" "$VERIFIER" "$NONCE" "$T/tok.json" || { cat "$T/exch.err"; fail "code exchange"; }
[ "$(field refresh_token exch)" = present ] || fail "no refresh token with offline_access"
[ "$(field connections exch)" = 1 ] || fail "exchange used $(field connections exch) connections"
pass "code exchange with PKCE over one TLS connection"
expect replay invalid_grant "token: invalid_grant" "$T/c.conf" exchange "$CODE" "$VERIFIER" "$NONCE" "$T/tok2.json"
get_code alice
expect verifier invalid_grant "token: invalid_grant" "$T/c.conf" exchange "$CODE" "wrong-verifier-wrong-verifier-wrong-verifier-0" "$NONCE" "$T/tok2.json"

probe ref1 "$T/c.conf" refresh "$T/tok.json" || fail "refresh"
[ "$(field rotated ref1)" = no ] || fail "refresh rotated without rotation enabled"
probe ref2 "$T/c.conf" refresh "$T/tok.json" || fail "second refresh with the same token"
pass "refresh without rotation: no new refresh token, the old one keeps working"
probe ui "$T/c.conf" userinfo "$T/tok.json" || fail "userinfo"
[ "$(field roles ui)" = 2 ] || fail "userinfo roles"
pass "userinfo returns sub and roles"
probe rev "$T/c.conf" revoke "$T/tok.json" || fail "revoke"
expect revoked invalid_grant "token: invalid_grant: invalid refresh token" "$T/c.conf" refresh "$T/tok.json"

# --- refresh with rotation --------------------------------------------------
sed 's/^client_id = .*/client_id = pam_authgear_rotating/' "$T/c.conf" > "$T/rot.conf"; chmod 600 "$T/rot.conf"
CLIENT_ID=pam_authgear_rotating get_code bob
probe rexch "$T/rot.conf" exchange "$CODE" "$VERIFIER" "$NONCE" "$T/rot.json" || fail "rotating client exchange"
cp "$T/rot.json" "$T/rot-old.json"
probe rref "$T/rot.conf" refresh "$T/rot.json" || fail "rotating refresh"
[ "$(field rotated rref)" = yes ] || fail "rotation enabled but no new refresh token"
expect rotated-old invalid_grant "token: invalid_grant" "$T/rot.conf" refresh "$T/rot-old.json"
probe rref2 "$T/rot.conf" refresh "$T/rot.json" || fail "the rotated refresh token works"
pass "refresh with rotation: a new token each time, the old one dies"

# --- disabled user: invalid_grant, not a network error ------------------------
get_code carol --no-second-factor
probe cexch "$T/c.conf" exchange "$CODE" "$VERIFIER" "$NONCE" "$T/carol.json" || fail "carol exchange"
hook POST /users/carol/disable >/dev/null
expect disabled invalid_grant "token: invalid_grant" "$T/c.conf" refresh "$T/carol.json"
expect userinfo-disabled invalid_grant "userinfo: access token refused (401)" "$T/c.conf" userinfo "$T/carol.json"
hook POST /users/carol/enable >/dev/null

# --- warm cache: IdP restarted with the same state, zero metadata fetches ------
"$IDP_DIR/stop.sh" "$T/idp" >/dev/null
idp_start "$T/idp"
hook POST /counters/reset >/dev/null
probe warm "$T/c.conf" discovery || fail "discovery after IdP restart"
[ "$(count /.well-known/openid-configuration)" = 0 ] || fail "warm cache refetched discovery"
pass "warm cache: no discovery fetch after the IdP restarted on the same keys"

# --- faults and network attacks ---------------------------------------------
fresh() { rm -f "$T/state/private/discovery.json"; hook POST /faults/clear '{}' >/dev/null; }
fault() { fresh; hook POST /faults "$1" >/dev/null; }
DISC=/.well-known/openid-configuration

fault '{"path":"'$DISC'","type":"wrong_issuer"}'
expect wrong-issuer protocol "differs from the configured issuer" "$T/c.conf" discovery
fresh
sed "s|^issuer = .*|issuer = $ISSUER/|" "$T/c.conf" > "$T/slash.conf"; chmod 600 "$T/slash.conf"
expect issuer-slash protocol "differs from the configured issuer" "$T/slash.conf" discovery
fault '{"path":"'$DISC'","type":"html200"}'
expect html200 protocol "content type 'text/html; charset=utf-8' is not JSON" "$T/c.conf" discovery
fault '{"path":"'$DISC'","type":"garbage_json"}'
expect garbage parse "discovery: invalid JSON" "$T/c.conf" discovery
fault '{"path":"'$DISC'","type":"truncated_json"}'
expect truncated parse "discovery: invalid JSON" "$T/c.conf" discovery
fault '{"path":"'$DISC'","type":"duplicate_keys"}'
expect dupkeys parse "duplicate object key" "$T/c.conf" discovery
fault '{"path":"'$DISC'","type":"oversized","bytes":2097152}'
expect oversized too_large "response over the body limit" "$T/c.conf" discovery
fault '{"path":"'$DISC'","type":"http500"}'
expect http500 server "discovery: server error 500" "$T/c.conf" discovery
fault '{"path":"'$DISC'","type":"reset"}'
expect reset network "Connection reset by peer" "$T/c.conf" discovery
# arrival_ms PATH: when the IdP received its last request to PATH (epoch ms,
# the same clock as now_ms): a bound measured from there leaves out the
# process start and module load a loaded machine stretches.
arrival_ms() { hook GET "/requests?path=$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.length?Math.round(r[r.length-1].t_ms):0)})'; }
fault '{"path":"'$DISC'","type":"hang"}'
start=$(now_ms)
expect hang timeout "Timeout was reached" "$T/c.conf" discovery
end=$(now_ms)
elapsed=$(( end - start ))
waited=$(( end - $(arrival_ms "$DISC") ))
# at least the timeout (the whole run); at most the timeout and 2.8 s of
# slack from the hung request's arrival at the IdP (never answered: a
# module without the timeout would hang until the probe's own limit)
[ $elapsed -ge 2800 ] && [ $waited -lt 5800 ] || fail "timeout = 3: the run took ${elapsed} ms, ${waited} ms after the hung request"
pass "a server that accepts and never answers: timeout ${waited} ms after the request, ${elapsed} ms after the start (timeout = 3)"
# connect_timeout against a black hole on loopback: a socket that listens
# with a backlog of 0 and never accepts, its queue filled by one idle client,
# so the kernel drops every further SYN (testing-pam.md §9). perl is Debian
# essential; the listener and the filler have lifetimes of their own.
timeout 60 perl -MIO::Socket::INET -e '$|=1; my $s=IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>0,Listen=>0) or die "listen: $!"; print $s->sockport,"\n"; sleep 60' > "$T/blackhole.port" &
BH_PID=$!
for _ in $(seq 50); do [ -s "$T/blackhole.port" ] && break; sleep 0.1; done
BH_PORT=$(cat "$T/blackhole.port")
[ -n "$BH_PORT" ] || fail "black-hole listener did not start"
timeout 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BH_PORT; sleep 60" &
BH_FILL=$!
stop_blackhole() { kill "$BH_PID" "$BH_FILL" 2>/dev/null; true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS stop_blackhole"
sleep 0.3
sed "s|^issuer = .*|issuer = https://127.0.0.1:$BH_PORT|; s|^connect_timeout = .*|connect_timeout = 2|; s|^timeout = .*|timeout = 30|" "$T/c.conf" > "$T/bh.conf"
chmod 600 "$T/bh.conf"; rm -f "$T/state/private/discovery.json"
grep -q "^connect_timeout = 2$" "$T/bh.conf" && grep -q "^timeout = 30$" "$T/bh.conf" || fail "bh.conf"
start=$(now_ms)
expect blackhole timeout "Timeout was reached" "$T/bh.conf" discovery
elapsed=$(( $(now_ms) - start ))
# at least connect_timeout, and far below timeout = 30
[ $elapsed -ge 1800 ] && [ $elapsed -le 10000 ] || fail "connect_timeout = 2 against a black hole took ${elapsed} ms"
stop_blackhole
pass "a black-holed loopback address: gave up after ${elapsed} ms (connect_timeout = 2, timeout = 30)"
fault '{"path":"/oauth2/token","type":"http500"}'
get_code alice
expect token500 server "token: server error 500" "$T/c.conf" exchange "$CODE" "$VERIFIER" "$NONCE" "$T/x.json"

fresh
hook POST /faults/tls '{"cert":"wrong_host"}' >/dev/null
expect wrong-host tls "no alternative certificate subject name matches target host name" "$T/c.conf" discovery
hook POST /faults/tls '{"cert":"wrong_ca"}' >/dev/null
expect wrong-ca tls "unable to get local issuer certificate" "$T/c.conf" discovery
hook POST /faults/tls '{"cert":"expired"}' >/dev/null
expect expired-cert tls "certificate has expired" "$T/c.conf" discovery
hook POST /faults/tls '{"cert":"self_signed"}' >/dev/null
expect self-signed tls "self-signed certificate" "$T/c.conf" discovery
hook POST /faults/tls '{"cert":"normal"}' >/dev/null
# The IdP's own certificate, but the system CAs instead of ca_file.
grep -v '^ca_file' "$T/c.conf" > "$T/noca.conf"; echo "# no ca_file" >> "$T/noca.conf"; chmod 600 "$T/noca.conf"
fresh
expect ca-not-trusted tls "unable to get local issuer certificate" "$T/noca.conf" discovery

# Plain http is refused before any connection, even to loopback unless allowed.
hook POST /counters/reset >/dev/null
plain=${ISSUER/https:/http:}
expect http-url protocol "refused, only https is allowed" "$T/c.conf" get "$plain$DISC"
write_config "$T/insecure.conf" "insecure_loopback_for_tests = yes"
expect http-remote protocol "refused, only https is allowed" "$T/insecure.conf" get "http://example.com/"
[ "$(count $DISC)" = 0 ] || fail "a refused URL reached the IdP"
pass "refused URLs never reach the network"

# A redirect whose Location goes to plain http is refused.
AUTHZ="$ISSUER/oauth2/authorize?client_id=pam_authgear&redirect_uri=http%3A%2F%2F127.0.0.1%2Fpam_authgear%2Fcallback&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s&nonce=n"
fresh
probe redir-ok "$T/c.conf" redirect "$AUTHZ" || { cat "$T/redir-ok.err"; fail "authorize redirect"; }
[ "$(field target_scheme redir-ok)" = https ] || fail "authorize redirect target"
fault '{"path":"/oauth2/authorize","type":"http_location"}'
expect location-http protocol "refused, only https is allowed" "$T/c.conf" redirect "$AUTHZ"
hook POST /faults/clear '{}' >/dev/null

# No log line carries a token or code.
for f in "$T"/*.log; do
	for secret in "$CODE" "$VERIFIER" $(node -e 'for (const v of Object.values(require(process.argv[1]))) console.log(v)' "$T/rot.json"); do
		if grep -qF -- "$secret" "$f"; then fail "a secret appears in $f"; fi
	done
done
pass "no code, verifier or token in any log"
