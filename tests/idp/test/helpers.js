// Test helpers: start/stop real instances through start.sh/stop.sh, HTTPS requests with the test CA.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const IDP_DIR = path.resolve(HERE, '..');
export const CLIENT = 'pam_authgear';
export const REDIRECT = 'http://127.0.0.1/pam_authgear/callback';
export const FIXTURE = JSON.parse(fs.readFileSync(path.join(IDP_DIR, 'fixtures', 'users.json'), 'utf8'));
export const USER = Object.fromEntries(FIXTURE.users.map((u) => [u.username, u]));

export function startIdp(args = [], state = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-test-'))) {
  const out = execFileSync(path.join(IDP_DIR, 'start.sh'), ['--state', state, ...args], { encoding: 'utf8' });
  const env = Object.fromEntries(out.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  const ca = fs.readFileSync(env.CA_FILE);
  const idp = {
    state, env, ca, issuer: env.ISSUER, hookUrl: env.HOOK_URL, pid: Number(env.PID),
    stop: () => execFileSync(path.join(IDP_DIR, 'stop.sh'), [state]),
    cleanup: () => { idp.stop(); fs.rmSync(state, { recursive: true, force: true }); },
    req: (method, p, o = {}) => request(method, p.startsWith('http') ? p : idp.issuer + p, { ca, ...o }),
    hook: async (method, p, body) => {
      const r = await request(method, idp.hookUrl + p, { json: body });
      if (r.status !== 200) throw new Error(`hook ${method} ${p} -> ${r.status} ${r.text}`);
      return r.json;
    },
  };
  return idp;
}

// One request, never following redirects. o: { headers, json, form, body, ca, agent, timeout }
export function request(method, url, o = {}) {
  const u = new URL(url);
  const headers = { ...(o.headers || {}) };
  let body = o.body;
  if (o.json !== undefined) { body = JSON.stringify(o.json); headers['content-type'] ??= 'application/json'; }
  if (o.form !== undefined) { body = new URLSearchParams(o.form).toString(); headers['content-type'] ??= 'application/x-www-form-urlencoded'; }
  if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const r = mod.request(u, {
      method, headers, ca: o.ca, agent: o.agent ?? false, servername: o.servername, rejectUnauthorized: o.rejectUnauthorized ?? true,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json, complete: res.complete });
      });
    });
    r.on('error', reject);
    if (o.timeout) r.setTimeout(o.timeout, () => r.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    if (body !== undefined) r.write(body);
    r.end();
  });
}

export function decodeJwt(t) {
  const [h, p] = t.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}

export function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
}

export async function totpFor(idp, username) {
  return (await idp.hook('GET', `/totp/${username}`)).code;
}

// authorize -> 302 with x_ref; returns { res, query, pk, state, nonce }
export async function authorize(idp, extra = {}, client = CLIENT) {
  const pk = pkce();
  const state = crypto.randomBytes(8).toString('hex');
  const nonce = crypto.randomBytes(8).toString('hex');
  const q = new URLSearchParams({
    client_id: client, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid offline_access',
    code_challenge: pk.challenge, code_challenge_method: 'S256', state, nonce, x_sso_enabled: 'false', ...extra,
  });
  for (const [k, v] of Object.entries(extra)) if (v === null) q.delete(k);
  const res = await idp.req('GET', `/oauth2/authorize?${q}`);
  const loc = res.headers.location ? new URL(res.headers.location) : null;
  return { res, query: loc ? loc.search.slice(1) : null, pk, state, nonce, client };
}

export const flow = (idp, p, body, headers) => idp.req('POST', `/api/v1/authentication_flows${p}`, { json: body, headers });

// Full login: authorize, flow (password [+ TOTP]), consent, code exchange. Returns tokens etc.
export async function login(idp, username, { client = CLIENT, extra = {}, secondFactor = true } = {}) {
  const a = await authorize(idp, extra, client);
  let r = await flow(idp, '', { type: 'login', name: 'default', url_query: a.query });
  r = await flow(idp, '/states/input', { state_token: r.json.result.state_token, input: { identification: 'username', login_id: username } });
  r = await flow(idp, '/states/input', { state_token: r.json.result.state_token, input: { authentication: 'primary_password', password: USER[username].password } });
  if (secondFactor && r.json.result && r.json.result.action.type === 'authenticate') {
    r = await flow(idp, '/states/input', { state_token: r.json.result.state_token, input: { authentication: 'secondary_totp', code: await totpFor(idp, username) } });
  }
  if (!r.json.result || r.json.result.action.type !== 'finished') throw new Error(`login did not finish: ${r.text}`);
  return finish(idp, a, r.json.result.action.data.finish_redirect_uri);
}

export async function finish(idp, a, finishUri) {
  const c = await idp.req('GET', finishUri);
  if (c.status !== 303) throw new Error(`consent: ${c.status} ${c.text}`);
  const loc = new URL(c.headers.location);
  const code = loc.searchParams.get('code');
  const t = await idp.req('POST', '/oauth2/token', {
    form: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: a.client, code_verifier: a.pk.verifier },
  });
  return { a, consent: c, loc, code, token: t, tokens: t.json };
}
