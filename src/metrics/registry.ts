// Every pgwarden metric (DESIGN.md "Metrics"), defined on a registry the caller passes in. Each metric's
// samples are copied from the snapshots the collectors stored (setCatalog, setReplication, …) when the
// registry renders: nothing here touches a database, and a snapshot that is missing (its collector
// failed) means its series are absent, never 0.
//
// Labels are bounded: database, kind (`type`), standby and target names from the config, a fixed result
// set. Never a backup id or a timestamp. A database that never had a successful backup has no
// last-success or age series, rather than a timestamp of 0 ("20,598 days ago").

import { collectDefaultMetrics, type Metric, type Registry } from 'prom-client';
import type { ReplicationReport } from '../replication/types.js';
import {
  COLLECTORS,
  type CatalogSnapshot,
  type Clock,
  type CollectorName,
  type DatabaseStatus,
  RUN_RESULTS,
  type StorageUsage,
  systemClock,
  type MetricsState,
  type WalArchiveStatus,
} from './types.js';

export const METRIC_PREFIX = 'pgwarden_';

export interface Sample {
  labels: Record<string, string>;
  value: number;
  /** For histograms: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  metricName?: string;
}

export interface CollectorResult {
  success: boolean;
  /** When the collector finished. */
  at: Date;
  durationSeconds: number;
}

export interface CreateMetricsOptions {
  /** Ages are measured against it at render time. */
  clock?: Clock;
  /**
   * Node.js process metrics (CPU, memory, event loop, GC, file descriptors). Default true. They keep their
   * standard unprefixed names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …), as every
   * Prometheus client library emits them, so stock dashboards and rules work; they describe the
   * process, not backups, and the scrape's job/instance labels say whose process it is.
   */
  processMetrics?: boolean;
  /** A metric whose samples could not be built (a bug) renders without samples; this hears about it. */
  onRenderError?: (metric: string, error: unknown) => void;
}

export interface PgwardenMetrics {
  readonly registry: Registry;
  /** undefined: the catalog collector failed, its series disappear. */
  setCatalog(snapshot: CatalogSnapshot | undefined): void;
  /** Per configured database name. undefined: the replication collector failed. */
  setReplication(reports: ReadonlyMap<string, ReplicationReport> | undefined): void;
  setDatabases(statuses: readonly DatabaseStatus[] | undefined): void;
  setStorage(usage: readonly StorageUsage[] | undefined): void;
  setWal(statuses: readonly WalArchiveStatus[] | undefined): void;
  /** The alerts firing after the last evaluation, counted per rule and severity. */
  setAlerts(alerts: readonly { rule: string; severity: string }[]): void;
  /** Starts notification counters at 0 for these channels, so rules work before the first delivery. */
  initNotifications(channels: readonly string[]): void;
  countNotification(channel: string, result: 'sent' | 'failed'): void;
  /** What the collectors last stored: the alert rules evaluate the same figures the metrics show. */
  state(): MetricsState;
  setCollector(name: CollectorName, result: CollectorResult): void;
  /** Stored bytes so far of a backup writing its data now; undefined when it ended (the series goes). */
  setBackupProgress(database: string, type: string, bytes: number | undefined): void;
}

type MetricType = 'gauge' | 'counter' | 'histogram';

/** Default metrics of prom-client 15 that are gauges despite their `_total` suffix. */
export const LINT_FAILING_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

const seconds = (date: Date) => date.getTime() / 1000;

