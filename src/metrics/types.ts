// Contracts of the metrics concern: the snapshots collectors store (scrapes only read them), the live
// probes the service runs at refresh time, and the few config fields it needs.
import type { BackupType } from '../catalog/types.js';
import type { ReplicationReport, StandbyTarget } from '../replication/types.js';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** The collectors of `pgwarden_collector_success{collector}`: a fixed, bounded set. */
export const COLLECTORS = ['catalog', 'replication', 'database', 'storage', 'wal'] as const;
export type CollectorName = (typeof COLLECTORS)[number];

/** Run results of `pgwarden_backup_runs_total{result}`. */
export const RUN_RESULTS = ['succeeded', 'failed'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

/** Backup kinds whose run counters exist (at 0) for every configured database before their first run. */
export const SCHEDULED_KINDS: readonly BackupType[] = ['full', 'base', 'incremental'];

/** Upper bounds (seconds) of pgwarden_backup_duration_seconds: 1 s up to 6 h. */
export const DURATION_BUCKETS: readonly number[] = [1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600];

/** How many successful backups of a kind the median (expected size, size ratio) is taken over. */
export const SIZE_WINDOW = 7;

/** Catalog figures of one database and backup kind. */
export interface BackupSeries {
  database: string;
  type: BackupType;
  runs: Record<RunResult, number>;
  /** finished_at of the newest successful backup; null: never succeeded (no age, no timestamp series). */
  lastSuccessAt: Date | null;
  /** Stored size (file_size) of that backup. */
  lastSize: number | null;
  /** Stored sizes of the last SIZE_WINDOW successful backups, newest first, the newest included. */
  recentSizes: number[];
  /** Median of recentSizes; without any, the pre-check's estimate recorded on the last run. */
  expectedSize: number | null;
  /** lastSize ÷ median(recentSizes); null when there is no size or the median is 0. */
  sizeRatio: number | null;
  /** Status of the newest finished run (by start time). */
  lastStatus: RunResult | null;
  /** Newest verified_at with verification_status 'ok'. */
  lastVerifiedAt: Date | null;
  /** Result of the newest verification (by verified_at): true passed, false failed, null never verified. */
  lastVerificationOk: boolean | null;
  /** Durations of successful runs: counts per bucket (not cumulative; one more for +Inf), sum, count. */
  durations: { counts: number[]; sum: number; count: number };
  /** Full series only: the restore drills of this database's full backups; absent before the first drill. */
  drill?: DrillSummary | undefined;
}

/** From pgwarden.restore_drills: the newest drill, and the newest successful one. */
export interface DrillSummary {
  lastStatus: 'ok' | 'failed';
  /** Why the newest drill failed (null when it passed). */
  lastError: string | null;
  lastBackupId: string;
  /** finished_at of the newest successful drill; null: none passed yet. */
  lastSuccessAt: Date | null;
  /** That drill's duration: the measured RTO. A failed drill has none (its restore did not complete). */
  lastSuccessDurationSeconds: number | null;
}

export interface CatalogSnapshot {
  takenAt: Date;
  buckets: readonly number[];
  series: BackupSeries[];
  /** Per database and storage target: successful backups it holds (and their bytes), and those it misses (degraded). */
  copies: CopySummary[];
}

export interface CopySummary {
  database: string;
  target: string;
  stored: number;
  storedBytes: number;
  degraded: number;
}

export interface DatabaseStatus {
  database: string;
  up: boolean;
  error: string | null;
}

export interface StorageUsage {
  target: string;
  /** The target answered its listing; when false the byte counts are null and `error` says why. */
  up: boolean;
  error: string | null;
  usedBytes: number | null;
  /** Only for targets that can tell (local disks). */
  freeBytes: number | null;
  /** Estimated monthly cost of what is stored (config cost table); absent without a price table. */
  monthlyCostDollars?: number | null | undefined;
}

/** What the service needs from the config; a full Config fits. */
export interface MetricsConfig {
  databases: readonly {
    name: string;
    url: string;
    standbys?: readonly StandbyTarget[];
  }[];
  /** Storage usage counts the objects under this prefix; S3 objects older than glacierAfterDays are priced as Glacier. */
  storage?: { prefix?: string; s3?: { bucket: string; glacierAfterDays?: number | undefined } | undefined };
  /** The price table for the cost estimate; without it, no cost series. */
  cost?: import('../cost/estimate.js').Prices | undefined;
}

export type MetricsDatabase = MetricsConfig['databases'][number];

/** Everything the collectors last stored; undefined where a collector failed or never ran. */
export interface MetricsState {
  catalog: CatalogSnapshot | undefined;
  replication: ReadonlyMap<string, import('../replication/types.js').ReplicationReport> | undefined;
  databases: readonly DatabaseStatus[] | undefined;
  storage: readonly StorageUsage[] | undefined;
  wal: readonly WalArchiveStatus[] | undefined;
}

/** The WAL archive of a database with pitr: true, as the health check sees it. */
export interface WalArchiveStatus {
  database: string;
  /** When the newest segment reached the archive; null: the archive is empty. */
  lastSegmentAt: Date | null;
  /** The server's current WAL position minus the end of the newest archived segment; null when unknown. */
  lagBytes: number | null;
}

/** The live probes, run at refresh time only. Each has a default; tests replace them. */
export interface MetricsProbes {
  databaseUp(database: MetricsDatabase): Promise<DatabaseStatus>;
  replication(database: MetricsDatabase): Promise<ReplicationReport>;
  /** Undefined: no storage series (no targets given). */
  storageUsage?(): Promise<StorageUsage[]>;
  /** Undefined: no WAL series (no database archives WAL). */
  walArchive?(): Promise<WalArchiveStatus[]>;
}
