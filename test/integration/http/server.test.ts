// startHttpServer: a free port for port 0, a close that lets in-flight requests finish (and cuts them after
// the timeout), and a clear error when the port is taken.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../../src/errors.js';
import { startHttpServer } from '../../../src/http/index.js';
import { postJson, startTestServer } from '../../helpers/http.js';

test('port 0 binds a free port and the url reaches it', async (t) => {
  const server = await startTestServer(t);
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(server.url, 'http://127.0.0.1:0');
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
});

test('close waits for an in-flight request to finish, then refuses new connections', async (t) => {
  let release: () => void = () => {};
  let started: () => void = () => {};
  const running = new Promise<void>((resolve) => {
    started = resolve;
  });
  const server = await startTestServer(t, {
    actions: {
      runBackup: async () => {
        started();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { accepted: true, runs: [{ database: 'shop' }] };
      },
    },
  });
  const inFlight = postJson(`${server.url}/api/backups`, { kind: 'full' });
  await running;
  let closed = false;
  const closing = server.close().then(() => {
    closed = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(closed, false, 'close resolved while a request was in flight');
  release();
  const response = await inFlight;
  assert.equal(response.status, 202);
  await response.arrayBuffer();
  await closing;
  await assert.rejects(fetch(`${server.url}/healthz`));
});

test('close cuts requests still running after the shutdown timeout', async (t) => {
  const server = await startTestServer(t, {
    shutdownTimeoutMs: 100,
    actions: { runBackup: () => new Promise(() => {}) },
  });
  const inFlight = postJson(`${server.url}/api/backups`, { kind: 'full' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 2000);
  await assert.rejects(inFlight);
});

test('a port already in use is a ConfigError naming server.port', async (t) => {
  const server = await startTestServer(t);
  const port = Number(new URL(server.url).port);
  await assert.rejects(startHttpServer(() => {}, { host: '127.0.0.1', port }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, new RegExp(`^server\\.port: 127\\.0\\.0\\.1:${port} is already in use`));
    return true;
  });
});
