#!/bin/bash
# The house style (.clang-format) as a check, file by file: every file
# listed in tests/style-clean.txt is clang-format clean. `make style`
# reformats everything; the list grows as files are reformatted.
#
# clang-format's output may change between major versions, so the check
# uses the one the list was made with (Debian 12's clang-format-14, which
# scripts/deps.sh installs). On the 28 files first listed, clang-format 16
# and 19 gave the same output as 14, but a file added later need not.
# Without 14: SKIP, except as root (CI), where it must be there.
. "$abs_top_srcdir/tests/lib.sh"
WANT=14
LIST="$abs_top_srcdir/tests/style-clean.txt"

CF=
for c in "clang-format-$WANT" clang-format; do
	command -v "$c" >/dev/null || continue
	v=$("$c" --version | sed -n 's/.*clang-format version \([0-9]*\)\..*/\1/p')
	[ "$v" = "$WANT" ] && { CF=$c; break; }
done
if [ -z "$CF" ]; then
	[ "$(id -u)" = 0 ] && fail "clang-format $WANT is not installed (scripts/deps.sh installs clang-format-$WANT)"
	skip "clang-format $WANT not installed"
fi

# unclean FILE...: prints each file clang-format would change, with the
# first lines of the change; exits 1 when there is any.
unclean() {
	local f bad=0
	for f in "$@"; do
		if ! "$CF" --style=file:"$abs_top_srcdir/.clang-format" "$f" | cmp -s "$f" -; then
			echo "$f is not clang-format clean (clang-format -i --style=file $f):"
			"$CF" --style=file:"$abs_top_srcdir/.clang-format" "$f" | diff "$f" - | head -10
			bad=1
		fi
	done
	return $bad
}

mapfile -t files < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$LIST")
[ ${#files[@]} -gt 0 ] || fail "$LIST lists no file"
paths=()
for f in "${files[@]}"; do
	[ -f "$abs_top_srcdir/$f" ] || fail "$LIST: $f does not exist"
	paths+=("$abs_top_srcdir/$f")
done
unclean "${paths[@]}" || fail "files of tests/style-clean.txt are not clang-format clean"
pass "${#files[@]} files of tests/style-clean.txt are clang-format clean ($CF $WANT)"

# The check itself: a listed file with one misindented line must be caught.
new_tmpdir
cp "${paths[0]}" "$T/bad.c"
sed -i '0,/^\t[a-z]/s/^\t\([a-z]\)/   \1/' "$T/bad.c"
cmp -s "${paths[0]}" "$T/bad.c" && fail "could not plant a misindented line"
if unclean "$T/bad.c" > "$T/out"; then fail "a misindented line passed the check"; fi
pass "a misindented line is caught"
