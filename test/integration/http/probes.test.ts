// Liveness, readiness and the index: what Kubernetes probes and a curious operator see without a token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonOf, startTestServer } from '../../helpers/http.js';

test('/healthz answers 200 {status: ok} while the process is alive', async (t) => {
  const server = await startTestServer(t, {
    readiness: async () => ({ ready: false, checks: { catalog: 'unreachable' } }),
  });
  const response = await fetch(`${server.url}/healthz`);
  assert.equal(response.status, 200);
  assert.deepEqual(await jsonOf(response), { status: 'ok' });
});

test('/readyz answers 200 with the checks when ready', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/readyz`);
  assert.equal(response.status, 200);
  assert.deepEqual(await jsonOf(response), { status: 'ready', checks: { catalog: 'ok', scheduler: 'ok' } });
});

test('/readyz answers 503 NOT_READY with the checks, naming the failing ones', async (t) => {
  const server = await startTestServer(t, {
    readiness: async () => ({ ready: false, checks: { catalog: 'ok', scheduler: 'stopped' } }),
  });
  const response = await fetch(`${server.url}/readyz`);
  assert.equal(response.status, 503);
  assert.deepEqual(await jsonOf(response), {
    error: 'NOT_READY',
    message: 'not ready: scheduler: stopped',
    status: 'not ready',
    checks: { catalog: 'ok', scheduler: 'stopped' },
  });
});

test('/readyz is 503 when the check throws (the reason goes to the log) or does not answer in time', async (t) => {
  const throwing = await startTestServer(t, {
    readiness: async () => {
      throw new Error('password authentication failed for user "pgwarden"');
    },
  });
  const response = await fetch(`${throwing.url}/readyz`);
  assert.equal(response.status, 503);
  const text = await response.text();
  assert.doesNotMatch(text, /password/);
  assert.match(throwing.logText(), /password authentication failed/);

  const hanging = await startTestServer(t, { readiness: () => new Promise(() => {}), readinessTimeoutMs: 50 });
  const slow = await fetch(`${hanging.url}/readyz`);
  assert.equal(slow.status, 503);
  assert.deepEqual((await jsonOf(slow)).checks, { readiness: 'no answer within 50 ms' });
});

test('GET / is a JSON index of the endpoints', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/`);
  assert.equal(response.status, 200);
  const body = await jsonOf(response);
  assert.equal(body.service, 'pgwarden');
  assert.ok((body.endpoints as string[]).includes('POST /api/backups'));
});
