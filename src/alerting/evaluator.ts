// Alert state in the catalog (alert_events), so a restart neither pages again nor forgets: compares the alerts
// that should fire now with the ones recorded as firing and decides what to send — a new alert once, a repeat
// every repeat interval, one resolved message when it clears. Each send is claimed with a conditional
// update, so several replicas evaluating at once send it once. Silenced alerts are recorded, not sent.
import type pg from 'pg';
import type { AlertInstance, Severity } from './notify-types.js';

export interface PlannedAlert {
  eventId: number;
  alert: AlertInstance;
}

export interface AlertPlan {
  firing: PlannedAlert[];
  repeat: PlannedAlert[];
  resolved: PlannedAlert[];
}

export interface Silence {
  id: number;
  matchers: Record<string, string>;
  startsAt: Date;
  endsAt: Date;
  comment: string | null;
  createdBy: string;
}

interface EventRow {
  id: string;
  fingerprint: string;
  rule: string;
  severity: Severity;
  labels: Record<string, string>;
  summary: string;
  description: string | null;
  started_at: Date;
  last_sent_at: Date | null;
}

/** An alert matches a silence when every matcher equals the label (`alertname` matches the rule). */
export function silences(alert: Pick<AlertInstance, 'rule' | 'labels' | 'severity'>, active: readonly Silence[]): boolean {
  const labels: Record<string, string> = { alertname: alert.rule, rule: alert.rule, severity: alert.severity, ...alert.labels };
  return active.some((s) => Object.entries(s.matchers).every(([k, v]) => labels[k] === v));
}

export async function activeSilences(pool: pg.Pool, now: Date): Promise<Silence[]> {
  const { rows } = await pool.query<{ id: string; matchers: Record<string, string>; starts_at: Date; ends_at: Date; comment: string | null; created_by: string }>(
    'SELECT id, matchers, starts_at, ends_at, comment, created_by FROM pgwarden.alert_silences WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id',
    [now],
  );
  return rows.map((r) => ({ id: Number(r.id), matchers: r.matchers, startsAt: r.starts_at, endsAt: r.ends_at, comment: r.comment, createdBy: r.created_by }));
}

export async function addSilence(pool: pg.Pool, input: { matchers: Record<string, string>; startsAt: Date; durationSeconds: number; comment?: string | undefined; createdBy: string }): Promise<Silence> {
  const { rows } = await pool.query<{ id: string; ends_at: Date }>(
    `INSERT INTO pgwarden.alert_silences (matchers, starts_at, ends_at, comment, created_by)
     VALUES ($1, $2::timestamptz, $2::timestamptz + make_interval(secs => $3), $4, $5) RETURNING id, ends_at`,
    [JSON.stringify(input.matchers), input.startsAt, input.durationSeconds, input.comment ?? null, input.createdBy],
  );
  return { id: Number(rows[0]!.id), matchers: input.matchers, startsAt: input.startsAt, endsAt: rows[0]!.ends_at, comment: input.comment ?? null, createdBy: input.createdBy };
}

const toAlert = (r: EventRow, status: 'firing' | 'resolved', now: Date): AlertInstance => ({
  fingerprint: r.fingerprint,
  rule: r.rule,
  severity: r.severity,
  labels: r.labels,
  summary: r.summary,
  description: r.description ?? undefined,
  startsAt: r.started_at,
  status,
  ...(status === 'resolved' ? { endsAt: now } : {}),
});

export interface ReconcileOptions {
  now: Date;
  repeatIntervalMs: number;
  /** Which alerts this reconciliation owns: pgwarden's own rules, or those Alertmanager sends. */
  source?: 'pgwarden' | 'alertmanager';
  /** Alertmanager sends firing and resolved explicitly: then absent alerts are not resolved. */
  resolveAbsent?: boolean;
}

