// pgwarden.restore_drills: one row per drill (sql/0005_restore_drills.sql), and the drill lock that keeps
// two drills of one database (two replicas, or the CLI while the scheduler drills) from overlapping.
import type pg from 'pg';
import type { DrillResult } from './types.js';

// Arbitrary constant naming "pgwarden drill locks" in the advisory-lock space (7_412_001…003 are taken).
const DRILL_LOCK_CLASS = 7_412_004;

export interface DrillRecord extends DrillResult {
  drill_id: string;
  backup_id: string;
  target: string;
  duration_seconds: number;
  status: 'ok' | 'failed';
}

export async function recordDrill(pool: pg.Pool, drill: DrillRecord, who: { actor: string; host: string; pid: number }): Promise<void> {
  await pool.query(
    `INSERT INTO pgwarden.restore_drills (drill_id, backup_id, database, target, started_at, finished_at, duration_seconds,
        status, error, tables, rows, mismatches, actor, host, pid)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
      drill.drill_id,
      drill.backup_id,
      drill.database,
      drill.target,
      drill.started_at,
      drill.finished_at,
      drill.duration_seconds,
      drill.status,
      drill.error,
      drill.tables,
      drill.rows,
      JSON.stringify(drill.mismatches),
      who.actor,
      who.host,
      who.pid,
    ],
  );
}

/** When the newest successful drill of a database finished; null: none yet. */
export async function lastSuccessfulDrill(pool: pg.Pool, database: string): Promise<Date | null> {
  const { rows } = await pool.query<{ at: Date | null }>(
    `SELECT max(finished_at) AS at FROM pgwarden.restore_drills WHERE database = $1 AND status = 'ok'`,
    [database],
  );
  return rows[0]?.at ?? null;
}

/** Takes the drill lock of `key` on a dedicated catalog connection; undefined when another session holds it. */
export async function tryDrillLock(connect: () => Promise<pg.Client>, key: string): Promise<(() => Promise<void>) | undefined> {
  const client = await connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [DRILL_LOCK_CLASS, key]);
    if (rows[0]?.locked !== true) {
      await client.end().catch(() => {});
      return undefined;
    }
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return async () => {
    // Ending the session releases the lock too; unlock first so a pooled proxy cannot keep it.
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [DRILL_LOCK_CLASS, key]).catch(() => {});
    await client.end().catch(() => {});
  };
}
