// Restore drills against real clusters: the newest full backup of the awkward fixture restores into a scratch
// database whose tables and row counts match the manifest (counted in the dump's snapshot), the measured RTO
// and the result land in pgwarden.restore_drills and in the metrics, and the scratch database is gone
// afterwards — also when the stored artifact is damaged, and when a dead drill left one behind.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { evaluateRules } from '../../../src/alerting/rules.js';
import { openPgwarden } from '../../../src/app/open.js';
import { createWalAccess } from '../../../src/backup/wal-access.js';
import { loadConfig } from '../../../src/config/index.js';
import type { DrillResult } from '../../../src/drill/types.js';
import { createMetricsService } from '../../../src/metrics/service.js';
import { buildJobs } from '../../../src/scheduler/jobs.js';
import { type CleanupHooks, type Cluster, clusterForSuite, loadFixture, useCluster } from '../../helpers/postgres.js';
import { printedIds, setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';
import { parseExposition, sampleValue } from '../../unit/metrics/exposition.js';

const silent = pino({ level: 'silent' });

interface DrillRow {
  drill_id: string;
  backup_id: string;
  database: string;
  target: string;
  status: string;
  error: string | null;
  duration_seconds: number;
  tables: number | null;
  rows: string | null;
  mismatches: unknown[];
  actor: string;
  finished_at: Date;
}

async function scratchDatabases(cluster: Cluster): Promise<string[]> {
  const { rows } = await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'pgwarden\\_drill\\_%' ORDER BY 1");
  return rows.map((r) => r.datname);
}

/** The awkward fixture in a database of its own, a warden configured for it, and one full backup. */
async function backedUp(hooks: CleanupHooks, cluster: Cluster, name: string, extra?: string): Promise<{ warden: WardenSetup; sourceUrl: string; id: string }> {
  const sourceUrl = await cluster.createDatabase(name);
  await loadFixture(sourceUrl, 'awkward');
  const warden = await setupWarden(hooks, cluster, { databases: [{ name: 'awkward', url: sourceUrl }], ...(extra ? { extra } : {}) });
  const backup = await warden.run(['backup', 'full']);
  assert.equal(backup.code, 0, backup.stderr);
  const id = printedIds(backup)[0];
  assert.ok(id, `no backup id printed: ${backup.stdout}`);
  return { warden, sourceUrl, id };
}

async function manifestOf(warden: WardenSetup, id: string) {
  return JSON.parse(await readFile(join(warden.storageDir, 'awkward', 'full', id, 'manifest.json'), 'utf8')) as {
    tables: { count: number; rows?: Record<string, number> };
  };
}

/** The metrics service on the warden's catalog, refreshed once: what /metrics would show. */
async function refreshedMetrics(hooks: CleanupHooks, warden: WardenSetup, sourceUrl: string) {
  const pool = new pg.Pool({ connectionString: warden.catalogUrl, max: 2 });
  hooks.after(() => pool.end());
  const service = createMetricsService({
    catalogPool: pool,
    config: { databases: [{ name: 'awkward', url: sourceUrl }] },
    logger: silent,
    processMetrics: false,
    probes: {
      databaseUp: async (db) => ({ database: db.name, up: true, error: null }),
      replication: async () => ({ checkedAt: new Date(), primaryError: null, primaryInRecovery: false, connectedCount: 0, standbys: [] }),
    },
  });
  await service.refresh();
  return { service, exposition: parseExposition(await service.render()) };
}

describe('restore drills', () => {
  const cluster = clusterForSuite();

  it('drills a backup of awkward content: every table and row count matches, RTO recorded, no scratch database left', async (t) => {
    const { warden, sourceUrl, id } = await backedUp(t, cluster(), 'drill_awkward');

    // The manifest holds exact counts from the dump's snapshot, RLS-hidden rows and partitions included.
    const manifest = await manifestOf(warden, id);
    const rows = manifest.tables.rows!;
    assert.ok(rows, 'the manifest records row counts');
    assert.equal(Object.keys(rows).length, manifest.tables.count);
    assert.equal(rows['Hotel Ops.Room Rates'], 207);
    assert.equal(rows['Hotel Ops.guest_secrets'], 20, 'forced RLS must not hide rows from the count');
    assert.equal(rows['Hotel Ops.bookings'], 0, 'a partitioned parent holds no rows itself');
    assert.equal(rows['Hotel Ops.bookings 2024']! + rows['Hotel Ops.bookings 2025']! + rows['Hotel Ops.bookings 2026']!, 300);
    assert.equal(rows['Hotel Ops.Guest "VIP" Notes'], 4);
    assert.equal(rows['public.no columns'], 2);
    assert.equal(rows['Hotel Ops.empty_table'], 0);

    // A scratch database a killed drill left behind is dropped; a look-alike that is not one stays.
    await cluster().createDatabase('pgwarden_drill_awkward_0badc0');
    await cluster().createDatabase('pgwarden_drill_awkward_keepme');
    t.after(() => cluster().query('DROP DATABASE IF EXISTS pgwarden_drill_awkward_keepme'));

    const drill = await warden.run(['drill', '--json']);
    assert.equal(drill.code, 0, `${drill.stdout}\n${drill.stderr}`);
    const [result] = JSON.parse(drill.stdout) as DrillResult[];
    const total = Object.values(rows).reduce((a, b) => a + b, 0);
    assert.equal(result?.status, 'ok', result?.error ?? '');
    assert.equal(result.backup_id, id);
    assert.equal(result.database, 'awkward');
    assert.equal(result.tables, manifest.tables.count);
    assert.equal(result.rows, total);
    assert.equal(result.rows_compared, true);
    assert.deepEqual(result.mismatches, []);
    assert.equal(result.error, null);
    assert.ok(result.duration_seconds! > 0, `RTO ${result.duration_seconds}`);
    assert.match(result.drill_id!, /^\d{8}T\d{6}Z-drill-[0-9a-f]{6}$/);
    assert.match(result.target!, new RegExp(`:${cluster().port}/pgwarden_drill_awkward_${result.drill_id!.slice(-6)}$`));

    assert.deepEqual(await scratchDatabases(cluster()), ['pgwarden_drill_awkward_keepme']);

    const [row] = await warden.query<DrillRow>('SELECT * FROM pgwarden.restore_drills');
    assert.equal(row?.drill_id, result.drill_id);
    assert.equal(row.backup_id, id);
    assert.equal(row.status, 'ok');
    assert.equal(row.error, null);
    assert.equal(row.duration_seconds, result.duration_seconds);
    assert.equal(row.tables, manifest.tables.count);
    assert.equal(Number(row.rows), total);
    assert.deepEqual(row.mismatches, []);
    assert.match(row.actor, /^cli:/);

    const steps = await warden.query<{ step: string; level: string }>(
      "SELECT step, level FROM pgwarden.backup_logs WHERE operation = 'drill' AND backup_id = $1 ORDER BY id",
      [id],
    );
    assert.deepEqual(steps.map((s) => s.step), ['start', 'leftover', 'create', 'restore', 'compare', 'drop', 'finish']);
    const access = await warden.query<{ action: string; actor: string; result: string }>(
      'SELECT action, actor, result FROM pgwarden.backup_access_logs WHERE backup_id = $1',
      [id],
    );
    assert.deepEqual(access.map((a) => [a.action, a.result]), [['restore', 'ok']]);
    assert.match(access[0]!.actor, /^cli:/);

    // The text report: backup id, measured RTO, what was checked.
    const text = await warden.run(['drill', '--database', 'awkward']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^awkward: backup ${id}: ok, restored in [0-9.]+s \\(measured RTO\\); ${manifest.tables.count} tables and ${total} rows match the manifest, table by table\\n$`));
    assert.deepEqual(await scratchDatabases(cluster()), ['pgwarden_drill_awkward_keepme']);

    // After a refresh, /metrics shows the newest drill: passed, when, and its RTO.
    const newest = (await warden.query<DrillRow>('SELECT * FROM pgwarden.restore_drills ORDER BY finished_at DESC LIMIT 1'))[0]!;
    const { exposition } = await refreshedMetrics(t, warden, sourceUrl);
    assert.equal(sampleValue(exposition, 'pgwarden_restore_drill_last_status', { database: 'awkward' }), 1);
    assert.equal(sampleValue(exposition, 'pgwarden_restore_drill_duration_seconds', { database: 'awkward' }), newest.duration_seconds);
    assert.equal(sampleValue(exposition, 'pgwarden_restore_drill_last_success_timestamp_seconds', { database: 'awkward' }), newest.finished_at.getTime() / 1000);
  });

  it('fails a drill of a damaged artifact with the reason, records it, drops the scratch database, and alerts', async (t) => {
    const { warden, sourceUrl, id } = await backedUp(t, cluster(), 'drill_damaged');
    const artifact = join(warden.storageDir, 'awkward', 'full', id, 'dump.pgc.zst');
    const bytes = await readFile(artifact);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
    await writeFile(artifact, bytes);

    const drill = await warden.run(['drill']);
    assert.equal(drill.code, 1, drill.stdout);
    assert.match(drill.stdout, new RegExp(`^awkward: backup ${id}: FAILED after [0-9.]+s: artifact local:awkward/full/${id}/dump\\.pgc\\.zst does not match its checksum`));
    assert.doesNotMatch(`${drill.stdout}${drill.stderr}`, /\n\s+at /, 'no stack trace');
    assert.deepEqual(await scratchDatabases(cluster()), [], 'the scratch database is dropped after a failure too');

    const [row] = await warden.query<DrillRow>('SELECT * FROM pgwarden.restore_drills');
    assert.equal(row?.status, 'failed');
    assert.equal(row.backup_id, id);
    assert.match(row.error ?? '', /does not match its checksum/);
    assert.equal(row.tables, null);
    const steps = await warden.query<{ step: string }>("SELECT step FROM pgwarden.backup_logs WHERE operation = 'drill' AND backup_id = $1 ORDER BY id", [id]);
    assert.deepEqual(steps.map((s) => s.step), ['start', 'create', 'fail', 'drop', 'finish']);

    // The metrics say it failed, with no RTO (no drill ever passed), and the built-in rule fires on them.
    const { service, exposition } = await refreshedMetrics(t, warden, sourceUrl);
    assert.equal(sampleValue(exposition, 'pgwarden_restore_drill_last_status', { database: 'awkward' }), 0);
    assert.equal(sampleValue(exposition, 'pgwarden_restore_drill_duration_seconds', { database: 'awkward' }), undefined);
    assert.equal(sampleValue(exposition, 'pgwarden_restore_drill_last_success_timestamp_seconds', { database: 'awkward' }), undefined);
    const config = await loadConfig(warden.configPath);
    const firing = evaluateRules({
      now: new Date(),
      thresholds: config.alerts.thresholds,
      databases: [{ name: 'awkward', pitr: false }],
      series: service.metrics.state().catalog?.series,
    });
    const drillAlerts = firing.filter((a) => a.rule === 'RestoreDrillFailed');
    assert.deepEqual(drillAlerts.map((a) => [a.severity, a.labels]), [['critical', { database: 'awkward' }]]);
    assert.match(drillAlerts[0]!.description ?? '', /does not match its checksum/);
  });

  it('restores on another server (drills.targetUrl) with parallel jobs and template0 defaults', async (t) => {
    const other = await useCluster(t);
    const { warden, id } = await backedUp(t, cluster(), 'drill_elsewhere');
    await warden.writeConfig({
      databases: [{ name: 'awkward', url: cluster().url('drill_elsewhere') }],
      extra: `drills: { targetUrl: "${other.url('postgres')}", jobs: 2 }`,
    });
    const drill = await warden.run(['drill', '--json']);
    assert.equal(drill.code, 0, `${drill.stdout}\n${drill.stderr}`);
    const [result] = JSON.parse(drill.stdout) as DrillResult[];
    assert.equal(result?.status, 'ok', result?.error ?? '');
    assert.equal(result.backup_id, id);
    assert.match(result.target!, new RegExp(`:${other.port}/pgwarden_drill_awkward_[0-9a-f]{6}$`));
    assert.deepEqual(await scratchDatabases(other), []);
    assert.deepEqual(await scratchDatabases(cluster()), []);
  });

  it('skips a database without a successful full backup, and exits 1', async (t) => {
    const sourceUrl = await cluster().createDatabase('drill_never');
    const warden = await setupWarden(t, cluster(), { databases: [{ name: 'never', url: sourceUrl }] });
    const drill = await warden.run(['drill']);
    assert.equal(drill.code, 1);
    assert.equal(drill.stdout, 'never: skipped: no successful full backup of "never" to drill\n');
    assert.deepEqual(await warden.query('SELECT * FROM pgwarden.restore_drills'), []);
    const unknown = await warden.run(['drill', '--database', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no database named "nope" in the config/);
  });

  it('schedules a drill job per database that records the scheduler as actor, refreshes after it, and is overdue until a drill passes', async (t) => {
    const { warden } = await backedUp(t, cluster(), 'drill_scheduled');
    const app = await openPgwarden(await loadConfig(warden.configPath), { logger: silent });
    t.after(() => app.close());
    let refreshed = 0;
    const jobs = buildJobs(app, { afterJob: async () => void refreshed++, healthCheck: async () => {} }, createWalAccess(app, { configPath: warden.configPath }));
    const job = jobs.find((j) => j.name === 'drill:awkward');
    assert.ok(job, `jobs: ${jobs.map((j) => j.name).join(', ')}`);
    assert.equal(job.schedule, '0 4 * * 0');
    const week = 7 * 24 * 3600 * 1000;
    assert.equal(await job.overdue!(week), true, 'never drilled: overdue');

    await job.run({ signal: new AbortController().signal, scheduledFor: new Date(), reason: 'scheduled', params: {} });
    assert.equal(refreshed, 1);
    const rows = await warden.query<DrillRow>('SELECT * FROM pgwarden.restore_drills');
    assert.deepEqual(rows.map((r) => [r.status, r.actor]), [['ok', 'scheduler']]);
    assert.equal(await job.overdue!(week), false);
    assert.deepEqual(await scratchDatabases(cluster()), []);

    await warden.writeConfig({ databases: [{ name: 'awkward', url: cluster().url('drill_scheduled') }], extra: 'drills: { enabled: false }' });
    const disabled = await openPgwarden(await loadConfig(warden.configPath), { logger: silent });
    t.after(() => disabled.close());
    const names = buildJobs(disabled, { afterJob: async () => {}, healthCheck: async () => {} }, createWalAccess(disabled, { configPath: warden.configPath })).map((j) => j.name);
    assert.deepEqual(names.filter((n) => n.startsWith('drill:')), []);
  });
});
