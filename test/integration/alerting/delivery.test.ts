// Alert delivery semantics against real local servers (SMTP, Slack, PagerDuty over HTTPS, Twilio) and a
// real catalog, with a clock the test controls: one firing message per channel, repeats on the interval,
// retries until a flaky channel recovers, a hanging channel not holding up the others, no new page after a
// restart, and silences that hold and expire.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { createNotifiers } from '../../../src/alerting/notifiers/index.js';
import { createAlerting } from '../../../src/alerting/service.js';
import { migrateCatalog } from '../../../src/catalog/migrate.js';
import { parseConfig } from '../../../src/config/index.js';
import type { MetricsState } from '../../../src/metrics/types.js';
import { connect } from '../../../src/postgres/connection.js';
import { clusterForSuite } from '../../helpers/postgres.js';
import { type Recorder, startRecorder } from '../../helpers/recorder.js';
import { startSmtpServer } from '../../helpers/smtp.js';
import { createSelfSignedCert } from '../../helpers/tls.js';

const logger = pino({ level: 'silent' });

describe('alert delivery', () => {
  const cluster = clusterForSuite();

  async function setup(t: { after(fn: () => Promise<void>): void }, name: string) {
    const url = await cluster().createDatabase(name);
    const client = await connect(url, { purpose: 'catalog' });
    await migrateCatalog(client);
    await client.end();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    t.after(() => pool.end());
    const cert = await createSelfSignedCert();
    t.after(() => cert.remove());
    const slack = await startRecorder(t, { default: { status: 200, body: { ok: true, channel: 'C1', ts: '1.2' } } });
    const pagerduty = await startRecorder(t, { tls: cert, default: { status: 202, body: { status: 'success', dedup_key: 'x' } } });
    const twilio = await startRecorder(t, { default: { status: 201, body: { sid: 'SM1', status: 'queued' } } });
    const smtp = await startSmtpServer(t);
    const config = parseConfig(
      `
catalog: { url: "${url}" }
databases: [ { name: shop, url: "postgres://127.0.0.1:1/shop" } ]
storage: { local: { path: /tmp } }
alerts: { repeatInterval: 4h }
channels:
  email: { host: 127.0.0.1, port: ${smtp.port}, secure: false, from: pgwarden@test, to: [dba@test] }
  slack: { token: xoxb-test-token, channel: "#db-alerts", apiUrl: "${slack.url}/api/" }
  pagerduty: { routingKey: R0UTINGKEY0123456789012345678901, url: "${pagerduty.url}/v2/enqueue" }
  sms: { accountSid: ACtest0123456789, authToken: twilio-secret, from: "+15550000000", to: ["+15551111111"], apiUrl: "${twilio.url}" }
`,
      { env: {} },
    );
    let now = new Date('2026-11-25T12:00:00Z');
    // A healthy full backup, so only the alert a test provokes fires.
    const healthy = {
      database: 'shop',
      type: 'full' as const,
      runs: { succeeded: 1, failed: 0 },
      lastSuccessAt: now,
      lastSize: 1000,
      recentSizes: [1000],
      expectedSize: 1000,
      sizeRatio: 1,
      lastStatus: 'succeeded' as const,
      lastVerifiedAt: now,
      lastVerificationOk: true,
      durations: { counts: [], sum: 0, count: 0 },
    };
    let state: MetricsState = { catalog: { takenAt: now, buckets: [], series: [healthy], copies: [] }, replication: undefined, databases: [{ database: 'shop', up: true, error: null }], storage: undefined, wal: undefined };
    const make = () =>
      createAlerting({
        config,
        pool,
        logger,
        notifiers: createNotifiers(config.channels, { logger, ca: cert.cert, requestTimeoutMs: 2000 }),
        state: () => state,
        now: () => now,
        deliverOptions: { attempts: 4, baseDelayMs: 50, maxDelayMs: 200, timeoutMs: 1000 },
      });
    return {
      pool,
      slack,
      pagerduty,
      twilio,
      smtp,
      make,
      setNow: (d: Date) => {
        now = d;
      },
      now: () => now,
      down: (up: boolean) => {
        state = { ...state, databases: [{ database: 'shop', up, error: up ? null : 'connection refused' }] };
      },
    };
  }

  const sent = (r: Recorder) => r.requests.length;

  it('sends a critical alert once to PagerDuty, SMS, Slack and email, repeats it after the interval, and resolves it', async (t) => {
    const s = await setup(t, 'alerts_lifecycle');
    const alerting = s.make();
    s.down(false);
    const first = await alerting.evaluate();
    assert.deepEqual(first.map((o) => `${o.channel}:${o.kind}:${o.result}`).sort(), ['email:firing:sent', 'pagerduty:firing:sent', 'slack:firing:sent', 'sms:firing:sent']);
    assert.deepEqual([sent(s.pagerduty), sent(s.twilio), sent(s.slack), s.smtp.messages.length], [1, 1, 1, 1]);
    const event = s.pagerduty.requests[0]!.body as { event_action: string; dedup_key: string; routing_key: string; payload: { severity: string; summary: string } };
    assert.equal(event.event_action, 'trigger');
    assert.equal(event.payload.severity, 'critical');
    assert.match(event.payload.summary, /database shop is unreachable/);
    assert.match(String(s.twilio.requests[0]!.body['Body']), /CRITICAL/);
    assert.ok(String(s.twilio.requests[0]!.body['Body']).length <= 160);
    assert.match(s.smtp.messages[0]!.parsed.subject ?? '', /\[CRITICAL\] DatabaseUnreachable/);

    // Still firing: nothing new until the repeat interval has passed.
    assert.deepEqual(await alerting.evaluate(), []);
    s.setNow(new Date(s.now().getTime() + 3 * 3600_000));
    assert.deepEqual(await alerting.evaluate(), []);
    s.setNow(new Date(s.now().getTime() + 3600_000 + 1000));
    const repeat = await alerting.evaluate();
    assert.deepEqual(repeat.map((o) => `${o.channel}:${o.kind}`).sort(), ['email:repeat', 'pagerduty:repeat', 'slack:repeat', 'sms:repeat']);
    assert.equal((s.pagerduty.requests[1]!.body as { dedup_key: string }).dedup_key, event.dedup_key);

    s.down(true);
    const resolved = await alerting.evaluate();
    assert.deepEqual(resolved.map((o) => `${o.channel}:${o.kind}:${o.result}`).sort(), ['email:resolved:sent', 'pagerduty:resolved:sent', 'slack:resolved:sent', 'sms:resolved:sent']);
    const resolve = s.pagerduty.requests.at(-1)!.body as { event_action: string; dedup_key: string };
    assert.deepEqual([resolve.event_action, resolve.dedup_key], ['resolve', event.dedup_key]);
    assert.deepEqual(await alerting.evaluate(), [], 'resolved once');
    const { rows } = await s.pool.query<{ status: string; resolved_at: Date }>('SELECT status, resolved_at FROM pgwarden.alert_events');
    assert.deepEqual(rows.map((r) => r.status), ['resolved']);
  });

  it('retries a channel answering 500 until it recovers and delivers exactly once; a hanging Slack does not delay PagerDuty', async (t) => {
    const s = await setup(t, 'alerts_retry');
    s.pagerduty.enqueue({ status: 500, body: { status: 'error' } }, { status: 500, body: { status: 'error' } });
    s.slack.setDefault({ hang: true });
    const alerting = s.make();
    s.down(false);
    const started = Date.now();
    const outcomes = await alerting.evaluate();
    const pd = outcomes.find((o) => o.channel === 'pagerduty')!;
    assert.equal(pd.result, 'sent');
    assert.equal(sent(s.pagerduty), 3, 'two failures, then one delivery');
    const pdDone = s.pagerduty.requests.at(-1)!.receivedAt - started;
    assert.ok(pdDone < 2000, `PagerDuty was delivered ${pdDone} ms in, not held up by Slack`);
    const slack = outcomes.find((o) => o.channel === 'slack')!;
    assert.equal(slack.result, 'failed');
    assert.match(slack.error ?? '', /slack: 4 attempts failed/);
    const { rows } = await s.pool.query<{ channel: string; attempt: number; result: string }>(
      "SELECT channel, attempt, result FROM pgwarden.alert_notifications WHERE channel IN ('pagerduty', 'slack') ORDER BY channel, attempt",
    );
    assert.deepEqual(rows.map((r) => `${r.channel}#${r.attempt}:${r.result}`), [
      'pagerduty#1:retrying',
      'pagerduty#2:retrying',
      'pagerduty#3:sent',
      'slack#1:retrying',
      'slack#2:retrying',
      'slack#3:retrying',
      'slack#4:failed',
    ]);
    // No secret in what was recorded.
    const { rows: errors } = await s.pool.query<{ error: string | null }>('SELECT error FROM pgwarden.alert_notifications');
    for (const e of errors) assert.ok(!e.error?.includes('xoxb-test-token') && !e.error?.includes('R0UTINGKEY'), e.error ?? '');
  });

  it('does not page again after a restart while an alert fires', async (t) => {
    const s = await setup(t, 'alerts_restart');
    s.down(false);
    await s.make().evaluate();
    const before = [sent(s.pagerduty), sent(s.slack), sent(s.twilio), s.smtp.messages.length];
    // A new process on the same catalog: the alert is already recorded as firing and sent.
    const restarted = s.make();
    assert.deepEqual(await restarted.evaluate(), []);
    assert.deepEqual([sent(s.pagerduty), sent(s.slack), sent(s.twilio), s.smtp.messages.length], before);
    const firing = (await restarted.alerts()) as { rule: string; silenced: boolean }[];
    assert.deepEqual(firing.map((a) => [a.rule, a.silenced]), [['DatabaseUnreachable', false]]);
  });

  it('holds a silence, then sends once it expires', async (t) => {
    const s = await setup(t, 'alerts_silence');
    const alerting = s.make();
    await alerting.silence({ matchers: { alertname: 'DatabaseUnreachable', database: 'shop' }, durationSeconds: 3600, comment: 'maintenance', actor: 'api:ops' });
    s.down(false);
    assert.deepEqual(await alerting.evaluate(), [], 'silenced: recorded, not sent');
    assert.equal(sent(s.pagerduty), 0);
    const recorded = (await alerting.alerts()) as { silenced: boolean }[];
    assert.deepEqual(recorded.map((a) => a.silenced), [true]);
    s.setNow(new Date(s.now().getTime() + 3601_000));
    const after = await alerting.evaluate();
    assert.deepEqual(after.map((o) => `${o.channel}:${o.kind}`).sort(), ['email:firing', 'pagerduty:firing', 'slack:firing', 'sms:firing']);
  });

  it('routes Alertmanager webhooks through the same router: SMS for critical, a resolved message once', async (t) => {
    const s = await setup(t, 'alerts_am');
    const alerting = s.make();
    const alert = { status: 'firing', labels: { alertname: 'BackupFailed', severity: 'critical', database: 'shop', type: 'full' }, annotations: { summary: 'the last full backup of shop failed' }, startsAt: '2026-11-25T11:00:00Z', fingerprint: 'abc123' };
    await alerting.alertmanagerWebhook({ alerts: [alert] });
    assert.equal(sent(s.twilio), 1);
    assert.match(String(s.twilio.requests[0]!.body['Body']), /BackupFailed/);
    await alerting.alertmanagerWebhook({ alerts: [alert] });
    assert.equal(sent(s.twilio), 1, 'repeated webhook, no repeat before the interval');
    await alerting.alertmanagerWebhook({ alerts: [{ ...alert, status: 'resolved' }] });
    assert.equal(sent(s.twilio), 2);
    await alerting.alertmanagerWebhook({ alerts: [{ ...alert, status: 'resolved' }] });
    assert.equal(sent(s.twilio), 2, 'resolved once');
    // pgwarden's own evaluation does not resolve alerts Alertmanager owns.
    assert.deepEqual(await alerting.evaluate(), []);
  });
});
