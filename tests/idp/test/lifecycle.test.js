// start.sh / stop.sh contract: env lines, errors with clear messages, --port, --users, idempotent stop.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  FIXTURE, IDP_DIR, login, request, startIdp,
} from './helpers.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'idp-life-'));

test('start.sh prints and writes ISSUER, CA_FILE, HOOK_URL, PID; refuses a second start; stop is idempotent', async () => {
  const idp = startIdp();
  try {
    assert.match(idp.issuer, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(idp.env.CA_FILE, path.join(fs.realpathSync(idp.state), 'ca.pem'));
    assert.match(idp.env.HOOK_URL, /^http:\/\/127\.0\.0\.1:\d+$/);
    const file = fs.readFileSync(path.join(idp.state, 'idp.env'), 'utf8');
    assert.deepEqual(file.trim().split('\n').map((l) => l.split('=')[0]), ['ISSUER', 'CA_FILE', 'HOOK_URL', 'PID']);
    assert.equal(fs.readFileSync(path.join(idp.state, 'idp.pid'), 'utf8').trim(), String(idp.pid));
    for (const f of ['ca.pem', 'server.pem', 'wrong-ca.pem', 'wrong-host.pem', 'keys.json']) assert.ok(fs.existsSync(path.join(idp.state, f)), f);
    assert.equal(fs.statSync(path.join(idp.state, 'keys.json')).mode & 0o077, 0);
    assert.equal((await request('GET', `${idp.hookUrl}/health`)).json.ok, true);
    const again = spawnSync(path.join(IDP_DIR, 'start.sh'), ['--state', idp.state], { encoding: 'utf8' });
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already running/);
  } finally { idp.stop(); }
  // gone, or a zombie waiting for its reaper (start.sh, its parent, has exited)
  const stat = fs.existsSync(`/proc/${idp.pid}/stat`) ? fs.readFileSync(`/proc/${idp.pid}/stat`, 'utf8') : '';
  assert.ok(stat === '' || /\) Z /.test(stat), stat);
  idp.stop();
  execFileSync(path.join(IDP_DIR, 'stop.sh'), [path.join(idp.state, 'never-started')]);
  fs.rmSync(idp.state, { recursive: true, force: true });
});

test('--port and --users', async () => {
  const probe = startIdp();
  const port = Number(new URL(probe.issuer).port);
  probe.cleanup(); // the port is free again
  const dir = tmp();
  const users = path.join(dir, 'users.json');
  fs.writeFileSync(users, JSON.stringify({ users: [FIXTURE.users.find((u) => u.username === 'carol')], clients: FIXTURE.clients }));
  const idp = startIdp(['--port', String(port), '--users', users], path.join(dir, 'state'));
  try {
    assert.equal(idp.issuer, `https://127.0.0.1:${port}`);
    assert.equal((await login(idp, 'carol')).token.status, 200);
    assert.deepEqual((await idp.hook('GET', '/users')).map((u) => u.username), ['carol']);
  } finally { idp.cleanup(); fs.rmSync(dir, { recursive: true, force: true }); }
});

test('clear failures: missing node_modules, old Node.js, bad arguments', () => {
  const dir = tmp();
  const copy = path.join(dir, 'idp');
  fs.mkdirSync(copy);
  for (const f of ['start.sh', 'stop.sh', 'server.js', 'package.json']) fs.copyFileSync(path.join(IDP_DIR, f), path.join(copy, f));
  fs.chmodSync(path.join(copy, 'start.sh'), 0o755);
  const r = spawnSync(path.join(copy, 'start.sh'), ['--state', path.join(dir, 's')], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, new RegExp(`run npm ci in ${copy}`));

  const fakeNode = path.join(dir, 'node18');
  fs.writeFileSync(fakeNode, '#!/bin/sh\n[ "$1" = --version ] && { echo v18.19.0; exit 0; }\nexit 1\n', { mode: 0o755 });
  const old = spawnSync(path.join(IDP_DIR, 'start.sh'), ['--state', path.join(dir, 's')], { encoding: 'utf8', env: { ...process.env, NODE: fakeNode } });
  assert.notEqual(old.status, 0);
  assert.match(old.stderr, /v18\.19\.0 is too old/);

  const noState = spawnSync(path.join(IDP_DIR, 'start.sh'), [], { encoding: 'utf8' });
  assert.equal(noState.status, 2);
  const bad = spawnSync(path.join(IDP_DIR, 'start.sh'), ['--state', path.join(dir, 'b'), '--bogus'], { encoding: 'utf8' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unknown argument --bogus/);
  fs.rmSync(dir, { recursive: true, force: true });
});
