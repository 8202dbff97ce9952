#!/bin/sh
# authgear-pam check catches what admins get wrong: '#' and quotes in list
# values; against the test IdP a wrong client_id, a redirect URI the client
# does not allow and a client with a Custom UI URI, each with the server's
# own error; and on the host (a private mount namespace with its own
# nsswitch.conf, /etc/pam.d and sshd_config) nsswitch.conf without authgear,
# an NSS index older than the configuration, a pam.d line whose module libpam
# cannot find, and sshd settings that break the login.
. "$abs_top_srcdir/tests/lib.sh"
new_tmpdir

# check_rc FILE CONFIG [env...]: run check; its exit status in $rc.
run_check() {
	out=$1 conf=$2; shift 2
	set +e
	env "$@" "$CLI" check --config "$conf" > "$out" 2>&1; rc=$?
	set -e
}

# --- '#' and quotes in list values: config errors with file:line -------------
n=0
for line in "users = dana   # our first user" 'users = "dana"' "users = 'dana'" "require_roles = unix-admin # ops" \
	'scopes = "openid offline_access"' "allowed_algs = RS256 # only" "methods = password # for now"; do
	n=$((n + 1))
	write_config "$T/list$n.conf" "$line"
	run_check "$T/list$n.out" "$T/list$n.conf"
	[ $rc -eq 1 ] || { cat "$T/list$n.out"; fail "check passed with '$line'"; }
	key=${line%% *}
	assert_contains "$T/list$n.out" "FAIL  config     $T/list$n.conf:6: $key: '#' or a quote in a list" "'$line' is a config error at file:line"
done
write_config "$T/roles.conf" "[roles]" "unix-admin = sudo  # admins"
run_check "$T/roles.out" "$T/roles.conf"
assert_contains "$T/roles.out" "$T/roles.conf:7: [roles] unix-admin: '#' or a quote in a list" "[roles] value with a '#' is a config error"

# --- users entries that can never be a Unix name: config errors with file:line --
# (A newline or another control character in a value is an error already.)
long=$(printf '%0300d' 0 | tr 0 a)
n=0
for entry in "a/b" "-oProxyCommand=sh" "Alice" "al@ce" ".hidden" "$long" "1*" "dev-*/x" "\\*"; do
	n=$((n + 1))
	write_config "$T/users$n.conf" "users = carol, $entry, dana"
	run_check "$T/users$n.out" "$T/users$n.conf"
	[ $rc -eq 1 ] || { cat "$T/users$n.out"; fail "check passed with users entry '$entry'"; }
	shown=$(printf '%.64s' "$entry")
	grep -qF "FAIL  config     $T/users$n.conf:6: users: '$shown" "$T/users$n.out" &&
		grep -qF "can never be a Unix user name" "$T/users$n.out" ||
		{ cat "$T/users$n.out"; fail "users entry '$shown': not a config error at file:line"; }
done
pass "$n users entries that can never be a Unix name (/, leading - or ., upper case, @, 300 bytes, a pattern of such) are config errors at file:line"
write_config "$T/patterns.conf" "users = alice, dev-*, b?b, [c]arol, [!x]*, _svc.a-1, *"
run_check "$T/patterns.out" "$T/patterns.conf"
assert_contains "$T/patterns.out" "ok    config" "names and patterns of names (* ? [ ] !) stay valid users entries"
# Under PAM: the listed carol is refused with the config error (not passed on
# to a local password), root passes on to the next module.
if [ -n "${PAMTESTER:-$(command -v pamtester)}" ] && ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1; then
	write_config "$T/users-good.conf" "users = carol"
	"$CLI" reindex --config "$T/users-good.conf" > "$T/reindex.out" 2>&1 || { cat "$T/reindex.out"; fail "reindex"; }
	write_config "$T/users-bad.conf" "users = carol, ../root"
	pam_service ag-users "auth [success=done ignore=ignore default=die] $MODULE config=$T/users-bad.conf" \
		"auth required pam_permit.so"
	: > "$T/module.log"
	set +e
	printf 'carol-password-1\n' | AUTHGEAR_NSS_INDEX="$T/state/nss.index" run_pamtester ag-users carol authenticate; carol_rc=$?
	cp "$T/out" "$T/users-carol.out"
	AUTHGEAR_NSS_INDEX="$T/state/nss.index" run_pamtester ag-users root authenticate; root_rc=$?
	set -e
	[ $carol_rc -ne 0 ] || { cat "$T/users-carol.out"; fail "carol signed in under a config with a bad users entry"; }
	assert_contains "$T/users-carol.out" "Sign-in is unavailable: this host's Authgear configuration is broken." "the listed user is told the configuration is broken"
	assert_contains "$T/module.log" "$T/users-bad.conf:6: users: '../root' can never be a Unix user name" "the module logs the bad users entry with file:line"
	[ $root_rc -eq 0 ] || { cat "$T/out"; fail "root did not pass on to the next module"; }
	pass "a local user (root) is unaffected by the bad users entry"
