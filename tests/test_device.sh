#!/bin/bash
# Device-code login (RFC 8628) through the real libpam (pam_wrapper) against
# the test IdP with its device switch on: every message the person sees is
# recorded and compared exactly (the QR code is decoded with zbarimg), the
# approval, denial and expiry come through the IdP's hooks, and the poll
# times are asserted at the IdP.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v zbarimg >/dev/null || skip "zbarimg not installed (Debian: zbar-tools)"
new_tmpdir
BG=
kill_bg() { [ -z "${BG:-}" ] || kill "$BG" 2>/dev/null; true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS kill_bg"
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
TOOLS="$abs_top_srcdir/tests/tools"
FIXTURE="$IDP_DIR/fixtures/users.json"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
# (counted with grep, not node: the background loops below run this every
# 0.1 s and must not load the machine whose timing the test measures)
count() { hook GET "/requests?path=$1" | grep -o '"t_ms":' | wc -l; }
polls() { count /oauth2/token; }
reset() { hook POST /counters/reset >/dev/null; }
# after_polls N METHOD PATH [BODY]: reset the request log, then in the
# background, once the IdP has seen N token requests, call the hook.
after_polls() {
	n=$1; shift
	reset
	( for _ in $(seq 600); do [ "$(polls)" -ge "$n" ] && break; sleep 0.1; done; hook "$@" > "$T/bg.out" ) &
	BG=$!
}

# run CASE SERVICE USER ANSWERS...: transcript in $T/CASE.out (QR codes cut
# out to $T/CASE.d/qr.N, the rest in $T/CASE.txt), log in $T/CASE.log
run() {
	c=$1 svc=$2 user=$3; shift 3
	start_ms=$(now_ms)
	timeout 120 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$DRIVER" "$svc" "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	end_ms=$(now_ms)
	elapsed_ms=$(( end_ms - start_ms ))
	echo "($c: ${elapsed_ms} ms)"
	touch "$T/$c.log"
	[ -z "${BG:-}" ] || { wait "$BG" || true; BG=; }
	mkdir -p "$T/$c.d"
	node "$TOOLS/qr_transcript.mjs" "$T/$c.d" < "$T/$c.out" > "$T/$c.txt"
}
expect_transcript() {
	cat > "$T/$1.want"
	diff -u "$T/$1.want" "$T/$1.txt" > "$T/$1.diff" || { cat "$T/$1.diff" "$T/$1.log"; fail "$1: transcript differs"; }
	pass "$1: exact messages and prompts"
}
expect_log() { assert_contains "$T/$1.log" "$2" "$1: log says '$2'"; }
# decode CASE N [--invert]: the text of the N-th QR code of CASE
decode() {
	node "$TOOLS/qr_to_pgm.mjs" ${3:-} "$T/$1.d/qr.$2.pgm" < "$T/$1.d/qr.$2" > "$T/$1.d/qr.$2.json" \
		|| fail "$1: QR $2 is not a well-formed half-block drawing"
	zbarimg --raw -q "$T/$1.d/qr.$2.pgm" 2>/dev/null
}
PROMPT="prompt-echo-on: Press Enter once you have approved the sign-in (or type 'new' for a new code): "
CODE_TEXT="info: To sign in to $(hostname) as alice, open https://example.com/device
and enter the code:

    W D J B - M J H T   (WDJB-MJHT)"
USERS="users = alice, bob, carol, dev-*"

# --- an issuer without a device endpoint: a clear refusal, password still works ----
idp_start "$T/idp-plain"
write_config "$T/plain.conf" "$USERS" "methods = password, device" "timeout = 3"
pam_service plain "auth required $MODULE config=$T/plain.conf debug"
reset
run nodevice plain alice 1
expect_transcript nodevice <<EOF
info: Sign in: 1) Approve on your phone (QR)  2) Password and code
prompt-echo-on: Choose 1 or 2 [1]: 
error: Approving the sign-in on your phone is not available with this sign-in service; use your password and code.
rc=9 Authentication service cannot retrieve authentication info
EOF
expect_log nodevice "device: the issuer advertises no device_authorization_endpoint"
[ "$(count /oauth2/device_authorization)" = 0 ] || fail "nodevice: a device authorization was requested"
totp=$(hook GET /totp/alice | jget code)
run password-same-stack plain alice 2 "$(password alice)" 1 "$totp"
expect_transcript password-same-stack <<EOF
info: Sign in: 1) Approve on your phone (QR)  2) Password and code
prompt-echo-on: Choose 1 or 2 [1]: 
prompt-echo-off: Password: 
info: Second factor: 1) Authenticator app code  2) Recovery code
prompt-echo-on: Choose 1 or 2 [1]: 
prompt-echo-off: Verification code: 
rc=0 Success
EOF
"$IDP_DIR/stop.sh" "$T/idp-plain" >/dev/null

