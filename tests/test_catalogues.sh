#!/bin/bash
# The catalogues name tests that exist: every test cell of the tables in
# tests/attacks/README.md, tests/faults/README.md and docs/THREAT-MODEL.md
# names at least one test file that exists, and every case it names after
# that file (`test_x.sh:case`, a bare `case`, a ("quoted line …")) occurs in
# that file. The attack table has at least 60 rows. The checker is also run
# on a broken table, which it must refuse.
. "$abs_top_srcdir/tests/lib.sh"
command -v node >/dev/null || skip "node missing"
new_tmpdir

# check FILE MIN_ROWS: prints "ROWS" on success, the faults on failure.
check() {
	node - "$abs_top_srcdir" "$1" "$2" <<'EOF'
const fs = require("fs"), path = require("path");
const [top, file, minRows] = process.argv.slice(2);
const lines = fs.readFileSync(file, "utf8").split("\n");
const bad = [];
let rows = 0, testCol = -1;
const resolve = (name) => {
	// test_x.sh, unit/test_x, tests/unit/test_x, tests/fuzz/replay_*, scripts/x.sh
	let p = name.replace(/^tests\//, "");
	const cands = name.startsWith("scripts/") || name.startsWith("docs/") ? [name] :
		[`tests/${p}`, `tests/${p}.c`, `tests/${p}.sh`];
	for (const c of cands) {
		if (c.includes("*")) {
			const dir = path.join(top, path.dirname(c)), re = new RegExp("^" + path.basename(c).replace(/\*/g, ".*") + "$");
			if (fs.existsSync(dir)) {
				const hits = fs.readdirSync(dir).filter((f) => re.test(f));
				if (hits.length) return hits.map((f) => path.join(dir, f));
			}
		} else if (fs.existsSync(path.join(top, c)) && fs.statSync(path.join(top, c)).isFile()) {
			return [path.join(top, c)];
		}
	}
	return null;
};
const isFile = (t) => /^(tests\/|scripts\/)?([a-z]+\/)*(test|replay)_[a-z0-9_*-]+(\.sh|\.c)?(:.*)?$/.test(t) &&
	(/\.sh(:|$)/.test(t) || t.includes("/")) || /^scripts\/[a-z0-9_.-]+$/.test(t);
const contains = (files, text) => files.some((f) => fs.readFileSync(f, "utf8").includes(text));
for (const [n, line] of lines.entries()) {
	if (!line.startsWith("|")) { testCol = -1; continue; }
	const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
	if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
	if (testCol < 0) { testCol = cells.findIndex((c) => /^test/i.test(c)); continue; } // the header
	if (testCol < 0) continue;
	rows++;
	const cell = cells[testCol] || "", where = `${file}:${n + 1}`;
	let files = null, named = 0;
	// backticked tokens and ("quoted lines"), in order
	const re = /`([^`]+)`|\("([^"]+)"/g;
	for (let m; (m = re.exec(cell));) {
		if (m[1] !== undefined && isFile(m[1])) {
			const [name, kase] = m[1].split(/:(.*)/s);
			files = resolve(name);
			if (!files) { bad.push(`${where}: no test file ${name}`); continue; }
			named++;
			if (kase && !contains(files, kase)) bad.push(`${where}: ${name} has no case '${kase}'`);
		} else if (files) {
			const text = (m[1] !== undefined ? m[1] : m[2]).split("…")[0].replace(/\\"/g, '"').replace(/\s+$/, "");
			if (text && !contains(files, text)) bad.push(`${where}: ${path.basename(files[0])} does not contain '${text}'`);
		}
	}
	if (!named) bad.push(`${where}: the row names no test: ${cell}`);
}
if (rows < Number(minRows)) bad.push(`${file}: ${rows} rows, want at least ${minRows}`);
if (bad.length) { console.log(bad.join("\n")); process.exit(1); }
console.log(rows);
EOF
}

A=$(check "$abs_top_srcdir/tests/attacks/README.md" 60) || { echo "$A"; fail "tests/attacks/README.md"; }
pass "tests/attacks/README.md: $A rows, each names a test that exists and holds the case"
F=$(check "$abs_top_srcdir/tests/faults/README.md" 1) || { echo "$F"; fail "tests/faults/README.md"; }
pass "tests/faults/README.md: $F rows, each names a test that exists and holds the case"
M=$(check "$abs_top_srcdir/docs/THREAT-MODEL.md" 1) || { echo "$M"; fail "docs/THREAT-MODEL.md"; }
pass "docs/THREAT-MODEL.md: $M defences, each names a test that exists and holds the case"

# The checker refuses what it should: a missing file, a missing case, a row
# without a test, too few rows.
printf '| attack | test |\n|---|---|\n| a | `test_nonexistent.sh:x` |\n' > "$T/t1.md"
printf '| attack | test |\n|---|---|\n| a | `test_login.sh:no-such-case-anywhere` |\n' > "$T/t2.md"
printf '| attack | test |\n|---|---|\n| a | `test_login.sh` ("no such line anywhere …") |\n' > "$T/t3.md"
printf '| attack | test |\n|---|---|\n| a | nothing |\n' > "$T/t4.md"
printf '| attack | test |\n|---|---|\n| a | `test_login.sh:bad-state` |\n' > "$T/t5.md"
for t in t1 t2 t3 t4; do
	if check "$T/$t.md" 1 > "$T/$t.out"; then fail "the checker accepted $t: $(cat "$T/$t.md")"; fi
done
check "$T/t5.md" 1 > /dev/null || fail "the checker refused a good row"
if check "$T/t5.md" 2 > /dev/null; then fail "the checker accepted too few rows"; fi
pass "the checker refuses a missing file, a missing case, a missing line, a row without a test, too few rows"
