// RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s), RFC 4648 base32 secrets.
import crypto from 'node:crypto';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Decode(s) {
  const clean = s.toUpperCase().replace(/[\s=-]/g, '');
  let bits = 0; let value = 0; const out = [];
  for (const ch of clean) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new Error('invalid base32');
    value = (value << 5) | v; bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

export function hotp(secretB32, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = crypto.createHmac('sha1', base32Decode(secretB32)).update(msg).digest();
  const off = h[h.length - 1] & 0xf;
  const bin = ((h[off] & 0x7f) << 24) | (h[off + 1] << 16) | (h[off + 2] << 8) | h[off + 3];
  return String(bin % (10 ** digits)).padStart(digits, '0');
}

export function totp(secretB32, atMs = Date.now(), step = 30) {
  return hotp(secretB32, Math.floor(atMs / 1000 / step));
}

// Authgear validates with skew 1 (the previous, current and next step).
export function verifyTotp(secretB32, code, atMs = Date.now(), skew = 1) {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return false;
  const c = Math.floor(atMs / 1000 / 30);
  for (let i = -skew; i <= skew; i += 1) {
    if (crypto.timingSafeEqual(Buffer.from(hotp(secretB32, c + i)), Buffer.from(code))) return true;
  }
  return false;
}
