#!/bin/bash
# Issue 11 through the real libpam (pam_wrapper + tests/tools/pam_driver)
# against the test IdP over HTTPS, and `authgear-pam check`:
#
# - Medium (config faults fail open): the stack is the shipped auth line
#   followed by pam_permit, standing for pam_unix accepting a local password.
#   With a config file that exists but cannot be used (mode 0664, a mistyped
#   value), a bound name and a name listed by itself get
#   PAM_AUTHINFO_UNAVAIL (the stack dies) with the reason logged; a name
#   only a pattern matches and a local name still get PAM_IGNORE.
# - Medium (unknown key): `require_role = unix-admin` (a typo) fails an
#   Authgear user with no request to the IdP; a local user is unaffected.
# - High 1 in the config: a user listed by a [roles] group's name is a
#   configuration error; a pattern never matches a [roles] group or the
#   primary_group (no prompt, zero requests), even before anyone holds it.
# - Medium (check): a bound user with a usable local shadow password is
#   warned about (in a private mount namespace with its own /etc/shadow).
# - Low (SSLKEYLOGFILE): check warns when it is set.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (root-owned configuration, a private /etc/shadow)"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
command -v unshare >/dev/null || skip "unshare missing"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"

idp_start "$T/idp"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }

BASE=("require_mfa = no" "max_attempts_per_minute = 1000" "timeout = 10")
write_config "$T/c.conf" "users = carol, bob, d*" "${BASE[@]}" "[roles]" "unix-user = authgear-users"
# service NAME CONFIG: the shipped auth line, then pam_permit (a local password that works)
service() {
	auth_line=$(grep '^auth .*pam_authgear.so' "$abs_top_srcdir/pam.d/sshd") || fail "pam.d/sshd has no pam_authgear line"
	pam_service "$1" "${auth_line/pam_authgear.so/$MODULE config=$2 debug}" "auth required pam_permit.so"
}
# run CASE SERVICE USER ANSWERS...: transcript in $T/CASE.out, log in $T/CASE.log
run() {
	c=$1 svc=$2 user=$3; shift 3
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" AUTHGEAR_NSS_INDEX="$T/state/nss.index" \
		"$DRIVER" "$svc" "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	touch "$T/$c.log"
}
want_rc() { # want_rc CASE RC WHAT
	grep -q "^rc=$2 " "$T/$1.out" || { cat "$T/$1.out" "$T/$1.log"; fail "$1: want rc=$2 ($3)"; }
}
no_prompt() {
	if grep -q '^prompt' "$T/$1.out"; then cat "$T/$1.out"; fail "$1: pam_authgear prompted"; fi
}

service ag "$T/c.conf"
run bind ag carol carol-password-1
want_rc bind 0 "carol's first login"
"$CLI" users --config "$T/c.conf" | grep -q '^carol ' || fail "carol not bound"
pass "carol signed in and is bound"

# --- Medium: a configuration that exists but cannot be used ----------------------------------
cp "$T/c.conf" "$T/mode.conf"; chmod 0664 "$T/mode.conf"
sed 's/^timeout = 10$/timeout = 10s/' "$T/c.conf" > "$T/typo.conf"; chmod 0600 "$T/typo.conf"
service mode "$T/mode.conf"
service typo "$T/typo.conf"
for svc in mode typo; do
	hook POST /counters/reset > /dev/null
	run "$svc-bound" "$svc" carol carol-password-1
	want_rc "$svc-bound" 9 "a bound user with an unusable configuration: PAM_AUTHINFO_UNAVAIL, not the local password"
	assert_contains "$T/$svc-bound.log" "carol is an Authgear user here, but the configuration cannot be used" \
		"$svc: the refusal is logged"
	assert_contains "$T/$svc-bound.out" "Sign-in is unavailable: this host's Authgear configuration is broken." \
		"$svc: the person gets one plain line"
	run "$svc-listed" "$svc" bob bob-password-1
	want_rc "$svc-listed" 9 "a name listed by itself: PAM_AUTHINFO_UNAVAIL"
	run "$svc-pattern" "$svc" dx whatever
	want_rc "$svc-pattern" 0 "a name only a pattern matches: PAM_IGNORE, the next module decides"
	run "$svc-local" "$svc" localuser whatever
	want_rc "$svc-local" 0 "a local name: PAM_IGNORE"
	no_prompt "$svc-local"
	[ "$(requests)" = 0 ] || fail "$svc: a broken configuration made requests"
	pass "$svc: bound and listed names refused (AUTHINFO_UNAVAIL), pattern and local names passed on, zero requests"
