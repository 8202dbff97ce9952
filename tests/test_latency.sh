#!/bin/bash
# Login latency (issue 18): the prewarm. For a returning user (bound) or a
# name listed in users, the authorize request goes while Password: is on the
# screen, from a worker thread that is joined on every way out of
# pam_sm_authenticate; a name that only matches a pattern makes no request
# before it answers. Through the real libpam (pam_wrapper) against the test
# IdP; the driver says when it answered and how many threads the process had.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
FIXTURE="$IDP_DIR/fixtures/users.json"

idp_start "$T/idp"
write_config "$T/c.conf" "users = alice, bob, dev-*" "timeout = 3" "max_attempts_per_minute = 1000"
pam_service ag "auth required $MODULE config=$T/c.conf debug"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
totp() { hook GET "/totp/$1" | jget code; }
# first_request [PATH]: epoch ms of the first request the IdP saw (at PATH), or empty
first_request() { hook GET "/requests${1:+?path=$1}" | jget 0 t_ms | cut -d. -f1; }

# run CASE USER ANSWERS...: transcript $T/CASE.out, trace $T/CASE.err, log $T/CASE.log;
# WAIT_MS (default 1500) before each answer; LIMIT seconds before the driver is killed.
run() {
	c=$1 user=$2; shift 2
	timeout "${LIMIT:-60}" env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		PAM_DRIVER_TRACE=1 PAM_DRIVER_WAIT_MS="${WAIT_MS:-1500}" AUTHGEAR_TEST_LOG="$T/$c.log" \
		"$DRIVER" ag "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	echo $? > "$T/$c.rc"
	touch "$T/$c.log"
}
# threads_at CASE WHAT: N of the driver's first "WHAT threads=N" line
threads_at() { sed -n "s/^$2 .*threads=\([0-9]*\).*/\1/p" "$T/$1.err" | head -1; }
answered_at() { sed -n 's/^answer t_ms=\([0-9]*\).*/\1/p' "$T/$1.err" | head -1; }
# joined CASE: the call returned with no thread but the driver's own
joined() {
	[ "$(threads_at "$1" end)" = 1 ] || { cat "$T/$1.err" "$T/$1.log"; fail "$1: a thread outlived pam_authenticate"; }
}

# Pattern-only names resolve as our NSS module's provisional entry does on a
# host (sshd sees it): UID = the first candidate of the default uid_range
# (src/common/uid.c; bob's is test_accounts.c's golden value), which is how
# the module tells that entry from a host account of the same name.
first_uid() { node -e 'const M=(1n<<64n)-1n; let h=0xcbf29ce484222325n;
for (const b of Buffer.from("u:"+process.argv[1])) { h^=BigInt(b); h=(h*0x100000001b3n)&M; }
const mix=(x)=>{x^=x>>33n; x=(x*0xff51afd7ed558ccdn)&M; x^=x>>33n; x=(x*0xc4ceb9fe1a85ec53n)&M; return x^(x>>33n);};
console.log(String(2001000000n+mix(h)%(2147000000n-2001000000n+1n)))' "$1"; }
[ "$(first_uid bob)" = 2081946800 ] || fail "first_uid: bob's golden value"
for u in dev-guess dev-scan; do
	echo "$u:*:$(first_uid $u):$(first_uid $u)::/nonexistent:/bin/sh" >> "$T/nss/passwd"
done

PW_ALICE=$(password alice)
PW_BOB=$(password bob)

# --- a first login of a name listed in users is prewarmed too ----------------
run first alice "$PW_ALICE" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/first.out" || { cat "$T/first.out" "$T/first.log"; fail "first login"; }
joined first
pass "first login of alice (named in users) signed in; no thread left after the call"

# --- a returning user: authorize arrives before the password is answered ----
# (her first login completed TOTP: both prompts first, the flow in one batch)
hook POST /counters/reset >/dev/null
code=$(totp alice)
run warm alice "$PW_ALICE" "$code"
grep -q '^rc=0 ' "$T/warm.out" || { cat "$T/warm.out" "$T/warm.log"; fail "returning login"; }
t_auth=$(first_request /oauth2/authorize); t_answer=$(answered_at warm)
[ -n "$t_auth" ] && [ -n "$t_answer" ] || { cat "$T/warm.err"; hook GET /requests; fail "no timestamps"; }
[ "$t_auth" -lt "$t_answer" ] ||
	{ hook GET /requests; cat "$T/warm.err"; fail "authorize at $t_auth, not before the password answered at $t_answer"; }
joined warm
# 4, and the revocation of the refresh token her first login left (§5.4)
[ "$(requests)" = 5 ] || { hook GET /counters; fail "a prewarmed login took $(requests) requests, want 5"; }
[ "$(hook GET /connections | jget connections)" = 1 ] || fail "a prewarmed login opened more than one TLS connection"
pass "returning alice: authorize reached the IdP $((t_answer - t_auth)) ms before she answered Password:; 4 requests (identify + password + code in one) + 1 revoking the replaced token, one connection, worker joined"

# --- a name that only matches a pattern: no request before the first answer ---
hook POST /counters/reset >/dev/null
run pattern dev-guess wrong-password
grep -q '^rc=0 ' "$T/pattern.out" && fail "dev-guess signed in with a wrong password"
t_first=$(first_request); t_answer=$(answered_at pattern)
[ -n "$t_first" ] && [ "$t_first" -ge "$t_answer" ] ||
	{ hook GET /requests; cat "$T/pattern.err"; fail "dev-guess: a request at $t_first before the answer at $t_answer"; }
[ "$(threads_at pattern prompt)" = 1 ] || { cat "$T/pattern.err"; fail "dev-guess: a thread while Password: was up"; }
joined pattern
hook POST /counters/reset >/dev/null
LIMIT=4 run scanner dev-scan @hang
[ "$(cat "$T/scanner.rc")" = 124 ] || { cat "$T/scanner.out" "$T/scanner.err"; fail "scanner: the driver should hang until killed"; }
[ "$(requests)" = 0 ] || { hook GET /counters; fail "a pattern-only name that never answers made $(requests) requests"; }
pass "pattern-only names: no request and no thread before the answer; a scanner that never answers costs the IdP nothing"

# --- wrong password: the same line as today, worker joined --------------------
run wrong bob wrong-password
grep -q '^rc=0 ' "$T/wrong.out" && fail "wrong password signed in"
assert_contains "$T/wrong.out" "error: Incorrect password or code." "wrong password: the plain line"
joined wrong

# --- conversation error: the worker's request is cancelled, not waited for ----
hook POST /faults '{"path":"/oauth2/authorize","type":"hang"}' >/dev/null
run noanswer bob
assert_contains "$T/noanswer.out" "(no answer left)" "conversation error"
grep -q '^rc=0 ' "$T/noanswer.out" && fail "conversation error signed in"
[ "$(threads_at noanswer prompt)" = 2 ] || { cat "$T/noanswer.err"; fail "no worker during the failed prompt"; }
joined noanswer
assert_contains "$T/noanswer.log" "oauth2/authorize: cancelled (nobody waits for it)" "the hanging authorize is cancelled at the join"
assert_not_contains "$T/noanswer.log" "Timeout was reached" "the join did not wait for the request timeout"

# --- the IdP hangs past the timeout: the worker gives up, the person is told ---
run hang bob "$PW_BOB"
assert_contains "$T/hang.out" "error: The sign-in service did not answer in time; try again later." "hang: the timeout line"
assert_contains "$T/hang.log" "Timeout was reached" "hang: the worker's request timed out"
joined hang

# --- the person never answers: the driver is killed by its timeout -----------
# (the authorize hangs too, so the worker is mid-request when the process dies)
# the store records the attempt before the prompt (one committed transaction,
# the throttle); everything else must stay byte for byte, and no file appear
snapshot() { ( cd "$T/state" && find . -type f | sort | while read -r f; do
	case $f in ./private/accounts.db*) echo "$f";; *) sha256sum "$f";; esac; done ); }
