// Contracts of retention: what the planner is given (catalog rows, what each storage target holds) and the
// plan it returns — every decision with its reason — which `pgwarden cleanup` prints or carries out.
import type { BackupStatus, StorageCopy } from '../catalog/types.js';
import type { BackupKind } from '../manifest/layout.js';
import type { ObjectInfo, StorageKind } from '../storage/types.js';
import type { TimelineHistoryEntry } from '../wal/names.js';

export interface RetentionPolicy {
  fullDays: number;
  incrementalDays: number;
  cloudDays: number;
  keepLast?: number | undefined;
}

/** One backup as retention sees it: its catalog row with the facts of its manifest. */
export interface RetainedBackup {
  backupId: string;
  database: string;
  kind: BackupKind;
  /** 'unknown': found on a storage target but not in the catalog; always kept. */
  status: BackupStatus | 'unknown';
  /** When it finished: the manifest's time (the source of truth), else the catalog's. */
  at: Date;
  verification: 'ok' | 'failed' | null;
  /** Base backups: where recovery from it starts, on `timeline`. */
  startLsn: string | null;
  timeline: number | null;
  error: string | null;
  /** The catalog's record of each target's copy. */
  copies: Readonly<Record<string, StorageCopy>>;
}

export interface TargetState {
  name: string;
  kind: StorageKind;
  /** Every object under the planned databases' folders; undefined when the target could not be listed. */
  objects?: readonly ObjectInfo[] | undefined;
  /** Why the target could not be listed. */
  error?: string | undefined;
  /** database → timeline → parsed history file: lets recovery windows follow timeline switches. */
  histories?: ReadonlyMap<string, ReadonlyMap<number, readonly TimelineHistoryEntry[]>> | undefined;
}

export interface PlannedDatabase {
  name: string;
  /** WAL segment size of the database's server; without it WAL positions are unknown and all WAL is kept. */
  segmentSize?: number | undefined;
  /** Why the segment size is unknown. */
  segmentSizeError?: string | undefined;
}

export interface RetentionInput {
  /** `storage.prefix` from config ('' for none). */
  prefix: string;
  policy: RetentionPolicy;
  databases: readonly PlannedDatabase[];
  backups: readonly RetainedBackup[];
  targets: readonly TargetState[];
}

/** What happens to one backup's copy on one target. */
export interface CopyDecision {
  database: string;
  backupId: string;
  kind: BackupKind;
  target: string;
  action: 'keep' | 'remove';
  reason: string;
  ageDays: number;
  /** Past its retention period on this target, and kept anyway for `reason`. */
  overdue: boolean;
  /** The copy's objects on the target, manifest first: what a removal deletes, in that order. */
  paths: string[];
  bytes: number;
  /** Where the catalog records this copy (kept in the catalog's storage column when it is marked removed). */
  catalogPath: string;
}

/** WAL files of one database that go from one target. */
export interface WalRemoval {
  database: string;
  target: string;
  reason: string;
  /** First and last WAL file name removed, in WAL order. */
  first: string;
  last: string;
  objects: { name: string; path: string; size: number }[];
  bytes: number;
}

/** Why the WAL of a database is kept whole on a target (when that is not simply because bases need it). */
export interface WalKept {
  database: string;
  target: string;
  reason: string;
}

export interface RecoveryPoint {
  at: string;
  backupId: string;
}

/** What can be restored from one target: PITR from a base backup to the newest archived WAL, and full backups. */
export interface RecoveryWindow {
  target: string;
  pitr: { from: RecoveryPoint & { lsn: string | null }; to: { at: string; segment: string; lsn: string } } | null;
  /** Why there is no PITR window although the target holds base backups or WAL. */
  problem: string | null;
  fulls: { oldest: RecoveryPoint; newest: RecoveryPoint; count: number } | null;
}

export interface DatabasePlan {
  database: string;
  /** Every copy retention looked at, oldest backup first. */
  copies: CopyDecision[];
  wal: WalRemoval[];
  walKept: WalKept[];
  /** One per reachable target, before and after the plan. */
  before: RecoveryWindow[];
  after: RecoveryWindow[];
}

export interface RetentionPlan {
  at: string;
  policy: RetentionPolicy;
  databases: DatabasePlan[];
  /** Targets that could not be listed: nothing is decided or removed there this time. */
  unreachable: { target: string; error: string }[];
}
