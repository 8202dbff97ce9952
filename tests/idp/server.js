#!/usr/bin/env node
// pam_authgear test IdP: an Authgear-compatible OpenID provider for tests, on oidc-provider.
// Usage: node server.js --state DIR [--port N] [--hook-port N] [--users FILE] [--device]
//                       [--no-rate-limits] [--alg ALG]
// Normally started through start.sh, which waits for DIR/idp.env.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MIN_NODE = [18, 19, 0];

function die(msg) { process.stderr.write(`test IdP: ${msg}\n`); process.exit(2); }

const have = process.versions.node.split('.').map(Number);
if (have[0] < MIN_NODE[0] || (have[0] === MIN_NODE[0] && (have[1] < MIN_NODE[1]
  || (have[1] === MIN_NODE[1] && have[2] < MIN_NODE[2])))) {
  die(`Node.js ${process.versions.node} is too old; the test IdP (oidc-provider 8.8.1) needs >= ${MIN_NODE.join('.')}`);
}

function parseArgs(argv) {
  const o = { users: path.join(HERE, 'fixtures', 'users.json'), device: false, rateLimits: true, alg: null };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) die(`${a} needs a value`); i += 1; return argv[i]; };
    switch (a) {
      case '--state': o.state = val(); break;
      case '--port': o.port = Number(val()); break;
      case '--hook-port': o.hookPort = Number(val()); break;
      case '--users': o.users = val(); break;
      case '--device': o.device = true; break;
      case '--no-rate-limits': o.rateLimits = false; break;
      case '--alg': o.alg = val(); break;
      default: die(`unknown argument ${a}`);
    }
  }
  if (!o.state) die('--state DIR is required');
  for (const k of ['port', 'hookPort']) if (o[k] !== undefined && !(Number.isInteger(o[k]) && o[k] > 0 && o[k] < 65536)) die(`bad ${k}`);
  return o;
}

const opts = parseArgs(process.argv.slice(2));
if (!fs.existsSync(path.join(HERE, 'node_modules', 'oidc-provider'))) die(`node_modules is missing: run npm ci in ${HERE}`);

const [{ ensureCerts }, { KeyStore }, { loadFixture, Users }, { Store }, { Counters }, { Faults, FAULT_TYPES },
  { Limits }, { discoveryMiddleware }, { authorizeMiddleware }, { consentMiddleware }, { FlowAPI },
  { Tokens }, { Device }, { createProvider }, { createHookServer }, { readRaw, sha256hex }] = await Promise.all([
  import('./lib/certs.js'), import('./lib/keys.js'), import('./lib/users.js'), import('./lib/adapter.js'),
  import('./lib/counters.js'), import('./lib/faults.js'), import('./lib/limits.js'), import('./lib/discovery.js'),
  import('./lib/authorize.js'), import('./lib/consent.js'), import('./lib/flow.js'), import('./lib/tokens.js'),
  import('./lib/device.js'), import('./lib/provider.js'), import('./lib/hooks.js'), import('./lib/util.js')]);

