#!/bin/bash
# End to end from the Debian packages, the way an admin meets them:
# dpkg-buildpackage from a copy of the tracked sources, lintian on the
# .changes (no error, no warning), then apt-get install ./*.deb, one config
# file pointing at the bundled test IdP, pam-auth-update --enable, the sshd
# drop-in from the package's examples, and:
#   - a first SSH login of an Authgear user (password + TOTP) on a real sshd
#     with Debian's own sshd_config and /etc/pam.d/sshd: id shows the
#     deterministic UID and the groups of the user's roles;
#   - a console login through login(1) under a pty (expect), the installed
#     /etc/pam.d/login;
#   - changing users in the config: the reindex unit's ExecStart (see below)
#     makes the newly allowed name resolve through getent;
#   - an upgrade: the first install is of these packages repacked at a lower
#     version (below); after the first login apt-get install upgrades to the
#     built version, then --reinstall: the config (a modified conffile), the
#     store (alice's UID and binding), /etc/pam.d, /var/lib/pam
#     (pam-auth-update's state) and nsswitch.conf unchanged;
#   - a public-key login of alice: sshd skips PAM auth, the profile's account
#     line allows it from the session cached at the password login (kept by
#     the upgrade); in it `sudo -S id -u` through the package's pam.d/sudo
#     example (pam_authgear.so reauth) asks the verification code and prints
#     0; the role behind the sudoers group removed at the IdP: the next key
#     login's account check drops the group and sudo refuses; alice disabled
#     at the IdP: her key login is refused by the account check;
#   - the device-code login over SSH (IdP device switch on, approval through
#     its hook);
#   - the IdP down: root (password at the console, key over SSH) and a
#     pam_unix user (password over SSH) sign in as before, the Authgear user
#     is refused;
#   - reinstall changes nothing; apt-get purge of all packages leaves
#     /etc/pam.d, /etc/nsswitch.conf and /etc/ssh exactly as before, and
#     /var/lib/authgear gone.
#
# Nothing outside the test changes: everything after the build runs chrooted
# into an overlay of / (upper layer on a tmpfs) in private mount and PID
# namespaces, so a failure at any point leaves the real /etc, /usr and dpkg
# database untouched, and every process it started (sshd, the IdP) dies with
# it. The copies of /etc/pam.d, /etc/nsswitch.conf and /etc/ssh taken inside
# before the install are what the purge is compared with.
#
# systemd: the path unit authgear-pam-reindex.path cannot run in the chroot
# (no systemd there; where systemd is PID 1 it watches the real /etc, not the
# overlay). The test checks the installed units say what systemd would do
# (PathChanged= the config file, Unit= the service, ConditionPathExists=,
# enabled in paths.target.wants) and then runs the service's ExecStart as
# systemd would: as root, empty environment, cwd /, stdin from /dev/null.
#
# Not part of make check (scripts/test-all.sh runs it after): it builds the
# packages a second time (minutes on a loaded machine) and needs root.
# Root only; refuses to run where the packages (or a make install) are
# already present on the host, since the purge check would then be void.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (packages, chroot, sshd)"
PKGS="libpam-authgear libnss-authgear authgear-pam"
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

