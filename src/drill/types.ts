// Contracts of restore drills: what a drill needs passed in, and what it reports (CLI --json prints it as is).
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config/index.js';
import type { KeyRing } from '../crypto/keyring.js';
import type { StorageDriver } from '../storage/types.js';

export interface DrillContext {
  config: Config;
  catalog: Catalog;
  /** The catalog pool: drills are recorded in pgwarden.restore_drills. */
  pool: pg.Pool;
  /** A dedicated catalog connection: the drill lock of a database lives on it for the whole drill. */
  catalogClient: () => Promise<pg.Client>;
  storage: StorageDriver;
  keyring: KeyRing | undefined;
  logger: Logger;
  now: () => Date;
  host: string;
  signal?: AbortSignal | undefined;
}

export interface DrillOptions {
  /** Only this configured database; default every one. */
  database?: string | undefined;
  /** Who started it, for the logs and the access log: `scheduler`, `cli:<user>`. */
  actor: string;
}

/** One way the restored database differs from the manifest. */
export interface DrillMismatch {
  /** `schema.table`; null for the table count. */
  table: string | null;
  problem: 'table-count' | 'missing' | 'unexpected' | 'rows';
  /** What the manifest records (null: the table is not in it). */
  expected: number | null;
  /** What the restored database holds (null: the table is not in it). */
  actual: number | null;
}

export interface DrillResult {
  /** Null when the drill was skipped (nothing to restore, or another drill of the database is running). */
  drill_id: string | null;
  database: string;
  backup_id: string | null;
  /** ok: restored, and tables and row counts match the manifest; skipped: nothing was restored or recorded. */
  status: 'ok' | 'failed' | 'skipped';
  /** user@host:port/scratch database, never a password. */
  target: string | null;
  started_at: string;
  finished_at: string;
  /** Measured RTO: creating the scratch database, checking the stored bytes, restoring, counting rows. */
  duration_seconds: number | null;
  /** Tables and rows in the restored database; null when the restore did not complete. */
  tables: number | null;
  rows: number | null;
  /** False for a backup whose manifest predates per-table row counts: only the table count was compared. */
  rows_compared: boolean;
  mismatches: DrillMismatch[];
  error: string | null;
}
