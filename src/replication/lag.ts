// The live replication probe: the primary's pg_stat_replication for every standby it serves, plus each
// configured standby's own view when it has a URL. Failures are reported per standby (or per primary),
// never thrown, so one unreachable server costs only its own figures.

import pg from 'pg';
import { connectionError, describeUrl } from '../postgres/connection.js';
import type {
  PrimaryView,
  ProbeReplicationOptions,
  ReplicationReport,
  StandbyReport,
  StandbyTarget,
  StandbyView,
} from './types.js';

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * WAL senders that are not standbys: base backups and WAL archivers (pgwarden's own pg_receivewal among
 * them) stream through the same mechanism. They are skipped unless a configured standby has that name.
 */
const NOT_A_STANDBY = /^(pg_basebackup|pg_receivewal|pgwarden.*)$/;

// Logical walsenders (subscriptions) also appear in pg_stat_replication; their slot says what they are.
const PRIMARY_SQL = `
  SELECT r.pid, r.application_name, r.client_addr::text AS client_addr, r.state, r.sync_state,
         r.sent_lsn::text AS sent_lsn, r.write_lsn::text AS write_lsn, r.flush_lsn::text AS flush_lsn,
         r.replay_lsn::text AS replay_lsn,
         extract(epoch FROM r.write_lag)::float8 AS write_lag,
         extract(epoch FROM r.flush_lag)::float8 AS flush_lag,
         extract(epoch FROM r.replay_lag)::float8 AS replay_lag,
         pg_wal_lsn_diff(w.position, r.replay_lsn)::float8 AS replay_lag_bytes,
         r.reply_time,
         w.in_recovery
    FROM pg_stat_replication r
   CROSS JOIN (SELECT pg_is_in_recovery() AS in_recovery,
                      CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS position) w
   WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots s WHERE s.active_pid = r.pid AND s.slot_type = 'logical')
   ORDER BY r.application_name, r.pid`;

const PRIMARY_RECOVERY_SQL = 'SELECT pg_is_in_recovery() AS in_recovery';

// See StandbyView.replayDelaySeconds for the rule. CASE evaluates lazily, so the recovery-only functions
// are never called on a server that is not in recovery (pg_is_wal_replay_paused() would raise).
const STANDBY_SQL = `
  SELECT pg_is_in_recovery() AS in_recovery,
         pg_last_wal_receive_lsn()::text AS receive_lsn,
         pg_last_wal_replay_lsn()::text AS replay_lsn,
         pg_last_xact_replay_timestamp() AS last_replay_at,
         CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
         CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() IS NULL THEN NULL
              WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
              WHEN pg_last_xact_replay_timestamp() IS NULL THEN NULL
              ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))
         END::float8 AS replay_delay,
         greatest(0, pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()))::float8 AS unreplayed_bytes`;

interface PrimaryRecord {
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  state: string | null;
  sync_state: string | null;
  sent_lsn: string | null;
  write_lsn: string | null;
  flush_lsn: string | null;
  replay_lsn: string | null;
  write_lag: number | null;
  flush_lag: number | null;
  replay_lag: number | null;
  replay_lag_bytes: number | null;
  reply_time: Date | null;
  in_recovery: boolean;
}

