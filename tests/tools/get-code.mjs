// get-code.mjs USER [--no-second-factor] [--max-age N]: sign USER in at the
// running test IdP through authorize + the Authentication Flow API + consent,
// like a browser would, and print {"code", "verifier", "nonce", "state"} as
// JSON for the C client under test to exchange. Environment: ISSUER, CA_FILE,
// HOOK_URL (from the IdP's idp.env), IDP_DIR (its helpers), CLIENT_ID.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const h = await import(pathToFileURL(path.join(process.env.IDP_DIR, 'test', 'helpers.js')));
const args = process.argv.slice(2);
const user = args[0];
const extra = {};
const i = args.indexOf('--max-age');
if (i >= 0) extra.max_age = args[i + 1];
const ca = fs.readFileSync(process.env.CA_FILE);
const idp = {
  issuer: process.env.ISSUER,
  req: (method, p, o = {}) => h.request(method, p.startsWith('http') ? p : process.env.ISSUER + p, { ca, ...o }),
  hook: async (method, p, body) => (await h.request(method, process.env.HOOK_URL + p, { json: body })).json,
};
const client = process.env.CLIENT_ID || h.CLIENT;
const a = await h.authorize(idp, extra, client);
let r = await h.flow(idp, '', { type: 'login', name: 'default', url_query: a.query });
const input = async (inp) => { r = await h.flow(idp, '/states/input', { state_token: r.json.result.state_token, input: inp }); };
await input({ identification: 'username', login_id: user });
await input({ authentication: 'primary_password', password: h.USER[user].password });
if (!args.includes('--no-second-factor') && r.json.result?.action.type === 'authenticate')
  await input({ authentication: 'secondary_totp', code: await h.totpFor(idp, user) });
if (r.json.result?.action.type !== 'finished') throw new Error(`login did not finish: ${r.text}`);
const c = await idp.req('GET', r.json.result.action.data.finish_redirect_uri);
if (c.status !== 303) throw new Error(`consent: ${c.status} ${c.text}`);
const loc = new URL(c.headers.location);
if (loc.searchParams.get('state') !== a.state) throw new Error('state mismatch');
process.stdout.write(JSON.stringify({ code: loc.searchParams.get('code'), verifier: a.pk.verifier, nonce: a.nonce, state: a.state }) + '\n');
