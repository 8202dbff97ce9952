#!/bin/sh
# Issue 15, the README's commands on a stock Debian 12: Debian 12's own nodejs
# (18), taken from its .deb files (apt-get download, dpkg -x: nothing is
# installed), runs the test IdP's own tests and the demo's password + TOTP
# login. libnode108 loads parts of itself from /usr/share/nodejs (acorn,
# cjs-module-lexer, undici), so that directory is laid over /usr/share in a
# private mount namespace; the host's files never change.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (a private mount namespace for /usr/share/nodejs)"
command -v pamtester >/dev/null || skip "pamtester not installed"
for c in apt-get apt-cache dpkg unshare; do command -v "$c" >/dev/null || fail "$c missing"; done
new_tmpdir
# Debian's own version, whatever else (a newer nodejs from another archive) is the candidate
ver=$(apt-cache madison nodejs | awk -F' *[|] *' '$2 ~ /^18\./ && $3 ~ /debian/ { print $2; exit }')
[ -n "$ver" ] || fail "Debian 12's nodejs 18 is not in the package lists (apt-get update?)"
mkdir "$T/debs" "$T/root" "$T/bin"
(cd "$T/debs" && apt-get download -q "nodejs=$ver" "libnode108=$ver" node-acorn node-cjs-module-lexer node-undici \
	node-busboy > "$T/download.out" 2>&1) || { cat "$T/download.out"; fail "apt-get download of Debian's nodejs $ver"; }
for d in "$T"/debs/*.deb; do dpkg -x "$d" "$T/root" || fail "dpkg -x $d"; done
cat > "$T/bin/node" <<EOF
#!/bin/sh
exec env LD_LIBRARY_PATH="$T/root/usr/lib/x86_64-linux-gnu" "$T/root/usr/bin/node" "\$@"
EOF
chmod +x "$T/bin/node"
# in the namespace: Debian's node first in PATH (the IdP, its tests, the demo) and as NODE
unshare -m sh -c '
	mount -t overlay overlay -o "lowerdir=$1/root/usr/share:/usr/share" /usr/share || exit 90
	PATH="$1/bin:$PATH" NODE="$1/bin/node"; export PATH NODE
	node --version > "$1/version" || exit 91
	(cd "$2" && timeout 600 node --test --test-concurrency=2 test/) > "$1/idp-tests.out" 2>&1 || exit 92
	timeout 180 bash "$3/scripts/demo.sh" --auto --no-setup --builddir "$4" > "$1/demo.out" 2>&1 || exit 93
' sh "$T" "$IDP_DIR" "$abs_top_srcdir" "$abs_top_builddir"
rc=$?
case $rc in
0) ;;
90) fail "overlay mount of /usr/share" ;;
91) fail "Debian's node does not start" ;;
92) tail -40 "$T/idp-tests.out"; fail "the test IdP's tests on Debian's node $(cat "$T/version")" ;;
93) cat "$T/demo.out"; fail "the demo on Debian's node $(cat "$T/version")" ;;
*) fail "namespace exited $rc" ;;
esac
grep -q '^v18\.' "$T/version" || fail "not node 18: $(cat "$T/version")"
pass "Debian's nodejs $ver extracted ($(cat "$T/version"))"
grep -q '^# fail 0$' "$T/idp-tests.out" || { tail -20 "$T/idp-tests.out"; fail "IdP test summary"; }
pass "the test IdP's own tests pass on it ($(sed -n 's/^# pass //p' "$T/idp-tests.out") tests)"
assert_contains "$T/demo.out" "Verification code: " "the demo asks for the second factor"
assert_contains "$T/demo.out" "pamtester: successfully authenticated" "the demo's login succeeds with the IdP on Debian's node"
grep -Eq "audit: user=demo .*method=password amr=[^ ]*otp[^ ]* result=success" "$T/demo.out" \
	|| { cat "$T/demo.out"; fail "no successful password + TOTP audit line"; }
pass "the demo signs in (password + TOTP) against the IdP on Debian 12's node"
