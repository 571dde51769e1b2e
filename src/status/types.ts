// Contracts of the recovery status: what the status page and `GET /api/status` show for each database, all
// derived from the figures the metrics and alert rules already use.
import type { BackupRow, BackupType } from '../catalog/types.js';
import type { Severity } from '../alerting/notify-types.js';

export type RecoveryState = 'ok' | 'warning' | 'critical';

/** One reason a database is not ok: an alert the built-in rules fire now. */
export interface StateReason {
  rule: string;
  severity: Severity;
  summary: string;
  description?: string | undefined;
  labels: Record<string, string>;
}

export interface KindStatus {
  kind: 'full' | 'base' | 'incremental';
  /** finished_at of the newest successful backup; null: none. */
  lastSuccessAt: string | null;
  /** Seconds since then, at the overview's moment. */
  ageSeconds: number | null;
  lastSizeBytes: number | null;
  sizeRatio: number | null;
  lastStatus: 'succeeded' | 'failed' | null;
}

export interface StandbyStatus {
  name: string;
  connected: boolean | null;
  lagSeconds: number | null;
  lagBytes: number | null;
}

/** A storage target of a database, as held by the newest successful backup of each kind. */
export interface TargetStatus {
  target: string;
  state: 'healthy' | 'degraded';
  /** For a degraded target: which backup failed there, and why. */
  detail: string | null;
}

export interface RecordedAlert {
  id: number | null;
  fingerprint: string;
  rule: string;
  severity: Severity;
  summary: string;
  labels: Record<string, string>;
  startsAt: string;
  silenced: boolean;
}

export interface DatabaseOverview {
  database: string;
  pitr: boolean;
  state: RecoveryState;
  /** Why the state is not ok (and info notes); empty when all is well. */
  reasons: StateReason[];
  /** null when the database probe has not run or failed. */
  up: boolean | null;
  kinds: KindStatus[];
  verification: { lastVerifiedAt: string | null; lastOk: boolean | null };
  drill: { lastStatus: 'ok' | 'failed' | null; lastSuccessAt: string | null; rtoSeconds: number | null; lastError: string | null };
  /** now − the newest archived WAL segment (pitr databases); null when unknown or not archived. */
  rpoSeconds: number | null;
  standbys: StandbyStatus[];
  targets: TargetStatus[];
  /** Alerts recorded as firing for this database (notified, or silenced). */
  alerts: RecordedAlert[];
}

export interface StorageTargetUsage {
  target: string;
  /** The target answered at the last refresh; when false, `error` says why and the byte counts are null. */
  up: boolean;
  error: string | null;
  usedBytes: number | null;
  freeBytes: number | null;
  monthlyCostDollars: number | null;
}

export interface Overview {
  /** The moment ages are measured at. */
  at: string;
  /** When the figures were last refreshed (metrics collectors); null before the first refresh. */
  figuresAt: string | null;
  /** Collectors whose figures are missing: their rules cannot fire, so the state may be incomplete. */
  missing: string[];
  counts: Record<RecoveryState, number>;
  databases: DatabaseOverview[];
  storage: StorageTargetUsage[];
  /** Alerts that concern no single database (storage space), from the rules. */
  globalReasons: StateReason[];
}

export interface ChartPoint {
  /** Unix seconds (with milliseconds). */
  t: number;
  backupId: string;
  sizeBytes: number | null;
  expectedBytes: number | null;
  durationSeconds: number | null;
}

export interface NotificationAttempt {
  channel: string;
  kind: string;
  attempt: number;
  result: string;
  error: string | null;
  at: string;
}

export interface AlertHistoryEntry {
  id: number;
  rule: string;
  severity: Severity;
  summary: string;
  labels: Record<string, string>;
  status: 'firing' | 'resolved';
  startedAt: string;
  resolvedAt: string | null;
  silenced: boolean;
  notifications: NotificationAttempt[];
}

export interface DatabaseDetail {
  overview: DatabaseOverview;
  filter: { kind: BackupType | null; status: BackupRow['status'] | null };
  backups: BackupRow[];
  /** Successful backups over the retention window, oldest first, per kind. */
  charts: { since: string; kinds: Partial<Record<'full' | 'base' | 'incremental', ChartPoint[]>>; lag: Record<string, { t: number; lagSeconds: number | null }[]> };
  /** Oldest to newest recoverable point. */
  recoveryWindow: { pitr: boolean; oldest: string | null; newest: string | null; detail: string };
  alerts: AlertHistoryEntry[];
}

/** What the API and the status page read: built by createStatusSource over the service's live parts. */
export interface StatusSource {
  overview(): Promise<Overview>;
  /** undefined: no database of that name in the config. */
  database(name: string, filter?: { kind?: BackupType | undefined; status?: BackupRow['status'] | undefined }): Promise<DatabaseDetail | undefined>;
}
