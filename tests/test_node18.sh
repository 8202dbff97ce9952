#!/bin/sh
# Issue 15, the README's commands on a stock Debian 12: Debian 12's own nodejs
# (18) and npm (9.2), taken from their .deb files (apt-get download, dpkg -x:
# nothing is installed), as scripts/deps.sh installs them there.
# tests/idp-install.sh with that node and npm installs the test IdP into an
# empty directory (npm ci from tests/idp/package-lock.json, an empty npm
# cache: every module from the registry); that copy, bound over the build
# tree's IdP, runs the IdP's own tests and the demo's password + TOTP login.
# Debian's node and npm load their modules from /usr/share/nodejs (npm's own
# dependencies are some 350 node-* packages), so the extracted /usr/share is
# laid over /usr/share in a private mount namespace; the host's files never
# change. The packages: the closure of nodejs, libnode108 and npm computed
# against an empty dpkg status (whatever the host has installed), of it the
# architecture-independent ones and nodejs and libnode108 (the shared
# libraries libnode108 links, libuv1, libicu72 and the like, are the host's).
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (a private mount namespace for /usr/share/nodejs)"
command -v pamtester >/dev/null || skip "pamtester not installed"
for c in apt-get apt-cache dpkg unshare; do command -v "$c" >/dev/null || fail "$c missing"; done
new_tmpdir
# Debian's own versions, whatever else (a newer nodejs from another archive) is the candidate
ver=$(apt-cache madison nodejs | awk -F' *[|] *' '$2 ~ /^18\./ && $3 ~ /debian/ { print $2; exit }')
[ -n "$ver" ] || fail "Debian 12's nodejs 18 is not in the package lists (apt-get update?)"
npm_ver=$(apt-cache madison npm | awk -F' *[|] *' '$3 ~ /debian/ { print $2; exit }')
[ -n "$npm_ver" ] || fail "Debian 12's npm is not in the package lists (apt-get update?)"
mkdir "$T/debs" "$T/root" "$T/bin" "$T/idp" "$T/npm-cache"
: > "$T/empty-status"
: > "$T/npmrc.user"
: > "$T/npmrc.global"
apt-get -o Dir::State::status="$T/empty-status" install -s -qq --no-install-recommends \
	"nodejs=$ver" "libnode108=$ver" "npm=$npm_ver" > "$T/closure.out" 2>&1 || { cat "$T/closure.out"; fail "the dependencies of Debian's npm"; }
sed -nE 's/^Inst (\S+) \((\S+) .*\[(\S+)\]\).*/\1 \2 \3/p' "$T/closure.out" |
	awk '$3 == "all" || $1 == "nodejs" || $1 == "libnode108" { print $1 "=" $2 }' > "$T/want"
grep -qx "npm=$npm_ver" "$T/want" && grep -qx "nodejs=$ver" "$T/want" || { cat "$T/closure.out"; fail "npm or nodejs not in the closure"; }
(cd "$T/debs" && xargs apt-get download -q < "$T/want" > "$T/download.out" 2>&1) ||
	{ cat "$T/download.out"; fail "apt-get download of Debian's nodejs $ver and npm $npm_ver ($(wc -l < "$T/want") packages)"; }
