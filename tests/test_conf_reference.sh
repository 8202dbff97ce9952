#!/bin/bash
# Every global key the configuration parser knows (tests/tools/conf_keys
# prints them from the parser's own table) has a row in one of README's key
# tables, `| `key` | default | meaning |`, whose default column shows the
# parser's default (`15`, `yes`, `/home/%u`; a long list may be written in
# words when the row names every item). The list can't drift from the code
# (mod_auth_openidc's check_conf_reference is the model). The check is also
# run on a README with one row removed and one default changed: both must
# fail.
. "$abs_top_srcdir/tests/lib.sh"

KEYS="$abs_top_builddir/tests/tools/conf_keys"
[ -x "$KEYS" ] || fail "missing $KEYS"

# check_doc FILE: one line per key that FILE does not document right.
check_doc() {
	local doc=$1 key def row col bad=0
	while IFS=$'\t' read -r key def; do
		row=$(grep -F -m1 -- "| \`$key\` |" "$doc") || { echo "$key: no row in $doc"; bad=1; continue; }
		[ -n "$def" ] || continue
		col=$(awk -F'|' '{print $3}' <<<"$row")
		case "$col" in *"\`$def\`"*) continue ;; esac
		for w in $def; do
			case "$row" in *"$w"*) ;; *) echo "$key: default '$def' not in its row: $row"; bad=1; break ;; esac
		done
	done < <("$KEYS")
	return $bad
}

n=$("$KEYS" | wc -l)
[ "$n" -ge 30 ] || fail "the parser lists only $n keys"
out=$(check_doc "$abs_top_srcdir/README.md") || fail "README's key tables are out of step with the parser:
$out"
pass "README documents all $n keys with the parser's defaults"

T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
grep -vF '| `leeway` |' "$abs_top_srcdir/README.md" > "$T/no-row.md"
out=$(check_doc "$T/no-row.md") && fail "a README without the leeway row passed"
grep -q '^leeway: no row' <<<"$out" || fail "wrong report: $out"
sed 's/^| `timeout` | `15` |/| `timeout` | `30` |/' "$abs_top_srcdir/README.md" > "$T/wrong-default.md"
cmp -s "$T/wrong-default.md" "$abs_top_srcdir/README.md" && fail "could not plant a wrong default"
out=$(check_doc "$T/wrong-default.md") && fail "a README with a wrong timeout default passed"
pass "a missing row and a wrong default are each caught"