snapshot > "$T/state-before"
hook POST /counters/reset >/dev/null
LIMIT=4 run walkaway bob @hang
[ "$(cat "$T/walkaway.rc")" = 124 ] || { cat "$T/walkaway.out" "$T/walkaway.err"; fail "walkaway: the driver should hang until killed"; }
[ "$(threads_at walkaway prompt)" = 2 ] || { cat "$T/walkaway.err"; fail "walkaway: no worker during the prompt"; }
[ "$(hook GET /counters | jget /oauth2/authorize)" = 1 ] || { hook GET /counters; fail "walkaway: the prewarm did not authorize"; }
snapshot > "$T/state-after"
diff -u "$T/state-before" "$T/state-after" || fail "walkaway: the killed login changed state_dir"
"$CLI" check --config "$T/c.conf" > "$T/check.out" 2>&1
assert_contains "$T/check.out" "quick_check ok" "walkaway: the store is whole after the kill"
hook POST /faults/clear '{}' >/dev/null
run after bob "$PW_BOB" "$(totp bob)"
grep -q '^rc=0 ' "$T/after.out" || { cat "$T/after.out" "$T/after.log"; fail "a login after the killed one"; }
joined after
pass "person walked away: killed with the authorize sent (session abandoned), caches unchanged, store whole, the next login works"

# --- one login under helgrind and memcheck -----------------------------------
# carol (named, no second factor, require_mfa off): one prompt, so no code can
# go stale while valgrind is slow; the whole exchange after the prewarm.
if command -v valgrind >/dev/null; then
	write_config "$T/vg.conf" "users = carol" "require_mfa = no" "timeout = 60"
	pam_service vg "auth required $MODULE config=$T/vg.conf debug"
	# a slow authorize keeps the worker alive while the prompt is up
	hook POST /faults '{"path":"/oauth2/authorize","type":"delay","seconds":2}' >/dev/null
	for tool in helgrind memcheck; do
		opts="--tool=$tool"
		[ $tool = helgrind ] && opts="$opts --suppressions=$abs_top_srcdir/tests/helgrind.supp"
		[ $tool = memcheck ] &&
			opts="$opts --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect"
		timeout 300 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
			PAM_DRIVER_TRACE=1 PAM_DRIVER_WAIT_MS=3000 AUTHGEAR_TEST_LOG="$T/vg-$tool.log" \
			valgrind -q $opts --error-exitcode=99 --log-file="$T/vg-$tool.txt" \
			"$DRIVER" vg carol authenticate "$(password carol)" > "$T/vg-$tool.out" 2>"$T/vg-$tool.err"
		rc=$?
		if [ $rc -eq 99 ] || [ -s "$T/vg-$tool.txt" ]; then
			cp "$T/vg-$tool.txt" "$abs_top_builddir/tests/vg-$tool.last.txt"; cat "$T/vg-$tool.txt"; fail "$tool found errors"
		fi
		grep -q '^rc=0 ' "$T/vg-$tool.out" || { cat "$T/vg-$tool.out" "$T/vg-$tool.err" "$T/vg-$tool.log"; fail "$tool: the login failed"; }
		[ "$(threads_at vg-$tool prompt)" = 2 ] || { cat "$T/vg-$tool.err"; fail "$tool: no worker during the prompt"; }
		joined vg-$tool
		pass "one prewarmed login under valgrind --tool=$tool: no errors"
	done
fi
