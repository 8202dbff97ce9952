#!/bin/sh
# README's first command, run with --auto: the demo must work as written,
# with the password login and with --device.
. "$abs_top_srcdir/tests/lib.sh"
new_tmpdir
command -v pamtester >/dev/null || skip "pamtester not installed"
timeout 180 bash "$abs_top_srcdir/scripts/demo.sh" --auto --no-setup --builddir "$abs_top_builddir" > "$T/demo.out" 2>&1 \
	|| { cat "$T/demo.out"; fail "demo exited non-zero"; }
assert_contains "$T/demo.out" "issuer:   https://127.0.0.1:" "demo started the IdP over HTTPS"
assert_contains "$T/demo.out" "TOTP:     " "demo shows the TOTP code"
assert_contains "$T/demo.out" "Password: " "demo shows the password prompt"
assert_contains "$T/demo.out" "Verification code: " "demo shows the code prompt"
assert_contains "$T/demo.out" "pamtester: successfully authenticated" "pamtester signed in through the module"
assert_contains "$T/demo.out" "demo: signed in as demo with password + TOTP through pam_authgear.so" "the demo's real login succeeded"
timeout 180 bash "$abs_top_srcdir/scripts/demo.sh" --auto --device --no-setup --builddir "$abs_top_builddir" \
	> "$T/device.out" 2>&1 || { cat "$T/device.out"; fail "demo --device exited non-zero"; }
assert_contains "$T/device.out" "/device/approve" "demo --device prints the one approval command"
assert_contains "$T/device.out" "    W D J B - M J H T" "demo --device shows the user code"
assert_contains "$T/device.out" "█▀▀▀▀▀█" "demo --device shows the QR code"
assert_contains "$T/device.out" "method=device" "demo --device used the device login"
assert_contains "$T/device.out" "demo: signed in as demo with the device code through pam_authgear.so" "demo --device signed in"
