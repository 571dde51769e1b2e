// The recovery status of every configured database, for the status page and `GET /api/status`. The state
// is the built-in alert rules applied to the metrics' current figures (alertsOfState, the evaluator's own
// call), so the page, the alerts and `check_backup_health()` never disagree about what is wrong. Apart from
// those in-memory figures it reads the catalog twice: the storage column of each database's newest
// backups, and the alerts recorded as firing.
import { firingAlerts } from '../alerting/evaluator.js';
import type pg from 'pg';
import type { AlertInstance } from '../alerting/notify-types.js';
import { alertsOfState } from '../alerting/service.js';
import type { StorageCopy } from '../catalog/types.js';
import type { Config } from '../config/index.js';
import type { MetricsState } from '../metrics/types.js';
import type { DatabaseOverview, KindStatus, Overview, RecordedAlert, RecoveryState, StateReason, TargetStatus } from './types.js';

export interface StatusDeps {
  config: Pick<Config, 'alerts' | 'databases' | 'retention'>;
  /** The catalog database. */
  pool: pg.Pool;
  /** The metrics' current figures (what the alert evaluator reads). */
  state: () => MetricsState;
  /** When the metrics were last refreshed. */
  figuresAt: () => Date | undefined;
  now: () => Date;
}

const KINDS = ['full', 'base', 'incremental'] as const;
const RANK: Record<RecoveryState, number> = { ok: 0, warning: 1, critical: 2 };

/** The newest successful backup of each database and kind: one index probe each (database, type, created_at). */
export const NEWEST_COPIES_SQL = `
  SELECT d.database, k.type, b.backup_id, b.storage
    FROM unnest($1::text[]) AS d(database)
   CROSS JOIN unnest(ARRAY['full', 'base', 'incremental']) AS k(type)
    JOIN LATERAL (
      SELECT x.backup_id, x.storage FROM pgwarden.database_backups x
       WHERE x.database = d.database AND x.type = k.type AND x.status = 'succeeded'
       ORDER BY x.created_at DESC LIMIT 1
    ) b ON true`;

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
const secondsSince = (now: Date, d: Date | null | undefined): number | null => (d ? Math.max(0, (now.getTime() - d.getTime()) / 1000) : null);

/** The worst severity of the reasons: critical and warning alerts set the state; info ones are notes. */
export function stateOf(reasons: readonly Pick<StateReason, 'severity'>[]): RecoveryState {
  let state: RecoveryState = 'ok';
  for (const r of reasons) {
    const s: RecoveryState = r.severity === 'critical' ? 'critical' : r.severity === 'warning' ? 'warning' : 'ok';
    if (RANK[s] > RANK[state]) state = s;
  }
  return state;
}

function reasonOf(alert: AlertInstance): StateReason {
  return { rule: alert.rule, severity: alert.severity, summary: alert.summary, description: alert.description, labels: alert.labels };
}

/** Per target: degraded when the newest successful backup of some kind failed to reach it. */
export function targetsOf(copies: readonly { type: string; backup_id: string; storage: Record<string, StorageCopy> }[]): TargetStatus[] {
  const targets = new Map<string, TargetStatus>();
  for (const copy of copies) {
    for (const [target, stored] of Object.entries(copy.storage ?? {})) {
      const current = targets.get(target) ?? { target, state: 'healthy' as const, detail: null };
      if (stored.status === 'failed') {
        const why = `the newest ${copy.type} backup ${copy.backup_id} is not stored there${stored.error ? `: ${stored.error}` : ''}`;
        targets.set(target, { target, state: 'degraded', detail: current.detail ? `${current.detail}; ${why}` : why });
      } else {
        targets.set(target, current);
      }
    }
  }
  return [...targets.values()].sort((a, b) => a.target.localeCompare(b.target));
}

