#!/bin/bash
# Token verification against the real test IdP: every signing alg from a real
# signer, key rotation through the kid-miss refetch (and its rate limit),
# refresh ID tokens without nonce, JWT access tokens, and the ID-token attack
# table: each crafted token is served by the IdP's token endpoint, refused,
# and the expected reason is in the captured log.
. "$abs_top_srcdir/tests/lib.sh"
new_tmpdir
PROBE="$abs_top_builddir/tests/tools/oidc_probe"

idp_start "$T/idp"
write_config "$T/c.conf"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
count() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]||0))' "$1"; }
probe() {
	c=$1 conf=$2; shift 2
	AUTHGEAR_TEST_LOG="$T/$c.log" timeout 30 "$PROBE" "$conf" "$@" > "$T/$c.out" 2>"$T/$c.err"
}
fresh_cache() { rm -f "$T/state/private/discovery.json" "$T/state/private/jwks.json"; }
field() { sed -n "s/^$1=//p" "$T/$2.out"; }
get_code() {
	IDP_DIR="$IDP_DIR" ISSUER="$ISSUER" CA_FILE="$CA_FILE" HOOK_URL="$HOOK_URL" CLIENT_ID="${CLIENT_ID:-}" \
		node "$abs_top_srcdir/tests/tools/get-code.mjs" "${1:-alice}" > "$T/code.json" || fail "test login at the IdP failed"
	set -- $(node -e 'const j=require(process.argv[1]);console.log(j.code,j.verifier,j.nonce)' "$T/code.json")
	CODE=$1 VERIFIER=$2 NONCE=$3
}
# login CASE [CONF] [NONCE-OVERRIDE]: a fresh code, exchanged and verified by the core
login() {
	c=$1 conf=${2:-$T/c.conf}
	get_code alice
	probe "$c" "$conf" exchange "$CODE" "$VERIFIER" "${3:-$NONCE}" "$T/$c.tok"
}
# attack CASE RESULT REASON SPEC: the IdP serves SPEC as the next ID token
N_ATTACKS=0
attack() {
	c=$1 want=$2 reason=$3 spec=$4
	hook POST /tokens/next-id-token "$spec" >/dev/null
	if login "$c"; then cat "$T/$c.out"; fail "$c: a crafted ID token was accepted"; fi
	grep -qx "result=$want" "$T/$c.out" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: want result=$want"; }
	grep -qF -- "$reason" "$T/$c.log" || { cat "$T/$c.log"; fail "$c: log lacks '$reason'"; }
	N_ATTACKS=$((N_ATTACKS + 1))
	pass "attack $c: refused ($want), log: $reason"
}

# --- a good login, and every alg from a real signer -------------------------------
login good || { cat "$T/good.out" "$T/good.err"; fail "a genuine ID token was refused"; }
[ "$(field sub good)" = 2f91682e-7cf4-4bd7-b86f-d91a20e3de70 ] || fail "sub"
[ "$(field amr good)" = mfa,otp,pwd,x_primary_password,x_secondary_totp ] || fail "amr"
# The alg in the header of the ID token a login got (the probe's tokens file).
token_alg() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(JSON.parse(Buffer.from(j.id_token.split(".")[0],"base64url")).alg)' "$1"; }
for alg in RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA; do
	hook POST /keys/alg "{\"alg\":\"$alg\"}" >/dev/null || fail "$alg: the IdP did not switch its signer"
	fresh_cache # a new signer: new algs advertised, a new kid
	login "alg-$alg" || { cat "$T/alg-$alg.out" "$T/alg-$alg.log"; fail "$alg: genuine token refused"; }
	got=$(token_alg "$T/alg-$alg.tok")
	[ "$got" = "$alg" ] || fail "$alg: the verified ID token's header says alg $got"
	pass "$alg ID token from the IdP's real signer verified (header alg $got)"
done
hook POST /keys/alg '{"alg":"RS256"}' >/dev/null || fail "switching the IdP's signer to RS256"
fresh_cache

# allowed_algs narrows what the issuer offers: an ES256-signed token under allowed_algs = RS256
hook POST /keys/alg '{"alg":"ES256"}' >/dev/null || fail "switching the IdP's signer to ES256"
fresh_cache
write_config "$T/rs-only.conf" "allowed_algs = RS256"
if login alg-narrowed "$T/rs-only.conf"; then fail "ES256 accepted with allowed_algs = RS256"; fi
grep -qF "jws: alg ES256 not allowed" "$T/alg-narrowed.log" || { cat "$T/alg-narrowed.log"; fail "alg-narrowed reason"; }
pass "allowed_algs = RS256 refuses an ES256 token the issuer advertises"
N_ATTACKS=$((N_ATTACKS + 1))
hook POST /keys/alg '{"alg":"RS256"}' >/dev/null || fail "switching the IdP's signer to RS256"
fresh_cache
login warm || fail "login after the alg changes"

