// What /metrics shows for given snapshots: which series exist (absent rather than 0), their values, types
// and labels, and that the whole text passes `promtool check metrics`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createMetrics, defineSnapshotMetric } from '../../../src/metrics/registry.js';
import { buildCatalogSnapshot, type DurationRow, type SummaryRow } from '../../../src/metrics/snapshot.js';
import { DURATION_BUCKETS } from '../../../src/metrics/types.js';
import type { ReplicationReport, StandbyReport } from '../../../src/replication/types.js';
import { find, parseExposition, promtoolCheckMetrics, sampleValue } from './exposition.js';

const NOW = new Date('2026-11-25T12:00:00Z');

function fakeClock(start = NOW) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
  };
}

const hotelFull: SummaryRow = {
  database: 'hotel',
  type: 'full',
  succeeded: 8,
  failed: 2,
  last_verified_at: new Date('2026-11-25T02:20:00Z'),
  sizes: [500, 1000, 1000, 1000],
  last_success_at: new Date('2026-11-25T02:15:00Z'),
  last_size: 500,
  last_status: 'failed',
  expected_size: 1000,
};

function catalog(summary: SummaryRow[], durations: DurationRow[] = [], databases = ['hotel', 'fresh']) {
  return buildCatalogSnapshot({ databases, summary, durations, buckets: DURATION_BUCKETS, takenAt: NOW });
}

function standby(overrides: Partial<StandbyReport> & { name: string }): StandbyReport {
  return {
    configured: true,
    connected: true,
    primary: null,
    standby: null,
    standbyError: null,
    lagSeconds: 0.5,
    lagBytes: 2048,
    ...overrides,
  };
}

function replication(standbys: StandbyReport[], connectedCount: number | null = standbys.filter((s) => s.connected).length): ReplicationReport {
  return { checkedAt: NOW, primaryError: null, primaryInRecovery: false, connectedCount, standbys };
}

async function render(setup: (m: ReturnType<typeof createMetrics>) => void, clock = fakeClock()) {
  const registry = new Registry();
  const metrics = createMetrics(registry, { clock, processMetrics: false });
  setup(metrics);
  return parseExposition(await registry.metrics());
}