const stateDir = path.resolve(opts.state);
fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
const log = (m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`);

const loadCert = ensureCerts(stateDir);
const keys = new KeyStore(stateDir);
keys.load(opts.alg);
const fixture = loadFixture(opts.users);

// The HTTPS port is kept in the state dir so a restarted instance keeps its issuer URL.
const portFile = path.join(stateDir, 'port');
let port = opts.port ?? (fs.existsSync(portFile) ? Number(fs.readFileSync(portFile, 'utf8')) : 0);

const app = {
  opts, stateDir, log, keys,
  users: new Users(fixture.users),
  clients: fixture.clients,
  store: new Store(),
  counters: new Counters(),
  faults: new Faults(),
  limits: new Limits(opts.rateLimits),
  loginIdKeys: ['email', 'phone', 'username'], // the project's identity.login_id.keys (POST /login-id-keys)
  // the project's configured flows per type (authentication_flow.<type>_flows, POST /flows) and
  // the login flows whose identify step requires bot protection
  flows: { login: ['default'], reauth: ['default'], signup_login: ['default'], bot_protection: [] },
  otpCodes: new Map(), // username -> the email OTP code last "sent" (GET /otp/NAME)
  authInfos: new Map(), // consent code -> { uid, sub, amr, authTime, exp, ... }
  idpSessions: new Map(), // `session` cookie -> { sub, amr, authTime }
  deviceTokens: new Map(), // `mfa_device_token` cookie -> { sub, exp }
  grantUuids: new Map(),
  uuidGrants: new Map(),
  quirks: { next: {}, take() { const q = this.next; this.next = {}; return q; } },
  tlsKind: 'normal',
  grantIdFromSid(sid) {
    try {
      const m = /^(?:offline_grant|idp):(.+)$/.exec(Buffer.from(String(sid), 'base64url').toString('utf8'));
      return m ? app.uuidGrants.get(m[1]) : undefined;
    } catch { return undefined; }
  },
  revokeUserSessions(u) {
    const grants = app.store.grantsOf(u.sub);
    for (const g of grants) app.store.revokeGrant(g);
    for (const [k, s] of app.idpSessions) if (s.sub === u.sub) app.idpSessions.delete(k);
    return grants.length;
  },
};
app.tokens = new Tokens(app);
app.device = new Device(app);

async function listen(server, p) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  return server.address().port;
}

// Bind first (port 0 = pick a free one), then build the provider with the final issuer.
const tlsSockets = new Set();
let handler = (req, res) => { res.writeHead(503); res.end(); };
const httpsServer = https.createServer({ ...loadCert('normal'), minVersion: 'TLSv1.2' }, async (req, res) => {
  const rec = app.counters.request(req, res);
  req.idpRecord = rec;
  const f = app.faults.take(rec.path);
  try {
    if (rec.path === '/oauth2/token' && req.method === 'POST') {
      // Logged before any fault so that failed polls show their grant_type too; the buffered
      // body is reused by the token endpoint.
      const form = new URLSearchParams((await readRaw(req, 56 * 1024)).toString('utf8'));
      if (form.has('grant_type')) rec.grant_type = form.get('grant_type');
      if (form.has('device_code')) rec.device_code_sha256 = sha256hex(form.get('device_code'));
    }
    if (f) {
      rec.fault = f.type;
      if (FAULT_TYPES[f.type] === 'early') {
        if (await app.faults.early(f, req, res)) return;
      } else {
        req.idpFault = f;
      }
    }
    handler(req, res);
  } catch (e) {
    log(`request ${rec.path}: ${e.stack}`);
    req.socket.destroy();
  }
});
httpsServer.keepAliveTimeout = 30000;
httpsServer.on('connection', () => { app.counters.tcp += 1; });
httpsServer.on('secureConnection', (s) => {
  app.counters.tls += 1;
  tlsSockets.add(s);
  s.on('close', () => tlsSockets.delete(s));
});
httpsServer.on('tlsClientError', () => {});
try {
  port = await listen(httpsServer, port);
} catch (e) {
  die(`cannot listen on 127.0.0.1:${port}: ${e.message}`);
}
fs.writeFileSync(portFile, `${port}\n`);
app.issuer = `https://127.0.0.1:${port}`;

// Wrong-certificate faults swap the TLS context; open connections are closed so the next
// request necessarily makes a new handshake with the new certificate.
app.setTls = (kind) => {
  httpsServer.setSecureContext({ ...loadCert(kind), minVersion: 'TLSv1.2' });
  app.tlsKind = kind;
  for (const s of tlsSockets) s.destroy();
};

const provider = createProvider(app);
app.provider = provider;
const flows = new FlowAPI(app);
for (const mw of [
  app.faults.middleware(),
  discoveryMiddleware(app),
  authorizeMiddleware(app),
  consentMiddleware(app),
  flows.middleware(),
  app.device.middleware(),
  app.tokens.tokenMiddleware(),
  app.tokens.otherMiddleware(),
]) provider.use(mw);
handler = provider.callback();
setInterval(() => { app.store.sweep(); flows.sweep(); }, 60000).unref();

const hookServer = createHookServer(app);
let hookPort;
try {
  hookPort = await listen(hookServer, opts.hookPort ?? 0);
} catch (e) {
  die(`cannot listen on hook port: ${e.message}`);
}

const env = [
  `ISSUER=${app.issuer}`,
  `CA_FILE=${path.join(stateDir, 'ca.pem')}`,
  `HOOK_URL=http://127.0.0.1:${hookPort}`,
  `PID=${process.pid}`,
].join('\n');
fs.writeFileSync(path.join(stateDir, 'idp.env.tmp'), `${env}\n`);
fs.renameSync(path.join(stateDir, 'idp.env.tmp'), path.join(stateDir, 'idp.env'));
log(`ready: ${app.issuer} hooks http://127.0.0.1:${hookPort} device=${opts.device} rate_limits=${opts.rateLimits} alg=${keys.current.alg}`);

function shutdown(sig) {
  log(`${sig}: stopping`);
  fs.rmSync(path.join(stateDir, 'idp.env'), { force: true });
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
