#!/bin/bash
# The device login where people meet it:
#  1. a real sshd on loopback (keyboard-interactive, private PAM service): the
#     client receives URL, code and QR code with the "Press Enter" prompt, the
#     test approves through the IdP's hook, answers, and is logged in;
#  2. a console in a tmux pty (pamtester, libpam_misc's conversation like
#     login's): the captured screen is compared with a committed fixture,
#     with the user code and URL pinned at the IdP.
# sshd runs in a private mount namespace where /etc/passwd has the test user
# and /etc/pam.d the private service: nothing changes outside it.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (sshd, mount namespace)"
for t in sshd ssh expect tmux unshare zbarimg; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || skip "$t not installed"
done
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
[ -n "${PAMTESTER:-}" ] || PAMTESTER=$(command -v pamtester || true)
[ -n "$PAMTESTER" ] || skip "pamtester not installed"
unshare --mount --propagation private true 2>/dev/null || skip "cannot create a mount namespace here"
new_tmpdir
TOOLS="$abs_top_srcdir/tests/tools"
FIXTURE_SCREEN="$abs_top_srcdir/tests/fixtures/device-console.screen"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
decode() { # decode QRFILE: the QR code's text
	node "$TOOLS/qr_to_pgm.mjs" "$1.pgm" < "$1" > /dev/null || fail "$1 is not a well-formed half-block drawing"
	zbarimg --raw -q "$1.pgm" 2>/dev/null
}

idp_start "$T/idp" --device
hook POST /counters/reset >/dev/null
hook POST /device/config '{"interval":1,"user_code":"WDJB-MJHT","verification_uri":"https://example.com/device"}' >/dev/null
write_config "$T/ssh.conf" "users = alice" "methods = device" "timeout = 5"
sed -i "s/^client_id = .*/client_id = pam_authgear_device/" "$T/ssh.conf"
URL_COMPLETE="https://example.com/device?user_code=WDJB-MJHT"

# --- 1. sshd --------------------------------------------------------------------------
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
PORT=$(free_port)
mkdir -p "$T/ssh/etc" "$T/home/alice" "$T/client/.ssh"
chown 4301:4301 "$T/home/alice"
cp /etc/passwd /etc/group "$T/ssh/etc/"
echo "alice:x:4301:4301:Alice (test):$T/home/alice:/bin/sh" >> "$T/ssh/etc/passwd"
echo "alice:x:4301:" >> "$T/ssh/etc/group"
cp -a /etc/pam.d "$T/ssh/pam.d"
cat > "$T/ssh/pam.d/sshd-lab" <<EOF
auth     required  $MODULE config=$T/ssh.conf
auth     optional  pam_permit.so
account  required  pam_permit.so
session  required  pam_permit.so
password required  pam_deny.so
EOF
ln -s "$SSHD" "$T/ssh/sshd-lab"   # sshd takes its PAM service name from argv[0]
sshd_lab_config "$T/ssh" "$PORT" none
# Inside the namespace: /run and /var/log are private tmpfs (privsep dir,
# utmp/wtmp/btmp), passwd/group and pam.d are the copies above.
unshare --mount --propagation private sh -c '
	set -e
	mount -t tmpfs tmpfs /run && install -d -m 0755 /run/sshd
	mount -t tmpfs tmpfs /var/log
	mount --bind "$0/etc/passwd" /etc/passwd
	mount --bind "$0/etc/group" /etc/group
	mount --bind "$0/pam.d" /etc/pam.d
	"$0/sshd-lab" -t -f "$0/sshd_config"
	exec "$0/sshd-lab" -D -f "$0/sshd_config" -E "$0/sshd.log"' "$T/ssh" > "$T/sshd.out" 2>&1 &
