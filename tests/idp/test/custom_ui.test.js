// A client with a Custom UI URI (authgear-protocol.md §2.5): authorize sends
// the browser to that URI with x_ref, and the redirects to the client are
// 200 HTML (meta refresh) with no Location header.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { authorize, flow, startIdp, totpFor, USER } from './helpers.js';

let idp;
before(() => { idp = startIdp(); });
after(() => idp.cleanup());

const CLIENT = 'pam_authgear_custom_ui';

test('custom UI: authorize 302 to the Custom UI URI with x_ref', async () => {
  const a = await authorize(idp, {}, CLIENT);
  assert.equal(a.res.status, 302);
  const loc = new URL(a.res.headers.location);
  assert.equal(loc.origin + loc.pathname, 'https://ui.example.com/login');
  assert.ok(loc.searchParams.get('x_ref'));
  assert.equal(loc.searchParams.get('client_id'), CLIENT);
});

test('custom UI: consent answers 200 HTML without Location', async () => {
  const a = await authorize(idp, {}, CLIENT);
  let r = await flow(idp, '', { type: 'login', name: 'default', url_query: a.query });
  r = await flow(idp, '/states/input', { state_token: r.json.result.state_token, input: { identification: 'username', login_id: 'alice' } });
  r = await flow(idp, '/states/input', { state_token: r.json.result.state_token, input: { authentication: 'primary_password', password: USER.alice.password } });
  r = await flow(idp, '/states/input', { state_token: r.json.result.state_token, input: { authentication: 'secondary_totp', code: await totpFor(idp, 'alice') } });
  assert.equal(r.json.result.action.type, 'finished', r.text);
  const c = await idp.req('GET', r.json.result.action.data.finish_redirect_uri);
  assert.equal(c.status, 200);
  assert.equal(c.headers.location, undefined);
  assert.match(c.text, /<meta http-equiv="refresh" content="0;url=http:\/\/127\.0\.0\.1\/pam_authgear\/callback\?code=/);
});

test('custom UI: an authorize error after redirect_uri is 200 HTML too', async () => {
  const a = await authorize(idp, { scope: 'profile' }, CLIENT);
  assert.equal(a.res.status, 200);
  assert.equal(a.res.headers.location, undefined);
  assert.match(a.res.text, /error=invalid_scope/);
});