else
	fail "pamtester and pam_wrapper are needed (scripts/deps.sh)"
fi

# --- the authorize request with the configured client, against the IdP --------
idp_start "$T/idp"
hook() { curl -fsS -X "$1" "$HOOK_URL$2"; }
count() { hook GET /counters | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[process.argv[1]]||0))' "$1"; }
write_config "$T/ok.conf"
run_check "$T/ok.out" "$T/ok.conf"
assert_contains "$T/ok.out" "ok    authorize  client pam_authgear with redirect_uri http://127.0.0.1/pam_authgear/callback: the issuer opened a sign-in session" "authorize with the right client is ok"
assert_contains "$T/ok.out" "ok    flow       login flow 'default' created on it; it asks to identify first (stopped there: no credential sent)" "the login flow is created and stopped before any credential"
sed 's/^client_id = .*/client_id = pam_authgear_typo/' "$T/ok.conf" > "$T/badclient.conf"; chmod 600 "$T/badclient.conf"
run_check "$T/badclient.out" "$T/badclient.conf"
[ $rc -eq 1 ] || { cat "$T/badclient.out"; fail "check passed with a wrong client_id"; }
assert_contains "$T/badclient.out" "FAIL  authorize  authorize: the server refused the request: unauthorized_client: invalid client ID (check client_id pam_authgear_typo" "a wrong client_id fails with the server's error verbatim"
sed 's|^redirect_uri = .*|redirect_uri = http://127.0.0.1/elsewhere|' "$T/ok.conf" > "$T/badredir.conf"; chmod 600 "$T/badredir.conf"
run_check "$T/badredir.out" "$T/badredir.conf"
[ $rc -eq 1 ] || { cat "$T/badredir.out"; fail "check passed with a disallowed redirect_uri"; }
assert_contains "$T/badredir.out" "FAIL  authorize  authorize: the server refused the request: invalid_request: redirect URI is not allowed" "a disallowed redirect_uri fails with the server's error verbatim"
sed 's/^client_id = .*/client_id = pam_authgear_custom_ui/' "$T/ok.conf" > "$T/customui.conf"; chmod 600 "$T/customui.conf"
hook POST /counters/reset > /dev/null
run_check "$T/customui.out" "$T/customui.conf"
[ $rc -eq 1 ] || { cat "$T/customui.out"; fail "check passed with a Custom UI client"; }
assert_contains "$T/customui.out" "FAIL  authorize  authorize: the sign-in page is not on the issuer but https://ui.example.com/login" "a Custom UI client fails"
assert_contains "$T/customui.out" "leave Custom UI URI empty for client pam_authgear_custom_ui in the Authgear portal" "the line names the Custom UI URI setting"
[ "$(count /api/v1/authentication_flows)" -le 1 ] || fail "check created a flow for a Custom UI client"
# The login logs the same words, and sends no credential.
if [ -n "${PAMTESTER:-$(command -v pamtester)}" ] && ls /usr/lib/*/libpam_wrapper.so >/dev/null 2>&1; then
	for c in badclient customui; do
		echo "users = alice" >> "$T/$c.conf"
		pam_service "ag-$c" "auth required $MODULE config=$T/$c.conf"
		hook POST /counters/reset > /dev/null
		: > "$T/module.log"
		set +e
		printf 'alice-password-1\n' | run_pamtester "ag-$c" alice authenticate
		set -e
		[ "$(count /api/v1/authentication_flows)" = 0 ] || fail "$c: the login created a flow (a credential went out)"
		cp "$T/module.log" "$T/module.$c.log"
	done
	pass "the login sends no credential with a wrong client or a Custom UI client"
	assert_contains "$T/module.badclient.log" "authorize: the server refused the request: unauthorized_client: invalid client ID" "the login logs the server's error verbatim"
	assert_contains "$T/module.customui.log" "leave Custom UI URI empty for client pam_authgear_custom_ui" "the login logs the Custom UI URI reason"
else
	fail "pamtester and pam_wrapper are needed (scripts/deps.sh)"
fi

# --- the host: a private mount namespace ----------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (private mount namespace)"
command -v unshare >/dev/null || skip "unshare missing"
write_config "$T/c.conf" "users = alice"
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"

# The namespace's files: an nsswitch.conf with authgear, a pam.d whose sshd
# names the built module by its path, an sshd_config fit for the login.
mkdir -p "$T/ns/pamd"
# A fixed file, not the host's: a concurrent test may be editing /etc/nsswitch.conf.
printf 'passwd:         files systemd authgear\ngroup:          files systemd authgear\nshadow:         files\nhosts:          files dns\n' > "$T/ns/nsswitch.conf"
grep -q '^passwd:.* authgear' "$T/ns/nsswitch.conf" || fail "no passwd line to extend"
echo "auth [success=done ignore=ignore module_unknown=ignore default=die] $MODULE config=$T/c.conf" > "$T/ns/pamd/sshd"
echo "@include common-auth" >> "$T/ns/pamd/sshd"
SSHD_OK=
if [ -x /usr/sbin/sshd ]; then
	SSHD_OK=1
	sshd_lab_config "$T/ns" 2222
	cp "$T/ns/sshd_config" "$T/ns/sshd_config.good"
fi
: > "$T/ns/sshd_config.empty"

# ns_check OUT [sshd_config variant]: check inside the namespace.
ns_check() {
	cfgfile=$T/ns/sshd_config.${2:-good}
	[ -f "$cfgfile" ] || cfgfile=$T/ns/sshd_config.empty
	set +e
	unshare --mount --propagation private sh -c '
		mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf && mount --bind "$1/pamd" /etc/pam.d || exit 97
		if [ -f /etc/ssh/sshd_config ]; then mount --bind "$2" /etc/ssh/sshd_config || exit 97; fi
		shift 2
		exec "$@"' sh "$T/ns" "$cfgfile" \
		env LD_LIBRARY_PATH="$abs_top_builddir/src/.libs" AUTHGEAR_NSS_INDEX="$T/state/nss.index" \
		"$CLI" check --config "$T/c.conf" > "$1" 2>&1
	rc=$?
	set -e
	[ $rc -ne 97 ] || fail "bind mounts failed"
}

# 1. All set up: every line ok, exit 0.
ns_check "$T/good.out"
[ $rc -eq 0 ] || { cat "$T/good.out"; fail "check of a good setup: exit $rc"; }
assert_contains "$T/good.out" "ok    nsswitch   /etc/nsswitch.conf: passwd and group name authgear" "nsswitch with authgear is ok"
assert_contains "$T/good.out" "ok    nss        glibc loads libnss_authgear.so.2" "glibc loads the NSS module"
assert_contains "$T/good.out" "ok    nss_index  $T/state/nss.index is newer than the configuration" "a fresh index is ok"
assert_contains "$T/good.out" "ok    pam        /etc/pam.d/sshd:1: libpam loads $MODULE" "the pam.d line's module is found"
[ -z "$SSHD_OK" ] || assert_contains "$T/good.out" "ok    sshd       sshd -T: UsePAM yes, KbdInteractiveAuthentication yes, AuthenticationMethods keyboard-interactive" "sshd settings ok"

# 2. nsswitch.conf without authgear in passwd and group.
cp "$T/ns/nsswitch.conf" "$T/ns/nsswitch.good"
sed -E 's/ authgear$//' "$T/ns/nsswitch.good" > "$T/ns/nsswitch.conf"
ns_check "$T/nsswitch.out"
[ $rc -eq 1 ] || { cat "$T/nsswitch.out"; fail "check passed without authgear in nsswitch.conf (exit $rc)"; }
pw=$(sed -n 's/^passwd:[[:space:]]*//p' "$T/ns/nsswitch.conf" | sed 's/[[:space:]]*$//')
assert_contains "$T/nsswitch.out" "FAIL  nsswitch   /etc/nsswitch.conf: 'passwd: $pw' has no authgear" "nsswitch without authgear in passwd fails"
assert_contains "$T/nsswitch.out" "add it, keeping the others: 'passwd: $pw authgear'" "the fix keeps the other sources (systemd)"
assert_contains "$T/nsswitch.out" "FAIL  nsswitch   /etc/nsswitch.conf: 'group: files systemd' has no authgear" "nsswitch without authgear in group fails"
# README's group line: authgear right after files, with files' merge action.
grep -qxF 'group:          files [SUCCESS=merge] authgear systemd' "$abs_top_srcdir/README.md" || fail "README's group line changed"
assert_contains "$T/nsswitch.out" "add it, keeping the others: 'group: files [SUCCESS=merge] authgear systemd'" "the group fix is README's line"
sed -E 's/^group:.*/group: files [NOTFOUND=return] ldap/; /^passwd:/d' "$T/ns/nsswitch.good" > "$T/ns/nsswitch.conf"
ns_check "$T/nsswitch2.out"
assert_contains "$T/nsswitch2.out" "add it, keeping the others: 'group: files [NOTFOUND=return SUCCESS=merge] authgear ldap'" "the merge goes into files' own actions"
assert_contains "$T/nsswitch2.out" "has no 'passwd:' line: Authgear users do not resolve (sshd says 'Invalid user'); add 'passwd: files authgear'" "a missing passwd line"
cp "$T/ns/nsswitch.good" "$T/ns/nsswitch.conf"

