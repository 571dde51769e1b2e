// The state of each database's WAL archive for metrics and alerts: when the newest segment arrived (RPO), and
// how much WAL the server has written beyond it.
import pg from 'pg';
import type { StorageDriver } from '../storage/types.js';
import { listArchivedWal } from './archive.js';
import { DEFAULT_SEGMENT_SIZE, parseLsn, parseSegmentSize, segmentEndLsn } from './names.js';

export interface WalArchiveState {
  database: string;
  lastSegmentAt: Date | null;
  lagBytes: number | null;
}

export async function walArchiveStatus(
  storage: StorageDriver,
  prefix: string,
  databases: readonly { name: string; url: string }[],
  timeoutMs = 5_000,
): Promise<WalArchiveState[]> {
  return Promise.all(
    databases.map(async (db) => {
      const archive = await listArchivedWal(storage, prefix, db.name);
      const timeline = [...archive.segments.keys()].at(-1);
      const newest = timeline === undefined ? undefined : archive.segments.get(timeline)!.at(-1);
      if (!newest) return { database: db.name, lastSegmentAt: null, lagBytes: null };
      const lastSegmentAt = archive.objects.get(newest)!.modifiedAt;
      const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, application_name: 'pgwarden-probe' });
      client.on('error', () => {});
      try {
        await client.connect();
        const { rows } = await client.query<{ lsn: string; size: string }>(
          `SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn,
                  current_setting('wal_segment_size') AS size`,
        );
        const size = rows[0]?.size ? parseSegmentSize(rows[0].size) : DEFAULT_SEGMENT_SIZE;
        const end = segmentEndLsn(newest, size);
        const lag = rows[0]?.lsn ? parseLsn(rows[0].lsn) - end : null;
        return { database: db.name, lastSegmentAt, lagBytes: lag === null ? null : Math.max(0, Number(lag)) };
      } catch {
        // The server being down is database_up's business; the archive's age still counts.
        return { database: db.name, lastSegmentAt, lagBytes: null };
      } finally {
        await client.end().catch(() => {});
      }
    }),
  );
}

