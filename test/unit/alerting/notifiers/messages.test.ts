// What each channel says, without servers: titles, the SMS body's one-segment budget, the email and Slack
// renderings, the PagerDuty event, the PagerDuty URL mapping, and how library failures are classified.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderEmail } from '../../../../src/alerting/notifiers/email.js';
import { scrub, secretForms, transportFailure } from '../../../../src/alerting/notifiers/failure.js';
import { orderedAlerts, titleOf } from '../../../../src/alerting/notifiers/format.js';
import { pagerDutyEvent, pagerDutyServer } from '../../../../src/alerting/notifiers/pagerduty.js';
import { renderSlack } from '../../../../src/alerting/notifiers/slack.js';
import { gsmLength, SMS_MAX_LENGTH, smsBody, toGsm } from '../../../../src/alerting/notifiers/sms.js';
import type { AlertInstance, Notification } from '../../../../src/alerting/notify-types.js';
import { ConfigError } from '../../../../src/errors.js';

const STARTS_AT = new Date('2026-11-25T02:00:00Z');

function alert(overrides: Partial<AlertInstance> = {}): AlertInstance {
  return {
    fingerprint: 'a1b2c3d4',
    rule: 'BackupMissing',
    severity: 'critical',
    labels: { database: 'hotel_extranet' },
    summary: 'no successful full backup of hotel_extranet in 26 h',
    startsAt: STARTS_AT,
    status: 'firing',
    ...overrides,
  };
}

const three = (): AlertInstance[] => [
  alert({ fingerprint: 'b', rule: 'BackupSizeDrop', severity: 'warning', labels: { database: 'crm' } }),
  alert({ fingerprint: 'c', rule: 'IncrementalSizeSpike', severity: 'info', labels: { database: 'shop' } }),
  alert(),
];

const notification = (kind: Notification['kind'], alerts: AlertInstance[]): Notification => ({ kind, alerts });

test('the title names the most severe alert and counts the others', () => {
  assert.equal(titleOf(notification('firing', three())), '[CRITICAL] BackupMissing hotel_extranet (+2 more)');
  assert.equal(titleOf(notification('repeat', [alert({ severity: 'warning' })])), '[WARNING] BackupMissing hotel_extranet');
  assert.equal(titleOf(notification('resolved', [alert({ status: 'resolved' })])), '[RESOLVED] BackupMissing hotel_extranet');
  assert.equal(titleOf(notification('firing', [alert({ rule: 'StorageSpaceLow', labels: { target: 's3' } })])), '[CRITICAL] StorageSpaceLow s3');
  assert.equal(titleOf(notification('firing', [alert({ rule: 'ReplicationLagHigh', labels: { standby: 'db2' } })])), '[CRITICAL] ReplicationLagHigh db2');
});

test('alerts are listed most severe first, then firing before resolved, then oldest first', () => {
  const older = alert({ fingerprint: 'old', startsAt: new Date('2026-11-24T00:00:00Z'), labels: { database: 'old' } });
  const gone = alert({ fingerprint: 'gone', status: 'resolved', labels: { database: 'gone' } });
  const order = orderedAlerts(notification('firing', [gone, ...three(), older])).map((a) => a.labels['database']);
  assert.deepEqual(order, ['old', 'hotel_extranet', 'gone', 'crm', 'shop']);
});

