# Shared helpers for the shell tests; sourced, not run.
# Tests run under automake with abs_top_builddir and abs_top_srcdir exported.
set -u

: "${abs_top_builddir:?run through make check}"
: "${abs_top_srcdir:?run through make check}"

MODULE="$abs_top_builddir/src/.libs/pam_authgear.so"
NSS_MODULE="$abs_top_builddir/src/.libs/libnss_authgear.so.2"
CLI="$abs_top_builddir/src/authgear-pam"
IDP_DIR="$abs_top_builddir/tests/idp"
TEST_NAME=$(basename "$0" .sh)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }

# A private scratch directory for this test, removed at exit.
new_tmpdir() {
	mkdir -p "$abs_top_builddir/tests/tmp"
	T=$(mktemp -d "$abs_top_builddir/tests/tmp/$TEST_NAME.XXXXXX")
	chmod 0755 "$T"
	trap 'cleanup_tmpdir' EXIT
	nss_users
}

# The module refuses a name that does not resolve through NSS (sshd's
# "Invalid user"), so the test IdP's users resolve in every PAM run:
# nss_wrapper with /etc/passwd and /etc/group plus those users. PAM_PRELOAD
# is the LD_PRELOAD of a PAM run; the NSS_WRAPPER_* files are exported here.
# Under the sanitizer build (scripts/test-asan.sh) AG_ASAN_PRELOAD names the
# ASan runtime (and the module, to keep it mapped for leak stacks): libasan
# must be the first preload of a program that is not built with ASan
# (pamtester) and dlopens a module that is, and of one built with ASan too,
# since a preload comes before the runtime it links.
ASAN_FIRST=${AG_ASAN_PRELOAD:+$AG_ASAN_PRELOAD }
PAM_PRELOAD="${ASAN_FIRST}libpam_wrapper.so libnss_wrapper.so"
nss_users() {
	mkdir -p "$T/nss"
	cp /etc/passwd "$T/nss/passwd"
	cp /etc/group "$T/nss/group"
	id=64100
	# dev-nobody, dev-spray: allow-listed by a pattern, unknown at the IdP (on a host,
	# the NSS module's provisional entry resolves such a name).
	for u in $(sed -n 's/.*"username": *"\([a-z0-9_.-]*\)".*/\1/p' "$abs_top_srcdir/tests/idp/fixtures/users.json") dev-nobody dev-spray; do
		if ! grep -q "^$u:" "$T/nss/passwd"; then
			echo "$u:x:$id:$id::/nonexistent:/bin/sh" >> "$T/nss/passwd"
			echo "$u:x:$id:" >> "$T/nss/group"
		fi
		id=$((id + 1))
	done
	NSS_WRAPPER_PASSWD="$T/nss/passwd" NSS_WRAPPER_GROUP="$T/nss/group"
	export NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
}
CLEANUP_HOOKS=""
cleanup_tmpdir() {
	rc=$?
	for h in $CLEANUP_HOOKS; do "$h" || true; done
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"
	exit $rc
}

# assert_contains FILE TEXT DESCRIPTION
assert_contains() {
	grep -qF -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "$3: '$2' not found"; }
	pass "$3"
}
assert_not_contains() {
	if grep -qF -- "$2" "$1"; then echo "--- $1:"; cat "$1"; fail "$3: '$2' found"; fi
	pass "$3"
}

# write_config FILE [extra lines...]: a root-owned 0600 configuration;
# the extra lines start at line 6.
write_config() {
	f=$1; shift
	{
		echo "issuer = ${ISSUER:-https://127.0.0.1:1}"
		echo "client_id = pam_authgear"
		echo "redirect_uri = http://127.0.0.1/pam_authgear/callback"
		if [ -n "${CA_FILE:-}" ]; then echo "ca_file = $CA_FILE"; else echo "# system CAs"; fi
		echo "state_dir = $T/state"
		for l in "$@"; do echo "$l"; done
	} > "$f"
	chmod 0600 "$f"
}

# pam_service NAME LINES...: write a private PAM service for pam_wrapper.
pam_service() {
	mkdir -p "$T/pamd"
	cp "$abs_top_srcdir/tests/pamd/other" "$T/pamd/other"
	name=$1; shift
	: > "$T/pamd/$name"
	for l in "$@"; do echo "$l" >> "$T/pamd/$name"; done
}

# run_pamtester SERVICE USER OPS... with stdin as the answers; output in $T/out.
run_pamtester() {
	[ -n "${PAMTESTER:-}" ] || PAMTESTER=$(command -v pamtester || true)
	[ -n "$PAMTESTER" ] || skip "pamtester not installed"
	svc=$1; shift
	timeout "${PAM_TIMEOUT:-60}" env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$T/pamd" AUTHGEAR_TEST_LOG="$T/module.log" \
		"$PAMTESTER" -v "$svc" "$@" > "$T/out" 2>&1
}

