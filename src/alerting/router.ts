// Routes an alert plan to channels by severity (alerts.routes), one grouped message per channel and kind,
// each channel delivered on its own (with retries and backoff) so a channel that is down or slow never
// holds up another. Every attempt is recorded in alert_notifications and counted for the metrics.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { AlertPlan, PlannedAlert } from './evaluator.js';
import { type ChannelName, type Notification, type Notifier, NotifyError, type Severity } from './notify-types.js';
import { type AttemptResult, type DeliverOptions, deliver } from './retry.js';

export type Routes = Readonly<Record<Severity, readonly ChannelName[]>>;

/** A route for particular alerts: the first override whose every matcher fits decides the channels. */
export interface RouteOverride {
  match: { database?: string | undefined; rule?: string | undefined; severity?: Severity | undefined };
  channels: readonly ChannelName[];
}

export function channelsFor(alert: Pick<PlannedAlert['alert'], 'rule' | 'severity' | 'labels'>, routes: Routes, overrides: readonly RouteOverride[] = []): readonly ChannelName[] {
  const hit = overrides.find(
    (o) =>
      (o.match.database === undefined || o.match.database === alert.labels['database']) &&
      (o.match.rule === undefined || o.match.rule === alert.rule) &&
      (o.match.severity === undefined || o.match.severity === alert.severity),
  );
  return hit ? hit.channels : routes[alert.severity];
}

export interface RouterOptions {
  notifiers: ReadonlyMap<ChannelName, Notifier>;
  routes: Routes;
  overrides?: readonly RouteOverride[] | undefined;
  pool: pg.Pool;
  logger: Logger;
  deliverOptions?: Omit<DeliverOptions, 'onAttempt'>;
  /** Counts every finished delivery per channel: 'sent' or 'failed'. */
  onDelivery?: (channel: ChannelName, result: 'sent' | 'failed') => void;
  /** e.g. the service's URL, for links in messages. */
  source?: string;
}

export interface RouteOutcome {
  channel: ChannelName;
  kind: Notification['kind'];
  alerts: number;
  result: 'sent' | 'failed' | 'skipped';
  error?: string;
}

export interface Router {
  route(plan: AlertPlan): Promise<RouteOutcome[]>;
  /** `pgwarden alert test`: one test message through one channel, recorded like any other. */
  test(channel: ChannelName): Promise<RouteOutcome>;
}

export function createRouter(options: RouterOptions): Router {
  const { notifiers, routes, pool, logger } = options;

  const record = async (planned: readonly PlannedAlert[], channel: ChannelName, kind: Notification['kind'], attempt: number, result: AttemptResult, error?: NotifyError) => {
    for (const p of planned) {
      await pool
        .query('INSERT INTO pgwarden.alert_notifications (event_id, channel, kind, attempt, result, error) VALUES ($1, $2, $3, $4, $5, $6)', [
          p.eventId,
          channel,
          kind,
          attempt,
          result,
          error?.message ?? null,
        ])
        .catch((e: unknown) => logger.warn({ err: e }, 'could not record a notification attempt'));
    }
  };

  const send = async (channel: ChannelName, kind: Notification['kind'], planned: PlannedAlert[]): Promise<RouteOutcome> => {
    const notifier = notifiers.get(channel);
    if (!notifier) {
      // A route may name a channel that is not configured: log-only setups stay valid.
      logger.info({ channel, kind, alerts: planned.map((p) => p.alert.summary) }, 'alert not sent: channel not configured');
      return { channel, kind, alerts: planned.length, result: 'skipped' };
    }
    const attempts: Promise<void>[] = [];
    try {
      await deliver(notifier, { kind, alerts: planned.map((p) => p.alert), source: options.source }, {
        ...options.deliverOptions,
        onAttempt: (attempt, result, error) => {
          attempts.push(record(planned, channel, kind, attempt, result, error));
        },
      });
      await Promise.all(attempts);
      options.onDelivery?.(channel, 'sent');
      return { channel, kind, alerts: planned.length, result: 'sent' };
    } catch (error) {
      await Promise.all(attempts);
      options.onDelivery?.(channel, 'failed');
      const message = error instanceof Error ? error.message : String(error);
      logger.error({ channel, kind, err: message }, 'alert notification failed');
      return { channel, kind, alerts: planned.length, result: 'failed', error: message };
    }
  };

  return {
    async route(plan) {
      const jobs: Promise<RouteOutcome>[] = [];
      for (const kind of ['firing', 'repeat', 'resolved'] as const) {
        const perChannel = new Map<ChannelName, PlannedAlert[]>();
        for (const planned of plan[kind]) {
          for (const channel of channelsFor(planned.alert, routes, options.overrides)) {
            const list = perChannel.get(channel) ?? [];
            list.push(planned);
            perChannel.set(channel, list);
          }
        }
        for (const [channel, planned] of perChannel) jobs.push(send(channel, kind, planned));
      }
      return Promise.all(jobs);
    },

    async test(channel) {
      const notifier = notifiers.get(channel);
      if (!notifier) throw new NotifyError(channel, `channel ${channel} is not configured (channels.${channel})`, { recoverable: false, reason: 'other' });
      const now = new Date();
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO pgwarden.alert_events (fingerprint, rule, severity, labels, summary, status, started_at, resolved_at, last_sent_at)
         VALUES ($1, 'Test', 'info', '{}', $2, 'resolved', $3, $3, $3) RETURNING id`,
        [`test-${now.getTime()}`, `pgwarden test message to ${channel}`, now],
      );
      const planned: PlannedAlert[] = [
        {
          eventId: Number(rows[0]!.id),
          alert: { fingerprint: `test-${now.getTime()}`, rule: 'Test', severity: 'info', labels: {}, summary: `pgwarden test message to ${channel}`, startsAt: now, status: 'firing' },
        },
      ];
      const outcome = await send(channel, 'test', planned);
      if (outcome.result === 'failed') throw new NotifyError(channel, outcome.error?.replace(new RegExp(`^${channel}: `), '') ?? 'failed', { recoverable: false, reason: 'other' });
      return outcome;
    },
  };
}