# --- the device IdP, interval 1 s, pinned user code and URL -------------------------
idp_start "$T/idp" --device
hook POST /device/config '{"interval":1,"user_code":"WDJB-MJHT","verification_uri":"https://example.com/device"}' >/dev/null
CLIENT_DEVICE="client_id = pam_authgear_device"
write_config "$T/d.conf" "$USERS" "methods = device" "timeout = 3" "max_attempts_per_minute = 1000"
sed -i "s/^client_id = .*/$CLIENT_DEVICE/" "$T/d.conf"
pam_service dev "auth required $MODULE config=$T/d.conf debug"
dconf() { # dconf NAME LINES...: a device configuration (methods = device unless given) and its service
	n=$1; shift
	case "$*" in *"methods ="*) m= ;; *) m="methods = device" ;; esac
	write_config "$T/$n.conf" "$USERS" ${m:+"$m"} "timeout = 3" "max_attempts_per_minute = 1000" "$@"
	sed -i "s/^client_id = .*/$CLIENT_DEVICE/" "$T/$n.conf"
	pam_service "$n" "auth required $MODULE config=$T/$n.conf debug"
}

# --- approved: URL + code, then the QR, then the prompt; interval honoured ----------
after_polls 2 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run approved dev alice ""
expect_transcript approved <<EOF
$CODE_TEXT
info: <QR 1: 41x21>
$PROMPT
rc=0 Success
EOF
[ "$(decode approved 1)" = "https://example.com/device?user_code=WDJB-MJHT" ] \
	|| fail "approved: the QR code does not decode to verification_uri_complete"
pass "approved: the QR code decodes to verification_uri_complete"
expect_log approved "audit: user=alice sub=2f91682e-7cf4-4bd7-b86f-d91a20e3de70 method=device amr=mfa,otp,pwd,x_primary_password,x_secondary_totp result=success"
[ "$(sqlite3 -readonly "$T/state/private/accounts.db" "SELECT sub FROM users WHERE name = 'alice'")" = \
	2f91682e-7cf4-4bd7-b86f-d91a20e3de70 ] || fail "approved: binding not stored"
# RFC 8628 §3.5: the interval from the response (1 s here, not the default 5 s
# and not faster), counted from the previous answer. Measured at the IdP:
# from the answer of one poll (done_ms) to the arrival of the next (t_ms).
# Never sooner than 1 s, less 50 ms for the IdP's own timestamps (done_ms
# is taken when node's event loop gets to it: 10 ms after the client had
# the answer was seen); "not the default 5 s" leaves 3.5 s of slack for a
# loaded machine.
hook GET "/requests?path=/oauth2/token" > "$T/approved.polls.json"
node -e '
const r=require(process.argv[1]).filter(x=>x.grant_type==="urn:ietf:params:oauth:grant-type:device_code");
if (r.length<3) { console.error("polls:",r.length); process.exit(1); }
for (let i=1;i<r.length;i++){const g=(r[i].t_ms-r[i-1].done_ms)/1000; if(g<0.95||g>4.5){console.error("gap",g);process.exit(1)}}' "$T/approved.polls.json" \
	|| { cat "$T/approved.polls.json"; fail "approved: polls not at the 1 s interval"; }
pass "approved: polls at the issuer's interval (1 s after each answer), never sooner"

