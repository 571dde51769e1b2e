// The alerting loop of `pgwarden serve`: after every job and health check, evaluate the rules on the figures
// the metrics show, reconcile with the alert state in the catalog, and route what must be sent. Also the
// API's entry points: firing alerts, silences, Alertmanager's webhook, and test messages.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { MetricsState } from '../metrics/types.js';
import { addSilence, firingAlerts, reconcileAlerts } from './evaluator.js';
import type { AlertInstance, ChannelName, Notifier, Severity } from './notify-types.js';
import { createRouter, type RouteOutcome } from './router.js';
import { evaluateRules, fingerprint } from './rules.js';
import type { DeliverOptions } from './retry.js';

export interface AlertingOptions {
  config: Config;
  pool: pg.Pool;
  logger: Logger;
  notifiers: ReadonlyMap<ChannelName, Notifier>;
  /** The figures the rules look at (the metrics service's state). */
  state: () => MetricsState;
  now: () => Date;
  deliverOptions?: Omit<DeliverOptions, 'onAttempt'>;
  onDelivery?: (channel: ChannelName, result: 'sent' | 'failed') => void;
  onEvaluated?: (firing: readonly AlertInstance[]) => void;
  source?: string;
}

export interface Alerting {
  /** One evaluation: rules → state → notifications. Serialised: overlapping calls wait for each other. */
  evaluate(): Promise<RouteOutcome[]>;
  alerts(): Promise<unknown[]>;
  silence(input: { matchers: Record<string, string>; durationSeconds: number; comment?: string | undefined; actor: string }): Promise<unknown>;
  alertmanagerWebhook(body: { alerts: unknown[] }): Promise<void>;
  test(channel: ChannelName): Promise<RouteOutcome>;
}

interface AlertmanagerAlert {
  status?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  fingerprint?: string;
}

const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

/** Every alert the built-in rules fire on these figures: what evaluate() notifies and the status page shows. */
export function alertsOfState(config: Pick<Config, 'alerts' | 'databases'>, state: MetricsState, now: Date): AlertInstance[] {
  return evaluateRules({
    now,
    thresholds: config.alerts.thresholds,
    databases: config.databases.map((d) => ({ name: d.name, pitr: d.pitr, thresholds: d.alerts })),
    series: state.catalog?.series,
    databaseStatus: state.databases,
    replication: state.replication,
    storage: state.storage,
    copies: state.catalog?.copies,
    wal: state.wal,
  });
}

export function createAlerting(options: AlertingOptions): Alerting {
  const { config, pool, logger } = options;
  const router = createRouter({
    notifiers: options.notifiers,
    routes: config.alerts.routes,
    overrides: config.alerts.overrides,
    pool,
    logger,
    deliverOptions: options.deliverOptions,
    onDelivery: options.onDelivery,
    source: options.source,
  });
  // Alertmanager already notifies its own receivers: its webhook alerts go only to what it lacks (SMS by default).
  const webhookRouter = createRouter({
    notifiers: options.notifiers,
    routes: config.alerts.webhookRoutes,
    pool,
    logger,
    deliverOptions: options.deliverOptions,
    onDelivery: options.onDelivery,
    source: options.source,
  });
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = chain.then(work, work);
    chain = next.catch(() => {});
    return next;
  };

  return {
    evaluate: () =>
      serial(async () => {
        const now = options.now();
        const firing = alertsOfState(config, options.state(), now);
        options.onEvaluated?.(firing);
        const plan = await reconcileAlerts(pool, firing, { now, repeatIntervalMs: config.alerts.repeatIntervalMs });
        const sent = plan.firing.length + plan.repeat.length + plan.resolved.length;
        if (sent > 0) logger.info({ firing: plan.firing.length, repeat: plan.repeat.length, resolved: plan.resolved.length }, 'alerts changed');
        return router.route(plan);
      }),

    alerts: () => firingAlerts(pool, options.now()),

    async silence(input) {
      return addSilence(pool, { matchers: input.matchers, startsAt: options.now(), durationSeconds: input.durationSeconds, comment: input.comment, createdBy: input.actor });
    },

    alertmanagerWebhook: (body) =>
      serial(async () => {
        // Alertmanager decides firing and resolved itself; pgwarden adds the channels it lacks (SMS) and records.
        const alerts: AlertInstance[] = (body.alerts as AlertmanagerAlert[]).map((a) => {
          const labels = { ...(a.labels ?? {}) };
          const rule = labels['alertname'] ?? 'Alertmanager';
          const severity = SEVERITIES.includes(labels['severity'] as Severity) ? (labels['severity'] as Severity) : 'warning';
          delete labels['alertname'];
          delete labels['severity'];
          return {
            fingerprint: a.fingerprint ? `am-${a.fingerprint}` : fingerprint(rule, severity, labels),
            rule,
            severity,
            labels,
            summary: a.annotations?.['summary'] ?? rule,
            description: a.annotations?.['description'],
            startsAt: a.startsAt ? new Date(a.startsAt) : options.now(),
            status: a.status === 'resolved' ? 'resolved' : 'firing',
          };
        });
        const plan = await reconcileAlerts(pool, alerts, { now: options.now(), repeatIntervalMs: config.alerts.repeatIntervalMs, source: 'alertmanager', resolveAbsent: false });
        await webhookRouter.route(plan);
      }),

    test: (channel) => router.test(channel),
  };
}