interface StandbyRecord {
  in_recovery: boolean;
  receive_lsn: string | null;
  replay_lsn: string | null;
  last_replay_at: Date | null;
  replay_paused: boolean;
  replay_delay: number | null;
  unreplayed_bytes: number | null;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Asks the primary (`primaryUrl`, any database on it) which standbys stream from it and how far behind
 * they are, and each standby with a URL for its own view. Never rejects: errors are in the report.
 */
export async function probeReplication(
  primaryUrl: string,
  standbys: readonly StandbyTarget[],
  options: ProbeReplicationOptions = {},
): Promise<ReplicationReport> {
  const checkedAt = new Date();
  const [primary, ...own] = await Promise.all([
    attempt(() => readPrimary(primaryUrl, options)),
    ...standbys.map((s) => (s.url === undefined ? Promise.resolve(undefined) : attempt(() => readStandby(s, options)))),
  ]);
  const rows = primary?.ok ? primary.value.rows : undefined;
  const reports: StandbyReport[] = [];

  standbys.forEach((target, i) => {
    const view = own[i];
    const row = rows === undefined ? undefined : pickRow(rows.filter((r) => r.application_name === target.name));
    reports.push(
      report({
        name: target.name,
        configured: true,
        connected: rows === undefined ? null : row !== undefined,
        primary: row === undefined ? null : toPrimaryView(row),
        standby: view?.ok ? view.value : null,
        standbyError: view !== undefined && !view.ok ? view.error : null,
      }),
    );
  });

  if (rows !== undefined) {
    const configured = new Set(standbys.map((s) => s.name));
    const others = new Map<string, PrimaryRecord[]>();
    for (const row of rows) {
      const name = row.application_name || 'unnamed';
      if (configured.has(name) || NOT_A_STANDBY.test(name) || row.state === 'backup') continue;
      others.set(name, [...(others.get(name) ?? []), row]);
    }
    for (const [name, candidates] of others) {
      const row = pickRow(candidates)!;
      reports.push(
        report({ name, configured: false, connected: true, primary: toPrimaryView(row), standby: null, standbyError: null }),
      );
    }
  }

  let primaryError = primary?.ok === false ? primary.error : null;
  if (rows?.some((r) => r.state === null)) {
    // Without pg_read_all_stats (pg_monitor) PostgreSQL hides everything but the pid of other users' walsenders.
    primaryError = `the role connecting to ${describeUrl(primaryUrl)} cannot read pg_stat_replication's details: GRANT pg_monitor TO it`;
  }
  return {
    checkedAt,
    primaryError,
    primaryInRecovery: primary?.ok ? primary.value.inRecovery : null,
    connectedCount: rows === undefined ? null : reports.filter((r) => r.connected === true).length,
    standbys: reports,
  };
}

function report(parts: Omit<StandbyReport, 'lagSeconds' | 'lagBytes'>): StandbyReport {
  const known = [parts.primary?.replayLagSeconds, parts.standby?.replayDelaySeconds].filter(
    (v): v is number => typeof v === 'number',
  );
  return {
    ...parts,
    // A standby the primary does not list receives nothing, so its own view would read "caught up" (0):
    // no figure at all is the honest answer; `connected: false` says why.
    lagSeconds: known.length === 0 || parts.connected === false ? null : Math.max(...known),
    lagBytes: parts.primary?.replayLagBytes ?? null,
  };
}

/** A standby reconnecting can briefly have two rows: prefer the one that streams. */
function pickRow(rows: PrimaryRecord[]): PrimaryRecord | undefined {
  return rows.find((r) => r.state === 'streaming') ?? rows[0];
}

function toPrimaryView(r: PrimaryRecord): PrimaryView {
  // NULL lag with a reported position means "caught up, nothing to measure": 0. Without a position: unknown.
  const lag = (seconds: number | null, lsn: string | null) => (seconds !== null ? seconds : lsn !== null ? 0 : null);
  return {
    pid: r.pid,
    state: r.state,
    syncState: r.sync_state,
    clientAddr: r.client_addr,
    sentLsn: r.sent_lsn,
    writeLsn: r.write_lsn,
    flushLsn: r.flush_lsn,
    replayLsn: r.replay_lsn,
    writeLagSeconds: lag(r.write_lag, r.write_lsn),
    flushLagSeconds: lag(r.flush_lag, r.flush_lsn),
    replayLagSeconds: lag(r.replay_lag, r.replay_lsn),
    replayLagBytes: r.replay_lag_bytes === null ? null : Math.max(0, r.replay_lag_bytes),
    replyTime: r.reply_time,
  };
}

async function readPrimary(url: string, options: ProbeReplicationOptions): Promise<{ rows: PrimaryRecord[]; inRecovery: boolean }> {
  return withProbeClient(url, 'the primary', options, async (client) => {
    const { rows } = await client.query<PrimaryRecord>(PRIMARY_SQL);
    if (rows[0] !== undefined) return { rows, inRecovery: rows[0].in_recovery };
    const recovery = await client.query<{ in_recovery: boolean }>(PRIMARY_RECOVERY_SQL);
    return { rows, inRecovery: recovery.rows[0]?.in_recovery ?? false };
  });
}

async function readStandby(target: StandbyTarget, options: ProbeReplicationOptions): Promise<StandbyView> {
  return withProbeClient(target.url!, `standby "${target.name}"`, options, async (client) => {
    const { rows } = await client.query<StandbyRecord>(STANDBY_SQL);
    const r = rows[0]!;
    return {
      inRecovery: r.in_recovery,
      receiveLsn: r.receive_lsn,
      replayLsn: r.replay_lsn,
      lastReplayAt: r.last_replay_at,
      replayPaused: r.replay_paused,
      replayDelaySeconds: r.replay_delay,
      unreplayedBytes: r.unreplayed_bytes,
    };
  });
}

async function withProbeClient<T>(
  url: string,
  purpose: string,
  options: ProbeReplicationOptions,
  use: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const queryTimeout = options.queryTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    statement_timeout: queryTimeout,
    // The server-side timeout cannot fire when the network is what hangs.
    query_timeout: queryTimeout + 1_000,
    application_name: options.applicationName ?? 'pgwarden-probe',
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(error, url, purpose);
  }
  try {
    return await use(client);
  } catch (error) {
    throw new Error(`${purpose} at ${describeUrl(url)}: ${(error as Error).message}`, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
}

async function attempt<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