# --- denied, expired, not approved in time ---------------------------------------
after_polls 1 POST /device/deny '{"user_code":"WDJB-MJHT"}'
run denied dev alice ""
expect_transcript denied <<EOF
$CODE_TEXT
info: <QR 1: 41x21>
$PROMPT
error: The sign-in was denied.
rc=6 Permission denied
EOF
expect_log denied "result=denied"
after_polls 1 POST /device/expire '{"user_code":"WDJB-MJHT"}'
run expired dev alice ""
expect_transcript expired <<EOF
$CODE_TEXT
info: <QR 1: 41x21>
$PROMPT
error: The code has expired; sign in again for a new one.
rc=7 Authentication failure
EOF
expect_log expired "token: expired_token"
# expires_in from the response stops the polling (3 s here; the code itself
# lives 600 s at the IdP, so only the module's own stop ends the polling)
hook POST /device/config '{"expires_in_shown":3}' >/dev/null
reset
run expires-in dev alice ""
# At the IdP: no poll much later than expires_in after the device
# authorization (5 s of slack for one late poll on a loaded machine; a
# module that ignored expires_in would poll until device_max_wait, 110 s).
span=$(hook GET /requests | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);
const a=r.find(x=>x.path==="/oauth2/device_authorization"), p=r.filter(x=>x.path==="/oauth2/token");
console.log(a&&p.length?Math.round(p[p.length-1].t_ms-a.t_ms):-1)})')
[ "$span" -ge 0 ] && [ "$span" -le 8000 ] || fail "expires-in: last poll ${span} ms after the device authorization, expires_in = 3 s"
grep -q '^error: The sign-in was not approved in time; sign in again for a new code.$' "$T/expires-in.txt" \
	|| { cat "$T/expires-in.txt"; fail "expires-in: line"; }
grep -q '^rc=7 ' "$T/expires-in.txt" || fail "expires-in: want PAM_AUTH_ERR"
pass "expires_in = 3: the last poll ${span} ms after the device authorization; ended with its line"
hook POST /device/config '{"expires_in_shown":null}' >/dev/null
# device_max_wait bounds the whole attempt (below sshd's LoginGraceTime)
dconf maxwait "device_max_wait = 5"
reset
run maxwait maxwait alice ""
# The attempt waited (polls for at least 3 s at the IdP: the deadline runs
# from before the device authorization) and gave up: its last poll within
# 9 s of the authorization and the attempt over within 30 s (loose, for a
# loaded machine), not at the code's 600 s or the driver's 120 s timeout.
span=$(hook GET /requests | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);
const a=r.find(x=>x.path==="/oauth2/device_authorization"), p=r.filter(x=>x.path==="/oauth2/token");
console.log(a&&p.length?Math.round(p[p.length-1].t_ms-a.t_ms):-1)})')
[ "$span" -ge 3000 ] && [ "$span" -le 9000 ] && [ "$elapsed_ms" -le 30000 ] \
	|| fail "maxwait: device_max_wait = 5: polls spanned ${span} ms, the attempt took ${elapsed_ms} ms"
pass "maxwait: polls spanned ${span} ms, the attempt ended after ${elapsed_ms} ms (device_max_wait = 5)"
grep -q '^error: The sign-in was not approved in time; sign in again for a new code.$' "$T/maxwait.txt" \
	|| { cat "$T/maxwait.txt"; fail "maxwait: line"; }
expect_log maxwait "device: not approved before the deadline"

# --- slow_down: +5 s on every slow_down, for every later poll ---------------------------
# The IdP answers the first two polls slow_down (set before the login, so
# no background loop races the polls), then authorization_pending until the
# approval, which comes once the third poll is in: 11 s before the next.
hook POST /device/config '{"slow_down_polls":2}' >/dev/null
reset
( for _ in $(seq 1200); do [ "$(polls)" -ge 3 ] && break; sleep 0.1; done
  hook POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}' >/dev/null ) &