/** Defines every pgwarden metric on `registry` (use a fresh Registry per service, and per test). */
export function createMetrics(registry: Registry, options: CreateMetricsOptions = {}): PgwardenMetrics {
  const clock = options.clock ?? systemClock;
  let catalog: CatalogSnapshot | undefined;
  let replication: ReadonlyMap<string, ReplicationReport> | undefined;
  let databases: readonly DatabaseStatus[] | undefined;
  let storage: readonly StorageUsage[] | undefined;
  let wal: readonly WalArchiveStatus[] | undefined;
  let firing: readonly { rule: string; severity: string }[] = [];
  const notifications = new Map<string, number>();
  const inProgress = new Map<string, { database: string; type: string; bytes: number }>();
  const collectorState = new Map<CollectorName, { success: boolean; lastSuccessAt: Date | undefined; durationSeconds: number }>();
  /** In COLLECTORS order, whichever finished first, so the text does not reshuffle between scrapes. */
  const collectors = () => COLLECTORS.flatMap((name) => {
    const state = collectorState.get(name);
    return state === undefined ? [] : [[name, state] as const];
  });

  const define = (name: string, type: MetricType, help: string, samples: () => Sample[]) =>
    defineSnapshotMetric(registry, { name: METRIC_PREFIX + name, type, help, samples, onError: options.onRenderError });

  const perBackup = (value: (s: CatalogSnapshot['series'][number]) => number | null | undefined) => (): Sample[] =>
    (catalog?.series ?? []).flatMap((s) => {
      const v = value(s);
      return v === null || v === undefined ? [] : [{ labels: { database: s.database, type: s.type }, value: v }];
    });

  // ---- from the catalog ----
  define(
    'backup_last_success_timestamp_seconds',
    'gauge',
    'When the newest successful backup of this database and kind finished (Unix time). Absent if none ever succeeded.',
    perBackup((s) => s.lastSuccessAt && seconds(s.lastSuccessAt)),
  );
  define(
    'backup_age_seconds',
    'gauge',
    'Seconds since the newest successful backup of this database and kind finished, at scrape time. Absent if none ever succeeded.',
    perBackup((s) => s.lastSuccessAt && Math.max(0, (clock.now().getTime() - s.lastSuccessAt.getTime()) / 1000)),
  );
  define(
    'backup_last_size_bytes',
    'gauge',
    'Stored size of the newest successful backup of this database and kind.',
    perBackup((s) => s.lastSize),
  );
  define(
    'backup_expected_size_bytes',
    'gauge',
    'Expected stored size of the next backup: median of the last 7 successful, or the pre-check estimate before the first.',
    perBackup((s) => s.expectedSize),
  );
  define(
    'backup_size_ratio',
    'gauge',
    'Stored size of the newest successful backup divided by the median of the last 7 successful of that kind (newest included).',
    perBackup((s) => s.sizeRatio),
  );
  define('backups_degraded', 'gauge', 'Successful backups of this database whose copy on this storage target is missing (degraded); the storage-sync job copies them when the target is back.', () =>
    (catalog?.copies ?? []).map((c) => ({ labels: { database: c.database, target: c.target }, value: c.degraded })),
  );
  define('backup_stored_bytes', 'gauge', 'Bytes of successful backups (artifacts) of this database held on this storage target, from the catalog.', () =>
    (catalog?.copies ?? []).map((c) => ({ labels: { database: c.database, target: c.target }, value: c.storedBytes })),
  );
  define('backup_duration_seconds', 'histogram', 'Duration of successful backup runs, start to finish, from the catalog.', () =>
    (catalog?.series ?? []).flatMap((s) => (s.durations.count === 0 ? [] : histogramSamples(catalog!.buckets, s))),
  );
  define('backup_runs_total', 'counter', 'Finished backup runs of this database and kind by result, counted in the catalog.', () =>
    (catalog?.series ?? []).flatMap((s) =>
      RUN_RESULTS.map((result) => ({ labels: { database: s.database, type: s.type, result }, value: s.runs[result] })),
    ),
  );
  define(
    'backup_last_status',
    'gauge',
    'Result of the newest finished run of this database and kind: 1 succeeded, 0 failed. Absent before the first run.',
    perBackup((s) => (s.lastStatus === null ? null : s.lastStatus === 'succeeded' ? 1 : 0)),
  );
  define(
    'backup_verification_last_success_timestamp_seconds',
    'gauge',
    'When a backup of this database and kind last passed verification (Unix time). Absent if none ever did.',
    perBackup((s) => s.lastVerifiedAt && seconds(s.lastVerifiedAt)),
  );

  define(
    'backup_verification_last_status',
    'gauge',
    'Result of the newest verification of a backup of this database and kind: 1 passed, 0 failed. Absent before the first.',
    perBackup((s) => (s.lastVerificationOk === null ? null : s.lastVerificationOk ? 1 : 0)),
  );

  define(
    'backup_in_progress_bytes',
    'gauge',
    'Stored bytes written so far by the backup of this database and kind that is writing its data now. Absent when none runs.',
    () => [...inProgress.values()].map((p) => ({ labels: { database: p.database, type: p.type }, value: p.bytes })),
  );

  // ---- restore drills, from the catalog (on the full series) ----
  const perDrill = (value: (d: NonNullable<CatalogSnapshot['series'][number]['drill']>) => number | null) => (): Sample[] =>
    (catalog?.series ?? []).flatMap((s) => {
      const v = s.type === 'full' && s.drill ? value(s.drill) : null;
      return v === null ? [] : [{ labels: { database: s.database }, value: v }];
    });
  define(
    'restore_drill_last_success_timestamp_seconds',
    'gauge',
    'When the newest successful restore drill of this database finished (Unix time). Absent if none ever passed.',
    perDrill((d) => d.lastSuccessAt && seconds(d.lastSuccessAt)),
  );
  // A gauge, not a histogram: drills run weekly, so buckets would hold a handful of samples a quarter; the
  // question is "how long would a restore take now", which the newest passing drill answers.
  define(
    'restore_drill_duration_seconds',
    'gauge',
    'Measured RTO: how long the newest successful restore drill of this database took to create the scratch database, restore the newest full backup and count its rows.',
    perDrill((d) => d.lastSuccessDurationSeconds),
  );
  define(
    'restore_drill_last_status',
    'gauge',
    'Result of the newest restore drill of this database: 1 restored and matched the manifest, 0 failed. Absent before the first drill.',
    perDrill((d) => (d.lastStatus === 'ok' ? 1 : 0)),
  );

  // ---- from the WAL archive ----
  define(
    'wal_archive_last_segment_timestamp_seconds',
    'gauge',
    'When the newest WAL segment of this database reached the archive (Unix time). Absent while the archive is empty.',
    () => (wal ?? []).flatMap((w) => (w.lastSegmentAt === null ? [] : [{ labels: { database: w.database }, value: seconds(w.lastSegmentAt) }])),
  );
  define(
    'rpo_seconds',
    'gauge',
    'Seconds since the newest recoverable point (the newest archived WAL segment), at scrape time: what a total loss would cost now.',
    () =>
      (wal ?? []).flatMap((w) =>
        w.lastSegmentAt === null ? [] : [{ labels: { database: w.database }, value: Math.max(0, (clock.now().getTime() - w.lastSegmentAt.getTime()) / 1000) }],
      ),
  );
  define(
    'wal_archive_lag_bytes',
    'gauge',
    "WAL written by the server but not yet in the archive: its current position minus the end of the newest archived segment.",
    () => (wal ?? []).flatMap((w) => (w.lagBytes === null ? [] : [{ labels: { database: w.database }, value: w.lagBytes }])),
  );

  // ---- alerting ----
  define('alerts_firing', 'gauge', 'Alerts of the built-in evaluator firing after its last run, per rule and severity.', () => {
    const counts = new Map<string, number>();
    for (const a of firing) counts.set(`${a.rule}\u0000${a.severity}`, (counts.get(`${a.rule}\u0000${a.severity}`) ?? 0) + 1);
    return [...counts].map(([key, value]) => {
      const [rule, severity] = key.split('\u0000') as [string, string];
      return { labels: { rule, severity }, value };
    });
  });
  define('notifications_total', 'counter', 'Alert notifications delivered (after retries) or given up, per channel, since this process started.', () =>
    [...notifications].map(([key, value]) => {
      const [channel, result] = key.split('\u0000') as [string, string];
      return { labels: { channel, result }, value };
    }),
  );

  // ---- from the replication probe ----
  const perStandby = (value: (r: ReplicationReport['standbys'][number]) => number | null) => (): Sample[] =>
    [...(replication ?? [])].flatMap(([database, report]) =>
      report.standbys.flatMap((standby) => {
        const v = value(standby);
        return v === null ? [] : [{ labels: { database, standby: standby.name }, value: v }];
      }),
    );
  define(
    'replication_lag_seconds',
    'gauge',
    "Replay lag of a standby: the larger of the primary's replay_lag and the standby's own replay delay. Absent while the standby is not connected.",
    perStandby((s) => s.lagSeconds),
  );
  define(
    'replication_lag_bytes',
    'gauge',
    "WAL the standby has not replayed yet: the primary's current position minus the standby's replay position.",
    perStandby((s) => s.lagBytes),
  );
  define(
    'replication_standby_connected',
    'gauge',
    "1 if the primary's pg_stat_replication lists this standby, 0 if a configured standby is missing from it.",
    perStandby((s) => (s.connected === null ? null : s.connected ? 1 : 0)),
  );
  define('replication_standbys_connected', 'gauge', 'Standbys streaming from the primary of this database.', () =>
    [...(replication ?? [])].flatMap(([database, report]) =>
      report.connectedCount === null ? [] : [{ labels: { database }, value: report.connectedCount }],
    ),
  );

  // ---- live checks ----
  define('database_up', 'gauge', '1 if the database accepted a connection and answered SELECT 1 at the last check, else 0.', () =>
    (databases ?? []).map((d) => ({ labels: { database: d.database }, value: d.up ? 1 : 0 })),
  );
  define('storage_target_up', 'gauge', '1 if the storage target answered its listing at the last refresh, else 0 (backups then land on the other targets, degraded).', () =>
    (storage ?? []).map((s) => ({ labels: { target: s.target }, value: s.up ? 1 : 0 })),
  );
  define('storage_used_bytes', 'gauge', 'Bytes pgwarden has stored on this storage target (every object under its prefix).', () =>
    (storage ?? []).flatMap((s) => (s.usedBytes === null ? [] : [{ labels: { target: s.target }, value: s.usedBytes }])),
  );
  define('storage_cost_monthly_dollars', 'gauge', 'Estimated monthly cost in US dollars of what is stored on this target, from the config cost table (list prices).', () =>
    (storage ?? []).flatMap((s) => (s.monthlyCostDollars == null ? [] : [{ labels: { target: s.target }, value: s.monthlyCostDollars }])),
  );
  define('storage_free_bytes', 'gauge', 'Bytes still free on this storage target; only for targets that can tell (local disks).', () =>
    (storage ?? []).flatMap((s) => (s.freeBytes === null ? [] : [{ labels: { target: s.target }, value: s.freeBytes }])),
  );

  // ---- about the metrics themselves ----
  define(
    'metrics_last_refresh_timestamp_seconds',
    'gauge',
    'When this collector last refreshed its figures successfully (Unix time); scrapes serve that snapshot.',
    () =>
      collectors().flatMap(([collector, c]) =>
        c.lastSuccessAt === undefined ? [] : [{ labels: { collector }, value: seconds(c.lastSuccessAt) }],
      ),
  );
  define('collector_success', 'gauge', '1 if the last refresh of this collector succeeded; 0 if it failed and its series are absent.', () =>
    collectors().map(([collector, c]) => ({ labels: { collector }, value: c.success ? 1 : 0 })),
  );
  define('collector_duration_seconds', 'gauge', 'How long the last refresh of this collector took.', () =>
    collectors().map(([collector, c]) => ({ labels: { collector }, value: c.durationSeconds })),
  );

  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client names three gauges `…_total`, which `promtool check metrics` rejects (only counters may
    // end in _total). Nothing is lost: nodejs_active_{handles,requests,resources}{type} remain, and their
    // sum() is the total.
    for (const name of LINT_FAILING_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }

  return {
    registry,
    setCatalog(snapshot) {
      catalog = snapshot;
    },
    setReplication(reports) {
      replication = reports;
    },
    setDatabases(statuses) {
      databases = statuses;
    },
    setStorage(usage) {
      storage = usage;
    },
    setWal(statuses) {
      wal = statuses;
    },
    setAlerts(alerts) {
      firing = alerts;
    },
    setBackupProgress(database, type, bytes) {
      const key = `${database}\u0000${type}`;
      if (bytes === undefined) inProgress.delete(key);
      else inProgress.set(key, { database, type, bytes });
    },
    initNotifications(channels) {
      for (const channel of channels) for (const result of ['sent', 'failed']) notifications.set(`${channel}\u0000${result}`, notifications.get(`${channel}\u0000${result}`) ?? 0);
    },
    countNotification(channel, result) {
      const key = `${channel}\u0000${result}`;
      notifications.set(key, (notifications.get(key) ?? 0) + 1);
    },
    state: () => ({ catalog, replication, databases, storage, wal }),
    setCollector(name, result) {
      const previous = collectorState.get(name);
      collectorState.set(name, {
        success: result.success,
        lastSuccessAt: result.success ? result.at : previous?.lastSuccessAt,
        durationSeconds: result.durationSeconds,
      });
    },
  };
}

/** Cumulative `_bucket` samples (with le="+Inf"), then `_sum` and `_count`, as Prometheus expects. */
function histogramSamples(buckets: readonly number[], s: CatalogSnapshot['series'][number]): Sample[] {
  const labels = { database: s.database, type: s.type };
  const name = `${METRIC_PREFIX}backup_duration_seconds`;
  const out: Sample[] = [];
  let cumulative = 0;
  buckets.forEach((le, i) => {
    cumulative += s.durations.counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.durations.count });
  out.push({ metricName: `${name}_sum`, labels, value: s.durations.sum });
  out.push({ metricName: `${name}_count`, labels, value: s.durations.count });
  return out;
}

/**
 * A metric whose samples are computed from stored state when the registry renders. prom-client's Counter
 * cannot be set to a value read from the catalog, nor a Histogram be given bucket counts, so this is
 * prom-client's collector interface (`get()`, which Registry.metrics() awaits) with the type we declare:
 * `# TYPE … counter` for a counter, `_bucket`/`_sum`/`_count` for a histogram. A failure to build the
 * samples (a bug) costs only this metric's samples, never the scrape.
 */
export function defineSnapshotMetric(
  registry: Registry,
  spec: { name: string; type: MetricType; help: string; samples: () => Sample[]; onError?: ((metric: string, error: unknown) => void) | undefined },
): void {
  const metric = {
    name: spec.name,
    help: spec.help,
    type: spec.type,
    aggregator: 'sum',
    collect() {},
    reset() {},
    async get() {
      let values: Sample[] = [];
      try {
        values = spec.samples();
      } catch (error) {
        spec.onError?.(spec.name, error);
      }
      return { name: spec.name, help: spec.help, type: spec.type, aggregator: 'sum', values };
    },
  };
  registry.registerMetric(metric as unknown as Metric);
}