test('an SMS keeps to one GSM-7 segment and says severity, rule, database and count first', () => {
  assert.equal(smsBody(notification('firing', three())), '[CRITICAL] BackupMissing hotel_extranet (+2 more): no successful full backup of hotel_extranet in 26 h');
  assert.equal(smsBody(notification('resolved', [alert({ status: 'resolved' })])), '[RESOLVED] BackupMissing hotel_extranet: no successful full backup of hotel_extranet in 26 h');
  assert.equal(smsBody(notification('firing', [])), undefined);

  const longSummary = smsBody(notification('firing', [alert({ summary: 'x'.repeat(400) })]))!;
  assert.equal(gsmLength(longSummary), SMS_MAX_LENGTH);
  assert.match(longSummary, /^\[CRITICAL\] BackupMissing hotel_extranet: x+\.\.\.$/);

  const longDatabase = smsBody(notification('firing', [alert({ labels: { database: 'd'.repeat(300) } }), alert({ fingerprint: 'z' })]))!;
  assert.equal(gsmLength(longDatabase), SMS_MAX_LENGTH);
  assert.match(longDatabase, /^\[CRITICAL\] BackupMissing d+\.\.\. \(\+1 more\)$/, 'the count survives, the summary goes');

  const unicode = smsBody(notification('firing', [alert({ summary: 'größe fällt — 31 % “vorher” … 📉 {x} á ł' })]))!;
  assert.equal(unicode, '[CRITICAL] BackupMissing hotel_extranet: größe fällt - 31 % "vorher" ... ? {x} a ?');
});

test('GSM-7: lookalikes become ASCII, extension characters cost two septets', () => {
  assert.equal(toGsm('a–b…c’d'), "a-b...c'd");
  assert.equal(toGsm('日本'), '??');
  assert.equal(gsmLength('{}[]€'), 10);
  assert.equal(gsmLength('abc'), 3);
});

test('the email has a subject, a text body and an escaped HTML body', () => {
  const message = renderEmail({ kind: 'firing', alerts: [alert({ summary: 'size <50% & dropping', labels: { database: 'hotel_extranet', type: 'full' } })], source: 'https://pgwarden.example.com' })!;
  assert.equal(message.subject, '[CRITICAL] BackupMissing hotel_extranet');
  assert.equal(
    message.text,
    [
      '[CRITICAL] BackupMissing hotel_extranet',
      '',
      'pgwarden raised an alert.',
      '',
      'CRITICAL  BackupMissing hotel_extranet',
      '  size <50% & dropping',
      '  labels: database=hotel_extranet type=full',
      '  since 2026-11-25 02:00 UTC',
      '',
      '-- ',
      'pgwarden - https://pgwarden.example.com',
      '',
    ].join('\n'),
  );
  assert.match(message.html, /size &lt;50% &amp; dropping/);
  assert.doesNotMatch(message.html, /<50%/);
});

test('the repeat and test emails say what they are', () => {
  assert.match(renderEmail(notification('repeat', three()))!.text, /Still firing: these 3 alerts have not cleared\./);
  assert.equal(renderEmail(notification('test', []))!.subject, '[TEST] TestNotification');
  assert.equal(renderEmail(notification('firing', [])), undefined);
});

test('Slack: a text fallback, a header, and one attachment per alert coloured by severity, green when resolved', () => {
  const message = renderSlack(notification('firing', [...three(), alert({ fingerprint: 'r', status: 'resolved', severity: 'critical', labels: { database: 'old' } })]))!;
  assert.equal(message.text, '[CRITICAL] BackupMissing hotel_extranet (+3 more)');
  assert.deepEqual(
    message.attachments.map((a) => a.color),
    ['#d92d20', '#12b76a', '#f79009', '#2e90fa'],
  );
  assert.deepEqual(message.blocks[0], { type: 'header', text: { type: 'plain_text', text: '[CRITICAL] BackupMissing hotel_extranet (+3 more)', emoji: false } });
});

test('Slack shows at most 20 alerts and counts the rest', () => {
  const many = Array.from({ length: 23 }, (_, i) => alert({ fingerprint: `f${i}`, labels: { database: `db${i}` } }));
  const message = renderSlack(notification('firing', many))!;
  assert.equal(message.attachments.length, 20);
  assert.deepEqual(message.blocks.at(-1), { type: 'context', elements: [{ type: 'mrkdwn', text: '…and 3 more alerts' }] });
});