BG=$!
run slowdown dev alice ""
hook POST /device/config '{"slow_down_polls":0}' >/dev/null
grep -q '^rc=0 ' "$T/slowdown.txt" || { cat "$T/slowdown.txt" "$T/slowdown.log"; fail "slowdown: login failed"; }
hook GET "/requests?path=/oauth2/token" > "$T/slowdown.polls.json"
node -e '
const r=require(process.argv[1]);
const g=r.slice(1).map((x,i)=>(x.t_ms-r[i].done_ms)/1000);
console.log("gaps:",g.map(x=>x.toFixed(2)).join(" "), "statuses:", r.map(x=>x.status).join(" "));
// from each answer to the next poll (at the IdP): 1 + 5 s after the first
// slow_down, 1 + 10 s after the second and for every poll after it. Never
// sooner (less 50 ms for the IdP timestamps, as above); the 4.5 s above
// stays short of the next step (+5 s).
if (g.length<3) process.exit(1);
for (let i=0;i<g.length;i++) { const want=i===0?6:11; if (g[i]<want-0.05||g[i]>want+4.5) process.exit(1); }' \
	"$T/slowdown.polls.json" > "$T/slowdown.gaps" \
	|| { cat "$T/slowdown.gaps" "$T/slowdown.polls.json"; fail "slowdown: poll gaps are not 6, 11, 11... s"; }
pass "slowdown: gaps at the IdP $(cut -d' ' -f2-4 "$T/slowdown.gaps") s: the interval grew by 5 s on each slow_down"

# --- 'new' gives a new code; the old one is never polled ----------------------------
hook POST /device/config '{"user_code":null,"verification_uri":null}' >/dev/null
reset
( for _ in $(seq 600); do [ "$(grep -c '^and enter the code:' "$T/new.out" 2>/dev/null)" = 2 ] && break; sleep 0.05; done
  sleep 0.2
  code=$(grep -A2 '^and enter the code:' "$T/new.out" | tail -n 1 | sed -n 's/.*(\(.*\))$/\1/p')
  hook POST /device/approve "{\"user_code\":\"$code\",\"username\":\"alice\"}" > "$T/bg.out" ) &
BG=$!
run new dev alice new ""
grep -q '^rc=0 ' "$T/new.txt" || { cat "$T/new.txt" "$T/new.log"; fail "new: login failed"; }
# each code line: spaced for reading, then as the issuer wrote it
codes=$(grep -A2 '^and enter the code:' "$T/new.out" | grep '^    ' | sed -n 's/.*(\(.*\))$/\1/p')
grep -A2 '^and enter the code:' "$T/new.out" | grep '^    ' | while read -r line; do
	c=${line##*(}; c=${c%)}
	[ "$(echo "${line%   (*}" | tr -d ' ')" = "$c" ] || { echo "FAIL: new: spaced code and written code differ: $line"; exit 1; }
done || exit 1
[ "$(echo "$codes" | sort -u | wc -l)" = 2 ] || fail "new: not two different codes: $codes"
[ "$(count /oauth2/device_authorization)" = 2 ] || fail "new: want two device authorizations"
second=$(echo "$codes" | tail -n 1)
[ "$(decode new 2)" = "$ISSUER/oauth2/device?user_code=$second" ] || fail "new: the second QR is not the new code's"
hook GET "/requests?path=/oauth2/token" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const h=new Set(JSON.parse(s).map(x=>x.device_code_sha256));process.exit(h.size===1?0:1)})' \
	|| fail "new: more than one device code was polled"
expect_log new "device: alice asked for a new code"
pass "new: a second code ($second) was issued and approved; only it was polled"
for c in $codes; do remember_codes="${remember_codes:-} $c"; done

# --- username_claim ----------------------------------------------------------------------
hook POST /device/config '{"user_code":"WDJB-MJHT","verification_uri":"https://example.com/device"}' >/dev/null
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run mismatch dev bob ""
expect_transcript mismatch <<EOF
${CODE_TEXT/as alice,/as bob,}
info: <QR 1: 41x21>
$PROMPT
error: The account that approved the sign-in is not bob's.
rc=6 Permission denied
EOF
expect_log mismatch "device: bob: approved by sub 2f91682e-7cf4-4bd7-b86f-d91a20e3de70 whose preferred_username is 'alice'; denying"
[ -z "$(sqlite3 -readonly "$T/state/private/accounts.db" "SELECT sub FROM users WHERE name = 'bob'")" ] \
	|| fail "mismatch: bob was bound to alice's sub"
pass "mismatch: bob not bound"
dconf email "username_claim = email" "login_id = %u@example.com" "require_mfa = no"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"carol"}'
run email-ok email carol ""
grep -q '^rc=0 ' "$T/email-ok.txt" || { cat "$T/email-ok.txt" "$T/email-ok.log"; fail "email: carol@example.com is carol"; }
pass "username_claim = email: the verified address equals login_id (%u@example.com)"
hook POST /users/carol/set '{"email_verified":false}' >/dev/null
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"carol"}'
run email-unverified email carol ""
grep -q "^error: The account that approved the sign-in is not carol's.$" "$T/email-unverified.txt" \
	|| { cat "$T/email-unverified.txt"; fail "email-unverified"; }
