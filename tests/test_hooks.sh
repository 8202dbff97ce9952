#!/bin/bash
# Test hooks exist only in builds configured with --enable-test-hooks.
# - In a default build (make distcheck makes one): pam_authgear.so,
#   libnss_authgear.so.2 and authgear-pam import no getenv/secure_getenv and
#   carry no AUTHGEAR_* environment name (`strings` shows none).
# - In a test-hooks build: the hooks are there (so the check above can fail),
#   and every source file preprocessed as a default build would be has no
#   getenv call and no AUTHGEAR_* literal.
. "$abs_top_srcdir/tests/lib.sh"

command -v nm >/dev/null || skip "nm not installed"
command -v strings >/dev/null || skip "strings not installed"
for b in "$MODULE" "$NSS_MODULE" "$CLI"; do [ -f "$b" ] || fail "missing $b"; done

env_imports() { nm -D --undefined-only "$1" | awk '{print $NF}' | sed 's/@.*//' | grep -Ex '(secure_)?getenv' || true; }
env_names() { strings -a "$1" | grep -oE 'AUTHGEAR_[A-Z_]+' | sort -u || true; }

if [ -z "${TEST_HOOKS_CPPFLAGS:-}" ]; then
	for b in "$MODULE" "$NSS_MODULE" "$CLI"; do
		got=$(env_imports "$b")
		[ -z "$got" ] || fail "default build: $(basename "$b") imports $got"
		got=$(env_names "$b")
		[ -z "$got" ] || fail "default build: $(basename "$b") carries $got"
	done
	pass "default build: no module or CLI reads the environment or names an AUTHGEAR_* variable"
	exit 0
fi

# A test-hooks build: the hooks are there.
env_names "$MODULE" | grep -qx AUTHGEAR_TEST_LOG || fail "test-hooks build without AUTHGEAR_TEST_LOG in the module"
env_names "$NSS_MODULE" | grep -qx AUTHGEAR_NSS_INDEX || fail "test-hooks build without AUTHGEAR_NSS_INDEX in the NSS module"
[ -n "$(env_imports "$NSS_MODULE")" ] || fail "test-hooks build: the NSS module imports no secure_getenv"
pass "test-hooks build: the module and the NSS module carry their hooks"

# The same sources as a default build would compile them.
: "${CC:?CC not exported by make check}"
n=0
while read -r f; do
	out=$($CC -E -P -I"$abs_top_builddir" -I"$abs_top_srcdir/src" ${CORE_CFLAGS:-} "$f" 2>&1) ||
		fail "preprocessing $f: $out"
	# (system headers declare getenv: "extern char *getenv (...)")
	if grep -vE '^[[:space:]]*extern ' <<<"$out" | grep -nE '\b(secure_)?getenv[[:space:]]*\(|"AUTHGEAR_'; then
		fail "$f reads the environment in a default build"
	fi
	n=$((n + 1))
done < <(find "$abs_top_srcdir/src" -name '*.c' | sort)
[ "$n" -gt 30 ] || fail "only $n sources preprocessed"
pass "the $n sources under src/, preprocessed without AG_TEST_HOOKS, read no environment variable"