# 3. A stale index: the allow-list changed after the last reindex.
sleep 1
sed -i 's/^users = alice$/users = alice, bob/' "$T/c.conf"
ns_check "$T/stale.out"
[ $rc -eq 1 ] || { cat "$T/stale.out"; fail "check passed with an index older than the configuration"; }
assert_contains "$T/stale.out" "FAIL  nss_index  $T/state/nss.index is older than $T/c.conf" "an index older than the configuration fails"
assert_contains "$T/stale.out" "run authgear-pam reindex" "the fix is named"
"$CLI" reindex --config "$T/c.conf" > /dev/null || fail "reindex"
ns_check "$T/fresh.out"
[ $rc -eq 0 ] || { cat "$T/fresh.out"; fail "check after reindex: exit $rc"; }
pass "after reindex the index is fresh again"

# 4. A pam.d line naming the module where libpam does not load it from.
pamdir=$(sed -n 's/^#define AG_SYSTEM_PAM_DIR "\(.*\)"$/\1/p' "$abs_top_builddir/config.h")
if [ -n "$pamdir" ] && [ ! -e "$pamdir/pam_authgear.so" ]; then
	echo "auth [success=done ignore=ignore module_unknown=ignore default=die] pam_authgear.so config=$T/c.conf" > "$T/ns/pamd/login"
	echo "auth required pam_authgear.so config=$T/c.conf" > "$T/ns/pamd/su"
	ns_check "$T/pam.out"
	[ $rc -eq 1 ] || { cat "$T/pam.out"; fail "check passed with a module libpam cannot find"; }
	assert_contains "$T/pam.out" "FAIL  pam        /etc/pam.d/login:1 names pam_authgear.so, but libpam loads it from $pamdir/pam_authgear.so, which does not exist" "a module not where libpam loads it fails"
	assert_contains "$T/pam.out" "warn  pam        /etc/pam.d/su:1: with required a module libpam cannot load refuses every login" "a control without module_unknown=ignore is warned about"
	rm -f "$T/ns/pamd/login" "$T/ns/pamd/su"