describe('catalog series', () => {
  it('a database that never had a successful backup has no timestamp or age series, but its run counters exist at 0', async () => {
    const e = await render((m) => m.setCatalog(catalog([hotelFull])));
    for (const name of [
      'pgwarden_backup_last_success_timestamp_seconds',
      'pgwarden_backup_age_seconds',
      'pgwarden_backup_last_size_bytes',
      'pgwarden_backup_size_ratio',
      'pgwarden_backup_last_status',
      'pgwarden_backup_verification_last_success_timestamp_seconds',
    ]) {
      assert.deepEqual(find(e, name, { database: 'fresh' }), [], `${name} must be absent for a never-run database`);
      assert.equal(find(e, name, { database: 'hotel' }).length, 1, `${name} for hotel`);
    }
    for (const type of ['full', 'base', 'incremental']) {
      for (const result of ['succeeded', 'failed']) {
        assert.equal(sampleValue(e, 'pgwarden_backup_runs_total', { database: 'fresh', type, result }), 0);
      }
    }
    assert.deepEqual(find(e, 'pgwarden_backup_duration_seconds_count', { database: 'fresh' }), []);
  });

  it('reports timestamps in seconds, sizes in bytes, the ratio, the last status and the run counts', async () => {
    const e = await render((m) => m.setCatalog(catalog([hotelFull])));
    const labels = { database: 'hotel', type: 'full' };
    assert.equal(sampleValue(e, 'pgwarden_backup_last_success_timestamp_seconds', labels), Date.parse('2026-11-25T02:15:00Z') / 1000);
    assert.equal(sampleValue(e, 'pgwarden_backup_age_seconds', labels), (9 * 60 + 45) * 60);
    assert.equal(sampleValue(e, 'pgwarden_backup_last_size_bytes', labels), 500);
    assert.equal(sampleValue(e, 'pgwarden_backup_expected_size_bytes', labels), 1000);
    assert.equal(sampleValue(e, 'pgwarden_backup_size_ratio', labels), 0.5);
    assert.equal(sampleValue(e, 'pgwarden_backup_last_status', labels), 0);
    assert.equal(sampleValue(e, 'pgwarden_backup_verification_last_success_timestamp_seconds', labels), Date.parse('2026-11-25T02:20:00Z') / 1000);
    assert.equal(sampleValue(e, 'pgwarden_backup_runs_total', { ...labels, result: 'succeeded' }), 8);
    assert.equal(sampleValue(e, 'pgwarden_backup_runs_total', { ...labels, result: 'failed' }), 2);
    assert.equal(e.types.get('pgwarden_backup_runs_total'), 'counter');
  });

  it('measures the age at render time, so it grows between refreshes', async () => {
    const clock = fakeClock();
    const registry = new Registry();
    const metrics = createMetrics(registry, { clock, processMetrics: false });
    metrics.setCatalog(catalog([hotelFull]));
    const labels = { database: 'hotel', type: 'full' };
    const before = sampleValue(parseExposition(await registry.metrics()), 'pgwarden_backup_age_seconds', labels)!;
    clock.advance(90_000);
    const after = sampleValue(parseExposition(await registry.metrics()), 'pgwarden_backup_age_seconds', labels)!;
    assert.equal(after - before, 90);
  });

  it('renders durations as a cumulative histogram with +Inf, sum and count', async () => {
    const durations: DurationRow[] = [
      { database: 'hotel', type: 'full', idx: 0, n: 1, seconds: 0.5 }, // ≤ 1 s
      { database: 'hotel', type: 'full', idx: 4, n: 2, seconds: 100 }, // ≤ 60 s
      { database: 'hotel', type: 'full', idx: DURATION_BUCKETS.length, n: 1, seconds: 25_000 }, // > 6 h
    ];
    const e = await render((m) => m.setCatalog(catalog([hotelFull], durations)));
    assert.equal(e.types.get('pgwarden_backup_duration_seconds'), 'histogram');
    const bucket = (le: string) => sampleValue(e, 'pgwarden_backup_duration_seconds_bucket', { database: 'hotel', type: 'full', le });
    assert.equal(bucket('1'), 1);
    assert.equal(bucket('30'), 1);
    assert.equal(bucket('60'), 3);
    assert.equal(bucket('21600'), 3);
    assert.equal(bucket('+Inf'), 4);
    assert.equal(sampleValue(e, 'pgwarden_backup_duration_seconds_count', { database: 'hotel', type: 'full' }), 4);
    assert.equal(sampleValue(e, 'pgwarden_backup_duration_seconds_sum', { database: 'hotel', type: 'full' }), 25_100.5);
  });

  it('drops every catalog series when the catalog snapshot is gone, instead of serving stale figures', async () => {
    const e = await render((m) => {
      m.setCatalog(catalog([hotelFull]));
      m.setCatalog(undefined);
    });
    assert.deepEqual(
      e.samples.filter((s) => s.name.startsWith('pgwarden_backup_')),
      [],
    );
  });
});