expect_log email-unverified "whose email (verified) is absent, not 'carol@example.com' (login_id); denying"
hook POST /users/carol/set '{"email_verified":true}' >/dev/null

# --- require_mfa: amr must prove a second factor (RFC 8176) -----------------------------------
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"carol"}'
run nomfa dev carol ""
expect_transcript nomfa <<EOF
${CODE_TEXT/as alice,/as carol,}
info: <QR 1: 41x21>
$PROMPT
error: This account needs a second factor (authenticator app) to sign in here.
rc=7 Authentication failure
EOF
expect_log nomfa "second factor required but not proven"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice","amr":["pwd","otp"]}'
run pwd-otp dev alice ""
grep -q '^rc=0 ' "$T/pwd-otp.txt" || { cat "$T/pwd-otp.txt" "$T/pwd-otp.log"; fail "amr pwd + otp proves MFA"; }
pass "amr [pwd, otp] without mfa: a knowledge and a possession factor satisfy require_mfa"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice","amr":["otp","x_secondary_totp"]}'
run otp-only dev alice ""
grep -q '^rc=7 ' "$T/otp-only.txt" || { cat "$T/otp-only.txt"; fail "amr [otp] alone must not satisfy require_mfa"; }
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice","amr":[]}'
run no-amr dev alice ""
grep -q '^rc=7 ' "$T/no-amr.txt" || { cat "$T/no-amr.txt"; fail "no amr must fail require_mfa"; }
pass "amr [otp] alone and no amr fail require_mfa"

# --- mfa_amr: an issuer with its own amr values (the IdP's third-party mode) ------------------
hook POST /device/config '{"amr":["password","otp"]}' >/dev/null || fail "device amr mode"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run scheme-default dev alice ""
grep -q '^rc=7 ' "$T/scheme-default.txt" || { cat "$T/scheme-default.txt"; fail "amr [password, otp] must fail the RFC 8176 default"; }
expect_log scheme-default "second factor required but not proven (amr matches none of mfa_amr = mfa, pwd+otp, pwd+hwk, pwd+swk, pwd+sms)"
dconf scheme "mfa_amr = password+otp"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run scheme-ok scheme alice ""
grep -q '^rc=0 ' "$T/scheme-ok.txt" || { cat "$T/scheme-ok.txt" "$T/scheme-ok.log"; fail "mfa_amr = password+otp: amr [password, otp] proves MFA"; }
expect_log scheme-ok "method=device amr=password,otp result=success"
dconf scheme-pw "mfa_amr = password+otp"
hook POST /device/config '{"amr":["password"]}' >/dev/null
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run scheme-one scheme-pw alice ""
grep -q '^rc=7 ' "$T/scheme-one.txt" || { cat "$T/scheme-one.txt"; fail "mfa_amr = password+otp: amr [password] alone must fail"; }
hook POST /device/config '{"amr":null}' >/dev/null
pass "mfa_amr: an issuer's [password, otp] fails the RFC 8176 default, passes mfa_amr = password+otp, [password] alone does not"

# --- device-login refusals: anonymous, require_roles, a name bound elsewhere, the 'new' limit ---
USERS_SAVED=$USERS USERS="users = alice, bob, carol, anon, dev-*"
dconf refuse "require_mfa = no"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"anon"}'
run anon refuse anon ""
grep -q "^error: Anonymous Authgear accounts cannot sign in here.$" "$T/anon.txt" || { cat "$T/anon.txt" "$T/anon.log"; fail "anon: want the anonymous refusal"; }
expect_log anon "login: anon: anonymous Authgear user refused"
dconf roles "require_roles = unix-admin"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"bob"}'
run roles roles bob ""
grep -q '^rc=6 ' "$T/roles.txt" || { cat "$T/roles.txt" "$T/roles.log"; fail "roles: want PAM_PERM_DENIED"; }
expect_log roles "login: bob: none of the required roles (unix-admin)"
sqlite3 "$T/state/private/accounts.db" "INSERT INTO users (name, sub, bound_at) VALUES ('bob', '00000000-0000-0000-0000-000000000000', 1) ON CONFLICT (name) DO UPDATE SET sub = excluded.sub" \
	|| fail "bound: could not bind bob to another sub"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"bob"}'
