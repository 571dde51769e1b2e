// What cleanup reads from and writes to the catalog: the backups of the planned databases with the facts of
// their manifests, and, per removed copy, the copy marked 'removed' and the backup 'expired' once no copy is
// left — in one statement, so a crash never leaves a backup counted on a target it is gone from.
import type pg from 'pg';
import type { BackupStatus, StorageCopy } from '../catalog/types.js';
import type { RetainedBackup } from './types.js';

interface Row {
  backup_id: string;
  database: string;
  type: RetainedBackup['kind'];
  status: BackupStatus;
  created_at: Date;
  finished_at: Date | null;
  storage: Record<string, StorageCopy>;
  verification_status: 'ok' | 'failed' | null;
  error: string | null;
  manifest_finished_at: string | null;
  start_lsn: string | null;
  timeline: number | null;
}

/** Every full, base and incremental backup of these databases, whatever its status. */
export async function loadRetainedBackups(pool: pg.Pool, databases: readonly string[]): Promise<RetainedBackup[]> {
  const { rows } = await pool.query<Row>(
    `SELECT backup_id, database, type, status, created_at, finished_at, storage, verification_status, error,
            manifest->>'finishedAt' AS manifest_finished_at, manifest->>'startLsn' AS start_lsn,
            (manifest->>'timeline')::int AS timeline
       FROM pgwarden.database_backups
      WHERE database = ANY($1::text[]) AND type IN ('full', 'base', 'incremental')
      ORDER BY created_at, backup_id`,
    [databases],
  );
  return rows.map((r) => ({
    backupId: r.backup_id,
    database: r.database,
    kind: r.type,
    status: r.status,
    // The manifest's time is the backup's time (a rebuilt catalog has no other); the row's for failed runs.
    at: r.manifest_finished_at ? new Date(r.manifest_finished_at) : (r.finished_at ?? r.created_at),
    verification: r.verification_status,
    startLsn: r.start_lsn,
    timeline: r.timeline,
    error: r.error,
    copies: r.storage ?? {},
  }));
}

/** Marks one target's copy removed; a successful backup with no stored copy left becomes 'expired'. Returns the new status. */
export async function markCopyRemoved(pool: pg.Pool, backupId: string, target: string, path: string): Promise<BackupStatus | undefined> {
  const { rows } = await pool.query<{ status: BackupStatus }>(
    `WITH marked AS (
       SELECT storage || jsonb_build_object($2::text, jsonb_build_object('status', 'removed', 'path', $3::text)) AS storage
         FROM pgwarden.database_backups WHERE backup_id = $1 FOR UPDATE
     )
     UPDATE pgwarden.database_backups b
        SET storage = m.storage,
            status = CASE
              WHEN b.status = 'succeeded' AND NOT EXISTS (SELECT 1 FROM jsonb_each(m.storage) c WHERE c.value->>'status' = 'stored')
              THEN 'expired' ELSE b.status END
       FROM marked m
      WHERE b.backup_id = $1
     RETURNING b.status`,
    [backupId, target, path],
  );
  return rows[0]?.status;
}