if [ -z "${AG_DEB_INNER:-}" ]; then
	for t in dpkg-buildpackage lintian dh dh_installnss apt-get expect ssh unshare chroot git; do
		command -v "$t" >/dev/null || fail "$t not installed (scripts/deps.sh installs it)"
	done
	[ -x /usr/sbin/sshd ] && [ -x /bin/login ] || fail "sshd or login missing"
	for p in $PKGS; do
		if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[ic]'; then
			fail "$p is already installed here (or its config files are): purge it first (apt-get purge $PKGS)"
		fi
	done
	for f in /usr/lib/$MA/security/pam_authgear.so /usr/lib/$MA/libnss_authgear.so.2 /usr/bin/authgear-pam \
		/usr/local/bin/authgear-pam /usr/local/lib/security/pam_authgear.so /usr/local/lib/libnss_authgear.so.2 \
		/etc/authgear /var/lib/authgear /usr/share/pam-configs/authgear; do
		[ ! -e "$f" ] || fail "$f exists: pam_authgear is installed here by hand; this test needs a host without it"
	done
	grep -qE '^(passwd|group):.*\sauthgear' /etc/nsswitch.conf && fail "/etc/nsswitch.conf already names authgear"
	unshare --mount --pid --fork true 2>/dev/null || skip "cannot create mount and PID namespaces"
	[ -x "$IDP_DIR/start.sh" ] || fail "test IdP not installed in $IDP_DIR (make check installs it)"
	new_tmpdir
	SELF=$(readlink -f "$0")

	# --- build from a copy of the tracked files (a configured tree is not clean) ---
	mkdir -p "$T/build/src"
	if [ -n "${AG_DEBS:-}" ]; then # (iterating on this test: reuse the packages and .changes of an earlier run)
		cp -a "$AG_DEBS"/. "$T/build/"
	elif git -C "$abs_top_srcdir" rev-parse --git-dir > /dev/null 2>&1; then
		(cd "$abs_top_srcdir" && git ls-files -z --cached | tar --null -T - -cf -) | tar -xf - -C "$T/build/src"
	else
		cp -a "$abs_top_srcdir/." "$T/build/src/" && chmod -R u+w "$T/build/src"
		rm -rf "$T/build/src/tests/idp/node_modules"
	fi
	# nocheck: make check already ran the unit tests the package build would
	# run (override_dh_auto_test); the build itself is the real one.
	if [ -z "${AG_DEBS:-}" ]; then
		start=$(date +%s)
		(cd "$T/build/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1 \
			|| { tail -40 "$T/build.log"; fail "dpkg-buildpackage -us -uc -b failed (log: $T/build.log)"; }
		pass "dpkg-buildpackage -us -uc -b ($(( $(date +%s) - start )) s)"
	fi
	changes=$(ls "$T"/build/*.changes)
	mkdir -p "$T/debs"
	for p in $PKGS; do
		cp "$T"/build/${p}_*.deb "$T/debs/" || fail "no $p .deb"
		printf '%s %s\n' "$(stat -c %s "$T"/build/${p}_*.deb)" "$p"
	done
	if [ -z "${AG_DEBS:-}" ]; then
		lintian --fail-on none "$changes" > "$T/lintian.out" 2>&1 || true
		grep -v '^running with root privileges' "$T/lintian.out" | sed 's/^/lintian: /'
		grep -qE '^[A-Z]: ' "$T/lintian.out" || echo "lintian: (no tags)"
		if grep -qE '^[EW]: ' "$T/lintian.out"; then fail "lintian: errors or warnings on the .changes"; fi
		pass "lintian on the .changes: no errors, no warnings"
	else
		echo "(AG_DEBS: packages of an earlier run, not built or linted here)"
	fi
	# The older version an upgrade starts from: these very packages repacked
	# (dpkg-deb -R, -b) with a lower version. An upgrade's own steps are
	# dpkg's (conffile handover, files replaced) and the maintainer scripts'
	# (prerm and postrm "upgrade", postinst "configure OLD"), and they need
	# only a lower version installed, not older code; a second build would
	# cost minutes for the same scripts.
	V=$(dpkg-deb -f "$T"/debs/authgear-pam_*.deb Version)
	OLDV="$V~old1"
	mkdir -p "$T/debs-old" "$T/repack"
	for p in $PKGS; do
		dpkg-deb -R "$T"/debs/${p}_*.deb "$T/repack/$p" || fail "dpkg-deb -R $p"
		sed -i -e "s/^Version: .*/Version: $OLDV/" -e "s/(= $V)/(= $OLDV)/g" "$T/repack/$p/DEBIAN/control"
		dpkg-deb --root-owner-group -b "$T/repack/$p" "$T/debs-old/" > /dev/null || fail "dpkg-deb -b $p $OLDV"
	done
	dpkg --compare-versions "$OLDV" lt "$V" || fail "$OLDV is not lower than $V"
	ls "$T/debs-old"/*.deb | grep -c . | grep -qx 3 || fail "the repacked packages"

	# --- the rest in an overlay of / ------------------------------------------------------------
	R="$T/ovl"
	mkdir -p "$R"
	HOST_PID1=$(cat /proc/1/comm 2>/dev/null || echo '?')
	export AG_DEB_INNER=1 T R HOST_PID1 V OLDV
	unshare --mount --pid --fork --propagation private bash -c '
		set -e
		mount -t tmpfs -o mode=0755 tmpfs "$R"
		mkdir "$R/upper" "$R/work" "$R/root"
		mount -t overlay overlay -o "lowerdir=/,upperdir=$R/upper,workdir=$R/work" "$R/root"
		mount -t proc proc "$R/root/proc"
		mount --rbind /sys "$R/root/sys"
		mount --rbind /dev "$R/root/dev"
		mount -t tmpfs -o mode=0755 tmpfs "$R/root/run"
		mount -t tmpfs -o mode=1777 tmpfs "$R/root/tmp"
		# the tree (when under /tmp, the tmpfs above hides it) and $T: logs and
		# the IdP state stay visible outside
		for d in "$abs_top_srcdir" "$abs_top_builddir"; do
			[ -d "$R/root$d" ] || { mkdir -p "$R/root$d" && mount --bind "$d" "$R/root$d"; }
		done
		mkdir -p "$R/root$T"
		mount --bind "$T" "$R/root$T"
		exec chroot "$R/root" /bin/bash "$0"' "$SELF"
	exit $?
fi

# ============================ inside the chroot ============================================
set -u
FIXTURE="$IDP_DIR/fixtures/users.json"
EXPECT="$abs_top_srcdir/tests/tools/ssh_login.exp"
CONF=/etc/authgear/pam_authgear.conf
SSHD_PID=
cleanup_inner() {
	rc=$?
	[ -z "$SSHD_PID" ] || kill "$SSHD_PID" 2>/dev/null
	idp_stop_current
	exit $rc
}
trap cleanup_inner EXIT
# Never touch the host: / must be the overlay.
[ "$(stat -f -c %T /)" = overlayfs ] || fail "not inside the overlay (/ is $(stat -f -c %T /))"

hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
totp() { hook GET "/totp/$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))'; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }
ssh_in() { # ssh_in NAME USER PASSWORD CODE COMMAND: expect's output in $T/NAME.txt, its status returned
	set +e
	HOME=/root expect -f "$EXPECT" "$PORT" "$2" "$3" "$4" "$5" > "$T/$1.out" 2>&1
	local rc=$?
	set -e
	tr -d '\r' < "$T/$1.out" > "$T/$1.txt"
	return $rc
}
# console NAME USER PASSWORD CODE: login(1) on a pty, the shell runs id.
cat > "$T/console.exp" <<'EOF'
set user [lindex $argv 0]; set password [lindex $argv 1]; set code [lindex $argv 2]
set timeout 40
spawn /bin/login $user
expect {
	"Password: " { send -- "$password\r"; exp_continue }
	"Choose 1 or 2" { send "1\r"; exp_continue }
	"Verification code: " { send -- "$code\r"; exp_continue }
	"Login incorrect" { puts "\nDENIED"; exit 1 }
	-re {[$#] $} { send "echo CONSOLE-\$(id -un)-\$(id -u); exit\r"; exp_continue }
	timeout { puts "\nTIMEOUT"; exit 2 }
	eof
}
exit 0
EOF
console() {
	set +e
	TERM=dumb expect -f "$T/console.exp" "$2" "$3" "$4" > "$T/$1.out" 2>&1
	local rc=$?
	set -e
	tr -d '\r' < "$T/$1.out" > "$T/$1.txt"
	return $rc
}
set -e

# --- before: what the purge must give back ------------------------------------------------------
mkdir -p "$T/saved"
cp -a /etc/pam.d /etc/ssh /etc/nsswitch.conf "$T/saved/"
[ ! -e /var/lib/authgear ] || fail "/var/lib/authgear exists before the install"

# --- install (the older version: the upgrade below starts from it) -----------------------------------
export DEBIAN_FRONTEND=noninteractive
installed_as() { # installed_as VERSION: every package installed, at VERSION
	for p in $PKGS; do
		[ "$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$p")" = "ii  $1" ] ||
			fail "$p: $(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$p"), want ii $1"
	done
}
(cd "$T/debs-old" && apt-get install -y --no-install-recommends ./*.deb) > "$T/install.log" 2>&1 \
	|| { cat "$T/install.log"; fail "apt-get install ./*.deb"; }
installed_as "$OLDV"
pass "apt-get install ./*.deb: $PKGS $OLDV"
for f in "/usr/lib/$MA/security/pam_authgear.so" "/usr/lib/$MA/libnss_authgear.so.2" /usr/bin/authgear-pam; do
	if grep -qa 'AUTHGEAR_' "$f"; then fail "$f is a test-hooks build (names an AUTHGEAR_ variable)"; fi
done
pass "the packaged binaries are default builds: no test hook"
[ -f /lib/security/pam_authgear.so ] && fail "the module landed outside the multiarch directory"
[ -f "/usr/lib/$MA/security/pam_authgear.so" ] && [ -e "/usr/lib/$MA/libnss_authgear.so.2" ] || fail "module paths"
sed -E 's/^(passwd:\s+files)(\s|$)/\1 authgear\2/; s/^(group:\s+files)(\s|$)/\1 [SUCCESS=merge] authgear\2/' \
	"$T/saved/nsswitch.conf" > "$T/nsswitch.want"
diff -u "$T/nsswitch.want" /etc/nsswitch.conf || fail "nsswitch.conf after the install"
grep -qE '^passwd:\s+files authgear' /etc/nsswitch.conf && grep -qE '^group:\s+files \[SUCCESS=merge\] authgear' /etc/nsswitch.conf \
	|| fail "nsswitch.conf lines"
pass "nsswitch.conf: 'passwd: files authgear', 'group: files [SUCCESS=merge] authgear', nothing else changed"
diff -r "$T/saved/pam.d" /etc/pam.d > "$T/pamd.diff" || { cat "$T/pamd.diff"; fail "the install changed /etc/pam.d (the profile is Default: no)"; }
pass "the install leaves /etc/pam.d alone until pam-auth-update --enable"
[ "$(stat -c '%U:%G %a' "$CONF")" = "root:root 600" ] || fail "$CONF: $(stat -c '%U:%G %a' "$CONF")"
dpkg-query -W -f='${Conffiles}\n' authgear-pam | grep -q " $CONF " || fail "$CONF is not a conffile"
if grep -vE '^(#|$)' "$CONF"; then fail "the sample sets a key"; fi
[ -d /var/lib/authgear ] || fail "/var/lib/authgear not created"
pass "$CONF: conffile root:root 0600, every key commented; /var/lib/authgear created"

# --- reinstall: idempotent maintainer scripts -----------------------------------------------------
cp /etc/nsswitch.conf "$T/nsswitch.installed"
(cd "$T/debs-old" && apt-get install -y --reinstall ./*.deb) > "$T/reinstall.log" 2>&1 || { cat "$T/reinstall.log"; fail "reinstall"; }
cmp -s "$T/nsswitch.installed" /etc/nsswitch.conf || { diff -u "$T/nsswitch.installed" /etc/nsswitch.conf; fail "reinstall changed nsswitch.conf"; }
diff -r "$T/saved/pam.d" /etc/pam.d > /dev/null || fail "reinstall changed /etc/pam.d"
pass "reinstall: nsswitch.conf and /etc/pam.d unchanged"

# --- the IdP, the config, and the reindex unit ---------------------------------------------------
idp_start "$T/idp" --device
install -m 0644 "$CA_FILE" /etc/authgear/ca.pem
write_conf() { # write_conf USERS [extra lines]: the admin's one file
	local users=$1; shift
	{
		echo "issuer = $ISSUER"
		echo "client_id = ${CLIENT_ID:-pam_authgear}"
		echo "redirect_uri = http://127.0.0.1/pam_authgear/callback"
		echo "ca_file = /etc/authgear/ca.pem"
		echo "users = $users"
		for l in "$@"; do echo "$l"; done
		echo "[roles]"
		echo "unix-admin = authgear-admins"
		echo "unix-user = authgear-users, users"
	} > "$CONF.new"
	chmod 0600 "$CONF.new"
	mv "$CONF.new" "$CONF"
}
unit_dir=/lib/systemd/system
grep -qxF "PathChanged=$CONF" $unit_dir/authgear-pam-reindex.path || fail "the path unit does not watch $CONF"
grep -qxF "Unit=authgear-pam-reindex.service" $unit_dir/authgear-pam-reindex.path || fail "the path unit's Unit="
[ -L /etc/systemd/system/paths.target.wants/authgear-pam-reindex.path ] || fail "authgear-pam-reindex.path not enabled"
exec_start=$(sed -n 's/^ExecStart=//p' $unit_dir/authgear-pam-reindex.service)
cond=$(sed -n 's/^ConditionPathExists=//p' $unit_dir/authgear-pam-reindex.service)
[ -n "$exec_start" ] && [ "$cond" = "$CONF" ] || fail "the service's ExecStart/ConditionPathExists"
path_unit_fires() { # what systemd does when PathChanged= fires: the service, as root, no environment
	[ -e "$cond" ] || return 0
	(cd / && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin $exec_start < /dev/null) > "$T/reindex.out" 2>&1 \
		|| { cat "$T/reindex.out"; fail "the reindex unit's ExecStart failed"; }
}
echo "(the host's PID 1 is $HOST_PID1; in the chroot the path unit's ExecStart is run as systemd would)"
write_conf "alice"
path_unit_fires
UID_ALICE=2102120105 # the hash of "alice" in the default uid_range 2001000000-2147000000 (golden value)
[ "$(getent passwd alice | cut -d: -f3)" = "$UID_ALICE" ] || { getent passwd alice || true; fail "alice does not resolve after the reindex"; }
pass "config written, reindex unit run: alice resolves (provisional UID $UID_ALICE) through the installed NSS module"

# --- pam-auth-update, sshd drop-in ----------------------------------------------------------------
pam-auth-update --enable authgear mkhomedir > "$T/pau.log" 2>&1 || { cat "$T/pau.log"; fail "pam-auth-update --enable authgear"; }
grep -nE '^auth\s' /etc/pam.d/common-auth > "$T/common-auth"
ag_line=$(grep -m1 -n 'pam_authgear.so' "$T/common-auth" | cut -d: -f1)
unix_line=$(grep -m1 -n 'pam_unix.so' "$T/common-auth" | cut -d: -f1)
[ -n "$ag_line" ] && [ -n "$unix_line" ] && [ "$ag_line" -lt "$unix_line" ] || { cat "$T/common-auth"; fail "common-auth: pam_authgear not before pam_unix"; }
grep -qE '^auth\s+\[success=2 ignore=ignore module_unknown=ignore default=die\]\s+pam_authgear.so\s*$' /etc/pam.d/common-auth \
	|| { cat /etc/pam.d/common-auth; fail "common-auth: pam_authgear's jump does not reach pam_permit"; }
grep -qE '^account\s+\[success=ok ignore=ignore module_unknown=ignore default=bad\]\s+pam_authgear.so\s*$' /etc/pam.d/common-account \
	|| { cat /etc/pam.d/common-account; fail "common-account: pam_authgear's line (module_unknown=ignore)"; }
grep -qE '^session\s+optional\s+pam_authgear.so' /etc/pam.d/common-session || fail "common-session"
pass "pam-auth-update --enable authgear: common-auth jumps past pam_unix on success, dies on failure, ignores a module libpam cannot load; account and session lines"
install -m 0644 /usr/share/doc/authgear-pam/examples/sshd_config.d/authgear.conf /etc/ssh/sshd_config.d/authgear.conf
PORT=$(free_port)
mkdir -p /run/sshd
SSHD_OPTS="-p $PORT -o ListenAddress=127.0.0.1 -o PidFile=/run/sshd-test.pid -o LogLevel=VERBOSE"
/usr/sbin/sshd -t $SSHD_OPTS || fail "sshd -t with the drop-in"
/usr/sbin/sshd -T $SSHD_OPTS | grep -qx 'kbdinteractiveauthentication yes' || fail "the drop-in does not turn keyboard-interactive on"
/usr/sbin/sshd -D $SSHD_OPTS -E "$T/sshd.log" &
SSHD_PID=$!
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
for _ in $(seq 100); do listening && break; sleep 0.1; done
listening || { cat "$T/sshd.log"; fail "sshd did not start"; }
pass "Debian's sshd_config with the packaged drop-in: keyboard-interactive on, sshd listening on 127.0.0.1:$PORT"

# --- first SSH login: password + TOTP, id in the session ---------------------------------------------
PW=$(password alice)
ssh_in first alice "$PW" "$(totp alice)" "echo LOGGED-IN; id; pwd" || { cat "$T/first.txt"; tail -20 "$T/sshd.log"; fail "alice: ssh login failed"; }
grep -q '^LOGGED-IN$' "$T/first.txt" || { cat "$T/first.txt"; fail "alice: no session"; }
G_ADMINS=$(getent group authgear-admins | cut -d: -f3)
G_USERS=$(getent group authgear-users | cut -d: -f3)
USERS_GID=$(getent group users | cut -d: -f3)
[ -n "$G_ADMINS" ] && [ -n "$G_USERS" ] && [ -n "$USERS_GID" ] || fail "groups after the first login"
groups_of() { printf '%s\n' "$@" | sort -n | paste -sd, -; }
WANT="uid=$UID_ALICE(alice) gid=$UID_ALICE(alice) groups=$UID_ALICE(alice),$(groups_of "$G_ADMINS(authgear-admins)" \
	"$G_USERS(authgear-users)" "$USERS_GID(users)")"
grep -qxF "$WANT" "$T/first.txt" || { cat "$T/first.txt"; fail "id in the session: want $WANT"; }
grep -qxF /home/alice "$T/first.txt" || { cat "$T/first.txt"; fail "the session did not start in /home/alice (pam_mkhomedir)"; }
assert_contains "$T/sshd.log" "Accepted keyboard-interactive/pam for alice" "sshd accepted keyboard-interactive/pam for alice"
assert_contains "$T/first.txt" "Verification code: " "the first SSH login asked for the TOTP code after the password"
pass "first SSH login of alice (password + TOTP): $WANT, home made by pam_mkhomedir"

# --- upgrade OLDV -> V with apt-get install, alice signed in once ----------------------------------------
# What the upgrade must keep: the admin's config (a modified conffile), the
# store (alice's binding, UID, cached session), the enabled profile, the
# nsswitch entries (no second "authgear").
state() { # state DIR: what the upgrade and the reinstall must not change
	mkdir -p "$1"
	cp -a /etc/pam.d /var/lib/pam /etc/nsswitch.conf "$CONF" "$1/"
	getent passwd alice > "$1/alice.passwd"
	authgear-pam users > "$1/users" 2>&1 || { cat "$1/users"; fail "authgear-pam users"; }
}
same_state() { # same_state DIR WHAT: the state now equals DIR's
	state "$T/now"
	diff -ru "$1" "$T/now" || fail "$2 changed the state above"
	rm -rf "$T/now"
	for f in common-auth common-account common-session; do
		[ "$(grep -c 'pam_authgear\.so' /etc/pam.d/$f)" = 1 ] || { cat /etc/pam.d/$f; fail "$2: $f names pam_authgear $(grep -c 'pam_authgear\.so' /etc/pam.d/$f) times"; }
	done
	[ "$(grep -Ec '^(passwd|group):.*\sauthgear(\s|$)' /etc/nsswitch.conf)" = 2 ] && ! grep -Eq 'authgear.*authgear' /etc/nsswitch.conf ||
		{ cat /etc/nsswitch.conf; fail "$2: nsswitch.conf's authgear entries"; }
}
[ "$(getent passwd alice | cut -d: -f3)" = "$UID_ALICE" ] || { getent passwd alice; fail "alice's UID before the upgrade"; }
state "$T/before-upgrade"
(cd "$T/debs" && apt-get install -y ./*.deb) > "$T/upgrade.log" 2>&1 || { cat "$T/upgrade.log"; fail "apt-get install ./*.deb ($OLDV -> $V)"; }
installed_as "$V"
for p in $PKGS; do
	grep -qE "^Unpacking $p(:$(dpkg --print-architecture))? \($V\) over \($OLDV\)" "$T/upgrade.log" ||
		{ cat "$T/upgrade.log"; fail "$p: not an upgrade from $OLDV"; }
done
if grep -qi 'conffile\|configuration file' "$T/upgrade.log"; then cat "$T/upgrade.log"; fail "the upgrade asked about a conffile"; fi
same_state "$T/before-upgrade" "the upgrade $OLDV -> $V"
pass "upgrade $OLDV -> $V (apt-get install ./*.deb): the config, the store (alice's UID $UID_ALICE, her binding), /etc/pam.d, /var/lib/pam and nsswitch.conf unchanged, one authgear entry each"
(cd "$T/debs" && apt-get install -y --reinstall ./*.deb) > "$T/reinstall2.log" 2>&1 || { cat "$T/reinstall2.log"; fail "apt-get install --reinstall ($V)"; }
installed_as "$V"
same_state "$T/before-upgrade" "the reinstall of $V"
pass "apt-get install --reinstall after the upgrade: nothing changed"

# --- a public-key login: allowed by the account check; sudo reauthenticates ---------------------------
# sshd skips PAM auth for a key: common-account's pam_authgear line (the
# profile's) is the only gate, and the cached session from the password
# login (kept by the upgrade) is what it checks. sudo: the package's
# pam.d/sudo example as README "sudo" says (its own account line left out:
# the profile's is in common-account), the README's sudoers drop-in.
ssh-keygen -q -t ed25519 -N '' -f "$T/alicekey"
install -d -m 0700 -o alice -g alice /home/alice/.ssh
install -m 0600 -o alice -g alice "$T/alicekey.pub" /home/alice/.ssh/authorized_keys
SUDO_EX=$(dpkg -L libpam-authgear | grep '/examples/pam\.d/sudo$') || fail "libpam-authgear ships no pam.d/sudo example"
grep -v '^account .*pam_authgear\.so' "$SUDO_EX" > /etc/pam.d/sudo
grep -qE '^auth .*pam_authgear\.so reauth$' /etc/pam.d/sudo || { cat /etc/pam.d/sudo; fail "the sudo example has no reauth line"; }
echo '%authgear-admins ALL=(ALL) ALL' > "$T/sudoers"
visudo -cf "$T/sudoers" > /dev/null || fail "the README's sudoers drop-in does not parse"
install -m 0440 "$T/sudoers" /etc/sudoers.d/authgear
key_in() { # key_in NAME COMMAND: alice's key login running COMMAND; output in $T/NAME.txt, the status returned
	set +e
	HOME=/root timeout 90 ssh -p "$PORT" -i "$T/alicekey" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes -o PreferredAuthentications=publickey \
		alice@127.0.0.1 "$2" > "$T/$1.txt" 2>&1
	local rc=$?
	set -e
	return $rc
}
# sudo's output (id -u) goes to SUDO-OUT=, its prompt (stderr, no newline)
# before it on the same line
sudo_cmd() { echo "echo KEY-IN; id -nG; out=\$(printf '%s\n' $(totp alice) | sudo -S id -u); echo SUDO-RC=\$? SUDO-OUT=\$out"; }
key_in key-sudo "$(sudo_cmd)" || { cat "$T/key-sudo.txt"; tail -20 "$T/sshd.log"; fail "alice: key login after the upgrade failed"; }
grep -qx KEY-IN "$T/key-sudo.txt" || { cat "$T/key-sudo.txt"; fail "alice: no session with her key"; }
assert_contains "$T/sshd.log" "Accepted publickey for alice" "a public-key login of alice after the upgrade: the account check allows it (cached session kept)"
grep -q 'SUDO-RC=0 SUDO-OUT=0$' "$T/key-sudo.txt" || { cat "$T/key-sudo.txt"; fail "sudo -S id -u as alice did not print 0"; }
assert_contains "$T/key-sudo.txt" "Verification code: " "sudo -S id -u as alice: the installed sudo stack reauthenticates (Verification code:) and prints 0"

# --- the role removed, then the user disabled, at the IdP --------------------------------------------------
# account_check_cache = 0: each check asks the IdP (else the key login
# within 60 s of the last check would reuse it).
write_conf "alice" "account_check_cache = 0"
path_unit_fires
hook POST /users/alice/roles '{"roles":["unix-user"]}' > /dev/null
key_in key-norole "$(sudo_cmd)" || true
grep -qx KEY-IN "$T/key-norole.txt" || { cat "$T/key-norole.txt"; fail "alice: key login with the role removed (still allowed: only the role is gone)"; }
if grep -qw authgear-admins "$T/key-norole.txt"; then cat "$T/key-norole.txt"; fail "alice kept authgear-admins after the account check"; fi
grep -q 'SUDO-RC=[1-9][0-9]* SUDO-OUT=$' "$T/key-norole.txt" || { cat "$T/key-norole.txt"; fail "sudo ran with the role removed"; }
grep -Eq "not in the sudoers file|not allowed to execute" "$T/key-norole.txt" || { cat "$T/key-norole.txt"; fail "sudo refused for another reason"; }
pass "the role removed at the IdP: the key login's account check drops authgear-admins, sudo refuses (the drop-in's %authgear-admins rule no longer applies)"
hook POST /users/alice/disable '{}' > /dev/null
if key_in key-disabled "echo KEY-IN"; then cat "$T/key-disabled.txt"; fail "alice's key login allowed after she was disabled"; fi
if grep -qx KEY-IN "$T/key-disabled.txt"; then fail "a session ran for the disabled alice"; fi
assert_contains "$T/sshd.log" "Access denied for user alice by PAM account configuration" "a public-key login after alice is disabled at the IdP: refused by the account check"
hook POST /users/alice/enable '{}' > /dev/null
hook POST /users/alice/roles '{"roles":["unix-admin","unix-user"]}' > /dev/null
write_conf "alice"
path_unit_fires

# --- console: login(1) on a pty ----------------------------------------------------------------------
console console-alice alice "$PW" "$(totp alice)" || { cat "$T/console-alice.txt"; fail "alice: console login failed"; }
assert_contains "$T/console-alice.txt" "Verification code:" "console: pam_authgear asked for the code"
assert_contains "$T/console-alice.txt" "CONSOLE-alice-$UID_ALICE" "console login of alice through login(1) and /etc/pam.d/login"

# --- users changed: the path unit reindexes ---------------------------------------------------------
if getent passwd bob > /dev/null; then fail "bob resolves before being allowed"; fi
write_conf "alice, bob"
path_unit_fires
getent passwd bob > "$T/bob" || fail "bob does not resolve after users changed and the reindex unit ran"
pass "users = alice, bob: bob resolves through getent after the reindex unit ($(cut -d: -f1,3 "$T/bob"))"

# --- device-code login over SSH ---------------------------------------------------------------------
CLIENT_ID=pam_authgear_device write_conf "alice, bob" "methods = device"
path_unit_fires
hook POST /device/config '{"interval":1,"user_code":"WDJB-MJHT","verification_uri":"https://example.com/device"}' > /dev/null
cat > "$T/device.exp" <<'EOF'
set port [lindex $argv 0]; set hookurl [lindex $argv 1]; set timeout 40
spawn ssh -p $port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-o PubkeyAuthentication=no -o PreferredAuthentications=keyboard-interactive -o NumberOfPasswordPrompts=1 \
	alice@127.0.0.1 {echo DEVICE-$(id -un)-$(id -u)}
expect {
	"Press Enter once you have approved the sign-in" {}
	"Permission denied" { puts "DENIED before the prompt"; exit 1 }
	timeout { puts "timeout waiting for the prompt"; exit 2 }
}
exec curl -fsS -X POST -H content-type:application/json -d {{"user_code":"WDJB-MJHT","username":"alice"}} $hookurl/device/approve
send "\r"
expect {
	-re {DEVICE-\S+} { expect eof; exit 0 }
	"Permission denied" { puts "DENIED"; exit 1 }
	timeout { puts "timeout after Enter"; exit 2 }
}
EOF
set +e
HOME=/root LANG=C.UTF-8 expect -f "$T/device.exp" "$PORT" "$HOOK_URL" > "$T/device.out" 2>&1; rc=$?
set -e
tr -d '\r' < "$T/device.out" > "$T/device.txt"
[ $rc = 0 ] || { cat "$T/device.txt"; tail -20 "$T/sshd.log"; fail "device login over ssh: expect exit $rc"; }
assert_contains "$T/device.txt" "as alice, open https://example.com/device" "device login: the URL reached the ssh client"
assert_contains "$T/device.txt" "DEVICE-alice-$UID_ALICE" "device login over SSH approved through the IdP's hook: alice's session"

# --- the IdP down: local accounts as before, Authgear users refused ----------------------------------
useradd -m -s /bin/bash localbob
echo 'localbob:Local-pass-1' | chpasswd
echo 'root:Root-pass-1' | chpasswd
mkdir -p -m 0700 /root/.ssh
ssh-keygen -q -t ed25519 -N '' -f "$T/rootkey"
cat "$T/rootkey.pub" >> /root/.ssh/authorized_keys
idp_stop_current
IDP_STATE=
curl -fsS --max-time 3 "$ISSUER/.well-known/openid-configuration" > /dev/null 2>&1 && fail "the IdP still answers"
ssh_in local-bob localbob Local-pass-1 000000 "echo LOCAL-\$(id -un)" || { cat "$T/local-bob.txt"; tail -20 "$T/sshd.log"; fail "localbob: ssh login failed with the IdP down"; }
assert_contains "$T/local-bob.txt" "LOCAL-localbob" "IdP down: a pam_unix user signs in over SSH with the password"
if grep -q "Verification code" "$T/local-bob.txt"; then fail "localbob reached pam_authgear's prompts"; fi
HOME=/root timeout 60 ssh -p "$PORT" -i "$T/rootkey" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o LogLevel=ERROR -o BatchMode=yes -o PreferredAuthentications=publickey root@127.0.0.1 'echo ROOT-$(id -u)' > "$T/root-ssh.txt" 2>&1 \
	|| { cat "$T/root-ssh.txt"; fail "root: ssh key login failed with the IdP down"; }
assert_contains "$T/root-ssh.txt" "ROOT-0" "IdP down: root signs in over SSH with its key"
console console-root root Root-pass-1 000000 || { cat "$T/console-root.txt"; fail "root: console login failed with the IdP down"; }
assert_contains "$T/console-root.txt" "CONSOLE-root-0" "IdP down: root signs in at the console with its password"
write_conf "alice, bob"
path_unit_fires
if ssh_in down-alice alice "$PW" 000000 "echo LOGGED-IN"; then cat "$T/down-alice.txt"; fail "alice signed in with the IdP down"; fi
if grep -q '^LOGGED-IN$' "$T/down-alice.txt"; then fail "alice got a session with the IdP down"; fi
assert_contains "$T/sshd.log" "Failed keyboard-interactive/pam for alice" "IdP down: alice is refused (fail closed)"
# The module file gone (a wrong install directory, a half-removed package):
# libpam cannot load it ("module unknown"); the profile's module_unknown=ignore
# keeps local users signing in, and alice (no local password) stays refused.
AG_SO=$(dpkg -L libpam-authgear | grep '/pam_authgear\.so$')
[ -f "$AG_SO" ] || fail "libpam-authgear ships no pam_authgear.so"
mv "$AG_SO" "$T/pam_authgear.so.moved"
ssh_in nomod-bob localbob Local-pass-1 000000 "echo NOMOD-\$(id -un)" || { cat "$T/nomod-bob.txt"; tail -20 "$T/sshd.log"; fail "localbob: ssh login failed with pam_authgear.so missing"; }
assert_contains "$T/nomod-bob.txt" "NOMOD-localbob" "module file missing: a pam_unix user signs in over SSH through the profile"
console console-nomod root Root-pass-1 000000 || { cat "$T/console-nomod.txt"; fail "root: console login failed with pam_authgear.so missing"; }
assert_contains "$T/console-nomod.txt" "CONSOLE-root-0" "module file missing: root signs in at the console through the profile"
if ssh_in nomod-alice alice "$PW" 000000 "echo LOGGED-IN"; then cat "$T/nomod-alice.txt"; fail "alice signed in with the module missing"; fi
if grep -q '^LOGGED-IN$' "$T/nomod-alice.txt"; then fail "alice got a session with the module missing"; fi
mv "$T/pam_authgear.so.moved" "$AG_SO"
kill "$SSHD_PID"; wait "$SSHD_PID" 2>/dev/null || true; SSHD_PID=

# --- remove, install again, purge ----------------------------------------------------------------------
pam-auth-update --disable mkhomedir > /dev/null 2>&1 || fail "pam-auth-update --disable mkhomedir"
rm -f /etc/ssh/sshd_config.d/authgear.conf  # the admin's own copy, as README's removal steps say
rm -f /etc/sudoers.d/authgear && cp "$T/saved/pam.d/sudo" /etc/pam.d/sudo  # and the sudo setup (README "Remove")
apt-get remove -y $PKGS > "$T/remove.log" 2>&1 || { cat "$T/remove.log"; fail "apt-get remove"; }
diff -ru "$T/saved/pam.d" /etc/pam.d || fail "/etc/pam.d differs after apt-get remove"
diff -u "$T/saved/nsswitch.conf" /etc/nsswitch.conf || fail "/etc/nsswitch.conf differs after apt-get remove"
[ -f "$CONF" ] && [ -f /var/lib/authgear/private/accounts.db ] || fail "remove deleted the config or the store"
pass "apt-get remove: PAM stacks and nsswitch.conf as before; the config and the store kept"
(cd "$T/debs" && apt-get install -y ./*.deb) > "$T/install2.log" 2>&1 || { cat "$T/install2.log"; fail "install after remove"; }
diff -u "$T/nsswitch.want" /etc/nsswitch.conf || fail "nsswitch.conf after installing again"
diff -r "$T/saved/pam.d" /etc/pam.d > /dev/null || fail "installing again changed /etc/pam.d (the profile was removed)"
rm -f /var/lib/authgear/nss.index
(cd "$T/debs" && apt-get install -y --reinstall ./authgear-pam_*.deb) > "$T/install3.log" 2>&1 || { cat "$T/install3.log"; fail "reinstall authgear-pam"; }
[ "$(getent passwd alice | cut -d: -f3)" = "$UID_ALICE" ] || fail "postinst did not rebuild the index from the kept store and config"
pass "installed again: the nsswitch entries back, PAM untouched until enabled, postinst reindexes the kept store"
apt-get purge -y $PKGS > "$T/purge.log" 2>&1 || { cat "$T/purge.log"; fail "apt-get purge"; }
for p in $PKGS; do
	if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[ic]'; then fail "$p still installed or not purged"; fi
done
diff -ru "$T/saved/pam.d" /etc/pam.d || fail "/etc/pam.d differs after the purge"
diff -u "$T/saved/nsswitch.conf" /etc/nsswitch.conf || fail "/etc/nsswitch.conf differs after the purge"
diff -ru "$T/saved/ssh" /etc/ssh || fail "/etc/ssh differs after the purge"
[ ! -e /var/lib/authgear ] || { ls -la /var/lib/authgear; fail "/var/lib/authgear left after the purge"; }
[ ! -e "$CONF" ] || fail "$CONF left after the purge"
[ ! -e /usr/share/pam-configs/authgear ] || fail "the pam-auth-update profile left after the purge"
pass "apt-get purge: /etc/pam.d, /etc/nsswitch.conf and /etc/ssh exactly as before; /var/lib/authgear gone"