# The test IdP: idp_start STATE_DIR [start.sh options]; sets ISSUER, CA_FILE, HOOK_URL.
idp_start() {
	[ -x "$IDP_DIR/start.sh" ] || fail "test IdP not installed in $IDP_DIR (make check installs it)"
	d=$1; shift
	"$IDP_DIR/start.sh" --state "$d" "$@" > "$T/idp-start.out" 2>&1 || { cat "$T/idp-start.out"; fail "IdP did not start"; }
	. "$d/idp.env"
	IDP_STATE=$d
	CLEANUP_HOOKS="$CLEANUP_HOOKS idp_stop_current"
}
idp_stop_current() { [ -z "${IDP_STATE:-}" ] || "$IDP_DIR/stop.sh" "$IDP_STATE" >/dev/null 2>&1; }

# An unused TCP port on 127.0.0.1.
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# sshd_lab_config DIR PORT [PIDFILE]: a host key and an sshd_config in DIR for
# a keyboard-interactive-only sshd on 127.0.0.1:PORT (testing-pam.md §5).
sshd_lab_config() {
	ssh-keygen -q -t ed25519 -N '' -f "$1/hostkey"
	cat > "$1/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $2
HostKey $1/hostkey
PidFile ${3:-$1/sshd.pid}
UsePAM yes
KbdInteractiveAuthentication yes
AuthenticationMethods keyboard-interactive
PasswordAuthentication no
PubkeyAuthentication no
PermitRootLogin no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
EOF
}

# private_run_sshd: inside a private mount namespace, give this test its own
# /run/sshd (sshd's privilege-separation directory) on a tmpfs, so no sshd
# test removes or shares the directory another one uses. The mount point is
# created on the host when missing and never removed.
private_run_sshd() {
	[ -d /run/sshd ] || install -d -m 0755 /run/sshd
	mount -t tmpfs -o mode=0755 tmpfs /run/sshd || fail "tmpfs over /run/sshd"
}

# Milliseconds since the epoch (GNU date): for elapsed-time bounds, where
# whole seconds would blur a bound by up to a second.
now_ms() { date +%s%3N; }

# --- the test IdP's hooks (tests/idp) ------------------------------------------
# hook METHOD PATH [JSON]: one call to the IdP's test hooks.
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
# totp USER: the user's current TOTP code.
totp() { hook GET "/totp/$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))'; }
# requests: every request the IdP counted since the last POST /counters/reset.
requests() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))'; }
# counter PATH: the requests to PATH alone.
counter() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]||0))' "$1"; }
# password USER: the user's password in $FIXTURE (default: the IdP's users).
password() {
	node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' \
		"${FIXTURE:-$IDP_DIR/fixtures/users.json}" "$1"
}

# --- sshd on loopback in a private mount namespace (testing-pam.md §5) --------
# sshd_test_begin [TOOL...]: skip unless root and sshd, ssh, expect, unshare
# and each TOOL are there; then run this test again (once) in a private
# mount namespace, where its mounts end with it.
sshd_test_begin() {
	local t
	[ "$(id -u)" = 0 ] || skip "needs root (sshd, mount namespace)"
	for t in /usr/sbin/sshd ssh expect unshare "$@"; do
		command -v "$t" >/dev/null || [ -x "$t" ] || skip "$t not installed"
	done
	if [ -z "${AG_IN_MOUNT_NS:-}" ]; then
		unshare --mount --propagation private true 2>/dev/null || skip "cannot create a mount namespace"
		exec unshare --mount --propagation private env AG_IN_MOUNT_NS=1 bash "$0"
	fi
}

