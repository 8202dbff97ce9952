// Small helpers shared by every part of the test IdP.
import crypto from 'node:crypto';

export const b64url = (buf) => Buffer.from(buf).toString('base64url');
export const b64urlJSON = (obj) => b64url(JSON.stringify(obj));
export const sha256hex = (s) => crypto.createHash('sha256').update(s).digest('hex');
export const epoch = () => Math.floor(Date.now() / 1000);
export const nowMs = () => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// Authgear's GenerateToken: 32 chars of [A-Za-z0-9].
export function randomAlnum(n = 32) {
  const out = [];
  while (out.length < n) {
    for (const b of crypto.randomBytes(n * 2)) {
      if (b < 248 && out.length < n) out.push(ALNUM[b % 62]);
    }
  }
  return out.join('');
}

// Authgear's base32 alphabet for flow ids (lower-case-free, no I L O U).
const AG32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export function randomBase32(n = 32) {
  return [...crypto.randomBytes(n)].map((b) => AG32[b & 31]).join('');
}


// Read a request body fully (bounded). Returns a Buffer.
export async function readRaw(req, limit = 1024 * 1024) {
  if (req.rawBodyBuffer) return req.rawBodyBuffer;
  const chunks = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > limit) { const e = new Error('request entity too large'); e.tooLarge = true; throw e; }
    chunks.push(c);
  }
  req.rawBodyBuffer = Buffer.concat(chunks);
  return req.rawBodyBuffer;
}

// Read an application/x-www-form-urlencoded body of a Koa ctx and hand it to
// oidc-provider through ctx.req.body (it falls back to that when the stream is consumed).
export async function readForm(ctx) {
  if (ctx.req.body && typeof ctx.req.body === 'object') return ctx.req.body;
  let obj = {};
  if (ctx.is('application/x-www-form-urlencoded')) {
    const raw = await readRaw(ctx.req, 56 * 1024);
    obj = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
  }
  ctx.req.body = obj;
  return obj;
}

export function sleep(ms) { return new Promise((r) => { setTimeout(r, ms); }); }

export function decodeJwtPart(part) {
  try { return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')); } catch { return null; }
}

export function sortedQuery(obj) {
  const q = new URLSearchParams();
  for (const k of Object.keys(obj).sort()) {
    if (obj[k] !== undefined && obj[k] !== null) q.append(k, String(obj[k]));
  }
  return q.toString();
}
