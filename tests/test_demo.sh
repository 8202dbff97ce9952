#!/bin/sh
# README's first command, run with --auto: the demo must work as written,
# with the password login and with --device. The assertions are on what the
# module and pamtester produce (prompts, pamtester's verdict, the module's
# audit line in the log section), never on lines demo.sh prints itself.
. "$abs_top_srcdir/tests/lib.sh"
new_tmpdir
command -v pamtester >/dev/null || skip "pamtester not installed"
DEMO_SUB=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="demo").sub)' "$IDP_DIR/fixtures/users.json")
# assert_audit FILE METHOD AMR-REGEX: the module logged one successful audit line for demo
assert_audit() {
	grep -Eq "audit: user=demo sub=$DEMO_SUB method=$2 amr=$3 result=success requests=[0-9]+$" "$1" \
		|| { cat "$1"; fail "no successful $2 audit line for demo"; }
	pass "the module logged demo's $2 login as a success (sub $DEMO_SUB)"
}
timeout 180 bash "$abs_top_srcdir/scripts/demo.sh" --auto --no-setup --builddir "$abs_top_builddir" > "$T/demo.out" 2>&1 \
	|| { cat "$T/demo.out"; fail "demo exited non-zero"; }
assert_contains "$T/demo.out" "Password: " "demo shows the module's password prompt"
assert_contains "$T/demo.out" "Verification code: " "demo shows the module's code prompt"
assert_contains "$T/demo.out" "pamtester: successfully authenticated" "pamtester signed in through the module"
assert_audit "$T/demo.out" password '[a-z_,]*pwd[a-z_,]*'
grep -q "audit: .*amr=[^ ]*otp" "$T/demo.out" || fail "the password login's amr lacks otp (no second factor)"
timeout 180 bash "$abs_top_srcdir/scripts/demo.sh" --auto --device --no-setup --builddir "$abs_top_builddir" \
	> "$T/device.out" 2>&1 || { cat "$T/device.out"; fail "demo --device exited non-zero"; }
assert_contains "$T/device.out" "    W D J B - M J H T" "demo --device shows the user code"
assert_contains "$T/device.out" "█▀▀▀▀▀█" "demo --device shows the QR code"
assert_contains "$T/device.out" "pamtester: successfully authenticated" "pamtester signed in with the device code"
assert_audit "$T/device.out" device '[a-z_,]+'
