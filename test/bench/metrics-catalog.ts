// The catalog the /metrics benchmark serves from: 20 databases × 2,500 rows (90 days of an hourly incremental,
// a daily full and a weekly base backup each), inserted by one INSERT … SELECT generate_series. Old rows are
// expired by retention, ~3 % of runs failed (more on one flaky database), some fulls were verified (one
// verification failed), and sizes grow with each database's history. The newest run of every (database,
// kind) succeeded minutes ago, so `pgwarden serve` finds nothing overdue and runs no catch-up backup.
import type pg from 'pg';

/** Names a hotel group might give its databases. */
export const BENCH_DATABASES = [
  'bookings',
  'billing',
  'inventory',
  'guests',
  'loyalty',
  'payments',
  'housekeeping',
  'reporting',
  'crm',
  'channel_manager',
  'rates',
  'reviews',
  'events',
  'staff',
  'maintenance',
  'pos',
  'spa',
  'restaurant',
  'parking',
  'audit',
] as const;

// $1 database names, $2 total rows, $3 server_version. Row i belongs to database i % n, and is the k-th
// (k = i / n) of that database's history, oldest first; k = per − 1 finished five minutes ago.
const INSERT_SQL = `
  INSERT INTO pgwarden.database_backups (backup_id, database, type, status, created_at, finished_at, file_size, raw_size,
      expected_size, checksum_sha256, compression, server_version, table_count, storage, verified_at, verification_status,
      verification_error, error, host, pid)
  SELECT r.backup_id, r.database, r.type, r.status, r.created_at, r.created_at + r.duration,
         CASE WHEN r.failed THEN NULL ELSE r.stored END,
         CASE WHEN r.failed THEN NULL ELSE r.stored * 4 END,
         round(r.stored * 0.98)::bigint,
         CASE WHEN r.failed THEN NULL ELSE md5(r.backup_id) || md5(r.database || r.backup_id) END,
         'gzip:6', $3::text, 40 + r.d * 7,
         CASE WHEN r.failed THEN '{}'::jsonb
              ELSE jsonb_build_object('local', jsonb_build_object('status', CASE WHEN r.status = 'expired' THEN 'removed' ELSE 'stored' END,
                                                                  'path', r.database || '/' || r.type || '/' || r.backup_id)) END,
         CASE WHEN r.verified THEN r.created_at + r.duration + interval '20 minutes' END,
         CASE WHEN r.verified THEN CASE WHEN r.d = 11 AND r.k = r.per - 26 THEN 'failed' ELSE 'ok' END END,
         CASE WHEN r.verified AND r.d = 11 AND r.k = r.per - 26 THEN 'checksum mismatch in toc.dat' END,
         CASE WHEN r.failed THEN (ARRAY['pg_dump exited with code 1: could not obtain lock on relation "public.reservations"',
                                       'connection to server at "10.0.4.12", port 5432 failed: timeout expired',
                                       'storage target local: no space left on device'])[1 + r.i % 3] END,
         'pgwarden-1', 4000 + r.i % 1000
    FROM (
      SELECT s.*,
             to_char(s.created_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"') || '-' || s.type || '-' || substr(md5(s.i::text), 1, 6) AS backup_id,
             CASE WHEN s.failed THEN 'failed'
                  WHEN s.created_at < now() - CASE s.type WHEN 'incremental' THEN interval '7 days' ELSE interval '30 days' END THEN 'expired'
                  ELSE 'succeeded' END AS status,
             NOT s.failed AND s.type = 'full' AND ((s.k / 25) % 7 = 3 OR s.k = s.per - 26) AS verified,
             CASE s.type
               WHEN 'full' THEN make_interval(secs => 60 + s.d * 90 + s.h % 600)
               WHEN 'base' THEN make_interval(secs => 300 + s.d * 200 + s.h % 900)
               ELSE make_interval(secs => 5 + s.h % 170)
             END * CASE WHEN s.failed THEN 0.3 ELSE 1 END AS duration,
             round(50e6 * power(s.d + 1, 1.6) * (1 + 0.2 * s.k / s.per) * (0.95 + (s.h % 1000) / 10000.0)
                   * CASE s.type WHEN 'full' THEN 1 WHEN 'base' THEN 3 ELSE 0.02 END)::bigint AS stored
        FROM (
          SELECT g.i, g.i % n.n AS d, g.i / n.n AS k, $2::int / n.n AS per, ($1::text[])[1 + g.i % n.n] AS database,
                 abs(hashtext(g.i::text)) AS h,
                 CASE WHEN (g.i / n.n) % 25 = 24 THEN 'full' WHEN (g.i / n.n) % 175 = 48 THEN 'base' ELSE 'incremental' END AS type,
                 now() - interval '5 minutes' - ($2::int / n.n - 1 - g.i / n.n) * (interval '90 days' / ($2::int / n.n)) - (g.i % n.n) * interval '37 seconds'
                   AS created_at,
                 g.i / n.n < $2::int / n.n - 30
                   AND abs(hashtext(g.i::text || 'f')) % 100 < CASE WHEN g.i % n.n = 7 THEN 15 ELSE 3 END AS failed
            FROM generate_series(0, $2::int - 1) AS g(i), (SELECT array_length($1::text[], 1) AS n) n
        ) s
    ) r`;

export interface CatalogSummary {
  rows: number;
  databases: number;
  byTypeAndStatus: Record<string, number>;
  oldest: string;
  newest: string;
}

/** Inserts `rows` catalog rows (a multiple of the database count) in one statement, then ANALYZE. */
export async function populateCatalog(client: pg.ClientBase, rows: number, databases: readonly string[]): Promise<CatalogSummary> {
  if (rows % databases.length !== 0) throw new Error(`${rows} rows do not divide among ${databases.length} databases`);
  const version = (await client.query<{ v: string }>('SHOW server_version')).rows[0]!.v;
  await client.query(INSERT_SQL, [databases, rows, version]);
  await client.query('ANALYZE pgwarden.database_backups');
  const counts = await client.query<{ type: string; status: string; n: number }>(
    'SELECT type, status, count(*)::int AS n FROM pgwarden.database_backups GROUP BY 1, 2 ORDER BY 1, 2',
  );
  const span = await client.query<{ rows: number; databases: number; oldest: Date; newest: Date }>(
    'SELECT count(*)::int AS rows, count(DISTINCT database)::int AS databases, min(created_at) AS oldest, max(finished_at) AS newest FROM pgwarden.database_backups',
  );
  const s = span.rows[0]!;
  return {
    rows: s.rows,
    databases: s.databases,
    byTypeAndStatus: Object.fromEntries(counts.rows.map((r) => [`${r.type}/${r.status}`, r.n])),
    oldest: s.oldest.toISOString(),
    newest: s.newest.toISOString(),
  };
}