else
	fail "cannot test a missing module: pam_authgear.so is installed in '$pamdir' (or configure found no PAM directory)"
fi

# 5. sshd settings that break the login.
if [ -n "$SSHD_OK" ]; then
	sed 's/^KbdInteractiveAuthentication yes/KbdInteractiveAuthentication no/; s/^AuthenticationMethods .*/AuthenticationMethods any/' "$T/ns/sshd_config.good" > "$T/ns/sshd_config.nokbd"
	ns_check "$T/nokbd.out" nokbd
	[ $rc -eq 1 ] || { cat "$T/nokbd.out"; fail "check passed with KbdInteractiveAuthentication no"; }
	assert_contains "$T/nokbd.out" "FAIL  sshd       KbdInteractiveAuthentication no: sshd cannot ask the second factor; set KbdInteractiveAuthentication yes" "KbdInteractiveAuthentication no fails"
	sed 's/^UsePAM yes/UsePAM no/' "$T/ns/sshd_config.good" > "$T/ns/sshd_config.nopam"
	ns_check "$T/nopam.out" nopam
	[ $rc -eq 1 ] || { cat "$T/nopam.out"; fail "check passed with UsePAM no"; }
	assert_contains "$T/nopam.out" "FAIL  sshd       UsePAM no: sshd never runs the PAM stack; set UsePAM yes" "UsePAM no fails"
	sed 's/^AuthenticationMethods .*/AuthenticationMethods publickey/; s/^PubkeyAuthentication no/PubkeyAuthentication yes/' "$T/ns/sshd_config.good" > "$T/ns/sshd_config.pubkey"
	ns_check "$T/pubkey.out" pubkey
	[ $rc -eq 1 ] || { cat "$T/pubkey.out"; fail "check passed with AuthenticationMethods publickey"; }
	assert_contains "$T/pubkey.out" "FAIL  sshd       AuthenticationMethods publickey never asks keyboard-interactive" "AuthenticationMethods without keyboard-interactive fails"
	sed 's/^AuthenticationMethods .*/AuthenticationMethods any/; s/^PasswordAuthentication no/PasswordAuthentication yes/' \
		"$T/ns/sshd_config.good" > "$T/ns/sshd_config.password"
	ns_check "$T/password.out" password
	assert_contains "$T/password.out" "warn  sshd       PasswordAuthentication yes with AuthenticationMethods any: a client that uses password authentication answers the code prompt with the password; set AuthenticationMethods keyboard-interactive" "PasswordAuthentication yes without AuthenticationMethods is warned about"
else
	fail "sshd not installed (scripts/deps.sh installs openssh-server)"
fi