# --- key rotation: an unknown kid refetches the JWKS once, at most once a minute -------
backdate() { node -e 'const f=process.argv[1],j=require(f);j.fetched_at-=120;require("fs").writeFileSync(f,JSON.stringify(j))' "$T/state/private/jwks.json"; }
hook POST /keys/rotate '{}' >/dev/null
hook POST /counters/reset >/dev/null
if login rotated-too-soon; then fail "a new kid was accepted without a JWKS refetch"; fi
grep -qF "refetch rate limited" "$T/rotated-too-soon.log" || { cat "$T/rotated-too-soon.log"; fail "rate limit reason"; }
[ "$(count /oauth2/jwks)" = 0 ] || fail "the JWKS was refetched within a minute of the last fetch"
pass "an unknown kid within a minute of the last JWKS fetch: refused, no refetch"
backdate
login rotated || { cat "$T/rotated.log"; fail "rotation not picked up"; }
[ "$(count /oauth2/jwks)" = 1 ] || fail "want exactly one JWKS refetch"
grep -qF "jwks: refetched after an unknown kid (" "$T/rotated.log" || fail "refetch not logged"
pass "key rotation picked up through one kid-miss refetch"
backdate
attack unknown-kid key_not_found "jws: kid not-a-key not in JWKS" '{"header":{"kid":"not-a-key"}}'

# --- refresh: the ID token of a refresh has no nonce and is verified without one ------
login refresh-base || fail "login for refresh"
probe refresh "$T/c.conf" refresh "$T/refresh-base.tok" || { cat "$T/refresh.log"; fail "refresh ID token refused"; }
[ "$(field sub refresh)" = 2f91682e-7cf4-4bd7-b86f-d91a20e3de70 ] || fail "refresh sub"
pass "refresh ID token verified without a nonce"
hook POST /tokens/next-id-token '{"payload":{"aud":"someone-else"},"grant_type":"refresh_token"}' >/dev/null
if probe refresh-bad "$T/c.conf" refresh "$T/refresh-base.tok"; then fail "refresh with a bad ID token accepted"; fi
grep -qF "claims: aud does not contain client_id pam_authgear" "$T/refresh-bad.log" || fail "refresh-bad reason"
N_ATTACKS=$((N_ATTACKS + 1))
pass "attack refresh-wrong-aud: refused"

# --- JWT access tokens (a client with issue_jwt_access_token) and opaque ones ------------
probe opaque "$T/c.conf" verify-at "$T/refresh-base.tok" && fail "an opaque access token cannot be verified locally"
grep -qx "result=unsupported" "$T/opaque.out" || fail "opaque access token: want unsupported"
sed 's/^client_id = .*/client_id = pam_authgear_jwt/' "$T/c.conf" > "$T/jwt.conf"; chmod 600 "$T/jwt.conf"
CLIENT_ID=pam_authgear_jwt get_code alice
probe jwt-ex "$T/jwt.conf" exchange "$CODE" "$VERIFIER" "$NONCE" "$T/jwt.tok" || { cat "$T/jwt-ex.log"; fail "jwt client login"; }
probe jwt-at "$T/jwt.conf" verify-at "$T/jwt.tok" || { cat "$T/jwt-at.log"; fail "JWT access token refused"; }
[ "$(field sub jwt-at)" = 2f91682e-7cf4-4bd7-b86f-d91a20e3de70 ] || fail "JWT access token sub"
pass "JWT access token (at+jwt, aud = issuer) verified; an opaque one is left to the issuer"
node -e 'const fs=require("fs"),f=process.argv[1],j=JSON.parse(fs.readFileSync(f));j.access_token=j.id_token;fs.writeFileSync(f,JSON.stringify(j))' "$T/jwt.tok"
if probe id-as-at "$T/jwt.conf" verify-at "$T/jwt.tok"; then fail "an ID token was accepted as an access token"; fi
grep -qF "claims: typ is not at+jwt" "$T/id-as-at.log" || { cat "$T/id-as-at.log"; fail "id-as-at reason"; }
N_ATTACKS=$((N_ATTACKS + 1))
pass "attack id-token-as-access-token: refused"

