// Per-path request counters, a per-request log and TLS connection counts for the hook port.
import { nowMs } from './util.js';

const MAX_LOG = 100000;

export class Counters {
  constructor() { this.reset(); }

  reset() {
    this.paths = {};
    this.requests = [];
    this.tls = 0;
    this.tcp = 0;
  }

  // Called for EVERY request on the HTTPS port, before faults or routing.
  request(req, res) {
    const path = (req.url || '/').split('?')[0];
    this.paths[path] = (this.paths[path] || 0) + 1;
    const rec = { path, method: req.method, t_ms: nowMs() };
    // the authorize request's parameters (no secrets: PKCE challenge, state, nonce)
    if (path === '/oauth2/authorize') rec.query = Object.fromEntries(new URL(req.url || '/', 'https://x').searchParams);
    if (this.requests.length < MAX_LOG) this.requests.push(rec);
    res.on('finish', () => { rec.status = res.statusCode; rec.done_ms = nowMs(); });
    return rec;
  }
}
