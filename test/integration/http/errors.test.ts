// Every failure is JSON `{ error, message }` with its status: bad JSON, oversized and non-JSON bodies, unknown
// routes and methods, PgwardenErrors by their mapping, and bugs as a bare 500 whose details go to the log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, DatabaseUnreachableError, NotFoundError, StorageError, UsageError } from '../../../src/errors.js';
import { bearer, jsonOf, postJson, startTestServer } from '../../helpers/http.js';

test('malformed JSON is 400 INVALID_JSON saying what is wrong with it', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/backups`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json' },
    body: '{"kind": "full",',
  });
  assert.equal(response.status, 400);
  const body = await jsonOf(response);
  assert.equal(body.error, 'INVALID_JSON');
  assert.match(String(body.message), /^request body is not valid JSON: .+/);
  assert.equal(server.calls.runBackup.length, 0);
});

test('a 1 MiB body is 413 PAYLOAD_TOO_LARGE, and the limit can be set', async (t) => {
  const server = await startTestServer(t);
  const huge = JSON.stringify({ kind: 'full', padding: 'x'.repeat(1024 * 1024) });
  const response = await postJson(`${server.url}/api/backups`, JSON.parse(huge));
  assert.equal(response.status, 413);
  assert.deepEqual(await jsonOf(response), { error: 'PAYLOAD_TOO_LARGE', message: 'request body is larger than the limit of 64 KiB' });

  const small = await startTestServer(t, { bodyLimitBytes: 100 });
  const over = await postJson(`${small.url}/api/backups`, { kind: 'full', comment: 'y'.repeat(200) });
  assert.equal(over.status, 413);
  assert.match(String((await jsonOf(over)).message), /limit of 100 bytes$/);
  const under = await postJson(`${small.url}/api/backups`, { kind: 'full' });
  assert.equal(under.status, 202);
  await under.arrayBuffer();
  assert.equal(server.calls.runBackup.length, 0);
});

test('a POST body that is not JSON is 415', async (t) => {
  const server = await startTestServer(t);
  const text = await fetch(`${server.url}/api/backups`, { method: 'POST', headers: { ...bearer(), 'content-type': 'text/plain' }, body: '{"kind":"full"}' });
  assert.equal(text.status, 415);
  assert.deepEqual(await jsonOf(text), {
    error: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'request bodies must be JSON: send Content-Type: application/json (got "text/plain")',
  });
  const form = await fetch(`${server.url}/api/backups`, { method: 'POST', headers: bearer(), body: new URLSearchParams({ kind: 'full' }) });
  assert.equal(form.status, 415);
  await form.arrayBuffer();
  const gzip = await fetch(`${server.url}/api/backups`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: '{}',
  });
  assert.equal(gzip.status, 415);
  assert.match(String((await jsonOf(gzip)).message), /Content-Encoding "gzip" is not accepted/);
  const vendorJson = await fetch(`${server.url}/api/backups`, {
    method: 'POST',
    headers: { ...bearer(), 'content-type': 'application/vnd.pgwarden+json; charset=utf-8' },
    body: '{"kind":"full"}',
  });
  assert.equal(vendorJson.status, 202);
  await vendorJson.arrayBuffer();
});

test('an unexpected error is 500 with a generic message and a request id; the error and its stack go to the log', async (t) => {
  const server = await startTestServer(t, {
    actions: {
      runBackup: async () => {
        throw new TypeError('cannot read properties of undefined (reading "pool") at /srv/pgwarden/dist/src/backup/run.js:12');
      },
    },
  });
  const response = await postJson(`${server.url}/api/backups`, { kind: 'full' });
  assert.equal(response.status, 500);
  const requestId = response.headers.get('x-request-id');
  const text = await response.text();
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['error', 'message']);
  assert.equal(body.error, 'INTERNAL');
  assert.equal(body.message, `internal error (request ${requestId}); the service log has the details`);
  assert.doesNotMatch(text, /pool|\/srv|run\.js|TypeError|at /);

  const logged = server.logs().find((line) => line.level === 50);
  assert.ok(logged, server.logText());
  assert.equal(logged.requestId, requestId);
  assert.equal(logged.actor, 'api:ops');
  const err = logged.err as { type: string; message: string; stack: string };
  assert.equal(err.type, 'TypeError');
  assert.match(err.message, /reading "pool"/);
  assert.match(err.stack, /TypeError/);
});

test('PgwardenErrors map to their status with their code, message and hints', async (t) => {
  const cases: [Error, number, string][] = [
    [new NotFoundError('backup 20261125T020000Z-full-1a2b3c not found on storage target local (/backups)'), 404, 'NOT_FOUND'],
    [new UsageError('backup kind "base" is not available in this version', { hints: ['use "full"'] }), 400, 'USAGE'],
    [new DatabaseUnreachableError('database shop at db1:5432 refused the connection'), 503, 'DATABASE_UNREACHABLE'],
    [new StorageError('storage target local cannot be written: permission denied'), 500, 'STORAGE_FAILED'],
    [new ConfigError('storage: this version of pgwarden writes backups to storage.local only'), 500, 'CONFIG_INVALID'],
  ];
  for (const [error, status, code] of cases) {
    const server = await startTestServer(t, {
      actions: {
        runBackup: async () => {
          throw error;
        },
      },
    });
    const response = await postJson(`${server.url}/api/backups`, { kind: 'full' });
    assert.equal(response.status, status, code);
    const body = await jsonOf(response);
    assert.equal(body.error, code);
    assert.equal(body.message, error.message);
    if (error instanceof UsageError) assert.deepEqual(body.hints, ['use "full"']);
    else assert.equal(body.hints, undefined);
    assert.equal(server.logs().some((line) => line.level === 50), status >= 500, code);
  }
});

test('outside /api, a PgwardenError is a generic 500 too: its message is only for authenticated callers', async (t) => {
  const server = await startTestServer(t, {
    metrics: {
      contentType: 'text/plain',
      render: async () => {
        throw new StorageError('storage target s3 (bucket hotel-prod) cannot be listed');
      },
    },
  });
  const response = await fetch(`${server.url}/metrics`);
  assert.equal(response.status, 500);
  const text = await response.text();
  assert.equal((JSON.parse(text) as { error: string }).error, 'INTERNAL');
  assert.doesNotMatch(text, /hotel-prod/);
  assert.match(server.logText(), /hotel-prod/);
});

test('a failing catalog read is a 500 with nothing from the catalog in the body', async (t) => {
  const server = await startTestServer(t, {
    catalog: {
      listBackups: async () => {
        throw new Error('connect ECONNREFUSED 10.0.0.5:5432');
      },
      getBackup: async () => undefined,
      health: async () => [],
    },
  });
  const response = await fetch(`${server.url}/api/backups`, { headers: bearer() });
  assert.equal(response.status, 500);
  assert.doesNotMatch(await response.text(), /ECONNREFUSED|10\.0\.0\.5/);
});

test('an unknown route is 404 JSON, with or without /api', async (t) => {
  const server = await startTestServer(t);
  const root = await fetch(`${server.url}/nothing/here`);
  assert.equal(root.status, 404);
  assert.deepEqual(await jsonOf(root), { error: 'NOT_FOUND', message: 'no such endpoint: GET /nothing/here' });
  const api = await fetch(`${server.url}/api/backups/${'20261125T020000Z-full-1a2b3c'}/download`, { headers: bearer() });
  assert.equal(api.status, 404);
  assert.equal((await jsonOf(api)).error, 'NOT_FOUND');
});

test('a wrong method on a known path is 405 with an Allow header', async (t) => {
  const server = await startTestServer(t);
  const cases: [string, string, string][] = [
    ['DELETE', '/api/backups', 'GET, POST, HEAD'],
    ['PUT', '/api/backups/20261125T020000Z-full-1a2b3c', 'GET, HEAD'],
    ['GET', '/api/backups/20261125T020000Z-full-1a2b3c/verify', 'POST'],
    ['GET', '/api/silences', 'POST'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
  ];
  for (const [method, path, allow] of cases) {
    const response = await fetch(`${server.url}${path}`, { method, headers: bearer() });
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.get('allow'), allow);
    const body = await jsonOf(response);
    assert.equal(body.error, 'METHOD_NOT_ALLOWED');
    assert.match(String(body.message), new RegExp(`^${method} is not allowed on ${path.replaceAll('/', '\\/')}`));
  }
});

test('responses carry nosniff and no X-Powered-By, errors included', async (t) => {
  const server = await startTestServer(t);
  for (const [path, status] of [
    ['/healthz', 200],
    ['/api/backups', 401],
    ['/nothing', 404],
  ] as const) {
    const response = await fetch(`${server.url}${path}`);
    assert.equal(response.status, status);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(response.headers.get('x-powered-by'), null, path);
    assert.equal(response.headers.get('cache-control'), 'no-store', path);
    await response.arrayBuffer();
  }
});