# --- the ID token attack table ------------------------------------------------------
attack alg-none signature "jws: alg none refused" '{"key":"none"}'
attack hs256-public-key signature "jws: alg HS256 refused (HMAC: a public key is not a shared secret)" \
	"{\"key\":\"hs256\",\"alg\":\"HS256\",\"secret\":\"$(curl -fsS --cacert "$CA_FILE" "$ISSUER/oauth2/jwks" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).keys[0].n))')\"}"
attack kty-mismatch signature "does not fit alg ES256 (kty/crv mismatch)" \
	"{\"key\":\"fresh\",\"alg\":\"RS256\",\"header\":{\"alg\":\"ES256\"}}"
attack truncated-signature signature "jws: RS256 signature of 248 bytes, want 256" '{"tamper":"truncate"}'
attack flipped-signature signature "jws: signature invalid" '{"tamper":"signature"}'
attack empty-signature signature "jws: RS256 signature of 0 bytes, want 256" '{"tamper":"empty_signature"}'
attack tampered-payload signature "jws: signature invalid" '{"tamper":"payload"}'
attack fresh-key-same-kid signature "jws: signature invalid" '{"key":"fresh","alg":"RS256"}'
attack expired claims "claims: expired" '{"payload":{"exp":1000000000,"iat":999999000}}'
attack nbf-future claims "claims: nbf in the future" '{"payload":{"nbf":4000000000}}'
attack iat-future claims "claims: iat in the future" '{"payload":{"iat":4000000000,"exp":4000000300}}'
attack wrong-iss claims "claims: iss mismatch" '{"payload":{"iss":"https://evil.example"}}'
attack iss-trailing-slash claims "claims: iss mismatch" "{\"payload\":{\"iss\":\"$ISSUER/\"}}"
attack wrong-aud claims "claims: aud does not contain client_id pam_authgear" '{"payload":{"aud":["someone-else"]}}'
attack aud-without-azp claims "claims: azp missing while aud has 2 values" '{"payload":{"aud":["pam_authgear","other"]}}'
attack wrong-azp claims "claims: azp mismatch" '{"payload":{"aud":["pam_authgear","other"],"azp":"other"}}'
attack missing-sub claims "claims: sub missing" '{"payload":{"sub":null}}'
attack empty-sub claims "claims: sub missing" '{"payload":{"sub":""}}'
attack missing-exp claims "claims: exp missing" '{"payload":{"exp":null}}'
attack nonce-mismatch claims "claims: nonce mismatch" '{"payload":{"nonce":"not-the-nonce"}}'
attack nonce-missing claims "claims: nonce missing" '{"payload":{"nonce":null}}'
attack access-token-typ claims "claims: ID token has typ at+jwt" '{"header":{"typ":"at+jwt"}}'
attack crit-header signature "jws: header has crit, refused" '{"header":{"crit":["exp"]}}'
attack jku-header signature "jws: header has jku, refused" '{"header":{"jku":"https://evil.example/jwks"}}'
attack x5u-header signature "jws: header has x5u, refused" '{"header":{"x5u":"https://evil.example/cert"}}'
attack embedded-jwk signature "jws: header has jwk, refused" '{"header":{"jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}}'
attack unknown-alg signature "jws: alg RS1 not supported" '{"header":{"alg":"RS1"}}'

# Hand-made compact tokens, served as they are.
TOK=$(hook POST /tokens/sign '{"username":"alice"}' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).jwt))')
H=${TOK%%.*}; REST=${TOK#*.}; P=${REST%%.*}; S=${REST#*.}
dup_h=$(node -e 'const h=Buffer.from(process.argv[1],"base64url").toString();console.log(Buffer.from(h.replace(/^\{/,"{\"alg\":\"none\",")).toString("base64url"))' "$H")
attack duplicate-keys parse "duplicate object key" "{\"jwt\":\"$dup_h.$P.$S\"}"
attack non-base64url parse "is not base64url" "{\"jwt\":\"$H.$P*.$S\"}"
attack four-parts parse "jws: token has 4 parts, want 3" "{\"jwt\":\"$H.$P.$S.$S\"}"
big=$(head -c 20000 /dev/zero | tr '\0' 'A')
attack twenty-kib-token protocol "token: response id_token malformed or too long" "{\"jwt\":\"$H.$big.$S\"}"
hook POST /faults '{"path":"/oauth2/token","type":"oversized","bytes":2097152,"count":1}' >/dev/null
attack two-mib-response too_large "response over the body limit" '{}'
hook POST /tokens/clear >/dev/null

[ $N_ATTACKS -ge 30 ] || fail "only $N_ATTACKS token attacks ran"
pass "$N_ATTACKS token attacks refused, each with its reason in the log"
