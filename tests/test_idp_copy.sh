#!/bin/bash
# The build tree's copy of the test IdP follows its sources: an edited
# source copies the sources again (without npm ci), a changed
# package-lock.json installs the node modules again, and IDP_FILES
# (Makefile.am) names every file of tests/idp. Asked of make itself (-n -W:
# what it would do were the file newer, nothing touched).
. "$abs_top_srcdir/tests/lib.sh"
command -v git >/dev/null || skip "git not installed"
MAKE=${MAKE:-make}
cd "$abs_top_builddir"
# the prerequisites' names as make spells them: $(top_srcdir)/tests/idp/...
top_srcdir=$(sed -n 's/^top_srcdir = //p' Makefile)
would() { env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS "$MAKE" -n -W "$top_srcdir/tests/idp/$1" tests/idp/.installed 2>&1; }

for f in lib/flow.js server.js fixtures/users.json; do
	would "$f" > out.$$ || true
	out=$(cat out.$$); rm -f out.$$
	echo "$out" | grep -q "idp-install.sh --copy" || { echo "$out"; fail "an edit of tests/idp/$f is not copied"; }
	echo "$out" | grep -q "idp-install.sh \([^-]\|$\)" && { echo "$out"; fail "an edit of tests/idp/$f runs npm ci"; }
	pass "an edit of tests/idp/$f copies the sources, no npm ci"
done
would package-lock.json > out.$$ || true
out=$(cat out.$$); rm -f out.$$
echo "$out" | grep -q "idp-install.sh [^-]" || { echo "$out"; fail "a new package-lock.json does not run npm ci"; }
pass "a new package-lock.json installs the node modules again"

if ! git -C "$abs_top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then echo "note: not a git checkout: IDP_FILES not compared"; exit 0; fi
listed=$(sed -n '/^IDP_FILES = /,/[^\\]$/p' "$abs_top_srcdir/Makefile.am" | sed -n 's|.*(top_srcdir)/\(tests/idp/[^ ]*\).*|\1|p' | sort)
tracked=$(git -C "$abs_top_srcdir" ls-files tests/idp | grep -v '/package\(-lock\)\?\.json$\|/\.gitignore$' | sort)
[ -n "$listed" ] || fail "IDP_FILES not found in Makefile.am"
[ "$listed" = "$tracked" ] || { diff <(echo "$listed") <(echo "$tracked"); fail "IDP_FILES in Makefile.am differs from the files of tests/idp (above: < listed, > tracked)"; }
pass "IDP_FILES names every file of tests/idp"
