#!/bin/bash
# The fault matrix's host rows (tests/faults/README.md) through the real
# libpam: a configuration that is unreadable, owned by another user or has a
# syntax error; a read-only state_dir (a read-only bind mount in a private
# mount namespace); a corrupted store database. Each denies the Authgear
# user with one line and the reason in the log, and a local pam_unix user
# still signs in through the same stack.
. "$abs_top_srcdir/tests/lib.sh"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
[ "$(id -u)" = 0 ] || skip "needs root (private mount namespaces)"
new_tmpdir
DRIVER="$abs_top_builddir/tests/tools/pam_driver"
FIXTURE="$IDP_DIR/fixtures/users.json"

# faultlocal: passwd through nss_wrapper, shadow bound over /etc/shadow in
# the run's private mount namespace (pam_unix reads the file itself).
echo "faultlocal:x:64990:64990::/nonexistent:/bin/sh" >> "$NSS_WRAPPER_PASSWD"
echo "faultlocal:x:64990:" >> "$NSS_WRAPPER_GROUP"
echo "faultlocal:$(openssl passwd -6 local-secret-1):19000:0:99999:7:::" > "$T/shadow"
chmod 0600 "$T/shadow"

idp_start "$T/idp"
hook() { curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} "$HOOK_URL$2"; }
jget() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v=JSON.parse(s);for(const k of process.argv.slice(1))v=v?.[k];console.log(v??"")})' "$@"; }
PW=$(node -e 'console.log(require(process.argv[1]).users.find(u=>u.username==="alice").password)' "$FIXTURE")

# run CASE CONF USER [RO_DIR] ANSWERS...: the stack of pam.d/sshd's line,
# then pam_unix; with RO_DIR, that directory is read-only inside the run.
run() {
	local c=$1 conf=$2 user=$3 ro=$4; shift 4
	pam_service "svc-$c" "auth [success=done ignore=ignore default=die] $MODULE config=$conf" \
		"auth required pam_unix.so" "account required pam_permit.so"
	timeout 120 unshare --mount --propagation private sh -c '
		mount --bind "$0" /etc/shadow || exit 97
		if [ -n "$1" ]; then mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 97; fi
		shift; exec "$@"' "$T/shadow" "$ro" env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$T/pamd" AUTHGEAR_TEST_LOG="$T/$c.log" \
		"$DRIVER" "svc-$c" "$user" authenticate "$@" > "$T/$c.out" 2>"$T/$c.err"
	[ $? -ne 97 ] || fail "$c: mounts failed"
	touch "$T/$c.log"
}
# row CASE CONF LINE REASON [RO_DIR] [ANSWERS...]: alice denied with exactly
# LINE, REASON logged; faultlocal signs in.
row() {
	local c=$1 conf=$2 line=$3 reason=$4 ro=${5:-}; shift 5 || shift $#
	run "$c" "$conf" alice "$ro" "$@"
	grep -q '^rc=0 ' "$T/$c.out" && { cat "$T/$c.out"; fail "$c: alice signed in"; }
	[ "$(grep -c '^error: ' "$T/$c.out")" = 1 ] || { cat "$T/$c.out" "$T/$c.log"; fail "$c: want exactly one error line"; }
	grep -qxF "error: $line" "$T/$c.out" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: want the line '$line'"; }
	grep -qF -- "$reason" "$T/$c.log" || { cat "$T/$c.out" "$T/$c.log"; fail "$c: log lacks '$reason'"; }
	run "$c-local" "$conf" faultlocal "$ro" local-secret-1
	grep -q '^rc=0 ' "$T/$c-local.out" || { cat "$T/$c-local.out" "$T/$c-local.log"; fail "$c: the local user did not sign in"; }
	pass "$c: alice denied ($(sed -n 's/^rc=//p' "$T/$c.out")), '$reason' logged; the local user signs in"
}
IOLINE="Sign-in failed: a local file could not be read or written."
BROKEN="Sign-in is unavailable: this host's Authgear configuration is broken."

totp() { hook GET "/totp/$1" | jget code; }
write_config "$T/c.conf" "users = alice" "timeout = 10" "max_attempts_per_minute = 1000"
# alice bound by a first login: the NSS index names her, so a broken
# configuration refuses her instead of passing her to pam_unix.
run bind "$T/c.conf" alice "" "$PW" 1 "$(totp alice)"
grep -q '^rc=0 ' "$T/bind.out" || { cat "$T/bind.out" "$T/bind.log"; fail "a first login to bind alice"; }
AUTHGEAR_NSS_INDEX="$T/state/nss.index"
export AUTHGEAR_NSS_INDEX

# --- configuration faults ---------------------------------------------------------
mkdir "$T/conf-dir"
row config-unreadable "$T/conf-dir" "$BROKEN" "$T/conf-dir: not a regular file" ""
write_config "$T/owner.conf" "users = alice"
chown 65534 "$T/owner.conf"
row config-wrong-owner "$T/owner.conf" "$BROKEN" "owner" ""
write_config "$T/syntax.conf" "users = alice" "this line has no equals sign"
row config-syntax "$T/syntax.conf" "$BROKEN" "$T/syntax.conf:7:" ""
write_config "$T/unknown.conf" "users = alice" "require_role = admin"
row config-unknown-key "$T/unknown.conf" "$BROKEN" "$T/unknown.conf:7: unknown key 'require_role'" ""

# --- state_dir read-only: alice's first login there cannot bind her -----------------
sed "s|^state_dir = .*|state_dir = $T/state2|" "$T/c.conf" > "$T/ro.conf"; chmod 0600 "$T/ro.conf"
mkdir -p "$T/state2"
row state-readonly "$T/ro.conf" "$IOLINE" "Read-only file system" "$T/state2" "$PW" 1 "$(totp alice)"
[ -z "$(ls -A "$T/state2")" ] || fail "state-readonly: something was written under a read-only state_dir"
pass "state-readonly: nothing was written under state_dir"

# --- a corrupted store: a bound alice, then garbage over the database's pages -------
DB="$T/state/private/accounts.db"
sqlite3 "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
size=$(stat -c %s "$DB")
head -c $((size - 100)) /dev/urandom | dd of="$DB" bs=1 seek=100 conv=notrunc status=none
cp "$DB" "$T/corrupt.copy"
row store-corrupt "$T/c.conf" "$IOLINE" "the database is corrupt (database disk image is malformed); Authgear logins are refused until it is restored" "" "$PW" 1 "$(totp alice)"
cmp -s "$DB" "$T/corrupt.copy" || fail "store-corrupt: the damaged database was rewritten"
pass "store-corrupt: the damaged database was left as it was (for the admin to restore)"
