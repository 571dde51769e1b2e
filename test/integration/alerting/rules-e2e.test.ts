// The seed's three rules end to end, from real backups of real databases: no backup in 24 h (critical →
// PagerDuty, SMS, Slack, email), a backup under half the expected size (warning → Slack, email), and an
// incremental over twice the previous one (info → Slack). Each fires once, reaches exactly its channels,
// and resolves.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { createNotifiers } from '../../../src/alerting/notifiers/index.js';
import { createAlerting } from '../../../src/alerting/service.js';
import { openPgwarden } from '../../../src/app/open.js';
import { loadConfig } from '../../../src/config/index.js';
import { createMetricsService } from '../../../src/metrics/index.js';
import { walArchiveStatus } from '../../../src/wal/status.js';
import { type CliResult, setupWarden } from '../../helpers/pgwarden.js';
import { useCluster } from '../../helpers/postgres.js';
import { startRecorder } from '../../helpers/recorder.js';
import { startSmtpServer } from '../../helpers/smtp.js';
import { createSelfSignedCert } from '../../helpers/tls.js';

async function ok(result: Promise<CliResult>, what: string): Promise<void> {
  const r = await result;
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
}

it('no backup in 24 h, a size drop and an incremental spike each fire and resolve on exactly their channels', async (t) => {
  const pgc = await useCluster(t, { settings: { archive_mode: 'on', archive_command: '' } });
  const shopUrl = await pgc.createDatabase('shop');
  const hotelUrl = await pgc.createDatabase('hotel');
  await pgc.query('CREATE TABLE orders (id int, note text); INSERT INTO orders SELECT i, md5(i::text) || md5((i+1)::text) FROM generate_series(1, 40000) i', [], 'shop');
  await pgc.query('CREATE TABLE stays (id serial, note text)', [], 'hotel');

  const cert = await createSelfSignedCert();
  t.after(() => cert.remove());
  const slack = await startRecorder(t, { default: { status: 200, body: { ok: true, channel: 'C1', ts: '1.2' } } });
  const pagerduty = await startRecorder(t, { tls: cert, default: { status: 202, body: { status: 'success', dedup_key: 'x' } } });
  const twilio = await startRecorder(t, { default: { status: 201, body: { sid: 'SM1', status: 'queued' } } });
  const smtp = await startSmtpServer(t);
  const warden = await setupWarden(t, pgc, {
    databases: [
      { name: 'shop', url: shopUrl },
      { name: 'hotel', url: hotelUrl, pitr: true },
    ],
    extra: `channels:
  email: { host: 127.0.0.1, port: ${smtp.port}, secure: false, from: pgwarden@test, to: [dba@test] }
  slack: { token: xoxb-e2e, channel: "#db", apiUrl: "${slack.url}/api/" }
  pagerduty: { routingKey: R0UTING0123456789012345678901234, url: "${pagerduty.url}/v2/enqueue" }
  sms: { accountSid: ACe2e0123456789, authToken: tw-secret, from: "+15550000000", to: ["+15551111111"], apiUrl: "${twilio.url}" }`,
  });
  const archive = (await warden.run(['sql', 'archive-command', '--database', 'hotel'])).stdout.split('\n').filter((l) => l.startsWith('ALTER SYSTEM'));
  for (const statement of archive) await pgc.query(statement);
  await pgc.query('SELECT pg_reload_conf()');

  const config = await loadConfig(warden.configPath);
  const logger = pino({ level: 'silent' });
  const app = await openPgwarden(config, { logger });
  t.after(() => app.close());
  // The test's clock: the alert state machine and the rules run on it.
  let now = new Date();
  const metrics = createMetricsService({
    registry: new Registry(),
    config,
    catalogPool: app.pool,
    storage: app.storage,
    logger,
    now: () => now,
    probes: { walArchive: () => walArchiveStatus(app.storage, config.storage.prefix, config.databases.filter((d) => d.pitr)) },
  });
  const alerting = createAlerting({
    config,
    pool: app.pool,
    logger,
    notifiers: createNotifiers(config.channels, { logger, ca: cert.cert }),
    state: () => metrics.metrics.state(),
    now: () => now,
    deliverOptions: { attempts: 2, baseDelayMs: 50 },
  });
  const counts = () => ({ pagerduty: pagerduty.requests.length, sms: twilio.requests.length, slack: slack.requests.length, email: smtp.messages.length });
  let before = counts();
  /** Refreshes the figures, evaluates, and returns what each channel received since the last step. */
  const step = async (): Promise<{ outcomes: string[]; delta: Record<string, number> }> => {
    now = new Date();
    await metrics.refresh();
    const outcomes = (await alerting.evaluate()).map((o) => `${o.channel}:${o.kind}:${o.result}`).sort();
    const after = counts();
    const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
    before = after;
    return { outcomes, delta };
  };
  const sorted = (labels: Record<string, string>) => JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));
  const rules = async () => ((await alerting.alerts()) as { rule: string; labels: Record<string, string> }[]).map((a) => `${a.rule}:${sorted(a.labels)}`).sort();

  // Healthy: full backups of both, a base backup and a small incremental of the archived one.
  await ok(warden.run(['backup', 'full']), 'full backups');
  await ok(warden.run(['backup', 'base', '--database', 'hotel']), 'base backup');
  await pgc.query("INSERT INTO stays (note) VALUES ('one')", [], 'hotel');
  await ok(warden.run(['backup', 'incremental', '--database', 'hotel']), 'small incremental');
  assert.deepEqual((await step()).outcomes, []);
  assert.deepEqual(await rules(), []);

  // 1. No successful full backup of shop for 25 hours: critical, on all four channels.
  await warden.query("UPDATE pgwarden.database_backups SET created_at = created_at - interval '25 hours', finished_at = finished_at - interval '25 hours' WHERE database = 'shop'");
  const missing = await step();
  assert.deepEqual(await rules(), ['BackupMissing:{"database":"shop"}']);
  assert.deepEqual(missing.outcomes, ['email:firing:sent', 'pagerduty:firing:sent', 'slack:firing:sent', 'sms:firing:sent']);
  assert.deepEqual(missing.delta, { pagerduty: 1, sms: 1, slack: 1, email: 1 });
  assert.deepEqual((await step()).delta, { pagerduty: 0, sms: 0, slack: 0, email: 0 }, 'sent once');
  await ok(warden.run(['backup', 'full', '--database', 'shop']), 'a new full backup');
  const backAgain = await step();
  assert.deepEqual(backAgain.outcomes, ['email:resolved:sent', 'pagerduty:resolved:sent', 'slack:resolved:sent', 'sms:resolved:sent']);
  assert.deepEqual(await rules(), []);

  // 2. A backup under half the expected size: warning, Slack and email only.
  await pgc.query('TRUNCATE orders', [], 'shop');
  await ok(warden.run(['backup', 'full', '--database', 'shop']), 'a small full backup');
  const drop = await step();
  assert.deepEqual(await rules(), ['BackupSizeDrop:{"database":"shop","type":"full"}']);
  assert.deepEqual(drop.delta, { pagerduty: 0, sms: 0, slack: 1, email: 1 });
  assert.match(smtp.messages.at(-1)!.parsed.subject ?? '', /\[WARNING\] BackupSizeDrop/);
  await pgc.query('INSERT INTO orders SELECT i, md5(i::text) || md5((i+1)::text) FROM generate_series(1, 40000) i', [], 'shop');
  await ok(warden.run(['backup', 'full', '--database', 'shop']), 'a normal full backup');
  const normal = await step();
  assert.deepEqual(normal.outcomes, ['email:resolved:sent', 'slack:resolved:sent']);
  assert.deepEqual(normal.delta, { pagerduty: 0, sms: 0, slack: 1, email: 1 });

  // 3. An incremental more than twice the previous one: info, Slack only.
  await pgc.query("INSERT INTO stays (note) SELECT md5(i::text) || repeat('x', 200) FROM generate_series(1, 150000) i", [], 'hotel');
  await ok(warden.run(['backup', 'incremental', '--database', 'hotel']), 'a large incremental');
  const spike = await step();
  assert.deepEqual(await rules(), ['IncrementalSizeSpike:{"database":"hotel"}']);
  assert.deepEqual(spike.delta, { pagerduty: 0, sms: 0, slack: 1, email: 0 });
  await pgc.query("INSERT INTO stays (note) VALUES ('two')", [], 'hotel');
  await ok(warden.run(['backup', 'incremental', '--database', 'hotel']), 'a small incremental again');
  const calm = await step();
  assert.deepEqual(calm.outcomes, ['slack:resolved:sent']);
  assert.deepEqual(await rules(), []);

  // Every delivery is recorded against its alert.
  const rows = await warden.query<{ rule: string; channel: string; kind: string }>(
    `SELECT e.rule, n.channel, n.kind FROM pgwarden.alert_notifications n JOIN pgwarden.alert_events e ON e.id = n.event_id WHERE n.result = 'sent' ORDER BY n.id`,
  );
  assert.equal(rows.filter((r) => r.rule === 'BackupMissing').length, 8);
  assert.equal(rows.filter((r) => r.rule === 'BackupSizeDrop').length, 4);
  assert.deepEqual(rows.filter((r) => r.rule === 'IncrementalSizeSpike').map((r) => `${r.channel}:${r.kind}`), ['slack:firing', 'slack:resolved']);
});
