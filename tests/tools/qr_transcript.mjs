// qr_transcript.mjs [--plain] OUTDIR < TRANSCRIPT
// Find the QR codes in a pam_driver transcript (an "info: " message whose
// lines are only spaces and half blocks), write each to OUTDIR/qr.N without
// the "info: " prefix, and print the transcript with each code replaced by
// "info: <QR N: COLUMNSxLINES>", so the rest can be compared exactly.
// --plain: a terminal's text (ssh, tmux): no "info: " prefix, CRs dropped.
import fs from 'node:fs';

const plain = process.argv[2] === '--plain';
const outdir = process.argv[plain ? 3 : 2];
const prefix = plain ? '' : 'info: ';
const qrLine = /^[ \u2580\u2584\u2588]{21,}$/u;
const lines = fs.readFileSync(0, 'utf8').replace(/\r/g, '').split('\n');
const out = [];
let n = 0;
for (let i = 0; i < lines.length; i++) {
  const l = lines[i];
  if (l.startsWith(prefix) && qrLine.test(l.slice(prefix.length))) {
    const block = [l.slice(prefix.length)];
    const width = [...block[0]].length;
    while (i + 1 < lines.length && qrLine.test(lines[i + 1]) && [...lines[i + 1]].length === width) block.push(lines[++i]);
    n += 1;
    fs.writeFileSync(`${outdir}/qr.${n}`, `${block.join('\n')}\n`);
    out.push(`${prefix}<QR ${n}: ${width}x${block.length}>`);
  } else {
    out.push(l);
  }
}
process.stdout.write(out.join('\n'));
