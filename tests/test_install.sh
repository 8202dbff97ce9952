#!/bin/sh
# What a new install cannot get wrong: the auth line that pam.d/sshd,
# pam.d/login and README document keeps local users working when libpam
# cannot load pam_authgear.so at all (wrong install directory, a removed
# package). A real pam_unix user with a real shadow entry, in a private
# mount namespace; the stack is the documented line with a module path that
# does not exist, in front of Debian's own common-auth.
. "$abs_top_srcdir/tests/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (a private mount namespace with its own /etc/shadow)"
ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1 || skip "pam_wrapper not installed"
[ -f /etc/pam.d/common-auth ] || skip "no Debian common-auth"
command -v unshare >/dev/null || skip "unshare missing"
command -v openssl >/dev/null || skip "openssl missing"
new_tmpdir

MISSING=/nonexistent/security/pam_authgear.so

# The auth line as documented, with the missing module's path.
doc_line() {
	grep -E "^auth[[:space:]].*pam_authgear\.so" "$1" | head -n 1 | sed "s|pam_authgear\.so|$MISSING|"
}
readme_line() {
	grep -E "^auth[[:space:]].*[[:space:]]pam_authgear\.so" "$abs_top_srcdir/README.md" | head -n 1 |
		sed "s|pam_authgear\.so|$MISSING|"
}

# A private passwd/shadow with one local user, bound over /etc inside the
# namespace only.
HASH=$(openssl passwd -6 -salt s4ltS4lt 'local-pass-1')
cp /etc/passwd "$T/passwd"
cp /etc/shadow "$T/shadow"
cp /etc/group "$T/group"
echo "lena:x:4711:4711:Local Lena:/nonexistent:/bin/sh" >> "$T/passwd"
echo "lena:$HASH:20000:0:99999:7:::" >> "$T/shadow"
echo "lena:x:4711:" >> "$T/group"
chmod 0640 "$T/shadow"

# run_stack NAME FILE USER PASSWORD: authenticate USER through the auth part
# of a documented stack (its pam_authgear line and what follows it).
run_stack() {
	name=$1 file=$2 user=$3 pw=$4
	mkdir -p "$T/pamd"
	cp "$abs_top_srcdir/tests/pamd/other" "$T/pamd/other"
	cp /etc/pam.d/common-auth "$T/pamd/common-auth"
	if [ "$file" = README ]; then
		{ readme_line; echo "@include common-auth"; } > "$T/pamd/$name"
	else
		{ doc_line "$file"; sed -n '/pam_authgear\.so/,$p' "$file" | grep -E '^(auth[[:space:]]|@include common-auth)' |
			grep -v pam_authgear; } > "$T/pamd/$name"
	fi
	grep -q "$MISSING" "$T/pamd/$name" || fail "$name: no pam_authgear auth line found"
	echo "account required pam_permit.so" >> "$T/pamd/$name"
	set +e
	printf '%s\n' "$pw" | timeout 60 unshare --mount --propagation private sh -c '
		mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/shadow" /etc/shadow &&
		mount --bind "$1/group" /etc/group || exit 97
		shift
		exec env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$1/pamd" \
			pamtester -v "$2" "$3" authenticate' sh "$T" "$T" "$name" "$user" > "$T/out.$name.$user" 2>&1
	rc=$?
	set -e
	[ $rc -ne 97 ] || fail "bind mounts failed"
	return $rc
}

for stack in "$abs_top_srcdir/pam.d/sshd" "$abs_top_srcdir/pam.d/login" README; do
	name=$(basename "$stack" | tr 'A-Z' 'a-z')
	if run_stack "$name" "$stack" lena local-pass-1; then :; else
		echo "--- stack:"; cat "$T/pamd/$name"; cat "$T/out.$name.lena"
		fail "$name: the local user is refused when pam_authgear.so cannot be loaded"
	fi
	assert_contains "$T/out.$name.lena" "successfully authenticated" "$name: a pam_unix user signs in with the module missing"
	if run_stack "$name" "$stack" lena wrong-pass; then
		fail "$name: a wrong local password was accepted with the module missing"
	fi
	assert_contains "$T/out.$name.lena" "Authentication failure" "$name: a wrong local password is still refused"
	if run_stack "$name" "$stack" nosuchuser local-pass-1; then
		fail "$name: an unknown user was accepted with the module missing"
	fi
	pass "$name: an unknown user is still refused"
done