export async function reconcileAlerts(pool: pg.Pool, current: readonly AlertInstance[], options: ReconcileOptions): Promise<AlertPlan> {
  const { now } = options;
  const source = options.source ?? 'pgwarden';
  const plan: AlertPlan = { firing: [], repeat: [], resolved: [] };
  const active = await activeSilences(pool, now);
  const { rows: open } = await pool.query<EventRow>(
    `SELECT id, fingerprint, rule, severity, labels, summary, description, started_at, last_sent_at
       FROM pgwarden.alert_events WHERE status = 'firing' AND source = $1`,
    [source],
  );
  const byFingerprint = new Map(open.map((r) => [r.fingerprint, r]));
  const repeatBefore = new Date(now.getTime() - options.repeatIntervalMs);

  for (const alert of current.filter((a) => a.status === 'firing')) {
    const silenced = silences(alert, active);
    const existing = byFingerprint.get(alert.fingerprint);
    if (!existing) {
      // The unique index on firing fingerprints makes one replica's insert win; only the winner sends.
      const { rows } = await pool.query<{ id: string; started_at: Date }>(
        `INSERT INTO pgwarden.alert_events (fingerprint, rule, severity, labels, summary, description, status, started_at, last_sent_at, source)
         VALUES ($1, $2, $3, $4, $5, $6, 'firing', $7, $8, $9)
         ON CONFLICT (fingerprint) WHERE status = 'firing' DO NOTHING RETURNING id, started_at`,
        [alert.fingerprint, alert.rule, alert.severity, JSON.stringify(alert.labels), alert.summary, alert.description ?? null, now, silenced ? null : now, source],
      );
      if (rows[0] && !silenced) plan.firing.push({ eventId: Number(rows[0].id), alert: { ...alert, startsAt: rows[0].started_at } });
      continue;
    }
    if (silenced) continue;
    // Never sent (it was silenced) or sent longer ago than the repeat interval: claim the next send.
    const { rows } = await pool.query<{ id: string; previous: Date | null }>(
      `UPDATE pgwarden.alert_events e SET last_sent_at = $2, summary = $4
         FROM (SELECT id, last_sent_at AS previous FROM pgwarden.alert_events WHERE id = $1) old
        WHERE e.id = old.id AND e.status = 'firing' AND (e.last_sent_at IS NULL OR e.last_sent_at <= $3)
        RETURNING e.id, old.previous`,
      [existing.id, now, repeatBefore, alert.summary],
    );
    if (rows[0]) (rows[0].previous === null ? plan.firing : plan.repeat).push({ eventId: Number(existing.id), alert: { ...alert, startsAt: existing.started_at } });
  }

  const stillFiring = new Set(current.filter((a) => a.status === 'firing').map((a) => a.fingerprint));
  const toResolve =
    options.resolveAbsent === false
      ? open.filter((r) => current.some((a) => a.status === 'resolved' && a.fingerprint === r.fingerprint))
      : open.filter((r) => !stillFiring.has(r.fingerprint));
  for (const row of toResolve) {
    const { rows } = await pool.query<{ last_sent_at: Date | null }>(
      `UPDATE pgwarden.alert_events SET status = 'resolved', resolved_at = $2 WHERE id = $1 AND status = 'firing' RETURNING last_sent_at`,
      [row.id, now],
    );
    // Only an alert someone was told about gets a resolved message.
    if (rows[0]?.last_sent_at) plan.resolved.push({ eventId: Number(row.id), alert: toAlert(row, 'resolved', now) });
  }
  return plan;
}

/** Alerts currently firing, for GET /api/alerts and the alerts_firing gauge. */
export async function firingAlerts(pool: pg.Pool, now: Date): Promise<(AlertInstance & { silenced: boolean; lastSentAt: Date | null })[]> {
  const active = await activeSilences(pool, now);
  const { rows } = await pool.query<EventRow>(
    `SELECT id, fingerprint, rule, severity, labels, summary, description, started_at, last_sent_at
       FROM pgwarden.alert_events WHERE status = 'firing' ORDER BY started_at`,
  );
  return rows.map((r) => {
    const alert = toAlert(r, 'firing', now);
    return { ...alert, silenced: silences(alert, active), lastSentAt: r.last_sent_at };
  });
}
