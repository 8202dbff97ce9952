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
