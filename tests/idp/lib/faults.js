// Injected faults, selectable per path (or "*" for every path), cleared by a hook.
import { sleep } from './util.js';

export const FAULT_TYPES = {
  // answered before the request reaches the IdP logic
  http500: 'early', status: 'early', delay: 'early', garbage_json: 'early', html200: 'early',
  oversized: 'early', reset: 'early', hang: 'early', date_skew: 'early',
  // applied to the real response
  truncated_json: 'late', cut_connection: 'late', drip: 'late', duplicate_keys: 'late', wrong_issuer: 'late', http_location: 'late',
  set_field: 'late',
};

export class Faults {
  constructor() { this.byPath = new Map(); this.hung = new Set(); }

  add(spec) {
    if (!spec || !FAULT_TYPES[spec.type]) throw new Error(`unknown fault type ${spec && spec.type}; one of ${Object.keys(FAULT_TYPES).join(' ')}`);
    if (spec.type === 'set_field' && typeof spec.key !== 'string') throw new Error('set_field needs "key" (and "value"; null removes the member)');
    const path = spec.path || '*';
    const f = { ...spec, path, remaining: Number.isInteger(spec.count) ? spec.count : null };
    this.byPath.set(path, f);
    return f;
  }

  clear(path) {
    if (path) this.byPath.delete(path); else this.byPath.clear();
  }

  // The fault applying to this request, consuming one use of a counted fault.
  take(path) {
    const f = this.byPath.get(path) || this.byPath.get(path.toLowerCase()) || this.byPath.get('*');
    if (!f) return null;
    if (f.remaining !== null) {
      f.remaining -= 1;
      if (f.remaining <= 0) this.byPath.delete(f.path);
    }
    return f;
  }

  list() { return [...this.byPath.values()]; }

  // Early faults: returns true when the request was fully handled here.
  async early(f, req, res) {
    const send = (status, type, body) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    switch (f.type) {
      case 'delay': await sleep((f.seconds ?? 1) * 1000); return false;
      // a Date header off by `seconds` (a server clock that is wrong), the answer itself real
      case 'date_skew': res.setHeader('Date', new Date(Date.now() + (f.seconds ?? 600) * 1000).toUTCString()); return false;
      case 'http500': send(500, 'application/json', '{"error":"server_error","error_description":"injected fault: http500"}'); return true;
      case 'status': send(f.status || 503, f.content_type || 'application/json', f.body ?? '{"error":"injected"}'); return true;
      case 'garbage_json': send(200, 'application/json', '{"access_token": "x", "id_token": ]] \u0000 not json {{'); return true;
      case 'html200': send(200, 'text/html; charset=utf-8', '<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Captive portal</h1></body></html>'); return true;
      case 'oversized': {
        const n = f.bytes || 2 * 1024 * 1024;
        send(200, 'application/json', `{"padding":"${'A'.repeat(Math.max(0, n - 14))}"}`);
        return true;
      }
      case 'reset': {
        // TCP RST: on a TLS socket only the underlying TCP socket can be reset.
        const tcp = req.socket._parent || req.socket;
        try { tcp.resetAndDestroy(); } catch { req.socket.destroy(); }
        return true;
      }
      case 'hang': this.hung.add(req.socket); req.socket.once('close', () => this.hung.delete(req.socket)); return true;
      default: return false;
    }
  }

  // Late faults: a Koa middleware that rewrites the real response.
  middleware() {
    return async (ctx, next) => {
      await next();
      const f = ctx.req.idpFault;
      if (!f) return;
      if (f.type === 'http_location') {
        const loc = ctx.response.get('Location');
        if (loc) ctx.set('Location', loc.replace(/^https:/, 'http:'));
        return;
      }
      let text = bodyText(ctx.body);
      if (text === null) return;
      let j;
      if (f.type === 'wrong_issuer' || f.type === 'duplicate_keys' || f.type === 'set_field') {
        try { j = JSON.parse(text); } catch { return; } // not a JSON response: left as it is
        if (!j || typeof j !== 'object' || Array.isArray(j) || !Object.keys(j).length) return;
      }
      if (f.type === 'wrong_issuer') {
        if (j && typeof j === 'object' && 'issuer' in j) j.issuer = f.issuer || 'https://wrong-issuer.example.invalid';
        text = JSON.stringify(j);
      } else if (f.type === 'set_field') {
        // one member of the real JSON object set to `value` (e.g. userinfo's sub), or removed when null
        if (f.value === null) delete j[f.key]; else j[f.key] = f.value;
        text = JSON.stringify(j);
      } else if (f.type === 'duplicate_keys') {
        const key = f.key || Object.keys(j)[0];
        const dup = f.value !== undefined ? f.value : `duplicate-${typeof j[key] === 'string' ? j[key] : 'value'}`;
        text = `${text.replace(/}\s*$/, '')},${JSON.stringify(key)}:${JSON.stringify(dup)}}`;
      } else if (f.type === 'truncated_json') {
        text = text.slice(0, f.bytes ?? Math.floor(text.length / 2));
      } else if (f.type === 'cut_connection') {
        // Content-Length promises the whole body; the connection dies after half of it.
        const full = Buffer.from(text);
        ctx.respond = false;
        const headers = { ...ctx.response.headers, 'content-length': full.length };
        ctx.res.writeHead(ctx.status, headers);
        ctx.res.write(full.subarray(0, f.bytes ?? Math.floor(full.length / 2)), () => ctx.req.socket.destroy());
        return;
      } else if (f.type === 'drip') {
        // The real response, its full Content-Length, one byte every `interval` seconds.
        const full = Buffer.from(text);
        ctx.respond = false;
        ctx.res.writeHead(ctx.status, { ...ctx.response.headers, 'content-length': full.length });
        let i = 0;
        const tick = () => {
          if (ctx.res.destroyed) return;
          if (i >= full.length) { ctx.res.end(); return; }
          ctx.res.write(full.subarray(i, i + 1));
          i += 1;
          setTimeout(tick, (f.interval ?? 1) * 1000);
        };
        tick();
        return;
      }
      const type = ctx.response.get('Content-Type');
      ctx.body = text;
      if (type) ctx.set('Content-Type', type);
    };
  }
}

function bodyText(body) {
  if (body === null || body === undefined) return null;
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (typeof body === 'object' && typeof body.pipe !== 'function') return JSON.stringify(body);
  return null;
}