# private_etc_users NAME:ID[:PASSWORD]...: /etc/passwd, shadow and group
# become copies in $T with these users (and a group of the same ID) added;
# without a password the account is locked ("!"). Extra lines for the
# copies go to $T/passwd etc. before this is called.
private_etc_users() {
	local f u name id pw
	for f in passwd shadow group; do [ -e "$T/$f" ] || cp "/etc/$f" "$T/$f"; done
	for u in "$@"; do
		name=${u%%:*} id=${u#*:} pw=
		case $id in *:*) pw=${id#*:} id=${id%%:*} ;; esac
		echo "$name:x:$id:$id::/nonexistent:/bin/sh" >> "$T/passwd"
		if [ -n "$pw" ]; then pw=$(openssl passwd -6 "$pw"); else pw='!'; fi
		echo "$name:$pw:20000:0:99999:7:::" >> "$T/shadow"
		echo "$name:x:$id:" >> "$T/group"
	done
	for f in passwd shadow group; do mount --bind "$T/$f" "/etc/$f" || fail "bind /etc/$f"; done
}

# private_pam_service NAME AUTH_CONTROL: /etc/pam.d (a copy) with service
# NAME: pam_authgear ($T/c.conf) with that control, then pam_unix.
private_pam_service() {
	cp -a /etc/pam.d "$T/pam.d"
	cat > "$T/pam.d/$1" <<PAMD
auth     $2  $MODULE config=$T/c.conf
auth     required  pam_unix.so
account  required  pam_unix.so
session  required  pam_unix.so
password required  pam_deny.so
PAMD
	mount --bind "$T/pam.d" /etc/pam.d
}

# sshd_lab_world SERVICE: what an Authgear user's first SSH login needs
# (sshd_lab_world_pam) with /etc/pam.d/SERVICE the shipped pam.d/sshd auth
# line with $T/c.conf (lab_auth_line), pam_unix's account stack and
# pam_mkhomedir. Extra /etc files to bind: ETC_BIND (names).
sshd_lab_world() {
	{
		lab_auth_line
		echo "auth     required    pam_unix.so"
		echo "account  required    pam_unix.so"
		echo "session  optional    pam_mkhomedir.so umask=0077"
		echo "session  required    pam_unix.so"
		echo "password required    pam_deny.so"
	} > "$T/$1.pam"
	sshd_lab_world_pam "$1" "$T/$1.pam"
}
# lab_overlay DIR UPPER: DIR shows UPPER's files over its own.
lab_overlay() {
	mkdir -p "$2" "$2.work"
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$2.work" "$1" || fail "overlay on $1"
}

# sshd_start SERVICE [sshd_config lines...]: the lab sshd (sshd_lab_config)
# as $T/SERVICE, a link to sshd, so its PAM service is SERVICE, on a free
# port $PORT, with these lines first (the first value of a keyword wins);
# sshd's log in $T/sshd.log. A running one is stopped first; it is stopped
# at exit too. The caller's environment reaches sshd
# (AUTHGEAR_TEST_LOG=... sshd_start ...).
SSHD_PID=
sshd_start() {
	local svc=$1 l i
	shift
	sshd_stop
	private_run_sshd_once
	[ -e "$T/$svc" ] || ln -s /usr/sbin/sshd "$T/$svc"
	PORT=$(free_port)
	rm -f "$T/hostkey" "$T/hostkey.pub"
	sshd_lab_config "$T" "$PORT"
	{ for l in "$@"; do echo "$l"; done; cat "$T/sshd_config"; } > "$T/sshd_config.run"
	"$T/$svc" -t -f "$T/sshd_config.run" || fail "sshd -t"
	"$T/$svc" -D -f "$T/sshd_config.run" -E "$T/sshd.log" &
	SSHD_PID=$!
	case " $CLEANUP_HOOKS " in *" sshd_stop "*) ;; *) CLEANUP_HOOKS="sshd_stop $CLEANUP_HOOKS" ;; esac
	for i in $(seq 300); do sshd_listening && return 0; sleep 0.1; done
	cat "$T/sshd.log"
	fail "sshd did not start"
}
sshd_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
sshd_stop() {
	[ -z "$SSHD_PID" ] || { kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; }
	SSHD_PID=
	return 0
}
RUN_SSHD_PRIVATE=
private_run_sshd_once() { [ -n "$RUN_SSHD_PRIVATE" ] || { private_run_sshd; RUN_SSHD_PRIVATE=1; }; }

# --- what a fault or an attack must not change --------------------------------
# state_snapshot NAME [STATE_DIR]: $T/snap.NAME: the store's accounts, token
# cache and sessions (users without last_factor, which the matrix tests
# forget before each run; not the throttle's failure rows, which a refused
# attempt adds by design) and every other file under STATE_DIR ($T/state)
# byte for byte (nss.index, the discovery and JWKS caches).
state_snapshot() {
	local st=${2:-$T/state} t
	for t in meta "id, name, sub, uid, bound_at, last_login FROM users" groups memberships roles tokens sessions; do
		case $t in *FROM*) ;; *) t="* FROM $t" ;; esac
		echo "== $t"; sqlite3 -readonly "$st/private/accounts.db" "SELECT $t ORDER BY 1"
	done > "$T/snap.$1"
	(cd "$st" && find . -type f ! -name 'accounts.db*' ! -name '*.lock' -print0 | sort -z | xargs -0 sha256sum) >> "$T/snap.$1"
}
# expect_state_unchanged CASE [STATE_DIR]: the store passes quick_check and
# a snapshot now equals $T/snap.before.
expect_state_unchanged() {
	local st=${2:-$T/state}
	[ "$(sqlite3 -readonly "$st/private/accounts.db" 'PRAGMA quick_check')" = ok ] || fail "$1: store quick_check failed"
	state_snapshot after "$st"
	diff -u "$T/snap.before" "$T/snap.after" || fail "$1: state_dir changed"
}

