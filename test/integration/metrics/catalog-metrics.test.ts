// Metrics against a real catalog: rows written through the catalog API, then refresh() and a scrape; the
// values must match the rows. Also: the catalog queries stay fast on a long history, and the live
// collectors (database_up, storage) report real servers and files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { createCatalog } from '../../../src/catalog/catalog.js';
import { migrateCatalog } from '../../../src/catalog/migrate.js';
import { createDefaultProbes } from '../../../src/metrics/probes.js';
import { createMetricsService } from '../../../src/metrics/service.js';
import { refreshFromCatalog } from '../../../src/metrics/snapshot.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';
import { type CleanupHooks, type Cluster, clusterForSuite } from '../../helpers/postgres.js';
import { find, parseExposition, promtoolCheckMetrics, sampleValue } from '../../unit/metrics/exposition.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const clock = { now: () => NOW };
const silent = pino({ level: 'silent' });

/** A migrated catalog database of its own on the cluster, and a pool on it closed after the test. */
async function freshCatalog(hooks: CleanupHooks, cluster: Cluster): Promise<{ pool: pg.Pool; url: string }> {
  const url = await cluster.createDatabase(`catalog_${randomBytes(4).toString('hex')}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrateCatalog(client);
  } finally {
    await client.end();
  }
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  hooks.after(() => pool.end());
  return { pool, url };
}

interface Run {
  id: string;
  database: string;
  type: 'full' | 'base' | 'incremental';
  status: 'succeeded' | 'failed';
  size?: number;
  startedAt: string;
  seconds: number;
  verification?: { status: 'ok' | 'failed'; at: string };
}

/** Records a run the way a backup does (startRun, finishRun), then pins its times so values are exact. */
async function record(pool: pg.Pool, run: Run): Promise<void> {
  const catalog = createCatalog(pool);
  await catalog.startRun({ backupId: run.id, database: run.database, type: run.type, expectedSize: 1000, host: 'test', pid: 1 });
  await catalog.finishRun(run.id, {
    status: run.status,
    error: run.status === 'failed' ? 'pg_dump exited with code 1' : null,
    fileSize: run.size ?? null,
    verification: run.verification ? { status: run.verification.status, at: new Date(run.verification.at), error: null } : null,
  });
  await pool.query(
    `UPDATE pgwarden.database_backups SET created_at = $2::timestamptz, finished_at = $2::timestamptz + make_interval(secs => $3)
      WHERE backup_id = $1`,
    [run.id, run.startedAt, run.seconds],
  );
}

describe('metrics from the catalog', () => {
  const cluster = clusterForSuite();

  it('match the catalog rows: ages, sizes, ratio, durations, runs by result, last status, verification', async (t) => {
    const { pool } = await freshCatalog(t, cluster());
    // Eight successful full backups, a day apart, oldest first; the newest is suspiciously small. The oldest
    // (5000) falls outside the window of 7, so the median is that of the seven newest: 1000.
    const sizes = [5000, 1000, 1100, 900, 1000, 1200, 1000, 400];
    for (const [i, size] of sizes.entries()) {
      await record(pool, {
        id: `full-${i}`,
        database: 'hotel',
        type: 'full',
        status: 'succeeded',
        size,
        startedAt: `2026-11-${String(17 + i).padStart(2, '0')}T02:00:00Z`,
        // Seven runs of exactly 30 s (on a bucket bound: le is ≤) and one of 4000 s.
        seconds: i === 3 ? 4000 : 30,
        verification: { status: i === 7 ? 'failed' : 'ok', at: `2026-11-${String(17 + i).padStart(2, '0')}T03:00:00Z` },
      });
    }
    // The newest run failed: last status 0, but the last success is still the small one.
    await record(pool, { id: 'full-failed', database: 'hotel', type: 'full', status: 'failed', startedAt: '2026-11-25T02:00:00Z', seconds: 5 });
    // A base backup that cleanup expired: a successful run for the counter, but nothing restorable.
    await record(pool, { id: 'base-0', database: 'hotel', type: 'base', status: 'succeeded', size: 9000, startedAt: '2026-11-01T01:00:00Z', seconds: 60 });
    await pool.query(`UPDATE pgwarden.database_backups SET status = 'expired' WHERE backup_id = 'base-0'`);
    // A run still going is no finished run; a database not in the config is not reported.
    await createCatalog(pool).startRun({ backupId: 'full-running', database: 'hotel', type: 'full', expectedSize: 1, host: 'test', pid: 1 });
    await record(pool, { id: 'gone-0', database: 'gone', type: 'full', status: 'succeeded', size: 1, startedAt: '2026-11-24T02:00:00Z', seconds: 1 });

    const service = createMetricsService({
      catalogPool: pool,
      config: {
        databases: [
          { name: 'hotel', url: cluster().url() },
          { name: 'fresh', url: 'postgres://postgres@127.0.0.1:1/fresh' },
        ],
      },
      clock,
      logger: silent,
      probes: createDefaultProbes({ timeoutMs: 2_000 }),
    });
    await service.refresh();
    const text = await service.render();
    const e = parseExposition(text);
    const full = { database: 'hotel', type: 'full' };

    const lastSuccess = Date.parse('2026-11-24T02:00:30Z') / 1000;
    assert.equal(sampleValue(e, 'pgwarden_backup_last_success_timestamp_seconds', full), lastSuccess);
    assert.equal(sampleValue(e, 'pgwarden_backup_age_seconds', full), NOW.getTime() / 1000 - lastSuccess);
    assert.equal(sampleValue(e, 'pgwarden_backup_last_size_bytes', full), 400);
    assert.equal(sampleValue(e, 'pgwarden_backup_expected_size_bytes', full), 1000);
    assert.equal(sampleValue(e, 'pgwarden_backup_size_ratio', full), 0.4);
    assert.equal(sampleValue(e, 'pgwarden_backup_last_status', full), 0);
    assert.equal(sampleValue(e, 'pgwarden_backup_runs_total', { ...full, result: 'succeeded' }), 8);
    assert.equal(sampleValue(e, 'pgwarden_backup_runs_total', { ...full, result: 'failed' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_backup_verification_last_success_timestamp_seconds', full), Date.parse('2026-11-23T03:00:00Z') / 1000);

    const bucket = (le: string) => sampleValue(e, 'pgwarden_backup_duration_seconds_bucket', { ...full, le });
    assert.equal(bucket('15'), 0);
    assert.equal(bucket('30'), 7);
    assert.equal(bucket('3600'), 7);
    assert.equal(bucket('7200'), 8);
    assert.equal(bucket('+Inf'), 8);
    assert.equal(sampleValue(e, 'pgwarden_backup_duration_seconds_sum', full), 7 * 30 + 4000);
    assert.equal(sampleValue(e, 'pgwarden_backup_duration_seconds_count', full), 8);

    const base = { database: 'hotel', type: 'base' };
    assert.equal(sampleValue(e, 'pgwarden_backup_runs_total', { ...base, result: 'succeeded' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_backup_last_success_timestamp_seconds', base), undefined, 'an expired backup is not a restorable success');

    // Never backed up: counters at 0, no timestamp or age; not configured: nothing at all.
    assert.equal(sampleValue(e, 'pgwarden_backup_runs_total', { database: 'fresh', type: 'full', result: 'failed' }), 0);
    assert.deepEqual(find(e, 'pgwarden_backup_age_seconds', { database: 'fresh' }), []);
    assert.deepEqual(find(e, 'pgwarden_backup_last_success_timestamp_seconds', { database: 'fresh' }), []);
    assert.deepEqual(e.samples.filter((s) => s.labels['database'] === 'gone'), []);

    // Live checks: the reachable database is up, the other down; no standbys on the reachable one.
    assert.equal(sampleValue(e, 'pgwarden_database_up', { database: 'hotel' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_database_up', { database: 'fresh' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_replication_standbys_connected', { database: 'hotel' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'catalog' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'database' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'replication' }), 0, "fresh's primary cannot be asked");

    const check = promtoolCheckMetrics(text);
    if (check.available) assert.equal(check.code, 0, check.output);
  });

  it('a new run shows up after the refresh that follows it, not before', async (t) => {
    const { pool } = await freshCatalog(t, cluster());
    const service = createMetricsService({
      catalogPool: pool,
      config: { databases: [{ name: 'hotel', url: cluster().url() }] },
      clock,
      logger: silent,
      processMetrics: false,
    });
    await service.refresh();
    const labels = { database: 'hotel', type: 'full', result: 'succeeded' };
    assert.equal(sampleValue(parseExposition(await service.render()), 'pgwarden_backup_runs_total', labels), 0);
    await record(pool, { id: 'full-1', database: 'hotel', type: 'full', status: 'succeeded', size: 10, startedAt: '2026-11-25T02:00:00Z', seconds: 3 });
    assert.equal(sampleValue(parseExposition(await service.render()), 'pgwarden_backup_runs_total', labels), 0, 'a scrape reads the snapshot');
    await service.refresh();
    assert.equal(sampleValue(parseExposition(await service.render()), 'pgwarden_backup_runs_total', labels), 1);
  });

  it('reads 50,000 catalog rows of 20 databases quickly', async (t) => {
    const { pool } = await freshCatalog(t, cluster());
    await pool.query(`
      INSERT INTO pgwarden.database_backups (backup_id, database, type, status, created_at, finished_at, file_size, verified_at, verification_status)
      SELECT 'b' || i, 'db' || (i % 20), (ARRAY['full', 'base', 'incremental', 'wal'])[1 + (i / 20) % 4],
             CASE WHEN i % 17 = 0 THEN 'failed' WHEN i % 5 = 0 THEN 'expired' ELSE 'succeeded' END,
             now() - make_interval(mins => 50000 - i), now() - make_interval(mins => 50000 - i) + make_interval(secs => i % 4000),
             1000000 + i, now(), 'ok'
        FROM generate_series(1, 50000) i`);
    await pool.query('ANALYZE pgwarden.database_backups');
    const config = { databases: Array.from({ length: 20 }, (_, i) => ({ name: `db${i}` })) };
    await refreshFromCatalog(pool, config); // warm the cache, as a running service would have
    const started = performance.now();
    const snapshot = await refreshFromCatalog(pool, config);
    const ms = performance.now() - started;
    t.diagnostic(`refreshFromCatalog: ${ms.toFixed(0)} ms for 50,000 rows of 20 databases`);
    assert.equal(snapshot.series.length, 80);
    const runs = snapshot.series.reduce((sum, s) => sum + s.runs.succeeded + s.runs.failed, 0);
    assert.equal(runs, 50_000);
    assert.ok(ms < 1_000, `took ${ms} ms`);
  });

  it('reports storage used under the prefix and free space on a local target', async (t) => {
    const { pool } = await freshCatalog(t, cluster());
    const root = await mkdtemp(join(tmpdir(), 'pgwarden-metrics-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    await mkdir(join(root, 'prod', 'hotel', 'full', 'b1'), { recursive: true });
    await writeFile(join(root, 'prod', 'hotel', 'full', 'b1', 'dump.pgc.gz'), Buffer.alloc(3000));
    await writeFile(join(root, 'prod', 'hotel', 'full', 'b1', 'manifest.json'), Buffer.alloc(200));
    await writeFile(join(root, 'not-ours.bin'), Buffer.alloc(5000));
    // The way `serve` wires it: the app's storage target and clock, the prefix from the config.
    const service = createMetricsService({
      catalogPool: pool,
      config: { databases: [], storage: { prefix: 'prod' } },
      storage: createLocalDriver({ root }),
      now: () => NOW,
      logger: silent,
      processMetrics: false,
    });
    await service.refresh();
    const e = parseExposition(await service.render());
    assert.equal(sampleValue(e, 'pgwarden_storage_used_bytes', { target: 'local' }), 3200);
    assert.ok(sampleValue(e, 'pgwarden_storage_free_bytes', { target: 'local' })! > 0);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'storage' }), 1);
  });
});
