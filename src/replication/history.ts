// Replication lag over time, for the status page's charts: each probe's figures are folded into one catalog
// row per standby and minute (the largest lag seen in it), and read back bucketed to a few hundred points.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { ReplicationReport } from './types.js';

export interface LagRecorderOptions {
  pool: Pick<pg.Pool, 'query'>;
  /** Rows older than this are deleted (at most once an hour). */
  retentionMs: number;
  now: () => Date;
  logger: Pick<Logger, 'warn' | 'info'>;
}

export interface LagRecorder {
  /** Stores one probe's figures; never rejects (a failure is logged once until a write succeeds again). */
  record(reports: ReadonlyMap<string, ReplicationReport>): Promise<void>;
}

const PRUNE_EVERY_MS = 3600_000;

export function createLagRecorder(options: LagRecorderOptions): LagRecorder {
  const { pool, logger } = options;
  let lastPrune = 0;
  let failing = false;
  let chain: Promise<void> = Promise.resolve();

  const write = async (reports: ReadonlyMap<string, ReplicationReport>) => {
    const now = options.now();
    const rows: unknown[][] = [];
    for (const [database, report] of reports) {
      // The primary could not be asked: nothing is known, and "no row" says so on the chart.
      if (report.primaryError !== null) continue;
      for (const s of report.standbys) rows.push([database, s.name, s.lagSeconds, s.lagBytes, s.connected]);
    }
    if (rows.length > 0) {
      const values = rows.map((_, i) => `($${i * 5 + 2}, $${i * 5 + 3}, date_trunc('minute', $1::timestamptz), $${i * 5 + 4}::float8, $${i * 5 + 5}::bigint, $${i * 5 + 6}::boolean)`);
      // GREATEST ignores nulls: an unknown lag never hides a known one of the same minute.
      await pool.query(
        `INSERT INTO pgwarden.replication_lag_samples AS s (database, standby, minute, lag_seconds, lag_bytes, connected)
         VALUES ${values.join(', ')}
         ON CONFLICT (database, standby, minute) DO UPDATE SET
           lag_seconds = GREATEST(s.lag_seconds, EXCLUDED.lag_seconds),
           lag_bytes = GREATEST(s.lag_bytes, EXCLUDED.lag_bytes),
           connected = EXCLUDED.connected`,
        [now, ...rows.flat()],
      );
    }
    if (now.getTime() - lastPrune >= PRUNE_EVERY_MS) {
      lastPrune = now.getTime();
      await pool.query('DELETE FROM pgwarden.replication_lag_samples WHERE minute < $1', [new Date(now.getTime() - options.retentionMs)]);
    }
  };

  return {
    record(reports) {
      chain = chain.then(() =>
        write(reports).then(
          () => {
            if (failing) logger.info('replication lag history: writing again');
            failing = false;
          },
          (error: unknown) => {
            if (!failing) logger.warn({ err: error }, 'replication lag history: could not write to the catalog; the lag chart will have a gap');
            failing = true;
          },
        ),
      );
      return chain;
    },
  };
}

export interface LagPoint {
  /** Start of the bucket. */
  at: Date;
  /** The largest lag in the bucket; null when only unknown lags were recorded. */
  lagSeconds: number | null;
  lagBytes: number | null;
}

/** One standby's lag from `since` to now, at most about `points` buckets (never finer than a minute). */
export async function lagHistory(
  pool: Pick<pg.Pool, 'query'>,
  database: string,
  since: Date,
  until: Date,
  points = 400,
): Promise<Map<string, LagPoint[]>> {
  const bucketSeconds = Math.max(60, Math.ceil((until.getTime() - since.getTime()) / 1000 / points / 60) * 60);
  const { rows } = await pool.query<{ standby: string; at: Date; lag_seconds: number | null; lag_bytes: string | null }>(
    `SELECT standby, date_bin(make_interval(secs => $3), minute, $2::timestamptz) AS at,
            max(lag_seconds) AS lag_seconds, max(lag_bytes) AS lag_bytes
       FROM pgwarden.replication_lag_samples
      WHERE database = $1 AND minute >= $2
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [database, since, bucketSeconds],
  );
  const out = new Map<string, LagPoint[]>();
  for (const r of rows) {
    const series = out.get(r.standby) ?? [];
    out.set(r.standby, series);
    series.push({ at: r.at, lagSeconds: r.lag_seconds, lagBytes: r.lag_bytes === null ? null : Number(r.lag_bytes) });
  }
  return out;
}
