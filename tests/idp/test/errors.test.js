// Pure parts of the error envelope: timestamps as Go (Authgear) writes them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goTime } from '../lib/errors.js';

test('goTime: RFC3339Nano as Go marshals a time.Time (trailing zeros dropped)', () => {
  const ms = Date.UTC(2026, 7, 21, 10, 0, 0, 123);
  assert.equal(goTime(ms, 456789), '2026-08-21T10:00:00.123456789Z');
  assert.equal(goTime(ms, 0), '2026-08-21T10:00:00.123Z');
  assert.equal(goTime(Date.UTC(2026, 7, 21, 10, 0, 0, 500), 0), '2026-08-21T10:00:00.5Z');
  assert.equal(goTime(Date.UTC(2026, 7, 21, 10, 0, 0, 0), 0), '2026-08-21T10:00:00Z');
  assert.equal(goTime(Date.UTC(2026, 7, 21, 10, 0, 0, 0), 1), '2026-08-21T10:00:00.000000001Z');
  assert.match(goTime(Date.now()), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$/);
});
