// Reads and writes of the SQL catalog. Every statement is parameterised; the pool is passed in.
import type pg from 'pg';
import type { BackupManifest } from '../manifest/types.js';
import type { AccessEntry, BackupRow, BackupStatus, BackupType, HealthRow, LogEntry, StorageCopy } from './types.js';

// Advisory-lock namespace of running backups: the lock is held by the process doing the backup for as long
// as it runs, so a 'running' row whose lock is free belongs to a process that died.
const RUN_LOCK_CLASS = 7_412_002;

export interface StartRun {
  backupId: string;
  database: string;
  type: BackupType;
  expectedSize: number | null;
  host: string;
  pid: number;
}

export interface FinishRun {
  status: Exclude<BackupStatus, 'running'>;
  error?: string | null;
  expectedSize?: number | null;
  fileSize?: number | null;
  rawSize?: number | null;
  checksumSha256?: string | null;
  compression?: string | null;
  encryptionKeyId?: string | null;
  serverVersion?: string | null;
  tableCount?: number | null;
  storage?: Record<string, StorageCopy>;
  verification?: { status: 'ok' | 'failed'; at: Date; error: string | null } | null;
  manifest?: BackupManifest | null;
}

export interface ListFilter {
  database?: string | undefined;
  type?: BackupType | undefined;
  status?: BackupStatus | undefined;
  limit?: number | undefined;
}

export interface Catalog {
  startRun(run: StartRun): Promise<void>;
  finishRun(backupId: string, result: FinishRun): Promise<void>;
  setVerification(backupId: string, verification: { status: 'ok' | 'failed'; at: Date; error: string | null }): Promise<void>;
  /** Records one target's copy of a backup (stored, failed, removed), leaving the other targets' as they are. */
  setCopy(backupId: string, target: string, copy: StorageCopy): Promise<void>;
  /** Successful backups with at least one copy marked failed, oldest first: what storage-sync must copy. */
  degradedBackups(): Promise<BackupRow[]>;
  log(entry: LogEntry): Promise<void>;
  access(entry: AccessEntry): Promise<void>;
  getBackup(backupId: string): Promise<BackupRow | undefined>;
  getManifest(backupId: string): Promise<BackupManifest | undefined>;
  listBackups(filter?: ListFilter): Promise<BackupRow[]>;
  /** Stored sizes of the last `count` successful backups of a kind, newest first. */
  recentSizes(database: string, type: BackupType, count: number): Promise<number[]>;
  runningBackups(): Promise<BackupRow[]>;
  /** Rebuild: inserts or replaces a row from a manifest (the manifest is the source of truth). */
  upsertFromManifest(manifest: BackupManifest, storage: Record<string, StorageCopy>): Promise<'inserted' | 'updated'>;
  health(options?: { maxFullAgeSeconds?: number; minSizeRatio?: number }): Promise<HealthRow[]>;
  /** Takes the run lock of a backup on a dedicated client; resolves false when another session holds it. */
  tryLockRun(client: pg.ClientBase, backupId: string): Promise<boolean>;
  unlockRun(client: pg.ClientBase, backupId: string): Promise<void>;
}

interface BackupRecord {
  backup_id: string;
  database: string;
  type: BackupType;
  status: BackupStatus;
  created_at: Date;
  finished_at: Date | null;
  file_size: string | null;
  raw_size: string | null;
  expected_size: string | null;
  checksum_sha256: string | null;
  compression: string | null;
  encryption_key_id: string | null;
  server_version: string | null;
  table_count: number | null;
  storage: Record<string, StorageCopy>;
  verified_at: Date | null;
  verification_status: 'ok' | 'failed' | null;
  verification_error: string | null;
  error: string | null;
  host: string | null;
  pid: number | null;
}

const BACKUP_COLUMNS = `backup_id, database, type, status, created_at, finished_at, file_size, raw_size, expected_size,
  checksum_sha256, compression, encryption_key_id, server_version, table_count, storage, verified_at,
  verification_status, verification_error, error, host, pid`;

const num = (value: string | null): number | null => (value === null ? null : Number(value));

