// The built-in rules on hand-made figures: each fires when it should, stays quiet when it should not, and
// per-database thresholds override the global ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateRules, fingerprint, type RuleInput, type Thresholds } from '../../../src/alerting/rules.js';
import type { BackupSeries } from '../../../src/metrics/types.js';
import type { ReplicationReport, StandbyReport } from '../../../src/replication/types.js';

const now = new Date('2026-11-25T12:00:00Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000);
const thresholds: Thresholds = {
  backupMissingHours: 24,
  sizeDropRatio: 0.5,
  replicationLagWarningSeconds: 60,
  replicationLagCriticalSeconds: 300,
  rpoSeconds: 3600,
  storageSpaceFactor: 2,
  incrementalSpikeFactor: 2,
};

function series(overrides: Partial<BackupSeries> & Pick<BackupSeries, 'database' | 'type'>): BackupSeries {
  return {
    runs: { succeeded: 5, failed: 0 },
    lastSuccessAt: hoursAgo(1),
    lastSize: 1000,
    recentSizes: [1000, 1000, 1000],
    expectedSize: 1000,
    sizeRatio: 1,
    lastStatus: 'succeeded',
    lastVerifiedAt: hoursAgo(1),
    lastVerificationOk: true,
    durations: { counts: [], sum: 0, count: 0 },
    ...overrides,
  };
}

const base = (extra: Partial<RuleInput> = {}): RuleInput => ({
  now,
  thresholds,
  databases: [{ name: 'shop', pitr: true }],
  series: [series({ database: 'shop', type: 'full' })],
  databaseStatus: [{ database: 'shop', up: true, error: null }],
  wal: [{ database: 'shop', lastSegmentAt: hoursAgo(0.1), lagBytes: 100 }],
  storage: [{ target: 'local', up: true, error: null, usedBytes: 5000, freeBytes: 1_000_000 }],
  ...extra,
});

const rules = (input: RuleInput) => evaluateRules(input).map((a) => `${a.rule}/${a.severity}/${JSON.stringify(a.labels)}`);

test('a healthy database fires nothing', () => {
  assert.deepEqual(rules(base()), []);
});

test('BackupMissing fires after 24 h without a successful full backup, and for a database never backed up', () => {
  assert.deepEqual(rules(base({ series: [series({ database: 'shop', type: 'full', lastSuccessAt: hoursAgo(25) })] })), ['BackupMissing/critical/{"database":"shop"}']);
  assert.deepEqual(rules(base({ series: [] })), ['BackupMissing/critical/{"database":"shop"}']);
  assert.deepEqual(rules(base({ series: [series({ database: 'shop', type: 'full', lastSuccessAt: hoursAgo(23) })] })), []);
  // A per-database threshold wins over the global one.
  const strict = base({ databases: [{ name: 'shop', pitr: true, thresholds: { backupMissingHours: 12 } }], series: [series({ database: 'shop', type: 'full', lastSuccessAt: hoursAgo(13) })] });
  assert.deepEqual(rules(strict), ['BackupMissing/critical/{"database":"shop"}']);
});

test('a failed last run, a failed verification and a size drop fire with the kind as a label', () => {
  const input = base({
    series: [
      series({ database: 'shop', type: 'full', lastStatus: 'failed' }),
      series({ database: 'shop', type: 'base', lastVerificationOk: false, sizeRatio: 0.3, lastSize: 300 }),
    ],
  });
  assert.deepEqual(rules(input).sort(), [
    'BackupFailed/critical/{"database":"shop","type":"full"}',
    'BackupSizeDrop/warning/{"database":"shop","type":"base"}',
    'BackupVerificationFailed/critical/{"database":"shop","type":"base"}',
  ]);
});

test('an incremental more than twice the previous one is an info alert', () => {
  const spike = base({ series: [series({ database: 'shop', type: 'full' }), series({ database: 'shop', type: 'incremental', recentSizes: [5000, 2000, 2100] })] });
  assert.deepEqual(rules(spike), ['IncrementalSizeSpike/info/{"database":"shop"}']);
  const calm = base({ series: [series({ database: 'shop', type: 'full' }), series({ database: 'shop', type: 'incremental', recentSizes: [3000, 2000] })] });
  assert.deepEqual(rules(calm), []);
});

test('RestoreDrillFailed is critical while the newest restore drill of a database failed, and quiet before the first drill', () => {
  const drill = (lastStatus: 'ok' | 'failed') => ({
    lastStatus,
    lastError: lastStatus === 'failed' ? 'artifact does not match its checksum' : null,
    lastBackupId: '20261122T020000Z-full-1a2b3c',
    lastSuccessAt: hoursAgo(24 * 7),
    lastSuccessDurationSeconds: 42,
  });
  const failed = evaluateRules(base({ series: [series({ database: 'shop', type: 'full', drill: drill('failed') })] }));
  assert.deepEqual(failed.map((a) => `${a.rule}/${a.severity}/${JSON.stringify(a.labels)}`), ['RestoreDrillFailed/critical/{"database":"shop"}']);
  assert.match(failed[0]!.description ?? '', /20261122T020000Z-full-1a2b3c: artifact does not match its checksum/);
  assert.deepEqual(rules(base({ series: [series({ database: 'shop', type: 'full', drill: drill('ok') })] })), []);
  assert.deepEqual(rules(base()), [], 'no drill yet: nothing to say');
  // Drills restore full backups: a drill figure on another kind's series is not a drill of the database.
  const onBase = base({ series: [series({ database: 'shop', type: 'full' }), series({ database: 'shop', type: 'base', drill: drill('failed') })] });
  assert.deepEqual(rules(onBase), []);
});

test('WAL archiving stalls when the newest segment is over an hour old and WAL is waiting, not on an idle server', () => {
  assert.deepEqual(rules(base({ wal: [{ database: 'shop', lastSegmentAt: hoursAgo(2), lagBytes: 5000 }] })), ['WalArchivingStalled/critical/{"database":"shop"}']);
  assert.deepEqual(rules(base({ wal: [{ database: 'shop', lastSegmentAt: hoursAgo(2), lagBytes: 0 }] })), []);
  assert.deepEqual(rules(base({ wal: [{ database: 'shop', lastSegmentAt: null, lagBytes: null }] })), ['WalArchivingStalled/critical/{"database":"shop"}']);
  assert.deepEqual(rules(base({ databases: [{ name: 'shop', pitr: false }], wal: [{ database: 'shop', lastSegmentAt: null, lagBytes: null }] })), []);
});

test('an unreachable database is critical; unknown status (collector failed) fires nothing', () => {
  assert.deepEqual(rules(base({ databaseStatus: [{ database: 'shop', up: false, error: 'connection refused' }] })), ['DatabaseUnreachable/critical/{"database":"shop"}']);
  assert.deepEqual(rules(base({ databaseStatus: undefined })), []);
});

test('replication lag: warning over 60 s, critical over 300 s, warning for a configured standby not connected', () => {
  const standby = (s: Partial<StandbyReport>): ReplicationReport => ({
    checkedAt: now,
    primaryError: null,
    primaryInRecovery: false,
    connectedCount: 1,
    standbys: [{ name: 'r1', configured: true, connected: true, primary: null, standby: null, standbyError: null, lagSeconds: 1, lagBytes: 0, ...s }],
  });
  const lag = (s: Partial<StandbyReport>) => rules(base({ replication: new Map([['shop', standby(s)]]) }));
  assert.deepEqual(lag({ lagSeconds: 10 }), []);
  assert.deepEqual(lag({ lagSeconds: 90 }), ['ReplicationLagHigh/warning/{"database":"shop","standby":"r1"}']);
  assert.deepEqual(lag({ lagSeconds: 400 }), ['ReplicationLagHigh/critical/{"database":"shop","standby":"r1"}']);
  assert.deepEqual(lag({ connected: false, lagSeconds: null }), ['ReplicationLagHigh/warning/{"database":"shop","standby":"r1"}']);
});

test('storage space is low under twice the largest expected backup', () => {
  assert.deepEqual(rules(base({ storage: [{ target: 'local', up: true, error: null, usedBytes: 1, freeBytes: 1500 }] })), ['StorageSpaceLow/warning/{"target":"local"}']);
  assert.deepEqual(rules(base({ storage: [{ target: 's3', up: true, error: null, usedBytes: 1, freeBytes: null }] })), []);
});

test('a target that cannot be listed fires StorageTargetDown; backups missing on a target fire BackupDegraded per target', () => {
  const down = base({ storage: [{ target: 'local', up: true, error: null, usedBytes: 5000, freeBytes: 1_000_000 }, { target: 'gcs', up: false, error: 'ECONNREFUSED', usedBytes: null, freeBytes: null }] });
  assert.deepEqual(rules(down), ['StorageTargetDown/warning/{"target":"gcs"}']);
  assert.match(evaluateRules(down)[0]!.summary, /storage target gcs cannot be reached: ECONNREFUSED/);
  const copies = [
    { database: 'shop', target: 'local', stored: 4, storedBytes: 4000, degraded: 0 },
    { database: 'shop', target: 's3', stored: 2, storedBytes: 2000, degraded: 2 },
  ];
  assert.deepEqual(rules(base({ copies })), ['BackupDegraded/warning/{"database":"shop","target":"s3"}']);
  assert.deepEqual(rules(base({ copies: [{ ...copies[1]!, degraded: 0 }] })), []);
});

test('fingerprints depend on rule, severity and labels only, not on label order', () => {
  assert.equal(fingerprint('R', 'critical', { a: '1', b: '2' }), fingerprint('R', 'critical', { b: '2', a: '1' }));
  assert.notEqual(fingerprint('R', 'critical', { a: '1' }), fingerprint('R', 'warning', { a: '1' }));
  assert.match(fingerprint('R', 'info', {}), /^[0-9a-f]{32}$/);
});

test('routes by database or rule override the severity routes, first match wins', async () => {
  const { channelsFor } = await import('../../../src/alerting/router.js');
  const routes = { critical: ['pagerduty', 'sms', 'slack', 'email'], warning: ['slack', 'email'], info: ['slack'] } as const;
  const overrides = [
    { match: { database: 'staging' }, channels: ['slack'] as const },
    { match: { rule: 'BackupSizeDrop', severity: 'warning' as const }, channels: ['email'] as const },
  ];
  assert.deepEqual(channelsFor({ rule: 'BackupMissing', severity: 'critical', labels: { database: 'staging' } }, routes, overrides), ['slack']);
  assert.deepEqual(channelsFor({ rule: 'BackupSizeDrop', severity: 'warning', labels: { database: 'prod' } }, routes, overrides), ['email']);
  assert.deepEqual(channelsFor({ rule: 'BackupMissing', severity: 'critical', labels: { database: 'prod' } }, routes, overrides), routes.critical);
});
