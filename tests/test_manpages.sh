#!/bin/bash
# The man pages stay true to the code:
#  - pam_authgear.conf(5) has a table row for every key of the parser's
#    key_specs table (read from the source of conf.c for the ranges, and
#    checked against tests/tools/conf_keys, the parser's own list),
#    with that key's default (yes/no for booleans, "(required)" for required
#    keys) and, for numbers, its range "MIN to MAX"; and every table of
#    known_tables;
#  - the packaged sample debian/pam_authgear.conf lists every key, commented,
#    with its default;
#  - authgear-pam(8) lists exactly the commands of 'authgear-pam --help', and
#    every option it shows;
#  - every page renders without a groff warning (lintian checks the same).
. "$abs_top_srcdir/tests/lib.sh"
new_tmpdir
MAN="$abs_top_srcdir/man"
CONF_C=$(find "$abs_top_srcdir/src" -name conf.c | head -n 1)
[ -f "$CONF_C" ] || fail "conf.c not found under src/"
SAMPLE="$abs_top_srcdir/debian/pam_authgear.conf"

# --- the parser's keys: KEY|DEFAULT|RANGE lines -------------------------------------
# Entry forms of key_specs: STR(name, TYPE, DEF, REQ), NUM(name, TYPE, DEF, LO, HI),
# CHOICE(name, DEF, CHOICES) and a plain { "name", TYPE, offsetof(..), DEF, ... }.
# A line of the table in no known form fails the test: no key goes unchecked.
macro() { # the string a #define in the sources gives NAME
	grep -rhE "^#define $1 \"" "$abs_top_srcdir/src" | sed -E 's/^#define [A-Z_]+ "(.*)"$/\1/' | head -n 1
}
awk '/key_specs\[\] = \{/ {on=1; next} on && /^\};/ {exit} on' "$CONF_C" > "$T/specs"
[ -s "$T/specs" ] || fail "no key_specs table in $CONF_C"
: > "$T/keys"
while IFS= read -r line; do
	l=$(printf '%s' "$line" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+$//')
	case "$l" in ''|'/*'*'*/') continue ;; esac
	if [[ $l =~ ^STR\(([a-z_0-9]+),\ *([A-Z_]+),\ *(NULL|\"[^\"]*\"|[A-Z_]+),\ *(true|false)\),$ ]]; then
		k=${BASH_REMATCH[1]} d=${BASH_REMATCH[3]} req=${BASH_REMATCH[4]} r=
		case "$d" in NULL) d= ;; \"*) d=${d#\"}; d=${d%\"} ;; *) d=$(macro "$d"); [ -n "$d" ] || fail "macro of $k" ;; esac
		[ "$req" = true ] && d='(required)'
	elif [[ $l =~ ^NUM\(([a-z_0-9]+),\ *([A-Z_]+),\ *(-?[0-9]+),\ *(-?[0-9]+),\ *(-?[0-9]+)\),$ ]]; then
		k=${BASH_REMATCH[1]} d=${BASH_REMATCH[3]} r="${BASH_REMATCH[4]} to ${BASH_REMATCH[5]}"
		if [ "${BASH_REMATCH[2]}" = KEY_BOOL ]; then r=; [ "$d" = 1 ] && d=yes || d=no; fi
	elif [[ $l =~ ^CHOICE\(([a-z_0-9]+),\ *\"([^\"]*)\",\ *\"[^\"]*\"\),$ ]]; then
		k=${BASH_REMATCH[1]} d=${BASH_REMATCH[2]} r=
	elif [[ $l =~ ^\{\ *\"([a-z_0-9]+)\",\ *[A-Z_]+,\ *offsetof\([^\)]*\),\ *(NULL|\"[^\"]*\"), ]]; then
		k=${BASH_REMATCH[1]} d=${BASH_REMATCH[2]} r=
		[ "$d" = NULL ] && d= || { d=${d#\"}; d=${d%\"}; }
	else
		fail "$CONF_C: key_specs entry in no form this test knows: $l"
	fi
	printf '%s|%s|%s\n' "$k" "$d" "$r" >> "$T/keys"
done < "$T/specs"
n_keys=$(wc -l < "$T/keys")
[ "$n_keys" -ge 30 ] || { cat "$T/keys"; fail "only $n_keys keys parsed from $CONF_C"; }
pass "$n_keys keys read from $(basename "$CONF_C")'s key_specs"
# The same keys and defaults as the parser itself gives (tests/tools/conf_keys).
KEYS_TOOL="$abs_top_builddir/tests/tools/conf_keys"
[ -x "$KEYS_TOOL" ] || fail "missing $KEYS_TOOL"
"$KEYS_TOOL" | sort > "$T/keys.tool"
sed 's/|(required)|/||/' "$T/keys" | cut -d'|' -f1,2 | tr '|' '\t' | sort > "$T/keys.src"
diff -u "$T/keys.tool" "$T/keys.src" || fail "conf.c read as source and the parser (conf_keys) disagree"
pass "the keys and defaults read from the source are exactly the parser's (tests/tools/conf_keys)"

# --- pam_authgear.conf(5): one row per key ---------------------------------------------
# Rows are "\fBkey\fR<TAB>default<TAB>T{ values T}", a long default in its
# own T{ T} block. unroff turns the cell text into plain text.
unroff() { sed -E 's/\\f[BIRP]//g; s/\\-/-/g; s/\\\(em/-/g; s/\\\(en/-/g'; }
awk -F'\t' '
	/^\\fB[a-z_0-9]+\\fR\t/ { key=$1; gsub(/\\f[BR]/, "", key); def=$2; i=3
		if (def == "T{") { def=""; while ((getline l) > 0 && l != "T}" && l !~ /^T}\t/) def = def (def=="" ? "" : " ") l
			rest=l; sub(/^T}\t?/, "", rest); vals=rest } else vals=$3
		if (vals == "T{") { vals=""; while ((getline l) > 0 && l != "T}") vals = vals " " l }
		print key "\t" def "\t" vals }' "$MAN/pam_authgear.conf.5" | unroff > "$T/rows"
while IFS='|' read -r k d r; do
	row=$(awk -F'\t' -v k="$k" '$1 == k' "$T/rows")
	[ -n "$row" ] || fail "pam_authgear.conf(5) has no table row for key '$k'"
	[ "$(printf '%s\n' "$row" | wc -l)" = 1 ] || fail "pam_authgear.conf(5) has key '$k' twice"
	got=$(printf '%s' "$row" | cut -f2)
	if [ -n "$d" ]; then
		[ "$got" = "$d" ] || fail "pam_authgear.conf(5): $k: default '$got', the parser's is '$d'"
	else
		[ -n "$got" ] || fail "pam_authgear.conf(5): $k: empty default cell"
	fi
	if [ -n "$r" ]; then
		printf '%s' "$row" | cut -f3 | grep -qF -- "$r" || fail "pam_authgear.conf(5): $k: range '$r' missing (row: $row)"
	fi
	grep -qE "^\\.B $k\$" "$MAN/pam_authgear.conf.5" || fail "pam_authgear.conf(5): $k has no description (.TP/.B $k)"
done < "$T/keys"
pass "pam_authgear.conf(5): every key with the parser's default and range, and a description"
n_rows=$(wc -l < "$T/rows")
[ "$n_rows" = "$n_keys" ] || fail "pam_authgear.conf(5) has $n_rows key rows, the parser $n_keys keys"
pass "pam_authgear.conf(5) documents no key the parser does not know"
tables=$(awk '/known_tables\[\] = \{/ {sub(/.*\{/, ""); sub(/NULL.*/, ""); gsub(/[", ]/, " "); print}' "$CONF_C")
[ -n "$tables" ] || fail "no known_tables in $CONF_C"
for t in $tables; do
	grep -qF ".B [$t]" "$MAN/pam_authgear.conf.5" || fail "pam_authgear.conf(5) does not describe the table [$t]"
done
pass "pam_authgear.conf(5) describes the tables:$(printf ' [%s]' $tables)"

# --- the packaged sample: every key commented, with its default --------------------------
while IFS='|' read -r k d r; do
	line=$(grep -E "^#$k = " "$SAMPLE") || fail "debian/pam_authgear.conf lacks '#$k = ...'"
	if [ -n "$d" ] && [ "$d" != '(required)' ]; then
		[ "$line" = "#$k = $d" ] || fail "debian/pam_authgear.conf: '$line', the default is '$d'"
	fi
done < "$T/keys"
if grep -vE '^(#|$)' "$SAMPLE"; then fail "debian/pam_authgear.conf sets a key (it must only comment)"; fi
pass "debian/pam_authgear.conf: every key commented out, with its default"

# --- authgear-pam(8) and --help: the same commands and options ---------------------------
"$CLI" --help > "$T/help" || fail "authgear-pam --help"
awk '/^Commands:/ {on=1; next} /^[A-Z]/ {on=0} on && /^  [a-z]/ {print $1}' "$T/help" | sort > "$T/help.cmds"
awk '/^\.SH COMMANDS/ {on=1; next} /^\.SH/ {on=0} on && prev == ".TP" {l=$0; gsub(/\\f[BIRP]/, "", l); gsub(/\\-/, "-", l); split(l, w, " "); print w[1]} {prev=$0}' \
	"$MAN/authgear-pam.8" | sort > "$T/man.cmds"
[ "$(wc -l < "$T/help.cmds")" -ge 5 ] || { cat "$T/help"; fail "no commands read from --help"; }
diff -u "$T/help.cmds" "$T/man.cmds" > "$T/cmds.diff" || { cat "$T/cmds.diff"; fail "authgear-pam(8) COMMANDS differ from --help (- help, + man)"; }
pass "authgear-pam(8) lists exactly the commands of --help: $(paste -sd' ' "$T/help.cmds")"
grep -oE -- '--[a-z][a-z-]*' "$T/help" | sort -u > "$T/help.opts"
unroff < "$MAN/authgear-pam.8" | awk '/^\.SH OPTIONS/ {on=1; next} /^\.SH/ {on=0} on' > "$T/man.opts.txt"
while read -r o; do
	grep -qF -- "$o" "$T/man.opts.txt" || fail "authgear-pam(8) OPTIONS lack $o (in --help)"
done < "$T/help.opts"
pass "authgear-pam(8) OPTIONS has every option of --help: $(paste -sd' ' "$T/help.opts")"

# --- every page renders cleanly ---------------------------------------------------------------
command -v man >/dev/null || skip "man (man-db) not installed"
for p in "$MAN"/*.[58]; do
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 "$p" > /dev/null 2> "$T/groff.err"
	[ ! -s "$T/groff.err" ] || { cat "$T/groff.err"; fail "$(basename "$p"): groff warnings"; }
done
pass "every man page renders without a groff warning"
