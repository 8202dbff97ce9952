// qr_transcript.mjs OUTDIR < TRANSCRIPT
// Find the QR codes in a pam_driver transcript (an "info: " message whose
// lines are only spaces and half blocks), write each to OUTDIR/qr.N without
// the "info: " prefix, and print the transcript with each code replaced by
// "info: <QR N: COLUMNSxLINES>", so the rest can be compared exactly.
import fs from 'node:fs';

const outdir = process.argv[2];
const qrLine = /^[ \u2580\u2584\u2588]{21,}$/u;
const lines = fs.readFileSync(0, 'utf8').split('\n');
const out = [];
let n = 0;
for (let i = 0; i < lines.length; i++) {
  const l = lines[i];
  if (l.startsWith('info: ') && qrLine.test(l.slice(6))) {
    const block = [l.slice(6)];
    const width = [...block[0]].length;
    while (i + 1 < lines.length && qrLine.test(lines[i + 1]) && [...lines[i + 1]].length === width) block.push(lines[++i]);
    n += 1;
    fs.writeFileSync(`${outdir}/qr.${n}`, `${block.join('\n')}\n`);
    out.push(`info: <QR ${n}: ${width}x${block.length}>`);
  } else {
    out.push(l);
  }
}
process.stdout.write(out.join('\n'));
