// Bearer tokens guard /api (401 without one, 403 with a wrong one, the token's name as the actor) and basic
// auth guards /metrics when configured; no token ever reaches the log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bearer,
  CI_TOKEN,
  jsonOf,
  METRICS_CONTENT_TYPE,
  METRICS_PASSWORD,
  METRICS_TEXT,
  METRICS_USER,
  OPS_TOKEN,
  postJson,
  startTestServer,
  testConfig,
} from '../../helpers/http.js';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

test('an /api request without a token is 401 JSON with a Bearer challenge', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/backups`);
  assert.equal(response.status, 401);
  assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer realm="pgwarden"$/);
  const body = await jsonOf(response);
  assert.equal(body.error, 'UNAUTHENTICATED');
  assert.match(String(body.message), /Authorization: Bearer/);
  assert.equal(server.calls.list.length, 0);
});

test('another auth scheme or an empty bearer token counts as no token (401)', async (t) => {
  const server = await startTestServer(t);
  for (const authorization of [`Basic ${Buffer.from(`ops:${OPS_TOKEN}`).toString('base64')}`, 'Bearer', 'Bearer ', OPS_TOKEN]) {
    const response = await fetch(`${server.url}/api/backups`, { headers: { authorization } });
    assert.equal(response.status, 401, authorization);
    assert.equal((await jsonOf(response)).error, 'UNAUTHENTICATED');
  }
});

test('a wrong token is 403 JSON, and the refusal is logged without the token', async (t) => {
  const server = await startTestServer(t);
  const wrong = 'not-a-configured-token-at-all';
  for (const token of [wrong, OPS_TOKEN.slice(0, -1), `${OPS_TOKEN}x`, 'x']) {
    const response = await fetch(`${server.url}/api/backups`, { headers: bearer(token) });
    assert.equal(response.status, 403, token);
    const body = await jsonOf(response);
    assert.equal(body.error, 'FORBIDDEN');
    assert.doesNotMatch(String(body.message), new RegExp(token));
  }
  assert.ok(server.logs().some((line) => line.level === 40 && String(line.msg).includes('refused an API token')));
  assert.ok(!server.logText().includes(wrong));
  assert.equal(server.calls.list.length, 0);
});

test('the right token is let in, and its name (never the token) reaches the action as the actor', async (t) => {
  const server = await startTestServer(t);
  const list = await fetch(`${server.url}/api/backups`, { headers: bearer(OPS_TOKEN) });
  assert.equal(list.status, 200);
  await list.arrayBuffer();

  const run = await postJson(`${server.url}/api/backups`, { kind: 'full', database: 'shop' }, bearer(CI_TOKEN));
  assert.equal(run.status, 202);
  await run.arrayBuffer();
  assert.deepEqual(server.calls.runBackup, [{ kind: 'full', database: 'shop', actor: 'api:ci' }]);

  const verify = await fetch(`${server.url}/api/backups/20261125T020000Z-full-1a2b3c/verify`, { method: 'POST', headers: bearer(OPS_TOKEN) });
  assert.equal(verify.status, 200);
  await verify.arrayBuffer();
  assert.deepEqual(server.calls.verify, [{ backupId: '20261125T020000Z-full-1a2b3c', actor: 'api:ops' }]);
});

test('an unknown /api route is 401 without a token, so routes are not revealed', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/no-such-thing`);
  assert.equal(response.status, 401);
  assert.equal((await jsonOf(response)).error, 'UNAUTHENTICATED');
});

test('requests are logged at debug with method, status and actor, and without the Authorization header', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/backups?database=shop`, { headers: bearer(OPS_TOKEN) });
  await response.arrayBuffer();
  await server.close();
  const line = server.logs().find((l) => l.msg === 'http request' && l.url === '/api/backups?database=shop');
  assert.ok(line, server.logText());
  assert.equal(line.level, 20);
  assert.equal(line.method, 'GET');
  assert.equal(line.status, 200);
  assert.equal(line.actor, 'api:ops');
  assert.equal(line.requestId, response.headers.get('x-request-id'));
  assert.ok(!server.logText().includes(OPS_TOKEN));
  assert.ok(!/authorization/i.test(server.logText()));
});

test('with no tokens configured every /api request is refused, and the app warns at start', async (t) => {
  const server = await startTestServer(t, { config: testConfig({ tokens: false }) });
  const response = await fetch(`${server.url}/api/backups`, { headers: bearer(OPS_TOKEN) });
  assert.equal(response.status, 403);
  await response.arrayBuffer();
  assert.ok(server.logs().some((line) => line.level === 40 && String(line.msg).includes('server.tokens is empty')));
});

test('/metrics is open without metricsAuth and serves the metrics text with their content type', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/metrics`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), METRICS_CONTENT_TYPE);
  assert.equal(await response.text(), METRICS_TEXT);
});

test('/metrics with metricsAuth answers 401 with a Basic challenge until the right credentials are sent', async (t) => {
  const server = await startTestServer(t, { config: testConfig({ metricsAuth: true }) });
  const cases: [string, Record<string, string>][] = [
    ['no credentials', {}],
    ['wrong password', basic(METRICS_USER, 'wrong')],
    ['wrong user', basic('someone', METRICS_PASSWORD)],
    ['no colon', { authorization: `Basic ${Buffer.from(METRICS_USER).toString('base64')}` }],
    ['a bearer token', bearer(OPS_TOKEN)],
  ];
  for (const [what, headers] of cases) {
    const response = await fetch(`${server.url}/metrics`, { headers });
    assert.equal(response.status, 401, what);
    assert.equal(response.headers.get('www-authenticate'), 'Basic realm="pgwarden"', what);
    assert.equal((await jsonOf(response)).error, 'UNAUTHENTICATED', what);
  }
  const ok = await fetch(`${server.url}/metrics`, { headers: basic(METRICS_USER, METRICS_PASSWORD) });
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), METRICS_TEXT);
});

test('/healthz and /readyz need no token even when /api does', async (t) => {
  const server = await startTestServer(t);
  for (const path of ['/healthz', '/readyz', '/']) {
    const response = await fetch(`${server.url}${path}`);
    assert.equal(response.status, 200, path);
    await response.arrayBuffer();
  }
});