describe('replication, database and storage series', () => {
  it('a configured standby that is not connected has connected 0 and no lag series', async () => {
    const e = await render((m) =>
      m.setReplication(
        new Map([
          ['hotel', replication([standby({ name: 'replica1' }), standby({ name: 'replica2', connected: false, lagSeconds: null, lagBytes: null })])],
        ]),
      ),
    );
    assert.equal(sampleValue(e, 'pgwarden_replication_standbys_connected', { database: 'hotel' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_replication_standby_connected', { standby: 'replica1' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_replication_standby_connected', { standby: 'replica2' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_replication_lag_seconds', { database: 'hotel', standby: 'replica1' }), 0.5);
    assert.equal(sampleValue(e, 'pgwarden_replication_lag_bytes', { database: 'hotel', standby: 'replica1' }), 2048);
    assert.deepEqual(find(e, 'pgwarden_replication_lag_seconds', { standby: 'replica2' }), []);
  });

  it('an unreachable primary leaves its standbys unknown: no connected, no lag series', async () => {
    const report = replication([standby({ name: 'replica1', connected: null, lagSeconds: null, lagBytes: null })], null);
    const e = await render((m) => m.setReplication(new Map([['hotel', { ...report, primaryError: 'connection refused' }]])));
    assert.deepEqual(e.samples.filter((s) => s.name.startsWith('pgwarden_replication_')), []);
  });

  it('reports database_up as 1 or 0 and storage per target, free space only where known', async () => {
    const e = await render((m) => {
      m.setDatabases([
        { database: 'hotel', up: true, error: null },
        { database: 'fresh', up: false, error: 'connection refused' },
      ]);
      m.setStorage([
        { target: 'local', up: true, error: null, usedBytes: 123, freeBytes: 456 },
        { target: 's3', up: true, error: null, usedBytes: 789, freeBytes: null },
      ]);
    });
    assert.equal(sampleValue(e, 'pgwarden_database_up', { database: 'hotel' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_database_up', { database: 'fresh' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_storage_used_bytes', { target: 's3' }), 789);
    assert.equal(sampleValue(e, 'pgwarden_storage_free_bytes', { target: 'local' }), 456);
    assert.deepEqual(find(e, 'pgwarden_storage_free_bytes', { target: 's3' }), []);
  });

  it('keeps the last successful refresh time of a collector that then fails', async () => {
    const e = await render((m) => {
      m.setCollector('catalog', { success: true, at: new Date('2026-11-25T11:00:00Z'), durationSeconds: 0.1 });
      m.setCollector('catalog', { success: false, at: new Date('2026-11-25T11:15:00Z'), durationSeconds: 30 });
    });
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'catalog' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_metrics_last_refresh_timestamp_seconds', { collector: 'catalog' }), Date.parse('2026-11-25T11:00:00Z') / 1000);
    assert.equal(sampleValue(e, 'pgwarden_collector_duration_seconds', { collector: 'catalog' }), 30);
  });
});

describe('the exposition as a whole', () => {
  const populate = (m: ReturnType<typeof createMetrics>) => {
    m.setCatalog(catalog([hotelFull, { ...hotelFull, type: 'base', failed: 0, last_status: 'succeeded' }], [{ database: 'hotel', type: 'full', idx: 3, n: 8, seconds: 200 }]));
    m.setReplication(new Map([['hotel', replication([standby({ name: 'replica1' }), standby({ name: 'replica2', connected: false, lagSeconds: null, lagBytes: null })])]]));
    m.setDatabases([{ database: 'hotel', up: true, error: null }]);
    m.setStorage([{ target: 'local', up: true, error: null, usedBytes: 123, freeBytes: 456 }]);
    for (const c of ['catalog', 'replication', 'database', 'storage'] as const) m.setCollector(c, { success: true, at: NOW, durationSeconds: 0.01 });
  };

  it('uses bounded labels only: never a backup id or a timestamp', async () => {
    const e = await render(populate);
    const allowed = new Set(['database', 'type', 'result', 'standby', 'target', 'collector', 'le']);
    for (const s of e.samples) {
      for (const [key, value] of Object.entries(s.labels)) {
        assert.ok(allowed.has(key), `${s.name} has label ${key}`);
        assert.doesNotMatch(value, /\d{8}T\d{6}Z|\d{4}-\d{2}-\d{2}/, `${s.name}{${key}="${value}"} looks like an id or a time`);
      }
    }
  });

  it('passes `promtool check metrics`, process metrics included', async () => {
    const registry = new Registry();
    populate(createMetrics(registry, { clock: fakeClock() }));
    const text = await registry.metrics();
    assert.match(text, /^process_cpu_seconds_total /m, 'process metrics are included');
    assert.match(text, /^nodejs_heap_size_used_bytes /m);
    const check = promtoolCheckMetrics(text);
    // CI installs promtool (.ci/run); without it this check must fail, not pass silently.
    assert.ok(check.available, 'promtool is not installed: apt-get install prometheus');
    assert.equal(check.code, 0, check.output);
    assert.equal(check.output, '');
  });

  it('a metric whose samples cannot be built renders empty and the rest of the scrape still renders', async () => {
    const registry = new Registry();
    const errors: string[] = [];
    createMetrics(registry, { clock: fakeClock(), processMetrics: false }).setDatabases([{ database: 'hotel', up: true, error: null }]);
    defineSnapshotMetric(registry, {
      name: 'pgwarden_broken',
      type: 'gauge',
      help: 'Throws.',
      samples: () => {
        throw new Error('bug');
      },
      onError: (metric) => errors.push(metric),
    });
    const e = parseExposition(await registry.metrics());
    assert.equal(sampleValue(e, 'pgwarden_database_up', { database: 'hotel' }), 1);
    assert.deepEqual(find(e, 'pgwarden_broken'), []);
    assert.deepEqual(errors, ['pgwarden_broken']);
  });
});
