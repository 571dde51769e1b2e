// One database in detail, for its status page: its backups (filtered), the series its charts draw over the
// retention window, the recovery window, and its alerts with every notification attempt.
import type { Catalog } from '../catalog/catalog.js';
import type { BackupStatus, BackupType } from '../catalog/types.js';
import { activeSilences, silences } from '../alerting/evaluator.js';
import type { Severity } from '../alerting/notify-types.js';
import { lagHistory } from '../replication/history.js';
import { buildOverview, type StatusDeps } from './overview.js';
import type { AlertHistoryEntry, ChartPoint, DatabaseDetail } from './types.js';

export interface DatabaseFilter {
  kind?: BackupType | undefined;
  status?: BackupStatus | undefined;
}

export interface DetailDeps extends StatusDeps {
  catalog: Pick<Catalog, 'listBackups'>;
}

/** Rows in the backup list; older ones are a filter (or `pgwarden list`) away. */
export const BACKUP_LIST_LIMIT = 200;
const ALERT_LIST_LIMIT = 20;
/** The charts never draw more than this many backups per kind (the newest ones). */
const CHART_LIMIT = 2000;

const CHART_SQL = `
  SELECT backup_id, type, created_at, finished_at, file_size::float8 AS file_size, expected_size::float8 AS expected_size
    FROM (SELECT backup_id, type, created_at, finished_at, file_size, expected_size
            FROM pgwarden.database_backups
           WHERE database = $1 AND type = ANY($3::text[]) AND status = 'succeeded' AND created_at >= $2
           ORDER BY created_at DESC, backup_id DESC LIMIT $4) newest
   ORDER BY created_at, backup_id`;

export async function buildDatabaseDetail(deps: DetailDeps, database: string, filter: DatabaseFilter = {}): Promise<DatabaseDetail | undefined> {
  const db = deps.config.databases.find((d) => d.name === database);
  if (!db) return undefined;
  const now = deps.now();
  const since = new Date(now.getTime() - deps.config.retention.fullDays * 86_400_000);
  const kinds = db.pitr ? ['full', 'base', 'incremental'] : ['full'];

  const [overview, backups, chartRows, lag, window, alerts] = await Promise.all([
    buildOverview({ ...deps, config: { ...deps.config, databases: [db] } }),
    deps.catalog.listBackups({ database, type: filter.kind, status: filter.status, limit: BACKUP_LIST_LIMIT }),
    deps.pool.query<{ backup_id: string; type: 'full' | 'base' | 'incremental'; created_at: Date; finished_at: Date | null; file_size: number | null; expected_size: number | null }>(
      CHART_SQL,
      [database, since, kinds, CHART_LIMIT],
    ),
    (db.standbys ?? []).length > 0 ? lagHistory(deps.pool, database, since, now) : Promise.resolve(new Map()),
    recoveryWindow(deps, database, db.pitr),
    alertHistory(deps, database, now),
  ]);

  const charts: DatabaseDetail['charts'] = { since: since.toISOString(), kinds: {}, lag: {} };
  for (const r of chartRows.rows) {
    const points = charts.kinds[r.type] ?? [];
    charts.kinds[r.type] = points;
    const point: ChartPoint = {
      // Milliseconds kept: two backups finishing within one second stay two points.
      t: (r.finished_at ?? r.created_at).getTime() / 1000,
      backupId: r.backup_id,
      sizeBytes: r.file_size,
      expectedBytes: r.expected_size,
      durationSeconds: r.finished_at ? Math.max(0, (r.finished_at.getTime() - r.created_at.getTime()) / 1000) : null,
    };
    points.push(point);
  }
  for (const [standby, points] of lag) {
    charts.lag[standby] = points.map((p: { at: Date; lagSeconds: number | null }) => ({ t: Math.round(p.at.getTime() / 1000), lagSeconds: p.lagSeconds }));
  }

  return {
    overview: overview.databases[0]!,
    filter: { kind: filter.kind ?? null, status: filter.status ?? null },
    backups,
    charts,
    recoveryWindow: window,
    alerts,
  };
}

/**
 * Point-in-time recovery reaches from the end of the oldest base backup to the newest archived WAL; without
 * WAL archiving the restore points are the full backups themselves.
 */
async function recoveryWindow(deps: DetailDeps, database: string, pitr: boolean): Promise<DatabaseDetail['recoveryWindow']> {
  const type = pitr ? 'base' : 'full';
  const { rows } = await deps.pool.query<{ oldest: Date | null; newest: Date | null }>(
    `SELECT min(finished_at) AS oldest, max(finished_at) AS newest FROM pgwarden.database_backups
      WHERE database = $1 AND type = $2 AND status = 'succeeded'`,
    [database, type],
  );
  const oldest = rows[0]?.oldest ?? null;
  if (!pitr) {
    return {
      pitr,
      oldest: oldest?.toISOString() ?? null,
      newest: rows[0]?.newest?.toISOString() ?? null,
      detail: oldest ? 'no WAL archiving (pitr: false): a restore returns to one of the full backups' : 'no successful full backup yet: nothing can be restored',
    };
  }
  const newest = deps.state().wal?.find((w) => w.database === database)?.lastSegmentAt ?? null;
  const detail = !oldest
    ? 'no successful base backup yet: point-in-time recovery has no start point'
    : !newest
      ? 'no WAL archived yet: recovery reaches only the end of a base backup'
      : 'from the end of the oldest base backup to the newest archived WAL segment';
  return { pitr, oldest: oldest?.toISOString() ?? null, newest: (newest ?? rows[0]?.newest ?? null)?.toISOString() ?? null, detail };
}

async function alertHistory(deps: DetailDeps, database: string, now: Date): Promise<AlertHistoryEntry[]> {
  const { rows } = await deps.pool.query<{
    id: string;
    rule: string;
    severity: Severity;
    labels: Record<string, string>;
    summary: string;
    status: 'firing' | 'resolved';
    started_at: Date;
    resolved_at: Date | null;
  }>(
    `SELECT id, rule, severity, labels, summary, status, started_at, resolved_at FROM pgwarden.alert_events
      WHERE labels ->> 'database' = $1 ORDER BY started_at DESC LIMIT $2`,
    [database, ALERT_LIST_LIMIT],
  );
  if (rows.length === 0) return [];
  const [attempts, active] = await Promise.all([
    deps.pool.query<{ event_id: string; channel: string; kind: string; attempt: number; result: string; error: string | null; created_at: Date }>(
      'SELECT event_id, channel, kind, attempt, result, error, created_at FROM pgwarden.alert_notifications WHERE event_id = ANY($1::bigint[]) ORDER BY event_id, id',
      [rows.map((r) => r.id)],
    ),
    activeSilences(deps.pool, now),
  ]);
  return rows.map((r) => ({
    id: Number(r.id),
    rule: r.rule,
    severity: r.severity,
    summary: r.summary,
    labels: r.labels,
    status: r.status,
    startedAt: r.started_at.toISOString(),
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    silenced: r.status === 'firing' && silences({ rule: r.rule, severity: r.severity, labels: r.labels }, active),
    notifications: attempts.rows
      .filter((a) => a.event_id === r.id)
      .map((a) => ({ channel: a.channel, kind: a.kind, attempt: a.attempt, result: a.result, error: a.error, at: a.created_at.toISOString() })),
  }));
}
