#!/bin/bash
# The NSS module through the real glibc: libnss_authgear.so.2 in the system
# library directory and "authgear" in nsswitch.conf (passwd: files authgear;
# group: files [SUCCESS=merge] authgear). All of it happens in a private
# mount namespace (an overlay puts the library into the library directory, a
# bind mount gives a private nsswitch.conf), so the host's files never
# change, even while other tests run; the outer half checks that they did
# not. The index comes from the store through `authgear-pam reindex`, found
# through AUTHGEAR_NSS_INDEX.
#
# getent passwd/group/initgroups and id for 1, 100 and 10,000 users; glibc's
# group merge with a host group; ERANGE at every short buffer size; threads
# looking users up while the index is rewritten; an unprivileged process
# resolves users and cannot read the root-only part; a setuid program
# ignores AUTHGEAR_NSS_INDEX and reads the default index; a corrupt index
# answers UNAVAIL and logs.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (mount namespace, overlays)"
command -v getent >/dev/null && command -v setpriv >/dev/null && command -v unshare >/dev/null \
	|| skip "getent, setpriv or unshare missing"
! pgrep -x nscd >/dev/null || skip "nscd is running: it would cache the answers"
LIBDIR=$(dirname "$(ldd /bin/sh | awk '/libc\.so\.6/ {print $3}')")
[ -d "$LIBDIR" ] || skip "cannot find the system library directory"
if [ -z "${AG_IN_MOUNT_NS:-}" ]; then
	unshare --mount --propagation private true 2>/dev/null || skip "cannot create a mount namespace"
	host_state() { md5sum /etc/nsswitch.conf; ls -l "$LIBDIR/libnss_authgear.so.2" 2>&1; ls -ld /var/lib/authgear 2>&1; }
	before=$(host_state)
	unshare --mount --propagation private env AG_IN_MOUNT_NS=1 bash "$0" "$@"; rc=$?
	[ "$(host_state)" = "$before" ] || { echo "before: $before"; echo "after: $(host_state)"; fail "the host's nsswitch.conf, library directory or /var/lib/authgear changed"; }
	exit $rc
fi
new_tmpdir
LOOKUP="$abs_top_builddir/tests/tools/nss_lookup"
S="$T/state"

# --- the private world: library, nsswitch.conf, and /var/lib for the default index ---------
overlay() { # overlay DIR UPPER: DIR shows UPPER's files over its own
	mkdir -p "$2" "$2.work"
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$2.work" "$1" || fail "overlay on $1"
}
mkdir -p "$T/ov/lib"
install -m 0644 -o root -g root "$NSS_MODULE" "$T/ov/lib/libnss_authgear.so.2"
overlay "$LIBDIR" "$T/ov/lib"
overlay /var/lib "$T/ov/varlib"
sed -E 's/^passwd:.*$/passwd:         files authgear/; s/^group:.*$/group:          files [SUCCESS=merge] authgear/' \
	/etc/nsswitch.conf > "$T/nsswitch.conf"
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
cmp -s "$T/ov/lib/libnss_authgear.so.2" "$LIBDIR/libnss_authgear.so.2" || fail "the overlay does not show our module"
grep -E '^(passwd|group):' /etc/nsswitch.conf
export AUTHGEAR_NSS_INDEX="$S/nss.index" AUTHGEAR_TEST_LOG="$T/nss.log"

# A store as N logins leave it: users agtNNNNN (UID 300000 + N), each in the
# role group agt-team; the first three also in the host group "users".
USERS_GID=$(getent group users | cut -d: -f3)
[ -n "$USERS_GID" ] || skip "no host group 'users'"
make_store() {
	n=$1 shell=$2
	write_config "$T/c.conf" "users = agt*" "shell = $shell" "[roles]" "member = agt-team" "$3"
	# a users.json of the JSON store, imported by the first command (once)
	rm -rf "$S/private"; mkdir -p "$S/private"; chmod 0755 "$S"; chmod 0700 "$S/private"
	node -e '
const [n, usersGid] = [Number(process.argv[1]), Number(process.argv[2])];
const j = { users: {}, groups: { "agt-team": { gid: 310000000, local: false }, users: { gid: usersGid, local: true } } };
for (let i = 0; i < n; i++) {
  const name = "agt" + String(i).padStart(5, "0");
  j.users[name] = { sub: "sub-" + i, bound_at: 1700000000, last_login: 1700000000, uid: 300000 + i,
                    groups: i < 3 ? ["agt-team", "users"] : ["agt-team"], roles: ["member"] };
}
process.stdout.write(JSON.stringify(j));' "$n" "$USERS_GID" > "$S/private/users.json"
	chmod 0600 "$S/private/users.json"
	"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex of $n users"
}

