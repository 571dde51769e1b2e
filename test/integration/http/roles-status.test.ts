// Token roles (read | operate), `GET /api/status`, and the status page's place at `/`: browsers get the page
// (or the sign-in), programs keep the JSON index, and `server.ui: false` leaves only the index.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { parseConfig } from '../../../src/config/index.js';
import type { Overview } from '../../../src/status/types.js';
import { createStatusPage } from '../../../src/ui/routes.js';
import { bearer, jsonOf, OPS_TOKEN, postJson, startTestServer } from '../../helpers/http.js';

const READ_TOKEN = 'read-token-0123456789abcdef';

function rolesConfig(ui = true) {
  return parseConfig(`
catalog: { url: "postgres://pgwarden@127.0.0.1:5432/pgwarden" }
databases:
  - { name: shop, url: "postgres://backup@127.0.0.1:5432/shop", pitr: true }
  - { name: crm, url: "postgres://backup@127.0.0.1:5432/crm" }
storage: { local: { path: /tmp/pgwarden-http-test } }
server: { port: 0, ui: ${ui}, tokens: [ { name: ops, token: "${OPS_TOKEN}" }, { name: auditor, token: "${READ_TOKEN}", role: read } ] }
`);
}

const OVERVIEW: Overview = {
  at: '2026-11-25T03:00:00.000Z',
  figuresAt: '2026-11-25T02:59:58.000Z',
  missing: [],
  counts: { ok: 0, warning: 0, critical: 1 },
  databases: [],
  storage: [],
  globalReasons: [],
};

const status = { overview: async () => OVERVIEW, database: async () => undefined };

test('a read token may read but not run, verify, silence or post webhooks: 403 naming the role, and nothing runs', async (t) => {
  const server = await startTestServer(t, { config: rolesConfig(), actions: { silence: async () => ({}), alertmanagerWebhook: async () => {} } });
  const read = bearer(READ_TOKEN);
  assert.equal((await fetch(`${server.url}/api/backups`, { headers: read })).status, 200);
  assert.equal((await fetch(`${server.url}/api/health`, { headers: read })).status, 200);
  for (const [path, body] of [
    ['/api/backups', { kind: 'full' }],
    ['/api/backups/20261125T020000Z-full-1a2b3c/verify', {}],
    ['/api/silences', { matchers: { alertname: 'X' }, durationSeconds: 60 }],
    ['/api/alertmanager', { alerts: [] }],
  ] as const) {
    const response = await postJson(`${server.url}${path}`, body, read);
    assert.equal(response.status, 403, path);
    const answer = await jsonOf(response);
    assert.equal(answer.error, 'FORBIDDEN');
    assert.match(String(answer.message), /needs a token with role "operate"; api:auditor has role "read"/);
  }
  assert.deepEqual(server.calls.runBackup, []);
  assert.deepEqual(server.calls.verify, []);
  assert.ok(server.logs().some((l) => l.msg === 'refused a request the token’s role does not allow' && l.actor === 'api:auditor'));
  assert.ok(!server.logText().includes(READ_TOKEN));
  // An operate token (the default role) still runs, now with base backups for a pitr database.
  const run = await postJson(`${server.url}/api/backups`, { kind: 'base', database: 'shop' });
  assert.equal(run.status, 202);
  assert.deepEqual(server.calls.runBackup, [{ kind: 'base', database: 'shop', actor: 'api:ops' }]);
  const refused = await postJson(`${server.url}/api/backups`, { kind: 'incremental', database: 'crm' });
  assert.equal(refused.status, 400);
  assert.match(String((await jsonOf(refused)).message), /"incremental" backups need WAL archiving, and database "crm" does not have pitr: true/);
});

test('GET /api/status answers the overview; without a status source it is 501', async (t) => {
  const server = await startTestServer(t, { status });
  const response = await fetch(`${server.url}/api/status`, { headers: bearer() });
  assert.equal(response.status, 200);
  assert.deepEqual(await jsonOf(response), OVERVIEW);
  assert.equal((await fetch(`${server.url}/api/status/nope`, { headers: bearer() })).status, 404);
  assert.equal((await fetch(`${server.url}/api/status`)).status, 401);
  const bare = await startTestServer(t);
  assert.equal((await fetch(`${bare.url}/api/status`, { headers: bearer() })).status, 501);
});

test('at /, a browser is sent to sign in and a program gets the JSON index; with server.ui false only the index', async (t) => {
  const config = rolesConfig();
  const actions = { runBackup: async () => ({ accepted: true as const, runs: [] }), verifyBackup: async () => assert.fail('not called') };
  const server = await startTestServer(t, { config, status, page: createStatusPage({ config, logger: pino({ level: 'silent' }), status, actions }) });
  const browser = await fetch(`${server.url}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }, redirect: 'manual' });
  assert.equal(browser.status, 303);
  assert.equal(browser.headers.get('location'), '/signin');
  const signin = await fetch(`${server.url}/signin`);
  assert.equal(signin.status, 200);
  assert.match(signin.headers.get('content-security-policy') ?? '', /script-src 'self'; style-src 'self'/);
  assert.doesNotMatch(signin.headers.get('content-security-policy') ?? '', /unsafe-inline/);
  assert.match(await signin.text(), /<input id="token" name="token" type="password"/);
  const program = await fetch(`${server.url}/`);
  assert.ok(((await jsonOf(program)).endpoints as string[]).includes('GET /api/status'));
  // A sign-in from another site is refused before the token is even looked at.
  const forged = await fetch(`${server.url}/signin`, {
    method: 'POST',
    headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${OPS_TOKEN}`,
    redirect: 'manual',
  });
  assert.equal(forged.status, 403);
  assert.equal(forged.headers.get('set-cookie'), null);
  // The assets are served by pgwarden itself, uPlot included.
  const uplot = await fetch(`${server.url}/ui/assets/uPlot.iife.min.js`);
  assert.equal(uplot.status, 200);
  assert.match(uplot.headers.get('content-type') ?? '', /javascript/);
  assert.match(await uplot.text(), /uPlot/);

  const off = rolesConfig(false);
  assert.equal(off.server.ui, false);
  const plain = await startTestServer(t, { config: off });
  const index = await fetch(`${plain.url}/`, { headers: { accept: 'text/html' } });
  assert.equal(index.status, 200);
  assert.ok(Array.isArray((await jsonOf(index)).endpoints));
  assert.equal((await fetch(`${plain.url}/signin`)).status, 404);
});
