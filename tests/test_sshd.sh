#!/bin/bash
# A real sshd on loopback (keyboard-interactive) with a private PAM service
# stacking pam_authgear before pam_unix: an allow-listed local account logs
# in with password + TOTP from the test IdP, and a pam_unix user with a local
# password still logs in through the same stack. Everything under /etc that
# the test needs is bind-mounted in a private mount namespace.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (sshd, mount namespace)"
for t in /usr/sbin/sshd ssh expect unshare; do command -v "$t" >/dev/null || [ -x "$t" ] || skip "$t not installed"; done

if [ -z "${IN_MOUNT_NS:-}" ]; then
	IN_MOUNT_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
new_tmpdir
idp_start "$T/idp"
write_config "$T/c.conf" "users = alice"
FIXTURE="$IDP_DIR/fixtures/users.json"
hook() { curl -fsS -X "$1" ${3:+-H 'content-type: application/json' -d "$3"} "$HOOK_URL$2"; }
totp() { hook GET "/totp/$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).code))'; }
password() { node -e 'console.log(require(process.argv[1]).users.find(u=>u.username===process.argv[2]).password)' "$FIXTURE" "$1"; }

# Private /etc: passwd/shadow/group with two local users, and a pam.d with our service.
for f in passwd shadow group; do cp "/etc/$f" "$T/$f"; done
hash=$(openssl passwd -6 local-secret-1)
echo "alice:x:64001:64001::/nonexistent:/bin/sh" >> "$T/passwd"
echo "localpw:x:64002:64002::/nonexistent:/bin/sh" >> "$T/passwd"
echo "alice:!:20000:0:99999:7:::" >> "$T/shadow"
echo "localpw:$hash:20000:0:99999:7:::" >> "$T/shadow"
printf 'alice:x:64001:\nlocalpw:x:64002:\n' >> "$T/group"
for f in passwd shadow group; do mount --bind "$T/$f" "/etc/$f"; done
cp -a /etc/pam.d "$T/pam.d"
cat > "$T/pam.d/sshd-ag" <<PAMD
# pam_authgear for Authgear users; PAM_IGNORE for everyone else, who go on to pam_unix.
auth     [success=done ignore=ignore default=die]  $MODULE config=$T/c.conf
auth     required  pam_unix.so
account  required  pam_unix.so
session  required  pam_unix.so
password required  pam_deny.so
PAMD
mount --bind "$T/pam.d" /etc/pam.d
private_run_sshd

ln -s /usr/sbin/sshd "$T/sshd-ag"
PORT=$(free_port)
sshd_lab_config "$T" "$PORT"
"$T/sshd-ag" -t -f "$T/sshd_config" || fail "sshd config"
"$T/sshd-ag" -D -f "$T/sshd_config" -E "$T/sshd.log" &
SSHD_PID=$!
stop_sshd() { kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null; true; }
CLEANUP_HOOKS="$CLEANUP_HOOKS stop_sshd"
for i in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

EXP="$abs_top_srcdir/tests/tools/ssh_login.exp"
WHO='echo LOGGED-IN-AS-$(id -un)'
expect -f "$EXP" "$PORT" alice "$(password alice)" "$(totp alice)" "$WHO" > "$T/alice.out" 2>&1 \
	|| { cat "$T/alice.out" "$T/sshd.log"; fail "alice over ssh"; }
assert_contains "$T/alice.out" "LOGGED-IN-AS-alice" "alice logged in over sshd with password + TOTP"
assert_contains "$T/alice.out" "Verification code:" "sshd showed the code prompt"
assert_contains "$T/sshd.log" "Accepted keyboard-interactive/pam for alice from 127.0.0.1" "sshd accepted alice through PAM"

if expect -f "$EXP" "$PORT" alice "wrong-password" 000000 "$WHO" > "$T/alice-bad.out" 2>&1; then fail "alice with a wrong password"; fi
# OpenSSH shows PAM messages only together with a next prompt: the final
# "Incorrect password or code." never reaches an ssh client (README, Troubleshoot).
assert_contains "$T/alice-bad.out" "Permission denied" "a wrong password is refused"
assert_contains "$T/sshd.log" "Failed keyboard-interactive/pam for alice" "sshd logged the failure"

hook POST /counters/reset >/dev/null
expect -f "$EXP" "$PORT" localpw local-secret-1 - "$WHO" > "$T/local.out" 2>&1 \
	|| { cat "$T/local.out" "$T/sshd.log"; fail "pam_unix user over ssh"; }
assert_contains "$T/local.out" "LOGGED-IN-AS-localpw" "a pam_unix user still logs in through the same stack"
n=$(hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))')
[ "$n" = 0 ] || fail "the pam_unix login made $n requests at the IdP"
pass "the pam_unix login made no request at the IdP"

hook POST /counters/reset >/dev/null
expect -f "$EXP" "$PORT" nosuchuser whatever - "$WHO" > "$T/nosuch.out" 2>&1; rc=$?
# 1 is expect's "Permission denied": sshd answered and refused (not a timeout, 2, or ssh's 255).
[ $rc = 1 ] || { cat "$T/nosuch.out" "$T/sshd.log"; fail "an unknown user: want denied (1), got $rc"; }
if grep -q "Verification code" "$T/nosuch.out"; then fail "an unknown user reached pam_authgear's prompts"; fi
assert_contains "$T/sshd.log" "Failed keyboard-interactive/pam for invalid user nosuchuser from 127.0.0.1" "sshd answered and refused the unknown user"
n=$(hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Object.values(JSON.parse(s)).reduce((a,b)=>a+b,0)))')
[ "$n" = 0 ] || fail "an unknown name made $n requests at the IdP"
pass "an unknown name over ssh: refused without a request at the IdP"
