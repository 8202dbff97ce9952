// qr_to_pgm.mjs [--invert] [--scale N] OUT.pgm < TEXT
// Turn a QR code drawn with half blocks (src/login/qr.c) back into pixels, one
// pixel per module, and write it as a binary PGM for zbarimg, each module
// scaled to --scale pixels a side (default 4: zbar misses codes with
// alignment patterns at 1 pixel per module).
// The characters are ink: dark modules, or light ones with --invert. Prints
// {"columns","lines","modules","quiet":{top,bottom,left,right}} where quiet
// counts the light rows/columns at each border of the symbol's square.
// Fails on any character other than space, U+2580, U+2584, U+2588, on lines of
// different widths, and when the drawn height is not the width (+1 padding row).
import fs from 'node:fs';

const args = process.argv.slice(2);
let invert = false, scale = 4, out = null;
while (args.length) {
  const a = args.shift();
  if (a === '--invert') invert = true;
  else if (a === '--scale') scale = Number(args.shift());
  else out = a;
}
if (!out) { console.error('usage: qr_to_pgm.mjs [--invert] [--scale N] OUT.pgm < TEXT'); process.exit(2); }
const die = (m) => { console.error(`qr_to_pgm: ${m}`); process.exit(1); };

const lines = fs.readFileSync(0, 'utf8').replace(/\n$/, '').split('\n').map((l) => [...l]);
const columns = lines[0].length;
const ink = { ' ': [false, false], '\u2580': [true, false], '\u2584': [false, true], '\u2588': [true, true] };
const rows = [];
for (const [i, l] of lines.entries()) {
  if (l.length !== columns) die(`line ${i + 1} has ${l.length} characters, line 1 has ${columns}`);
  const top = [], bottom = [];
  for (const c of l) {
    if (!(c in ink)) die(`line ${i + 1}: character U+${c.codePointAt(0).toString(16)} is not a half block`);
    top.push(ink[c][0]);
    bottom.push(ink[c][1]);
  }
  rows.push(top, bottom);
}
if (rows.length === columns + 1) {
  // the padding row under an odd height: never ink
  if (rows[columns].some((x) => x)) die('the padding row has ink');
  rows.pop();
}
if (rows.length !== columns) die(`${rows.length} module rows for ${columns} columns: not square`);
const dark = rows.map((r) => r.map((x) => x !== invert));

const n = columns;
const lightRow = (y) => dark[y].every((d) => !d);
const lightCol = (x) => dark.every((r) => !r[x]);
const count = (f, from, step) => { let k = 0; for (let i = from; i >= 0 && i < n && f(i); i += step) k++; return k; };
const quiet = { top: count(lightRow, 0, 1), bottom: count(lightRow, n - 1, -1), left: count(lightCol, 0, 1), right: count(lightCol, n - 1, -1) };

const size = n * scale;
const buf = Buffer.alloc(size * size);
for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) buf[y * size + x] = dark[Math.floor(y / scale)][Math.floor(x / scale)] ? 0 : 255;
fs.writeFileSync(out, Buffer.concat([Buffer.from(`P5\n${size} ${size}\n255\n`), buf]));
console.log(JSON.stringify({ columns, lines: lines.length, modules: n - 8, quiet }));