done
assert_contains "$T/mode-bound.log" "writable" "mode 0664: the reason is logged"
assert_contains "$T/typo-bound.log" "timeout: must be a whole number" "a mistyped value: the reason is logged"

# --- Medium: an unknown key fails Authgear users -----------------------------------------------
write_config "$T/unknown.conf" "users = carol, bob, d*" "${BASE[@]}" "require_role = unix-admin"
service unknown "$T/unknown.conf"
hook POST /counters/reset > /dev/null
run unknown-carol unknown carol carol-password-1
want_rc unknown-carol 9 "an Authgear user with an unknown key in the configuration"
no_prompt unknown-carol
assert_contains "$T/unknown-carol.log" "unknown key 'require_role'" "the unknown key is logged"
assert_contains "$T/unknown-carol.log" "Authgear users cannot sign in until it is fixed" "and why the login fails"
run unknown-local unknown localuser whatever
want_rc unknown-local 0 "a local user with an unknown key in the configuration"
no_prompt unknown-local
[ "$(requests)" = 0 ] || fail "the unknown key: requests made"
pass "an unknown key (require_role) fails Authgear users with zero requests; local users unaffected"
# acct_mgmt and the session steps refuse them too (a public-key login has only acct_mgmt);
# the same stack without the typo lets carol's account check pass (her cached login)
acct_service() {
	pam_service "$1" "account required $MODULE config=$2 debug" "account required pam_permit.so" \
		"session required $MODULE config=$2 debug" "session required pam_permit.so"
}
acct_service acct-ok "$T/c.conf"
acct_service acct-unknown "$T/unknown.conf"
run_op() { # run_op CASE SERVICE USER OPS
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$1.log" AUTHGEAR_NSS_INDEX="$T/state/nss.index" \
		"$DRIVER" "$2" "$3" "$4" > "$T/$1.out" 2>"$T/$1.err" </dev/null
	touch "$T/$1.log"
}
run_op acct-ok acct-ok carol acct_mgmt
want_rc acct-ok 0 "carol's account check without the unknown key"
hook POST /counters/reset > /dev/null
run_op acct-unknown acct-unknown carol acct_mgmt
want_rc acct-unknown 9 "acct_mgmt of an Authgear user with an unknown key: PAM_AUTHINFO_UNAVAIL"
assert_contains "$T/acct-unknown.log" "Authgear users cannot sign in until it is fixed" "acct_mgmt: the refusal is logged"
assert_contains "$T/acct-unknown.out" "Sign-in is unavailable: this host's Authgear configuration is broken." \
	"acct_mgmt: the person gets one plain line"
run_op sess-unknown acct-unknown carol open_session
want_rc sess-unknown 14 "open_session of an Authgear user with an unknown key: PAM_SESSION_ERR"
run_op acct-local acct-unknown localuser acct_mgmt,open_session,close_session
want_rc acct-local 0 "a local user's account and session steps with an unknown key"
[ "$(requests)" = 0 ] || fail "the unknown key: acct_mgmt made requests"
pass "an unknown key fails acct_mgmt (AUTHINFO_UNAVAIL) and open_session (SESSION_ERR) of Authgear users, zero requests; local users unaffected"

# --- High 1: user names that are group names ---------------------------------------------------
write_config "$T/grp.conf" "users = carol, ops" "${BASE[@]}" "[roles]" "unix-user = ops"
"$CLI" check --config "$T/grp.conf" > "$T/grp-check.out" 2>&1 && { cat "$T/grp-check.out"; fail "check accepted a user named like a [roles] group"; }
assert_contains "$T/grp-check.out" "users: ops: also the name of a group of [roles] or primary_group" \
	"a user listed by a [roles] group's name is a configuration error"