function toRow(r: BackupRecord): BackupRow {
  return {
    backupId: r.backup_id,
    database: r.database,
    type: r.type,
    status: r.status,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    fileSize: num(r.file_size),
    rawSize: num(r.raw_size),
    expectedSize: num(r.expected_size),
    checksumSha256: r.checksum_sha256,
    compression: r.compression,
    encryptionKeyId: r.encryption_key_id,
    serverVersion: r.server_version,
    tableCount: r.table_count,
    storage: r.storage,
    verifiedAt: r.verified_at,
    verificationStatus: r.verification_status,
    verificationError: r.verification_error,
    error: r.error,
    host: r.host,
    pid: r.pid,
  };
}

export function createCatalog(pool: pg.Pool): Catalog {
  return {
    async startRun(run) {
      await pool.query(
        `INSERT INTO pgwarden.database_backups (backup_id, database, type, status, expected_size, host, pid)
         VALUES ($1, $2, $3, 'running', $4, $5, $6)`,
        [run.backupId, run.database, run.type, run.expectedSize, run.host, run.pid],
      );
    },

    async finishRun(backupId, r) {
      await pool.query(
        `UPDATE pgwarden.database_backups SET
           status = $2, finished_at = now(), error = $3, file_size = $4, raw_size = $5, checksum_sha256 = $6,
           compression = $7, encryption_key_id = $8, server_version = $9, table_count = $10,
           storage = COALESCE($11::jsonb, storage), verified_at = $12, verification_status = $13,
           verification_error = $14, manifest = $15, expected_size = COALESCE($16, expected_size)
         WHERE backup_id = $1`,
        [
          backupId,
          r.status,
          r.error ?? null,
          r.fileSize ?? null,
          r.rawSize ?? null,
          r.checksumSha256 ?? null,
          r.compression ?? null,
          r.encryptionKeyId ?? null,
          r.serverVersion ?? null,
          r.tableCount ?? null,
          r.storage ? JSON.stringify(r.storage) : null,
          r.verification?.at ?? null,
          r.verification?.status ?? null,
          r.verification?.error ?? null,
          r.manifest ? JSON.stringify(r.manifest) : null,
          r.expectedSize ?? null,
        ],
      );
    },

    async setVerification(backupId, v) {
      await pool.query(
        `UPDATE pgwarden.database_backups
            SET verified_at = $2, verification_status = $3, verification_error = $4,
                manifest = CASE WHEN manifest IS NULL THEN NULL
                  ELSE jsonb_set(manifest, '{verification}', $5::jsonb) END
          WHERE backup_id = $1`,
        [backupId, v.at, v.status, v.error, JSON.stringify({ ok: v.status === 'ok', at: v.at.toISOString(), error: v.error })],
      );
    },

    async degradedBackups() {
      const { rows } = await pool.query(
        `SELECT * FROM pgwarden.database_backups b
          WHERE b.status = 'succeeded' AND EXISTS (SELECT 1 FROM jsonb_each(b.storage) c WHERE c.value->>'status' = 'failed')
          ORDER BY b.created_at`,
      );
      return rows.map(toRow);
    },
    async setCopy(backupId, target, copy) {
      await pool.query(`UPDATE pgwarden.database_backups SET storage = storage || jsonb_build_object($2::text, $3::jsonb) WHERE backup_id = $1`, [
        backupId,
        target,
        JSON.stringify(copy),
      ]);
    },
    async log(e) {
      await pool.query(
        `INSERT INTO pgwarden.backup_logs (backup_id, database, operation, step, level, message, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [e.backupId ?? null, e.database ?? null, e.operation, e.step, e.level, e.message, e.details ? JSON.stringify(e.details) : null],
      );
    },

    async access(e) {
      await pool.query(
        `INSERT INTO pgwarden.backup_access_logs (backup_id, database, action, actor, result, details)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [e.backupId, e.database ?? null, e.action, e.actor, e.result, e.details ? JSON.stringify(e.details) : null],
      );
    },

    async getBackup(backupId) {
      const { rows } = await pool.query<BackupRecord>(
        `SELECT ${BACKUP_COLUMNS} FROM pgwarden.database_backups WHERE backup_id = $1`,
        [backupId],
      );
      return rows[0] ? toRow(rows[0]) : undefined;
    },

    async getManifest(backupId) {
      const { rows } = await pool.query<{ manifest: BackupManifest | null }>(
        'SELECT manifest FROM pgwarden.database_backups WHERE backup_id = $1',
        [backupId],
      );
      return rows[0]?.manifest ?? undefined;
    },

    async listBackups(filter = {}) {
      const { rows } = await pool.query<BackupRecord>(
        `SELECT ${BACKUP_COLUMNS} FROM pgwarden.database_backups
          WHERE ($1::text IS NULL OR database = $1) AND ($2::text IS NULL OR type = $2)
            AND ($3::text IS NULL OR status = $3)
          ORDER BY created_at DESC, backup_id DESC
          LIMIT $4`,
        [filter.database ?? null, filter.type ?? null, filter.status ?? null, filter.limit ?? 1000],
      );
      return rows.map(toRow);
    },

    async recentSizes(database, type, count) {
      const { rows } = await pool.query<{ file_size: string }>(
        `SELECT file_size FROM pgwarden.database_backups
          WHERE database = $1 AND type = $2 AND status = 'succeeded' AND file_size IS NOT NULL
          ORDER BY finished_at DESC LIMIT $3`,
        [database, type, count],
      );
      return rows.map((r) => Number(r.file_size));
    },

    async runningBackups() {
      const { rows } = await pool.query<BackupRecord>(
        `SELECT ${BACKUP_COLUMNS} FROM pgwarden.database_backups WHERE status = 'running' ORDER BY created_at`,
      );
      return rows.map(toRow);
    },

    async upsertFromManifest(m, storage) {
      const verification = m.verification;
      const { rows } = await pool.query<{ inserted: boolean }>(
        `INSERT INTO pgwarden.database_backups AS b (backup_id, database, type, status, created_at, finished_at,
            file_size, raw_size, checksum_sha256, compression, encryption_key_id, server_version, table_count,
            storage, verified_at, verification_status, verification_error, manifest)
         VALUES ($1, $2, $3, 'succeeded', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (backup_id) DO UPDATE SET status = 'succeeded', finished_at = EXCLUDED.finished_at,
            file_size = EXCLUDED.file_size, raw_size = EXCLUDED.raw_size, checksum_sha256 = EXCLUDED.checksum_sha256,
            compression = EXCLUDED.compression, encryption_key_id = EXCLUDED.encryption_key_id,
            server_version = EXCLUDED.server_version, table_count = EXCLUDED.table_count, storage = EXCLUDED.storage,
            verified_at = EXCLUDED.verified_at, verification_status = EXCLUDED.verification_status,
            verification_error = EXCLUDED.verification_error, manifest = EXCLUDED.manifest, error = NULL
         RETURNING (xmax = 0) AS inserted`,
        [
          m.backupId,
          m.database,
          m.kind,
          m.startedAt,
          m.finishedAt,
          m.artifact?.storedBytes ?? m.wal?.bytes ?? null,
          m.artifact?.rawBytes ?? m.wal?.bytes ?? null,
          m.artifact?.sha256 ?? null,
          m.artifact ? `${m.artifact.compression.algorithm}:${m.artifact.compression.level}` : null,
          m.artifact?.encryption?.keyId ?? null,
          m.serverVersion,
          m.tables.count,
          JSON.stringify(storage),
          verification ? verification.at : null,
          verification ? (verification.ok ? 'ok' : 'failed') : null,
          verification?.error ?? null,
          JSON.stringify(m),
        ],
      );
      return rows[0]?.inserted ? 'inserted' : 'updated';
    },

    async health(options = {}) {
      const { rows } = await pool.query<{ database: string; check_name: string; status: HealthRow['status']; detail: string }>(
        'SELECT * FROM pgwarden.check_backup_health(make_interval(secs => $1), $2)',
        [options.maxFullAgeSeconds ?? 24 * 3600, options.minSizeRatio ?? 0.5],
      );
      return rows.map((r) => ({ database: r.database, check: r.check_name, status: r.status, detail: r.detail }));
    },

    async tryLockRun(client, backupId) {
      const { rows } = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked',
        [RUN_LOCK_CLASS, backupId],
      );
      return rows[0]?.locked === true;
    },

    async unlockRun(client, backupId) {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [RUN_LOCK_CLASS, backupId]);
    },
  };
}
