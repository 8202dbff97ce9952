#!/bin/bash
# The layers of src/ (README "Development") as a rule, not a comment:
# - a file under src/LAYER/ includes project headers only from the layers
#   LAYER may use (below);
# - src/common/ (built into the NSS module, which links only libc) includes
#   nothing but its own headers, config.h and system headers, and no header
#   of a library the core links (curl, OpenSSL, jansson, libqrencode, PAM,
#   SQLite);
# - no include circle between modules (x.c and x.h count as one module).
# Run on a copy (tests/tmp) with a circle and a layer breach planted, the
# checks must fail: that is checked too.
. "$abs_top_srcdir/tests/lib.sh"

declare -A may=(
	[common]="common"
	[base]="common base"
	[jose]="common base jose"
	[oidc]="common base jose oidc"
	[accounts]="common base accounts"
	[login]="common base jose oidc accounts login"
	[admin]="common base jose oidc accounts login admin"
)

# check_tree DIR: prints one line per breach, exits 1 when there is any.
check_tree() {
	local src=$1 bad=0 f layer inc dep edges=""
	for f in "$src"/*/*.[ch]; do
		layer=${f#"$src"/}; layer=${layer%%/*}
		if [ -z "${may[$layer]+x}" ]; then
			echo "$f: folder $layer is not a known layer"; bad=1; continue
		fi
		while read -r inc; do
			[ "$inc" = config.h ] && continue
			dep=${inc%%/*}
			if [ "$dep" = "$inc" ]; then
				echo "$f: #include \"$inc\" without its layer folder"; bad=1; continue
			fi
			case " ${may[$layer]} " in
			*" $dep "*) ;;
			*) echo "$f: layer $layer may not include $inc"; bad=1 ;;
			esac
			local mod=${f#"$src"/}; mod=${mod%.[ch]}
			[ "${inc%.h}" = "$mod" ] || edges+="$mod ${inc%.h}"$'\n'
		done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
	done
	for f in "$src"/common/*.[ch]; do
		if grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(curl/|openssl/|jansson|qrencode|security/|sqlite3)' "$f"; then
			echo "$f: src/common/ is libc only"; bad=1
		fi
	done
	if ! printf '%s' "$edges" | tsort >/dev/null 2>"$TMPD/tsort.err"; then
		echo "include circle: $(grep -v 'input contains a loop' "$TMPD/tsort.err" | sed 's/^tsort: //' | tr '\n' ' ')"
		bad=1
	fi
	return $bad
}

TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT

out=$(check_tree "$abs_top_srcdir/src") || fail "layer rules broken:
$out"
n=$(ls "$abs_top_srcdir"/src/*/*.[ch] | wc -l)
[ "$n" -gt 50 ] || fail "only $n files found under src/*/"
pass "the $n files under src/*/ keep the layer rules, and no include forms a circle"

# The checks can fail: plant each breach in a copy.
cp -r "$abs_top_srcdir/src" "$TMPD/src"
echo '#include "base/log.h"' >>"$TMPD/src/common/uid.h"
out=$(check_tree "$TMPD/src") && fail "a common/ file including base/ passed"
grep -q 'layer common may not include base/log.h' <<<"$out" || fail "wrong report: $out"
cp "$abs_top_srcdir/src/common/uid.h" "$TMPD/src/common/uid.h"
echo '#include <curl/curl.h>' >>"$TMPD/src/common/names.h"
out=$(check_tree "$TMPD/src") && fail "a common/ file including curl passed"
cp "$abs_top_srcdir/src/common/names.h" "$TMPD/src/common/names.h"
echo '#include "accounts/identity.h"' >>"$TMPD/src/accounts/store.h"
out=$(check_tree "$TMPD/src") && fail "an include circle passed"
grep -q 'include circle' <<<"$out" || fail "wrong report: $out"
pass "a planted layer breach, a library header in common/ and an include circle are each caught"
