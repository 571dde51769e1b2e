// The status page in a real browser (Chromium driven by playwright-core) against `pgwarden serve` watching a
// real primary with a streaming standby, with real backups: sign-in and sessions, roles, the overview against
// the API, a database turning critical, actions from the page, charts against the catalog, no console
// errors, axe-core, and a screenshot of each page (test-artifacts/ui/).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { packageRoot } from '../../../src/package-root.js';
import { type Standby, startStandby } from '../../../src/postgres/standby.js';
import { setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';
import { type Cluster, startCluster } from '../../../src/postgres/cluster.js';
import { type Recorder, startRecorder } from '../../helpers/recorder.js';
import { type ServeProcess, startServe } from '../../helpers/serve.js';

const OPS = 'ops-token-0123456789abcdef';
const VIEWER = 'viewer-token-fedcba9876543210';
const ARTIFACTS = join(packageRoot(), 'test-artifacts', 'ui');
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Problems {
  console: string[];
}

async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('the status page in a browser', () => {
  const hooks: (() => unknown)[] = [];
  const cleanup = { after: (fn: () => unknown) => hooks.push(fn) };
  let primary: Cluster;
  let standby: Standby;
  let warden: WardenSetup;
  let serve: ServeProcess;
  let browser: Browser;
  let slack: Recorder;
  const problems: Problems = { console: [] };

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    primary = await startCluster();
    hooks.push(() => primary.destroy());
    standby = await startStandby(primary, { name: 'replica1' });
    hooks.push(() => standby.destroy());
    const hotel = await primary.createDatabase('hotel');
    const crm = await primary.createDatabase('crm');
    await primary.query('CREATE TABLE bookings (id serial primary key, note text); INSERT INTO bookings (note) SELECT md5(i::text) FROM generate_series(1, 20000) i', [], 'hotel');
    await primary.query('CREATE TABLE leads (id serial primary key, note text); INSERT INTO leads (note) SELECT md5(i::text) FROM generate_series(1, 2000) i', [], 'crm');
    slack = await startRecorder(undefined, { default: { status: 200, body: { ok: true, channel: 'C1', ts: '1.2' } } });
    hooks.push(() => slack.close());
    warden = await setupWarden(cleanup, primary, {
      databases: [
        { name: 'hotel', url: hotel, standbys: [{ name: 'replica1', url: standby.url('hotel') }] },
        { name: 'crm', url: crm },
      ],
      extra: [
        `server: { port: 0, tokens: [ { name: ops, token: "${OPS}" }, { name: viewer, token: "${VIEWER}", role: read } ] }`,
        'schedules: { replicationProbeSeconds: 1, metricsRefreshSeconds: 5, healthCheck: "*/2 * * * * *", full: "0 0 1 1 *" }',
        'drills: { enabled: false }',
        `channels: { slack: { token: xoxb-ui-test, channel: "#db", apiUrl: "${slack.url}/api/" } }`,
      ].join('\n'),
    });
    // Real history before the service starts: three full backups of hotel, one of crm.
    for (const database of ['hotel', 'hotel', 'hotel', 'crm']) {
      const result = await warden.run(['backup', 'full', '--database', database]);
      assert.equal(result.code, 0, result.stderr);
    }
    serve = await startServe(cleanup, warden.configPath);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    hooks.push(() => browser.close());
  });

  after(async () => {
    await serve?.terminate().catch(() => {});
    for (const hook of hooks.reverse()) await hook();
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.console.push(`${page.url()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.console.push(`${page.url()}: ${error.message}`));
    return { context, page };
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${serve.url}/`);
    assert.match(page.url(), /\/signin$/);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${serve.url}/`);
  }

  async function checkAccessibility(page: Page, name: string): Promise<void> {
    // Evaluated through the DevTools protocol: addScriptTag would inject an inline script, which the page's
    // Content-Security-Policy (rightly) refuses.
    await page.evaluate(AXE_SOURCE);
    const result = (await page.evaluate(() => (globalThis as unknown as { axe: { run(): Promise<unknown> } }).axe.run())) as {
      violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
    };
    const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(
      serious.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
      [],
      `axe on the ${name} page`,
    );
  }

  it('signs in with a good token, refuses a wrong one, signs out; the cookie is HttpOnly, SameSite=Strict and expiring', async () => {
    const { context, page } = await newPage();
    await page.goto(`${serve.url}/`);
    assert.match(page.url(), /\/signin$/, 'an anonymous visit goes to the sign-in page');
    await checkAccessibility(page, 'sign-in');
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in.png') });

    await page.getByLabel('API token').fill('not-a-configured-token-at-all');
    const refused = page.waitForResponse((r) => r.url().endsWith('/signin') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Sign in' }).click();
    assert.equal((await refused).status(), 401);
    // Chromium reports any 4xx document as a console error: this one is the refusal under test.
    // The console event may come after the response: wait for it (a few seconds at most).
    const deadline = Date.now() + 5_000;
    const reported = () => problems.console.findIndex((m) => /\/signin: .*status of 401/.test(m));
    while (reported() < 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const expected = reported();
    assert.ok(expected >= 0, `the 401 was reported on the console: ${problems.console.join(' | ')}`);
    problems.console.splice(expected, 1);
    assert.match(await page.getByRole('alert').innerText(), /not one of server\.tokens/);
    assert.deepEqual(await context.cookies(), []);

    await page.getByLabel('API token').fill(OPS);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${serve.url}/`);
    assert.match(await page.locator('header').innerText(), /Signed in with token ops/);
    const [cookie] = await context.cookies();
    assert.ok(cookie, 'a session cookie is set');
    assert.equal(cookie.name, 'pgwarden_session');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.secure, false, 'plain HTTP: not Secure (the TLS case is a unit test)');
    const hours = (cookie.expires * 1000 - Date.now()) / 3600_000;
    assert.ok(hours > 11.9 && hours <= 12, `expires in ${hours} h`);
    assert.ok(!cookie.value.includes(OPS));

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/signin\?signed-out=1$/);
    assert.deepEqual(await context.cookies(), []);
    // The old session is gone on the server too: replaying its cookie does not sign in.
    await context.addCookies([{ ...cookie }]);
    await page.goto(`${serve.url}/`);
    assert.match(page.url(), /\/signin$/);
    await context.close();

    const logs = serve.stdout() + serve.stderr();
    assert.ok(!logs.includes(OPS) && !logs.includes('not-a-configured-token'), 'no token in the service log');
  });

  it('a read token sees no actions, and the API and the page refuse it with 403', async () => {
    const { context, page } = await newPage();
    await signIn(page, VIEWER);
    assert.match(await page.locator('header').innerText(), /viewer \(read only\)/);
    await page.goto(`${serve.url}/databases/hotel`);
    assert.equal(await page.getByRole('button', { name: 'Start backup' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /^Verify/ }).count(), 0);

    const api = await serve.api('/api/backups', { method: 'POST', token: VIEWER, headers: { 'content-type': 'application/json' }, body: '{"kind":"full"}' });
    assert.equal(api.status, 403);
    assert.match(((await api.json()) as { message: string }).message, /needs a token with role "operate"/);
    assert.equal((await serve.api('/api/backups', { token: VIEWER })).status, 200, 'reading is allowed');
    // A hand-made form post with the read session (and its CSRF token) is refused too.
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const forged = await page.request.post(`${serve.url}/databases/hotel/backups`, { form: { csrf, kind: 'full' }, headers: { origin: serve.url }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    await context.close();
  });

  it('the overview shows the ages, sizes and lag that /api returns, and is accessible', async () => {
    const { context, page } = await newPage();
    await signIn(page, OPS);
    // Lag is known once the probe has run and the standby has replayed something.
    await primary.query("INSERT INTO bookings (note) VALUES ('lag probe')", [], 'hotel');
    await until(
      async () => {
        await page.reload();
        return (await page.locator('tr[data-database=hotel] [data-field=lag]').count()) > 0;
      },
      30_000,
      'the lag of replica1',
    );
    const api = (await (await serve.api('/api/status', { token: OPS })).json()) as {
      at: string;
      databases: { database: string; state: string; kinds: { kind: string; ageSeconds: number | null; lastSizeBytes: number | null }[]; standbys: { name: string; lagSeconds: number | null }[] }[];
    };
    const backups = (await (await serve.api('/api/backups?status=succeeded&type=full', { token: OPS })).json()) as { database: string; fileSize: number; finishedAt: string }[];
    const pageAt = Date.parse(await page.locator('#built-at').getAttribute('datetime').then((v) => v ?? ''));
    const skew = Math.abs(Date.parse(api.at) - pageAt) / 1000;
    for (const db of api.databases) {
      const row = page.locator(`tr[data-database="${db.database}"]`);
      const full = db.kinds.find((k) => k.kind === 'full')!;
      const newest = backups.filter((b) => b.database === db.database)[0]!;
      assert.equal(full.lastSizeBytes, newest.fileSize);
      assert.equal(Number(await row.locator('[data-field=full-size]').getAttribute('data-bytes')), newest.fileSize, `${db.database} size`);
      const shownAge = Number(await row.locator('[data-field=full-age]').getAttribute('data-seconds'));
      assert.ok(Math.abs(shownAge - full.ageSeconds!) <= skew + 1, `${db.database} age ${shownAge} vs ${full.ageSeconds} (skew ${skew})`);
      assert.match(await row.locator('[data-field=full-age]').innerText(), /ago$/);
      assert.equal(await row.getAttribute('data-state'), db.state);
    }
    const hotelApi = api.databases.find((d) => d.database === 'hotel')!;
    const apiLag = hotelApi.standbys.find((s) => s.name === 'replica1')!.lagSeconds!;
    const shownLag = Number(await page.locator('tr[data-database=hotel] [data-standby=replica1] [data-field=lag]').getAttribute('data-seconds'));
    // Lag is probed every second: the page and the API read the same probe's figure or the next one's.
    assert.ok(Math.abs(shownLag - apiLag) < 3, `lag ${shownLag} vs ${apiLag}`);
    assert.equal(await page.locator('tr[data-database=hotel] td').nth(0).locator('.state').getAttribute('data-state'), 'ok');
    await checkAccessibility(page, 'overview');
    await page.screenshot({ path: join(ARTIFACTS, 'overview.png'), fullPage: true });
    await context.close();
  });

  it('a backup started from the page appears in the list and the catalog, and can be verified from it', async () => {
    const { context, page } = await newPage();
    await signIn(page, OPS);
    await page.goto(`${serve.url}/databases/hotel`);
    await page.getByLabel('Backup kind').selectOption('full');
    await page.getByRole('button', { name: 'Start backup' }).click();
    await page.waitForURL(`${serve.url}/databases/hotel`);
    const flash = await page.getByRole('status').innerText();
    const backupId = /Started full backup (\S+)\./.exec(flash)?.[1];
    assert.ok(backupId, flash);
    await until(async () => (await warden.query<{ status: string }>('SELECT status FROM pgwarden.database_backups WHERE backup_id = $1', [backupId]))[0]?.status === 'succeeded', 60_000, 'the backup to finish');
    await page.reload();
    const row = page.locator(`tr[data-backup-id="${backupId}"]`);
    assert.equal(await row.count(), 1);
    assert.match(await row.innerText(), /succeeded/);

    await row.getByRole('button', { name: `Verify backup ${backupId}` }).click();
    await page.waitForURL(`${serve.url}/databases/hotel`);
    assert.match(await page.getByRole('status').innerText(), new RegExp(`Backup ${backupId} verified`));
    const access = await warden.query<{ action: string; actor: string }>('SELECT action, actor FROM pgwarden.backup_access_logs WHERE backup_id = $1 ORDER BY id', [backupId]);
    assert.deepEqual(access, [
      { action: 'backup', actor: 'ui:ops' },
      { action: 'verify', actor: 'ui:ops' },
    ]);
    await context.close();
  });

  it('draws the charts from the catalog’s backups and the recorded lag, and the database page is accessible', async () => {
    const { context, page } = await newPage();
    await signIn(page, OPS);
    // The service records a lag sample each minute: one may land while the page renders.
    const lagSamples = async () =>
      (await warden.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.replication_lag_samples WHERE database = 'hotel' AND standby = 'replica1'"))[0]!.n;
    const lagBefore = await lagSamples();
    await page.goto(`${serve.url}/databases/hotel`);
    await page.locator('#chart-size[data-rendered=true]').waitFor({ timeout: 10_000 });
    await page.locator('#chart-duration[data-rendered=true]').waitFor({ timeout: 10_000 });
    await page.locator('#chart-lag[data-rendered=true]').waitFor({ timeout: 10_000 });
    const charts = JSON.parse((await page.locator('#chart-data').textContent()) ?? '[]') as { id: string; x: number[]; series: { label: string; values: (number | null)[] }[] }[];
    const rows = await warden.query<{ t: number; file_size: string; seconds: number }>(
      `SELECT floor(extract(epoch FROM finished_at) * 1000)::float8 / 1000 AS t, file_size, extract(epoch FROM finished_at - created_at)::float8 AS seconds
         FROM pgwarden.database_backups WHERE database = 'hotel' AND type = 'full' AND status = 'succeeded' ORDER BY created_at`,
    );
    assert.ok(rows.length >= 3);
    const size = charts.find((c) => c.id === 'size')!;
    assert.deepEqual(size.x, rows.map((r) => r.t));
    assert.deepEqual(size.series.find((s) => s.label === 'full size')!.values, rows.map((r) => Number(r.file_size)));
    const duration = charts.find((c) => c.id === 'duration')!;
    const durations = duration.series[0]!.values;
    assert.equal(durations.length, rows.length);
    for (const [i, v] of durations.entries()) assert.ok(Math.abs(v! - rows[i]!.seconds) < 0.01, `duration ${i}: ${v} vs ${rows[i]!.seconds}`);
    assert.equal(Number(await page.locator('#chart-size').getAttribute('data-points')), rows.length);
    assert.ok((await page.locator('#chart-size canvas').boundingBox())!.width > 200, 'uPlot drew a canvas');
    const lagAfter = await lagSamples();
    assert.ok(lagAfter >= 1);
    const lag = charts.find((c) => c.id === 'lag')!;
    // The chart spans retention.fullDays in at most ~400 buckets (108 minutes each for 30 days): samples a minute
    // apart usually share one point, so there are at least one and at most as many points as samples.
    assert.ok(lag.x.length >= 1 && lag.x.length <= lagAfter, `lag points from the recorded minutes: ${lag.x.length} points, ${lagBefore}–${lagAfter} samples`);
    await checkAccessibility(page, 'database');
    await page.screenshot({ path: join(ARTIFACTS, 'database.png'), fullPage: true });
    await context.close();
  });

  it('a database made unreachable turns critical with its reason; its alert shows each notification and can be silenced', async () => {
    const { context, page } = await newPage();
    await signIn(page, OPS);
    await primary.query('ALTER DATABASE crm WITH ALLOW_CONNECTIONS false');
    try {
      // The page refreshes itself (the script): no reload here.
      const row = page.locator('tr[data-database=crm][data-state=critical]');
      await row.waitFor({ timeout: 30_000 });
      assert.match(await row.innerText(), /Critical/);
      assert.match(await row.locator('[data-rule=DatabaseUnreachable]').innerText(), /database crm is unreachable/);
      assert.match(await row.locator('th').innerText(), /unreachable/);
      await page.screenshot({ path: join(ARTIFACTS, 'overview-critical.png'), fullPage: true });

      await until(async () => slack.requests.length > 0, 30_000, 'the Slack notification');
      await page.goto(`${serve.url}/databases/crm`);
      const alert = page.locator('article.alert', { hasText: 'DatabaseUnreachable: firing' });
      await until(
        async () => {
          await page.reload();
          return (await alert.locator('tbody tr', { hasText: 'slack' }).count()) > 0;
        },
        20_000,
        'the notification attempt on the page',
      );
      assert.match(await alert.locator('tbody tr', { hasText: 'slack' }).first().innerText(), /slack\s+firing\s+1\s+sent/);
      await alert.getByLabel('Silence for').selectOption({ label: '4 hours' });
      await alert.getByLabel('Comment').fill('maintenance <b>window</b>');
      await alert.getByRole('button', { name: 'Silence' }).click();
      await page.waitForURL(`${serve.url}/databases/crm`);
      assert.match(await page.getByRole('status').innerText(), /Silenced alertname=DatabaseUnreachable, database=crm for 4 h/);
      const [silence] = await warden.query<{ matchers: Record<string, string>; created_by: string; comment: string; seconds: number }>(
        'SELECT matchers, created_by, comment, extract(epoch FROM ends_at - starts_at)::int AS seconds FROM pgwarden.alert_silences',
      );
      assert.deepEqual(silence, { matchers: { alertname: 'DatabaseUnreachable', database: 'crm' }, created_by: 'ui:ops', comment: 'maintenance <b>window</b>', seconds: 4 * 3600 });
      const [logged] = await warden.query<{ actor: string; backup_id: string | null }>("SELECT actor, backup_id FROM pgwarden.backup_access_logs WHERE action = 'silence'");
      assert.deepEqual(logged, { actor: 'ui:ops', backup_id: null });
      assert.match(await page.locator('article.alert', { hasText: 'DatabaseUnreachable' }).first().innerText(), /\(silenced\)/);
    } finally {
      await primary.query('ALTER DATABASE crm WITH ALLOW_CONNECTIONS true');
    }
    await context.close();
  });

  it('no page logged a console error', () => {
    assert.deepEqual(problems.console, []);
  });
});