(cd "$T/debs" && ls | xargs -P 2 -n 20 sh -c 'for d; do dpkg -x "$d" ../root || exit 1; done' sh) || fail "dpkg -x"
cat > "$T/bin/node" <<EOF
#!/bin/sh
exec env LD_LIBRARY_PATH="$T/root/usr/lib/x86_64-linux-gnu" "$T/root/usr/bin/node" "\$@"
EOF
# (/usr/share/nodejs/npm: the extracted one, inside the namespace)
cat > "$T/bin/npm" <<EOF
#!/bin/sh
exec "$T/bin/node" /usr/share/nodejs/npm/bin/npm-cli.js "\$@"
EOF
chmod +x "$T/bin/node" "$T/bin/npm"
# in the namespace: Debian's node and npm first in PATH (idp-install.sh, the
# IdP, its tests, the demo) and as NODE; npm's cache empty, the host's npm
# configuration files not read
unshare -m sh -c '
	mount -t overlay overlay -o "lowerdir=$1/root/usr/share:/usr/share" /usr/share || exit 90
	PATH="$1/bin:$PATH" NODE="$1/bin/node"; export PATH NODE
	npm_config_cache="$1/npm-cache" npm_config_userconfig="$1/npmrc.user" npm_config_globalconfig="$1/npmrc.global"
	export npm_config_cache npm_config_userconfig npm_config_globalconfig
	node --version > "$1/version" || exit 91
	npm --version > "$1/npm-version" || exit 94
	bash "$3/tests/idp-install.sh" "$3/tests/idp" "$1/idp" > "$1/idp-install.out" 2>&1 || exit 95
	mount --bind "$1/idp" "$2" || exit 96
	[ "$(stat -c %d:%i "$2/node_modules")" = "$(stat -c %d:%i "$1/idp/node_modules")" ] || exit 96
	(cd "$2" && timeout 600 node --test --test-concurrency=2 test/) > "$1/idp-tests.out" 2>&1 || exit 92
	timeout 180 bash "$3/scripts/demo.sh" --auto --no-setup --builddir "$4" > "$1/demo.out" 2>&1 || exit 93
' sh "$T" "$IDP_DIR" "$abs_top_srcdir" "$abs_top_builddir"
rc=$?
case $rc in
0) ;;
90) fail "overlay mount of /usr/share" ;;
91) fail "Debian's node does not start" ;;
94) fail "Debian's npm does not start" ;;
95) cat "$T/idp-install.out"; fail "tests/idp-install.sh (npm ci) with Debian's npm $(cat "$T/npm-version")" ;;
96) fail "bind mount of the new IdP copy over $IDP_DIR" ;;
92) grep -E '^not ok' "$T/idp-tests.out"; grep -m1 -A30 '^not ok' "$T/idp-tests.out"; tail -12 "$T/idp-tests.out"; fail "the test IdP's tests on Debian's node $(cat "$T/version")" ;;
93) cat "$T/demo.out"; fail "the demo on Debian's node $(cat "$T/version")" ;;
*) fail "namespace exited $rc" ;;
esac
grep -q '^v18\.' "$T/version" || fail "not node 18: $(cat "$T/version")"
pass "Debian's nodejs $ver extracted ($(cat "$T/version"))"
grep -q '^9\.' "$T/npm-version" || fail "not Debian 12's npm 9: $(cat "$T/npm-version")"
[ -f "$T/idp/node_modules/oidc-provider/package.json" ] || fail "npm ci did not install oidc-provider"
[ -n "$(find "$T/npm-cache" -type f | head -1)" ] || fail "npm's cache stayed empty: the modules did not come from the registry"
pass "Debian's npm $(cat "$T/npm-version") ($(wc -l < "$T/want") packages extracted): tests/idp-install.sh's npm ci installs tests/idp/package-lock.json into an empty directory ($(ls "$T/idp/node_modules" | wc -l) top-level modules)"
# (for the record: what differs from the modules the build tree's npm installed)
if [ -d "$IDP_DIR/node_modules" ]; then
	echo "(node_modules against the build tree's: $(diff -rq "$T/idp/node_modules" "$IDP_DIR/node_modules" 2>&1 | wc -l) differences)"
fi
grep -q '^# fail 0$' "$T/idp-tests.out" || { tail -20 "$T/idp-tests.out"; fail "IdP test summary"; }
pass "the test IdP's own tests pass on it, with the modules Debian's npm installed ($(sed -n 's/^# pass //p' "$T/idp-tests.out") tests)"
assert_contains "$T/demo.out" "Verification code: " "the demo asks for the second factor"
assert_contains "$T/demo.out" "pamtester: successfully authenticated" "the demo's login succeeds with the IdP on Debian's node"
grep -Eq "audit: user=demo .*method=password amr=[^ ]*otp[^ ]* result=success" "$T/demo.out" \
	|| { cat "$T/demo.out"; fail "no successful password + TOTP audit line"; }
pass "the demo signs in (password + TOTP) against the IdP on Debian 12's node, installed by Debian's npm"
