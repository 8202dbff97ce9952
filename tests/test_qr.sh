#!/bin/bash
# The QR code as drawn in the terminal (authgear-pam qr, the code the device
# login uses): turned back into pixels, one per module, and decoded with
# zbarimg for several URL lengths and both polarities; the 4-module quiet zone
# and the 80-column rule are asserted.
. "$abs_top_srcdir/tests/lib.sh"
command -v zbarimg >/dev/null || skip "zbarimg not installed (Debian: zbar-tools)"
command -v node >/dev/null || skip "node not installed"
new_tmpdir
TOOL="$abs_top_srcdir/tests/tools/qr_to_pgm.mjs"

n=0
BASE="https://example.com/device?user_code=WDJB-MJHT&x="
long_url() { u=$BASE; while [ ${#u} -lt "$1" ]; do u="${u}0123456789"; done; echo "${u:0:$1}"; }
for len in 19 46 90 160 260 330; do
	url=$(long_url $len)
	for polarity in "" --invert; do
		n=$((n + 1))
		"$CLI" qr $polarity "$url" > "$T/qr.$n" || fail "qr $polarity of $len characters failed"
		node "$TOOL" $polarity "$T/qr.$n.pgm" < "$T/qr.$n" > "$T/qr.$n.json" || fail "qr.$n is not a half-block drawing"
		got=$(zbarimg --raw -q "$T/qr.$n.pgm" 2>/dev/null) || true
		[ "$got" = "$url" ] || { cat "$T/qr.$n"; fail "${#url} characters${polarity:+ $polarity}: decoded '$got'"; }
		node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
			const q=j.quiet; if (q.top!==4||q.bottom!==4||q.left!==4||q.right!==4) { console.log(JSON.stringify(j)); process.exit(1); }
			if (j.columns>80) process.exit(1)' "$T/qr.$n.json" || fail "qr.$n: quiet zone not 4 modules, or wider than 80"
		# The other polarity must not read: the characters really choose it.
		if [ -n "$polarity" ]; then other=""; else other=--invert; fi
		node "$TOOL" $other "$T/qr.$n.wrong.pgm" < "$T/qr.$n" > /dev/null || fail "qr.$n: the converter failed on the other polarity"
		[ -s "$T/qr.$n.wrong.pgm" ] || fail "qr.$n: no image in the other polarity"
		[ -z "$(zbarimg --raw -q "$T/qr.$n.wrong.pgm" 2>/dev/null)" ] || fail "qr.$n decodes in the wrong polarity too"
	done
	pass "${#url} characters: decodes in both polarities, quiet zone 4 modules, $(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).columns)' "$T/qr.$n.json") columns"
	# --invert swaps ink and paper: the same symbol, character for character
	node -e '
const fs=require("fs"); const a=fs.readFileSync(process.argv[1],"utf8").split("\n"), b=fs.readFileSync(process.argv[2],"utf8").split("\n");
const swap={" ":"\u2588","\u2588":" ","\u2580":"\u2584","\u2584":"\u2580"};
const last=a.filter(Boolean).length-1, odd=((JSON.parse(fs.readFileSync(process.argv[3],"utf8")).columns)%2)===1;
for (let i=0;i<a.length;i++){ if(!a[i]) continue; const x=[...a[i]], y=[...b[i]];
  for (let k=0;k<x.length;k++){ let w=swap[x[k]]; if (i===last&&odd) w=x[k]===" "?"\u2580":(x[k]==="\u2580"?" ":w); if (y[k]!==w) process.exit(1);} }' \
		"$T/qr.$((n - 1))" "$T/qr.$n" "$T/qr.$n.json" || fail "${#url} characters: --invert is not the complement"
done
pass "--invert draws exactly the complement (the padding half-row under an odd height stays blank)"

# The 80-column rule: the widest code that fits is drawn, a wider one is left out.
url=$(long_url 500)
if "$CLI" qr "$url" > "$T/wide.out" 2> "$T/wide.err"; then fail "a 500-character URL drew a QR code"; fi
[ ! -s "$T/wide.out" ] || fail "the left-out QR code still printed something"
assert_contains "$T/wide.err" "columns wide, over 80: left out" "a code wider than 80 columns is left out"
url=$(long_url 420)
"$CLI" qr "$url" > "$T/fit.out" || fail "a ${#url}-character URL should still fit"
width=$(node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean); console.log(Math.max(...l.map(x=>[...x].length)))' "$T/fit.out")
[ "$width" -le 80 ] || fail "drawn $width columns wide"
pass "${#url} characters: drawn in $width columns (at most 80)"