# lab_auth_line: the auth line of the shipped pam.d/sshd, pam_authgear.so
# with $T/c.conf and debug (fails the test when pam.d/sshd has none).
lab_auth_line() {
	local line
	line=$(grep '^auth .*pam_authgear.so' "$abs_top_srcdir/pam.d/sshd") || fail "pam.d/sshd has no pam_authgear line"
	echo "$line" | sed "s|pam_authgear.so|$MODULE config=$T/c.conf debug|"
}

# sshd_lab_world_pam SERVICE PAMFILE: what an Authgear user's SSH login
# needs, as overlays in this test's private mount namespace (unmounted at
# exit): libnss_authgear.so.2 in the system library directory ($LIBDIR),
# PAMFILE as /etc/pam.d/SERVICE, a private /var/lib (state_dir
# /var/lib/authgear: the NSS module's default) and an nsswitch.conf with
# authgear. Extra /etc files to bind: ETC_BIND (names).
sshd_lab_world_pam() {
	local f
	LIBDIR=$(dirname "$(ldd /bin/sh | awk '/libc\.so\.6/ {print $3}')")
	mkdir -p "$T/ov/lib" "$T/ov/pamd" "$T/ov/varlib" "$T/home"
	cp "$NSS_MODULE" "$T/ov/lib/libnss_authgear.so.2"
	cp "$2" "$T/ov/pamd/$1"
	sed -E 's/^passwd:.*$/passwd:         files authgear/; s/^group:.*$/group:          files [SUCCESS=merge] authgear/' \
		/etc/nsswitch.conf > "$T/nsswitch.conf"
	case " $CLEANUP_HOOKS " in *" lab_unmount "*) ;; *) CLEANUP_HOOKS="$CLEANUP_HOOKS lab_unmount" ;; esac
	lab_overlay "$LIBDIR" "$T/ov/lib"
	lab_overlay /etc/pam.d "$T/ov/pamd"
	lab_overlay /var/lib "$T/ov/varlib"
	for f in nsswitch.conf ${ETC_BIND:-}; do mount --bind "$T/$f" "/etc/$f" || fail "bind /etc/$f"; done
	[ -e "$LIBDIR/libnss_authgear.so.2" ] && [ -e "/etc/pam.d/$1" ] || fail "overlays"
	unset AUTHGEAR_NSS_INDEX
}
lab_unmount() {
	local f
	for f in nsswitch.conf ${ETC_BIND:-}; do umount -l "/etc/$f" 2>/dev/null; done
	umount -l /etc/pam.d /var/lib "${LIBDIR:-}" 2>/dev/null
	return 0
}

# --- a password + TOTP login through the real libpam ---------------------------
# totp_login CASE SERVICE USER [CHOICE]: tests/tools/pam_driver's authenticate
# of USER under pam_wrapper (the services in $T/pamd) answering USER's
# password (password USER), CHOICE when given (the second-factor chooser,
# for a user with recovery codes) and USER's current TOTP code; transcript
# in $T/CASE.out, the module's log in $T/CASE.log. Fails unless it succeeds.
totp_login() {
	local c=$1 svc=$2 user=$3 pw code
	pw=$(password "$user") && code=$(totp "$user") || fail "$c: no password or TOTP code for $user"
	timeout 60 env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/pamd" \
		AUTHGEAR_TEST_LOG="$T/$c.log" "$abs_top_builddir/tests/tools/pam_driver" "$svc" "$user" authenticate \
		"$pw" ${4:+"$4"} "$code" > "$T/$c.out" 2> "$T/$c.err" < /dev/null
	touch "$T/$c.log"
	grep -q '^rc=0 ' "$T/$c.out" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: $user's password + TOTP login failed"; }
}

# small_tmpfs DIR: a 1 MiB tmpfs at DIR (a disk that fills), unmounted at
# exit; for tests in a private mount namespace.
small_tmpfs() {
	SMALL_TMPFS=$1
	mkdir -p "$SMALL_TMPFS"
	mount -t tmpfs -o size=1m,mode=0755 tmpfs "$SMALL_TMPFS" || fail "cannot mount a tmpfs"
	CLEANUP_HOOKS="umount_small $CLEANUP_HOOKS"
}
umount_small() { umount "$SMALL_TMPFS" 2>/dev/null || true; }