service grp "$T/grp.conf"
run grp-carol grp carol carol-password-1
want_rc grp-carol 9 "the bound carol under that broken configuration"
write_config "$T/pat.conf" "users = carol, o*, s*" "${BASE[@]}" "primary_group = staff2" "[roles]" "unix-user = ops"
service pat "$T/pat.conf"
hook POST /counters/reset > /dev/null
for name in ops staff2; do
	run "pat-$name" pat "$name" whatever
	want_rc "pat-$name" 0 "$name: a pattern match that is a group name: PAM_IGNORE"
	no_prompt "pat-$name"
	assert_contains "$T/pat-$name.log" "$name matches a pattern of users, but this host already has a group of [roles] or primary_group" \
		"$name: logged"
done
[ "$(requests)" = 0 ] || fail "a group-named pattern match made requests"
pass "a pattern never takes a [roles] group's or primary_group's name (before anyone holds it): no prompt, zero requests"

# --- check: usable local passwords of bound users; SSLKEYLOGFILE --------------------------------
cp /etc/shadow "$T/shadow"
grep -v '^carol:' "$T/shadow" > "$T/shadow.new" && mv "$T/shadow.new" "$T/shadow"
echo "carol:$(openssl passwd -6 carol-local-1):20000:0:99999:7:::" >> "$T/shadow"
chmod 0640 "$T/shadow"
unshare --mount --propagation private bash -c 'mount --bind "$1" /etc/shadow && "$2" check --config "$3"' _ \
	"$T/shadow" "$CLI" "$T/c.conf" > "$T/check-pw.out" 2>&1
assert_contains "$T/check-pw.out" "still has a usable local password (carol)" "check warns about carol's usable shadow password"
sed -i -E 's/^carol:[^:]*:/carol:!locked:/' "$T/shadow"
unshare --mount --propagation private bash -c 'mount --bind "$1" /etc/shadow && "$2" check --config "$3"' _ \
	"$T/shadow" "$CLI" "$T/c.conf" > "$T/check-locked.out" 2>&1
assert_not_contains "$T/check-locked.out" "usable local password" "a locked shadow password is not warned about"

SSLKEYLOGFILE="$T/keys.log" "$CLI" check --config "$T/c.conf" > "$T/check-keylog.out" 2>&1
assert_contains "$T/check-keylog.out" "SSLKEYLOGFILE is set" "check warns when SSLKEYLOGFILE is set"
env -u SSLKEYLOGFILE "$CLI" check --config "$T/c.conf" > "$T/check-nokeylog.out" 2>&1
assert_not_contains "$T/check-nokeylog.out" "SSLKEYLOGFILE" "and not when it is unset"

# --- Low: login_timeout bounds the whole call; each request gets the time left ------------------
write_config "$T/slow.conf" "users = carol" "require_mfa = no" "max_attempts_per_minute = 1000" "timeout = 30" \
	"login_timeout = 6"
pam_service slow "auth required $MODULE config=$T/slow.conf debug"
# Each request is held 15 s, longer than the whole deadline: only a request
# cut to the time left ends the call near 6 s (uncut, the first alone is 15 s).
hook POST /faults '{"path":"*","type":"delay","seconds":15}' > /dev/null
PAM_DRIVER_TRACE=1 run slow slow carol carol-password-1
hook POST /faults/clear '{}' > /dev/null
# pam_authenticate's own duration (the driver's trace), free of the process
# start a loaded machine stretches
ms=$(sed -n 's/^op authenticate t_ms=//p; s/^end t_ms=\([0-9]*\).*/-\1/p' "$T/slow.err" | paste -sd' ' | awk '{print -($2 + $1)}')
if grep -q '^rc=0 ' "$T/slow.out"; then cat "$T/slow.out"; fail "a login of 15 s requests outlived login_timeout = 6"; fi
# (a request not cut to the deadline takes 15 s; 7 s of slack for a loaded machine)
[ -n "$ms" ] && [ "$ms" -ge 5500 ] && [ "$ms" -lt 13000 ] || { cat "$T/slow.log" "$T/slow.err"; fail "login_timeout = 6: the call took $ms ms"; }
assert_contains "$T/slow.log" "login_timeout (6 s)" "the deadline is logged"
pass "login_timeout = 6 with 15 s per request: the call ended after $ms ms, the request in flight cut to the time left"
