#!/bin/sh
# authgear-pam: --help, --version, and `check` on good and broken files.
. "$abs_top_srcdir/tests/lib.sh"
new_tmpdir

"$CLI" --help > "$T/help" || fail "--help exit status"
assert_contains "$T/help" "check [--config FILE] [--json]" "--help lists check"
assert_contains "$T/help" "Exit status" "--help documents exit status"
"$CLI" --version > "$T/version" || fail "--version exit status"
assert_contains "$T/version" "authgear-pam 0." "--version prints the version"

set +e
"$CLI" > "$T/noargs" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "no command: exit $rc, want 2"
"$CLI" frobnicate > "$T/unknown" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "unknown command: exit $rc, want 2"
assert_contains "$T/unknown" "unknown command 'frobnicate'" "unknown command named"
"$CLI" check --bogus > "$T/badopt" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "bad option: exit $rc, want 2"
set -e

# (No IdP runs here: the network checks fail, the config check must pass;
# tests/test_oidc.sh runs check against the test IdP.)
write_config "$T/good.conf" "[roles]" "unix-admin = sudo"
set +e
"$CLI" check --config "$T/good.conf" > "$T/good.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "check with the issuer unreachable: exit $rc, want 1"
assert_contains "$T/good.out" "ok    config" "good file passes the config check"
assert_contains "$T/good.out" "FAIL  issuer" "an unreachable issuer fails check"

write_config "$T/bad.conf" "frobnicate = 1"
set +e
"$CLI" check --config "$T/bad.conf" > "$T/bad.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "check of a file with an unknown key: exit $rc, want 1"
assert_contains "$T/bad.out" "FAIL  config     $T/bad.conf:6: unknown key 'frobnicate'" "unknown key is an error with file:line"

write_config "$T/perm.conf"
chmod 0666 "$T/perm.conf"
set +e
"$CLI" check --config "$T/perm.conf" --json > "$T/perm.json" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "check of a world-writable file: exit $rc, want 1"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (r.ok !== false) throw new Error("ok should be false");
const c = r.checks.find(c => c.name === "config");
if (!c || c.ok !== false || c.required !== true || !/writable by group or others/.test(c.detail))
  throw new Error("bad config check: " + JSON.stringify(c));
' "$T/perm.json" || { cat "$T/perm.json"; fail "--json report"; }
pass "--json reports the permission failure"

"$CLI" check --config "$T/good.conf" --json > "$T/good.json" || true
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const c = r.checks.find(c => c.name === "config"); if (r.ok !== false || !c || c.ok !== true) process.exit(1);' "$T/good.json" \
	|| { cat "$T/good.json"; fail "--json for a good file with the issuer down"; }
pass "--json: config ok, overall not ok with the issuer down"

set +e
"$CLI" check --config "$T/absent.conf" > "$T/absent.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "missing file: exit $rc"
assert_contains "$T/absent.out" "file not found" "missing file reported"

# A hostile USER (a newline, a path, an option, 300 bytes) is refused before
# anything else, as root too (no lock, store or request sees it): exit 1,
# one line naming it escaped, whatever the command.
nl_name=$(printf 'alice\nroot x')
esc_name=$(printf 'esc\033[2Jx')
long_name=$(printf '%0300d' 0 | tr 0 a)
write_config "$T/hostile.conf" "users = alice"
sed -i "s|^state_dir = .*|state_dir = $T/hostile-state|" "$T/hostile.conf"
for name in "$nl_name" "$esc_name" "../root" "-oProxyCommand=sh" "$long_name"; do
	for cmd in forget status check-account throttle login pin; do
		extra=; [ "$cmd" = pin ] && extra=5000
		set +e
		"$CLI" "$cmd" --config "$T/hostile.conf" -- "$name" $extra > "$T/hostile.out" 2>&1; rc=$?
		set -e
		[ $rc -eq 1 ] || { cat "$T/hostile.out"; fail "$cmd of a hostile name: exit $rc, want 1"; }
		[ "$(wc -l < "$T/hostile.out")" -eq 1 ] || { cat "$T/hostile.out"; fail "$cmd of a hostile name: want one line"; }
		grep -qF "authgear-pam $cmd: '" "$T/hostile.out" && grep -qF "' is not a valid user name" "$T/hostile.out" ||
			{ cat "$T/hostile.out"; fail "$cmd of a hostile name: not the plain line"; }
		if LC_ALL=C grep -q "$(printf '\033')" "$T/hostile.out"; then fail "$cmd printed an escape character raw"; fi
	done
done
assert_contains "$T/hostile.out" "'aaaaaaaa" "a long name is shown (cut)"
"$CLI" status --config "$T/hostile.conf" -- "$nl_name" > "$T/hostile.out" 2>&1 || true
assert_contains "$T/hostile.out" "'alice\\x0aroot x'" "a newline in a name is shown as \\x0a"
"$CLI" forget --config "$T/hostile.conf" -- "$esc_name" > "$T/hostile.out" 2>&1 || true
assert_contains "$T/hostile.out" "'esc\\x1b[2Jx'" "an escape in a name is shown as \\x1b"
[ ! -e "$T/hostile-state" ] || fail "a hostile name created state_dir"
pass "hostile names at forget, status, check-account, throttle, login and pin: one plain line each, escaped, nothing touched"