for n in 1 100 10000; do
	make_store $n /bin/bash "grantee = users"
	last=$(printf 'agt%05d' $((n - 1)))
	lastuid=$((300000 + n - 1))
	[ "$(getent passwd | grep -c '^agt')" = "$n" ] || fail "$n users: getent passwd lists $(getent passwd | grep -c '^agt')"
	getent passwd "$last" > "$T/pw"
	[ "$(cat "$T/pw")" = "$last:*:$lastuid:$lastuid::/home/$last:/bin/bash" ] || { cat "$T/pw"; fail "$n users: getent passwd $last"; }
	[ "$(getent passwd $lastuid | cut -d: -f1)" = "$last" ] || fail "$n users: getent passwd by UID"
	[ "$(getent group agt-team | cut -d: -f4 | tr , '\n' | wc -l)" = "$n" ] || fail "$n users: agt-team members"
	[ "$(getent group "$last")" = "$last:*:$lastuid:" ] || fail "$n users: user-private group"
	[ "$(getent group $lastuid | cut -d: -f1)" = "$last" ] || fail "$n users: group by GID"
	getent initgroups "$last" > "$T/ig"
	grep -qw 310000000 "$T/ig" || { cat "$T/ig"; fail "$n users: initgroups lacks agt-team"; }
	if [ $n -gt 3 ]; then
		id "$last" > "$T/id"
		[ "$(cat "$T/id")" = "uid=$lastuid($last) gid=$lastuid($last) groups=$lastuid($last),310000000(agt-team)" ] \
			|| { cat "$T/id"; fail "$n users: id $last"; }
	fi
	id agt00000 > "$T/id0"
	assert_contains "$T/id0" "uid=300000(agt00000) gid=300000(agt00000) groups=300000(agt00000),310000000(agt-team),$USERS_GID(users)" \
		"$n users: id with a role group and a host group"
	pass "$n users: getent passwd/group/initgroups and id"
done

# --- glibc's merge: the host group shows our members --------------------------------------
getent group users > "$T/users"
grep -qE "^users:x:$USERS_GID:(.*,)?agt00000,agt00001,agt00002$" "$T/users" || { cat "$T/users"; fail "group merge"; }
getent group "$USERS_GID" | grep -q "agt00001" || fail "group merge by GID"
if getent group | grep -c '^users:' | grep -qv '^1$'; then fail "getgrent lists the host group twice"; fi
pass "group: files [SUCCESS=merge] authgear adds our members to the host group 'users' (by name and GID)"

# --- ERANGE at every short buffer size, through glibc --------------------------------------
make_store 100 /bin/bash "grantee = users"
"$LOOKUP" erange agt00042 agt-team > "$T/erange" 2>&1 || { cat "$T/erange"; fail "ERANGE"; }
cat "$T/erange"
pass "every buffer shorter than the entry gives ERANGE, the right size the exact entry"

# --- threads while the index is rewritten -------------------------------------------------
# Two configurations: shell /bin/sh or /bin/bash, and the host group "users"
# granted or not. Readers must see one or the other, whole, never garbage.
make_store 1000 /bin/sh "grantee = users"
cp "$T/c.conf" "$T/a.conf"
write_config "$T/b.conf" "users = agt*" "shell = /bin/bash" "[roles]" "member = agt-team"
# The writer rewrites for as long as the readers read (15 s): on a loaded
# 2-core machine a fixed 6 s window gave only 4-8 rewrites.
rm -f "$T/readers-done"
( n=0
  while [ ! -e "$T/readers-done" ]; do
	"$CLI" reindex --config "$T/a.conf" > /dev/null && "$CLI" reindex --config "$T/b.conf" > /dev/null || exit 1
	n=$((n + 2))
  done; echo "$n" > "$T/rewrites" ) &
