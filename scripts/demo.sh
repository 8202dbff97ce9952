#!/bin/bash
# The pam_authgear demo: set up everything, build, start the bundled test IdP
# with a demo user, and run pam_authgear.so through a real PAM stack
# (pamtester on a private service, via pam_wrapper) so you see exactly the
# prompts an SSH user would. As root on Debian 12.
#
#   scripts/demo.sh [--auto] [--device] [--no-setup] [--builddir DIR] [--keep]
#
#   --auto       answer the prompts by itself (password, then the current TOTP code;
#                with --device: approve, then press Enter)
#   --device     the device-code login: URL, code and QR code, approved by one printed command
#   --no-setup   do not install packages or build (the tree is already built)
#   --builddir   where the build is (default: the source tree)
#   --keep       leave the IdP running and its state directory in place
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
builddir=$src
auto=no setup=yes keep=no device=no

while [ $# -gt 0 ]; do
	case $1 in
	--auto) auto=yes ;;
	--device) device=yes ;;
	--no-setup) setup=no ;;
	--builddir) builddir=$(cd "$2" && pwd); shift ;;
	--keep) keep=yes ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "demo: unknown option $1 (try --help)" >&2; exit 2 ;;
	esac
	shift
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ $setup = yes ]; then
	say "Installing dependencies and building"
	bash "$src/scripts/deps.sh"
	(cd "$src" && { [ -x configure ] || ./autogen.sh >/dev/null; } && { [ -f Makefile ] || ./configure --enable-test-hooks >/dev/null; } && make -j2 >/dev/null)
	bash "$src/tests/idp-install.sh" "$src/tests/idp" "$builddir/tests/idp"
fi
module=$builddir/src/.libs/pam_authgear.so
idp=$builddir/tests/idp
[ -f "$module" ] || { echo "demo: $module not built" >&2; exit 1; }
[ -d "$idp/node_modules" ] || bash "$src/tests/idp-install.sh" "$src/tests/idp" "$idp"

state=$(mktemp -d /tmp/pam_authgear-demo.XXXXXX)
chmod 0755 "$state"
cleanup() {
	if [ $keep = no ]; then
		"$idp/stop.sh" "$state/idp" >/dev/null 2>&1 || true
		rm -rf "$state"
	else
		echo "demo: IdP left running; stop it with: $idp/stop.sh $state/idp"
	fi
}
trap cleanup EXIT

say "Starting the bundled Authgear-compatible test IdP"
"$idp/start.sh" --state "$state/idp" $([ $device = yes ] && echo --device) >/dev/null
. "$state/idp/idp.env"
echo "issuer:   $ISSUER"
echo "CA:       $CA_FILE"

cat > "$state/pam_authgear.conf" <<CONF
# pam_authgear configuration written by the demo
issuer = $ISSUER
client_id = pam_authgear
redirect_uri = http://127.0.0.1/pam_authgear/callback
ca_file = $CA_FILE
state_dir = $state/var
users = demo
CONF
if [ $device = yes ]; then
	# the IdP's device client, and a fixed user code so the approval command can be printed first
	sed -i 's/^client_id = .*/client_id = pam_authgear_device/' "$state/pam_authgear.conf"
	echo "methods = device" >> "$state/pam_authgear.conf"
	curl -fsS -X POST -H 'content-type: application/json' -d '{"interval":2,"user_code":"WDJB-MJHT"}' \
		"$HOOK_URL/device/config" >/dev/null
fi
chmod 0600 "$state/pam_authgear.conf"
mkdir -p "$state/pamd"
cp "$src/tests/pamd/other" "$state/pamd/other"
echo "auth required $module config=$state/pam_authgear.conf" > "$state/pamd/authgear-demo"
echo "PAM service 'authgear-demo':"
sed 's/^/    /' "$state/pamd/authgear-demo"

password=$(node -e 'const u=require(process.argv[1]).users.find(u=>u.username==="demo"); console.log(u.password)' "$idp/fixtures/users.json")
code=$(curl -fsS "$HOOK_URL/totp/demo" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))')
say "Demo user"
echo "user:     demo"
if [ $device = yes ]; then
	approve="curl -fsS -X POST -H 'content-type: application/json' -d '{\"user_code\":\"WDJB-MJHT\",\"username\":\"demo\"}' $HOOK_URL/device/approve"
	echo "method:   device code (RFC 8628): open the URL or scan the QR code, approve, press Enter"
	echo "approve:  the phone's part is one command; run it in another terminal when the code is shown:"
	echo "    $approve"
else
	echo "password: $password"
	echo "TOTP:     $code   (the demo user's authenticator app shows this now; it changes every 30 s:"
	echo "          curl -s $HOOK_URL/totp/demo  prints the current one)"
fi

say "Signing in through PAM (pamtester authgear-demo demo authenticate)"
# The module signs in only names that resolve through NSS (as sshd needs):
# here nss_wrapper gives the demo user a passwd entry, as a host's files, LDAP
# or the accounts feature's NSS module would.
cp /etc/passwd "$state/passwd"; cp /etc/group "$state/group"
echo "demo:x:64199:64199::/nonexistent:/bin/sh" >> "$state/passwd"
echo "demo:x:64199:" >> "$state/group"
run() {
	LD_PRELOAD="libpam_wrapper.so libnss_wrapper.so" NSS_WRAPPER_PASSWD="$state/passwd" NSS_WRAPPER_GROUP="$state/group" \
		PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$state/pamd" \
		AUTHGEAR_TEST_LOG="$state/module.log" timeout 120 pamtester -v authgear-demo demo authenticate
}
set +e
if [ $auto = yes ] && [ $device = yes ]; then
	# the phone's part: approve as soon as the module has asked for a code
	# (the IdP answers 404 until a device code with the pinned user code
	# exists), then press Enter; the module polls until the approval lands
	( for _ in $(seq 600); do
		eval "$approve" >/dev/null 2>&1 && exit 0; sleep 0.2
	  done; echo "demo: the device code was never issued" >&2; exit 1 ) &
	printf '\n' | run 2>&1 | tee "$state/session.out"
	rc=${PIPESTATUS[1]}
	wait
elif [ $auto = yes ]; then
	printf '%s\n%s\n' "$password" "$code" | run 2>&1 | tee "$state/session.out"
	rc=${PIPESTATUS[1]}
else
	run 2>&1 | tee "$state/session.out"
	rc=${PIPESTATUS[0]}
fi
set -e

say "Module log (what syslog would get)"
sed 's/^/    /' "$state/module.log" 2>/dev/null || true
say "Result"
if [ "$rc" -eq 0 ] && grep -q "audit: user=demo .* result=success" "$state/module.log"; then
	if [ $device = yes ]; then how="the device code"; else how="password + TOTP"; fi
	echo "demo: signed in as demo with $how through pam_authgear.so"
	exit 0
fi
echo "demo: sign-in failed (pamtester exit $rc)"
exit 1