run bound dev bob ""
grep -q '^error: This user name is linked to another Authgear account.$' "$T/bound.txt" || { cat "$T/bound.txt" "$T/bound.log"; fail "bound: want the other-account refusal"; }
expect_log bound "store: bob is bound to sub 00000000-0000-0000-0000-000000000000; refusing sub b86045d1-930e-4fa2-b821-2058c936c7b7"
sqlite3 "$T/state/private/accounts.db" "DELETE FROM users WHERE name = 'bob'" || fail "bound: could not unbind bob"
USERS=$USERS_SAVED
reset
run new-limit dev alice new new new new
grep -q '^error: Too many new codes; sign in again.$' "$T/new-limit.txt" || { cat "$T/new-limit.txt"; fail "new-limit: want the refusal after three new codes"; }
[ "$(count /oauth2/device_authorization)" = 4 ] || fail "new-limit: want 4 device authorizations (the first and three new ones), got $(count /oauth2/device_authorization)"
pass "device refusals: anonymous, require_roles, a name bound to another sub, a fourth 'new'"

# --- the chooser, the QR options -------------------------------------------------------
dconf both "methods = password, device"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run chooser both alice "" ""
expect_transcript chooser <<EOF
info: Sign in: 1) Approve on your phone (QR)  2) Password and code
prompt-echo-on: Choose 1 or 2 [1]: 
$CODE_TEXT
info: <QR 1: 41x21>
$PROMPT
rc=0 Success
EOF
run badchoice both alice 3
grep -q '^error: Please answer 1 or 2.$' "$T/badchoice.txt" || { cat "$T/badchoice.txt"; fail "badchoice"; }
dconf inverted "qr_invert = yes"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run inverted inverted alice ""
[ "$(decode inverted 1 --invert)" = "https://example.com/device?user_code=WDJB-MJHT" ] \
	|| fail "inverted: the QR does not decode with the light modules drawn"
[ -z "$(decode inverted 1)" ] || fail "inverted: the QR decodes with the wrong polarity"
pass "qr_invert = yes: the characters draw the light modules"
dconf noqr "qr = off"
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run noqr noqr alice ""
expect_transcript noqr <<EOF
$CODE_TEXT
$PROMPT
rc=0 Success
EOF
long="https://example.com/device?user_code=WDJB-MJHT&pad=$(printf 'x%.0s' $(seq 700))"
hook POST /device/config "{\"verification_uri_complete\":\"$long\"}" >/dev/null
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
run wide dev alice ""
expect_transcript wide <<EOF
$CODE_TEXT
$PROMPT
rc=0 Success
EOF
expect_log wide "device: QR code left out"
hook POST /device/config '{"verification_uri_complete":null}' >/dev/null

# without verification_uri_complete the QR code carries verification_uri (the
# person types the code); an issuer's answer without it, crafted with a fault
hook POST /faults '{"path":"/oauth2/device_authorization","type":"status","status":200,"count":1,"body":"{\"device_code\":\"crafted-device-code\",\"user_code\":\"WDJB-MJHT\",\"verification_uri\":\"https://example.com/device\",\"expires_in\":3,\"interval\":1}"}' >/dev/null
run fallback dev alice ""
expect_transcript fallback <<EOF
$CODE_TEXT
info: <QR 1: 33x17>
$PROMPT
error: Your sign-in is no longer valid; sign in again.
rc=7 Authentication failure
EOF
[ "$(decode fallback 1)" = "https://example.com/device" ] || { cat "$T/fallback.out"; fail "fallback: the QR code is not verification_uri"; }
pass "no verification_uri_complete: the QR code carries verification_uri, the code is shown as text"

# --- authgear-pam login --device: the same flow from a terminal, without PAM ---------------
after_polls 1 POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}'
printf '\n' | LD_PRELOAD=libnss_wrapper.so timeout 60 "$CLI" login --config "$T/d.conf" --device alice > "$T/cli.out" 2>&1 \
	|| { cat "$T/cli.out"; fail "authgear-pam login --device failed"; }
