// `pgwarden failover status|promote`: the replication picture of every configured database, and promoting
// a standby — pg_promote, then wait until it accepts writes and report the new timeline.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, DatabaseConfig } from '../config/index.js';
import { PgwardenError, UsageError } from '../errors.js';
import { connect } from '../postgres/connection.js';
import { probeReplication } from './lag.js';
import type { ReplicationReport } from './types.js';

export interface FailoverStatusRow {
  database: string;
  standby: string;
  configured: boolean;
  connected: boolean | null;
  state: string | null;
  lag_seconds: number | null;
  lag_bytes: number | null;
  replay_paused: boolean | null;
  error: string | null;
}

export async function failoverStatus(config: Config): Promise<FailoverStatusRow[]> {
  const rows: FailoverStatusRow[] = [];
  for (const db of config.databases) {
    const report: ReplicationReport = await probeReplication(db.url, db.standbys);
    if (report.primaryError && report.standbys.length === 0) {
      rows.push({ database: db.name, standby: '-', configured: false, connected: null, state: null, lag_seconds: null, lag_bytes: null, replay_paused: null, error: report.primaryError });
    }
    for (const s of report.standbys) {
      rows.push({
        database: db.name,
        standby: s.name,
        configured: s.configured,
        connected: s.connected,
        state: s.primary?.state ?? null,
        lag_seconds: s.lagSeconds,
        lag_bytes: s.lagBytes,
        replay_paused: s.standby?.replayPaused ?? null,
        error: s.standbyError ?? report.primaryError,
      });
    }
  }
  return rows;
}

export interface PromoteResult {
  database: string;
  standby: string;
  timeline: number;
  seconds: number;
}

export async function promoteStandby(config: Config, options: { standby: string; database?: string | undefined; timeoutSeconds: number }): Promise<PromoteResult> {
  const matches: { db: DatabaseConfig; url: string }[] = [];
  for (const db of config.databases) {
    if (options.database && db.name !== options.database) continue;
    for (const s of db.standbys) if (s.name === options.standby) matches.push({ db, url: s.url });
  }
  if (matches.length === 0) throw new UsageError(`no standby named "${options.standby}" in the config${options.database ? ` for database "${options.database}"` : ''}`);
  if (matches.length > 1) throw new UsageError(`standby "${options.standby}" is configured for several databases: pass --database`);
  const { db, url } = matches[0]!;
  const started = performance.now();
  const client = await connect(url, { purpose: `standby "${options.standby}"` });
  try {
    const { rows } = await client.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
    if (!rows[0]?.recovering) throw new PgwardenError(`standby "${options.standby}" is not in recovery: it is already a primary`);
    const promoted = await client.query<{ ok: boolean }>('SELECT pg_promote(true, $1) AS ok', [options.timeoutSeconds]);
    if (!promoted.rows[0]?.ok) throw new PgwardenError(`standby "${options.standby}" did not finish promoting within ${options.timeoutSeconds} s`);
    // Accepting writes: a transaction id can only be assigned on a primary.
    const deadline = Date.now() + options.timeoutSeconds * 1000;
    for (;;) {
      try {
        await client.query('SELECT txid_current()');
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new PgwardenError(`standby "${options.standby}" was promoted but does not accept writes: ${(error as Error).message}`);
        await sleep(100);
      }
    }
    const tl = await client.query<{ wal: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS wal');
    return { database: db.name, standby: options.standby, timeline: Number.parseInt(tl.rows[0]!.wal.slice(0, 8), 16), seconds: Math.round((performance.now() - started) / 10) / 100 };
  } finally {
    await client.end().catch(() => {});
  }
}