WRITER=$!
"$LOOKUP" threads 4 15 users agt00000 agt00001 agt00002 agt00500 agt00999 > "$T/threads" 2>&1; rc=$?
touch "$T/readers-done"
wait $WRITER || fail "the writer failed"
cat "$T/threads"; echo "rewrites: $(cat "$T/rewrites")"
[ $rc = 0 ] || fail "a lookup saw garbage or nothing while the index was rewritten"
grep -Eq 'shell_sh=[1-9][0-9]* shell_bash=[1-9]' "$T/threads" || fail "readers did not see both versions"
grep -Eq 'in_team=[1-9][0-9]* not_in_team=[1-9]' "$T/threads" || fail "readers did not see both group lists"
[ "$(cat "$T/rewrites")" -ge 10 ] || fail "too few rewrites to prove anything"
pass "4 threads during $(cat "$T/rewrites") rewrites: old or new, never garbage, never missing"

# --- an unprivileged process -------------------------------------------------------------
make_store 10 /bin/bash "grantee = users"
mkdir -p "$T/owned"; touch "$T/owned/file"; chown 300004:310000000 "$T/owned/file"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
$NOBODY getent passwd agt00004 > "$T/np" || fail "nobody cannot resolve a user"
assert_contains "$T/np" "agt00004:*:300004:" "an unprivileged process resolves users"
$NOBODY ls -l "$T/owned/file" > "$T/ls"
assert_contains "$T/ls" "agt00004 agt-team" "ls as nobody shows the user and group names"
$NOBODY id agt00001 > "$T/nid"
assert_contains "$T/nid" "$USERS_GID(users)" "id as nobody: initgroups works unprivileged"
if $NOBODY cat "$S/private/accounts.db" > /dev/null 2>&1; then fail "nobody can read the root-only part"; fi
if $NOBODY ls "$S/private" > /dev/null 2>&1; then fail "nobody can list the root-only part"; fi
pass "nobody cannot read or list the root-only part"

# --- secure_getenv: a setuid program ignores AUTHGEAR_NSS_INDEX -----------------------------
# The default index (/var/lib/authgear, private here) says shell /bin/sh,
# the one in the environment /bin/bash: each program must show its own.
make_store 10 /bin/sh "grantee = users"
install -d -m 0755 /var/lib/authgear
install -m 0644 "$S/nss.index" /var/lib/authgear/nss.index
make_store 10 /bin/bash "grantee = users"
cp "$(command -v getent)" "$T/getent-suid"; chmod 4755 "$T/getent-suid"
$NOBODY "$T/getent-suid" passwd agt00004 > "$T/suid" 2>&1 || { cat "$T/suid"; fail "the setuid program did not resolve from the default index"; }
[ "$(cat "$T/suid")" = "agt00004:*:300004:300004::/home/agt00004:/bin/sh" ] || { cat "$T/suid"; fail "a setuid program honoured AUTHGEAR_NSS_INDEX"; }
$NOBODY "$(command -v getent)" passwd agt00004 > "$T/nosuid" || fail "the same program without setuid resolves"
[ "$(cat "$T/nosuid")" = "agt00004:*:300004:300004::/home/agt00004:/bin/bash" ] || { cat "$T/nosuid"; fail "without setuid: want the environment's index"; }
rm -rf /var/lib/authgear
pass "a setuid program reads the default index, not the path from the environment"

# --- a corrupt index: UNAVAIL and a log line, the host's users unaffected ------------------
cp "$S/nss.index" "$T/good"
head -c 500 "$T/good" > "$T/bad"; install -m 0644 "$T/bad" "$S/nss.index"
: > "$T/nss.log"
set +e
getent passwd agt00001 > /dev/null; rc=$?
set -e
[ $rc = 2 ] || fail "truncated index: getent rc $rc"
assert_contains "$T/nss.log" "truncated: size differs from its header; answering UNAVAIL" "corrupt index logged"
getent passwd root > /dev/null || fail "root must still resolve"
id root > /dev/null || fail "id root with a corrupt index"
pass "a truncated index: UNAVAIL with a log line, files users unaffected"