SSHD_PID=$!
stop_sshd() { kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS stop_sshd"
listening() { (: > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
for _ in $(seq 100); do listening && break; sleep 0.1; done
listening || { cat "$T/sshd.out" "$T/ssh/sshd.log" 2>/dev/null; fail "sshd did not start"; }
[ "$(stat -c %i /etc/passwd)" = "$(stat -c %i "$T/ssh/etc/passwd")" ] && fail "the namespace leaked"
grep -q '^alice:' /etc/passwd && fail "alice appeared in the real /etc/passwd"
pass "sshd-lab listening on 127.0.0.1:$PORT in a private mount namespace"

cat > "$T/login.exp" <<'EOF'
# login.exp PORT HOOK_URL TRANSCRIPT: 0 logged in, 1 denied, 2 timeout
set port [lindex $argv 0]; set hookurl [lindex $argv 1]; set timeout 30
log_user 0
spawn ssh -p $port -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
	-o PubkeyAuthentication=no -o PreferredAuthentications=keyboard-interactive -o NumberOfPasswordPrompts=1 \
	alice@127.0.0.1 {echo LOGGED-IN as $(id -un)}
expect {
	"Press Enter once you have approved the sign-in (or type 'new' for a new code): " {
		# everything the client showed up to the prompt, for the checks
		set f [open [lindex $argv 2] w]; fconfigure $f -encoding utf-8
		puts -nonewline $f $expect_out(buffer); close $f
	}
	"Permission denied" { puts "DENIED before the prompt"; exit 1 }
	timeout { puts "timeout waiting for the prompt"; exit 2 }
}
# the person approves on the phone
exec curl -fsS -X POST -H content-type:application/json -d {{"user_code":"WDJB-MJHT","username":"alice"}} $hookurl/device/approve
send "\r"
expect {
	-re {LOGGED-IN as (\S+)} { puts "OK login=$expect_out(1,string)"; expect eof; exit 0 }
	"Permission denied" { puts "DENIED"; exit 1 }
	timeout { puts "timeout after Enter"; exit 2 }
}
EOF
HOME="$T/client" LANG=C.UTF-8 LC_ALL=C.UTF-8 timeout 60 expect -f "$T/login.exp" "$PORT" "$HOOK_URL" "$T/ssh.transcript" \
	> "$T/expect.out" 2>&1
rc=$?
[ $rc = 0 ] || { cat "$T/expect.out" "$T/ssh.transcript" "$T/ssh/sshd.log" "$T/ssh-module.log" 2>/dev/null; fail "ssh login: expect exit $rc"; }
assert_contains "$T/expect.out" "OK login=alice" "ssh: logged in as alice after approving"
mkdir -p "$T/ssh.d"
node "$TOOLS/qr_transcript.mjs" --plain "$T/ssh.d" < "$T/ssh.transcript" > "$T/ssh.txt"
assert_contains "$T/ssh.txt" "(alice@127.0.0.1) To sign in to $(hostname) as alice, open https://example.com/device" "ssh: the URL arrived with the prompt"
assert_contains "$T/ssh.txt" "    W D J B - M J H T" "ssh: the user code arrived"
[ -f "$T/ssh.d/qr.1" ] || { cat "$T/ssh.transcript"; fail "ssh: no QR code in what the client received"; }
# the text, the QR code and the prompt came in this order, in one prompt round
node -e '
const t=require("fs").readFileSync(process.argv[1],"utf8").split("\n");
const i=(s)=>t.findIndex(l=>l.includes(s));
const a=i("To sign in to "), b=i("<QR 1:"), c=i("Press Enter once you have approved");
if (!(a>=0&&a<b&&b<c)) process.exit(1);' "$T/ssh.txt" || { cat "$T/ssh.txt"; fail "ssh: order of URL, QR, prompt"; }
[ "$(decode "$T/ssh.d/qr.1")" = "$URL_COMPLETE" ] || fail "ssh: the QR code received does not decode to $URL_COMPLETE"
pass "ssh: URL, code and a QR code that decodes to verification_uri_complete, then the Press Enter prompt"
assert_contains "$T/ssh/sshd.log" "Accepted keyboard-interactive/pam for alice" "sshd accepted keyboard-interactive/pam"
hook GET "/requests?path=/oauth2/token" > "$T/ssh-polls.json"
node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
	process.exit(r.length>=1 && r.every(x=>x.grant_type==="urn:ietf:params:oauth:grant-type:device_code") && r[r.length-1].status===200 ? 0 : 1)' \
	"$T/ssh-polls.json" || { cat "$T/ssh-polls.json"; fail "ssh: the IdP did not see device-code polls ending in tokens"; }
pass "ssh: the IdP saw device-code polls, the last one answered with tokens"
stop_sshd

# --- 2. a console in tmux --------------------------------------------------------------
pam_service console "auth required $MODULE config=$T/ssh.conf"
SOCK="$T/tmux.sock"
tmux_stop() { tmux -S "$SOCK" kill-server 2>/dev/null; true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS tmux_stop"
# (the host name is HOST in the fixture, so it holds on any machine)
screen() { tmux -S "$SOCK" capture-pane -p -N -t console | sed -e 's/[[:space:]]*$//' -e "s/^To sign in to $(hostname) as /To sign in to HOST as /" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }
tmux -S "$SOCK" -f /dev/null new-session -d -s console -x 100 -y 50 \
	"env LANG=C.UTF-8 LD_PRELOAD='$PAM_PRELOAD' NSS_WRAPPER_PASSWD=$NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP=$NSS_WRAPPER_GROUP PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$T/pamd \
	 AUTHGEAR_TEST_LOG=$T/console-module.log $PAMTESTER console alice authenticate; echo \"[exit \$?]\"; sleep 60"
for _ in $(seq 200); do screen | grep -q "Press Enter once" && break; sleep 0.1; done
screen | grep -q "Press Enter once" || { screen; fail "console: no prompt"; }
hook POST /device/approve '{"user_code":"WDJB-MJHT","username":"alice"}' >/dev/null
tmux -S "$SOCK" send-keys -t console Enter
for _ in $(seq 200); do screen | grep -q '^\[exit ' && break; sleep 0.1; done
screen > "$T/console.screen"
tmux_stop
if [ -n "${UPDATE_FIXTURES:-}" ]; then cp "$T/console.screen" "$FIXTURE_SCREEN"; fi
diff -u "$FIXTURE_SCREEN" "$T/console.screen" > "$T/console.diff" \
	|| { cat "$T/console.diff"; fail "console: the screen differs from tests/fixtures/device-console.screen"; }
pass "console: the screen is exactly tests/fixtures/device-console.screen"
assert_contains "$T/console.screen" "pamtester: successfully authenticated" "console: signed in"