wait "$BG"; BG=
assert_contains "$T/cli.out" "    W D J B - M J H T   (WDJB-MJHT)" "cli: the user code"
assert_contains "$T/cli.out" "█▀▀▀▀▀█" "cli: the QR code"
assert_contains "$T/cli.out" "step device authorization" "cli: the steps with their durations"
assert_contains "$T/cli.out" "signed in: alice is Authgear user 2f91682e-7cf4-4bd7-b86f-d91a20e3de70" "cli: signed in"
"$CLI" --help > "$T/help.out"
assert_contains "$T/help.out" "login [--config FILE] [--device | --reauth] USER" "cli: --help documents login --device"
assert_contains "$T/help.out" "qr [--invert] TEXT" "cli: --help documents qr"

# --- names that are not ours: no device authorization at all ---------------------------
reset
pam_service fallthrough "auth [ignore=ignore default=die] $MODULE config=$T/d.conf" "auth required pam_permit.so"
for u in root localuser nobody-here; do run "ignore-$u" fallthrough "$u"; done
[ "$(count /oauth2/device_authorization)" = 0 ] && [ "$(polls)" = 0 ] \
	|| fail "a name that is not ours reached the IdP"
grep -q '^rc=0 ' "$T/ignore-root.txt" || fail "root: want PAM_IGNORE then pam_permit"
pass "names that are not ours: PAM_IGNORE, no device authorization"

# --- IdP hangs, then goes down mid-poll: PAM_AUTHINFO_UNAVAIL within the timeout ----------
dconf hang "device_max_wait = 10"
hook POST /faults '{"path":"/oauth2/token","type":"hang"}' >/dev/null
run hang hang alice ""
hook POST /faults/clear '{}' >/dev/null
grep -q '^rc=9 ' "$T/hang.txt" || { cat "$T/hang.txt" "$T/hang.log"; fail "hang: want PAM_AUTHINFO_UNAVAIL"; }
grep -q '^error: The sign-in service did not answer in time; try again later.$' "$T/hang.txt" || fail "hang: line"
# From the device authorization at the IdP (not the process start, which a
# loaded machine stretches) to the driver's end: device_max_wait 10 s +
# one timeout 3 s, with 4 s of slack.
auth_ms=$(hook GET "/requests?path=/oauth2/device_authorization" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.length?Math.round(r[r.length-1].t_ms):0)})')
waited=$(( end_ms - auth_ms ))
[ "$auth_ms" -gt 0 ] && [ "$waited" -le 17000 ] || fail "hang: ended ${waited} ms after the device authorization with device_max_wait = 10, timeout = 3"
pass "hang: PAM_AUTHINFO_UNAVAIL ${waited} ms after the device authorization (device_max_wait 10 s + timeout 3 s at most)"
reset
( for _ in $(seq 600); do [ "$(polls)" -ge 2 ] && break; sleep 0.05; done; now_ms > "$T/down.stopped"
  "$IDP_DIR/stop.sh" "$T/idp" >/dev/null ) &
BG=$!
run down dev alice ""
expect_transcript down <<EOF
$CODE_TEXT
info: <QR 1: 41x21>
$PROMPT
error: Cannot reach the sign-in service; try again later.
rc=9 Authentication service cannot retrieve authentication info
EOF
# From the IdP's stop (taken as stop.sh starts: the driver may see the
# port closed before stop.sh has waited for node's exit) to the driver's
# end: the next poll (1 s) is refused at once; a module that retried would
# go on to device_max_wait (110 s).
down_ms=$(( end_ms - $(cat "$T/down.stopped") ))
[ "$down_ms" -lt 6000 ] || fail "down: ended ${down_ms} ms after the IdP stopped"
pass "down: PAM_AUTHINFO_UNAVAIL ${down_ms} ms after the IdP stopped"

# --- the codes are secrets: never in a log or under state_dir ------------------------------
for s in WDJB-MJHT WDJBMJHT $remember_codes; do
	if grep -rqF -- "$s" "$T"/*.log "$T/state"; then fail "user code $s leaked into a log or state_dir"; fi
done
pass "no user code in the logs or under state_dir"