test('PagerDuty: trigger while firing, resolve once cleared, the fingerprint as dedup_key, severities kept', () => {
  const firing = pagerDutyEvent('key', notification('firing', []), alert({ severity: 'warning' }), 'db-backup-1');
  assert.equal(firing.event_action, 'trigger');
  assert.equal(firing.dedup_key, 'a1b2c3d4');
  assert.equal(firing.payload.severity, 'warning');
  assert.equal(firing.payload.source, 'db-backup-1');
  assert.equal(firing.payload.summary, 'BackupMissing hotel_extranet: no successful full backup of hotel_extranet in 26 h');
  assert.equal(pagerDutyEvent('key', notification('firing', []), alert({ severity: 'info' }), 'h').payload.severity, 'info');

  const resolvedEvent = pagerDutyEvent('key', notification('resolved', []), alert({ status: 'resolved', endsAt: new Date('2026-11-25T04:00:00Z') }), 'h');
  assert.equal(resolvedEvent.event_action, 'resolve');
  assert.equal(resolvedEvent.dedup_key, 'a1b2c3d4');
  assert.equal((resolvedEvent.payload.custom_details as { ends_at: string }).ends_at, '2026-11-25T04:00:00.000Z');

  const testEvent = pagerDutyEvent('key', notification('test', []), alert(), 'h');
  assert.match(testEvent.payload.summary, /^\[TEST\] /);
});

test('PagerDuty URL → the server pdjs wants; plain HTTP and other paths are config errors', () => {
  assert.equal(pagerDutyServer('https://events.pagerduty.com/v2/enqueue'), 'events.pagerduty.com');
  assert.equal(pagerDutyServer('https://events.eu.pagerduty.com/v2/enqueue'), 'events.eu.pagerduty.com');
  assert.equal(pagerDutyServer('https://127.0.0.1:8443/v2/enqueue'), '127.0.0.1:8443');
  assert.equal(pagerDutyServer('https://proxy.internal/pd/v2/enqueue'), 'proxy.internal/pd');
  for (const [url, problem] of [
    ['http://events.pagerduty.com/v2/enqueue', 'must be an https:// URL (the PagerDuty client speaks HTTPS only)'],
    ['https://events.pagerduty.com/generic/2010-04-15/create_event.json', 'must end in /v2/enqueue, like https://events.pagerduty.com/v2/enqueue'],
    ['https://events.pagerduty.com/v2/enqueue?x=1', 'must not carry a query string or credentials'],
  ] as const) {
    assert.throws(
      () => pagerDutyServer(url),
      (error: unknown) => error instanceof ConfigError && error.problems[0] === `channels.pagerduty.url: ${problem}`,
    );
  }
});

test('secrets are scrubbed in every form they travel in', () => {
  const secrets = secretForms(['s3cr3t/token'], ['AC1:s3cr3t/token']);
  const text = `raw s3cr3t/token, url s3cr3t%2Ftoken, b64 ${Buffer.from('s3cr3t/token').toString('base64')}, basic ${Buffer.from('AC1:s3cr3t/token').toString('base64')}`;
  assert.equal(scrub(text, secrets), 'raw ***, url ***, b64 ***, basic ***');
  assert.deepEqual(secretForms([undefined, 'abc']), [], 'too short to scrub safely');
});

test('library failures: refused connections retry, untrusted certificates do not, aborts are aborts', () => {
  const context = { channel: 'slack' as const, secrets: [] };
  const refused = transportFailure(context, new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) }));
  assert.equal(refused.message, 'slack: cannot reach the server: connect ECONNREFUSED 127.0.0.1:9');
  assert.deepEqual([refused.reason, refused.recoverable], ['connection', true]);

  const cert = transportFailure(context, Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }));
  assert.deepEqual([cert.reason, cert.recoverable], ['tls', false]);

  const timedOut = transportFailure(context, Object.assign(new Error('timeout of 100ms exceeded'), { code: 'ECONNABORTED' }));
  assert.deepEqual([timedOut.reason, timedOut.recoverable], ['timeout', true]);

  const aborted = transportFailure(context, Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }));
  assert.deepEqual([aborted.reason, aborted.recoverable], ['aborted', false]);
});