export async function buildOverview(deps: StatusDeps): Promise<Overview> {
  const now = deps.now();
  const state = deps.state();
  const names = deps.config.databases.map((d) => d.name);
  const [copies, recorded] = await Promise.all([
    deps.pool.query<{ database: string; type: string; backup_id: string; storage: Record<string, StorageCopy> }>(NEWEST_COPIES_SQL, [names]),
    firingAlerts(deps.pool, now),
  ]);
  const alerts = alertsOfState(deps.config, state, now);

  const missing: string[] = [];
  if (state.catalog === undefined) missing.push('catalog');
  if (state.databases === undefined) missing.push('database');
  if (state.replication === undefined) missing.push('replication');
  if (deps.config.databases.some((d) => d.pitr) && state.wal === undefined) missing.push('wal');

  const databases = deps.config.databases.map((db): DatabaseOverview => {
    const reasons = alerts.filter((a) => a.labels['database'] === db.name).map(reasonOf);
    if (state.catalog === undefined) {
      reasons.push({
        rule: 'FiguresMissing',
        severity: 'warning',
        summary: 'backup figures are unavailable (the catalog could not be read): recoverability is unknown',
        labels: { database: db.name },
      });
    }
    const series = state.catalog?.series.filter((s) => s.database === db.name) ?? [];
    const kinds = KINDS.filter((k) => k === 'full' || db.pitr || series.some((s) => s.type === k && s.lastSuccessAt)).map((kind): KindStatus => {
      const s = series.find((x) => x.type === kind);
      return {
        kind,
        lastSuccessAt: iso(s?.lastSuccessAt),
        ageSeconds: secondsSince(now, s?.lastSuccessAt),
        lastSizeBytes: s?.lastSize ?? null,
        sizeRatio: s?.sizeRatio ?? null,
        lastStatus: s?.lastStatus ?? null,
      };
    });
    const verifiedAt = series.map((s) => s.lastVerifiedAt).filter((d): d is Date => d !== null).sort((a, b) => b.getTime() - a.getTime())[0];
    const verification = series.find((s) => s.type === 'full')?.lastVerificationOk ?? null;
    const drill = series.find((s) => s.type === 'full')?.drill;
    const wal = state.wal?.find((w) => w.database === db.name);
    const up = state.databases?.find((d) => d.database === db.name)?.up ?? null;
    const report = state.replication?.get(db.name);
    const dbAlerts: RecordedAlert[] = recorded
      .filter((a) => a.labels['database'] === db.name)
      .map((a) => ({ id: null, fingerprint: a.fingerprint, rule: a.rule, severity: a.severity, summary: a.summary, labels: a.labels, startsAt: a.startsAt.toISOString(), silenced: a.silenced }));
    return {
      database: db.name,
      pitr: db.pitr,
      state: stateOf(reasons),
      reasons: reasons.sort((a, b) => RANK[stateOf([b])] - RANK[stateOf([a])]),
      up,
      kinds,
      verification: { lastVerifiedAt: iso(verifiedAt), lastOk: verification },
      drill: {
        lastStatus: drill?.lastStatus ?? null,
        lastSuccessAt: iso(drill?.lastSuccessAt),
        rtoSeconds: drill?.lastSuccessDurationSeconds ?? null,
        lastError: drill?.lastError ?? null,
      },
      rpoSeconds: db.pitr ? secondsSince(now, wal?.lastSegmentAt) : null,
      standbys: (report?.standbys ?? []).map((s) => ({ name: s.name, connected: s.connected, lagSeconds: s.lagSeconds, lagBytes: s.lagBytes })),
      targets: targetsOf(copies.rows.filter((c) => c.database === db.name)),
      alerts: dbAlerts,
    };
  });

  const counts: Record<RecoveryState, number> = { ok: 0, warning: 0, critical: 0 };
  for (const d of databases) counts[d.state]++;
  return {
    at: now.toISOString(),
    figuresAt: iso(deps.figuresAt()),
    missing,
    counts,
    databases,
    storage: (state.storage ?? []).map((s) => ({ target: s.target, up: s.up, error: s.error, usedBytes: s.usedBytes, freeBytes: s.freeBytes, monthlyCostDollars: s.monthlyCostDollars ?? null })),
    globalReasons: alerts.filter((a) => a.labels['database'] === undefined).map(reasonOf),
  };
}
