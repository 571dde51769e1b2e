// Contracts of the SQL catalog (schema pgwarden): the rows other concerns read and write.

export type BackupType = 'full' | 'base' | 'incremental' | 'wal';
export type BackupStatus = 'running' | 'succeeded' | 'failed' | 'expired';

export interface BackupRow {
  backupId: string;
  database: string;
  type: BackupType;
  status: BackupStatus;
  createdAt: Date;
  finishedAt: Date | null;
  fileSize: number | null;
  rawSize: number | null;
  expectedSize: number | null;
  checksumSha256: string | null;
  compression: string | null;
  encryptionKeyId: string | null;
  serverVersion: string | null;
  tableCount: number | null;
  storage: Record<string, StorageCopy>;
  verifiedAt: Date | null;
  verificationStatus: 'ok' | 'failed' | null;
  verificationError: string | null;
  error: string | null;
  host: string | null;
  pid: number | null;
}

/** Where one copy of a backup lives, per target name. */
export interface StorageCopy {
  status: 'stored' | 'failed' | 'removed';
  path: string;
  error?: string;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  backupId?: string | undefined;
  database?: string | undefined;
  operation: 'backup' | 'verify' | 'restore' | 'cleanup' | 'recover' | 'rebuild' | 'drill' | 'sync';
  step: string;
  level: LogLevel;
  message: string;
  details?: Record<string, unknown> | undefined;
}

export interface AccessEntry {
  /** null for an action that concerns no backup (a silence). */
  backupId: string | null;
  database?: string | undefined;
  /** Reads of a backup, and the actions of the API and status page: a backup started, an alert silenced. */
  action: 'download' | 'verify' | 'restore' | 'delete' | 'backup' | 'silence';
  /** `api:<token name>`, `ui:<token name>` (the status page), or `cli:<os user>`. */
  actor: string;
  result: 'ok' | 'failed';
  details?: Record<string, unknown> | undefined;
}

export interface HealthRow {
  database: string;
  check: string;
  status: 'ok' | 'warning' | 'critical';
  detail: string;
}
