// PagerDuty through the Events API v2 (@pagerduty/pdjs): one event per alert, `trigger` while it fires and
// `resolve` once it clears, with the alert's fingerprint as dedup_key so both land on the same incident.
// pdjs resolves on any HTTP status, so the status is checked here.
import { hostname as osHostname } from 'node:os';
import { Agent as HttpsAgent } from 'node:https';
import { event } from '@pagerduty/pdjs';
import type { ChannelsConfig } from '../../config/types.js';
import { ConfigError } from '../../errors.js';
import type { AlertInstance, Notification, Notifier, NotifierDeps } from '../notify-types.js';
import { NotifyError } from '../notify-types.js';
import { classifyStatus } from '../retry.js';
import { type FailureContext, oneLine, scrub, secretForms, statusFailure, transportFailure } from './failure.js';
import { alertName, orderedAlerts, sourceUrl } from './format.js';

export type PagerDutyChannelConfig = NonNullable<ChannelsConfig['pagerduty']>;
type EventPayload = Parameters<typeof event>[0]['data'];

export const PAGERDUTY_DEFAULT_URL = 'https://events.pagerduty.com/v2/enqueue';
const ENQUEUE_PATH = '/v2/enqueue';

/**
 * pdjs takes a `server` and always calls `https://${server}/v2/enqueue`: the configured URL must be HTTPS
 * and end in /v2/enqueue; anything before that path (a proxy's prefix) stays part of `server`.
 */
export function pagerDutyServer(url: string): string {
  const parsed = new URL(url);
  const problem =
    parsed.protocol !== 'https:'
      ? 'must be an https:// URL (the PagerDuty client speaks HTTPS only)'
      : !parsed.pathname.endsWith(ENQUEUE_PATH)
        ? `must end in ${ENQUEUE_PATH}, like ${PAGERDUTY_DEFAULT_URL}`
        : parsed.search !== '' || parsed.username !== '' || parsed.password !== ''
          ? 'must not carry a query string or credentials'
          : undefined;
  if (problem !== undefined) throw new ConfigError('invalid PagerDuty channel', [`channels.pagerduty.url: ${problem}`]);
  return `${parsed.host}${parsed.pathname.slice(0, -ENQUEUE_PATH.length)}`;
}

export function createPagerDutyNotifier(config: PagerDutyChannelConfig, deps: NotifierDeps = {}): Notifier {
  const server = pagerDutyServer(config.url ?? PAGERDUTY_DEFAULT_URL);
  const context: FailureContext = { channel: 'pagerduty', secrets: secretForms([config.routingKey]) };
  const agent = deps.httpsAgent ?? (deps.ca === undefined ? undefined : new HttpsAgent({ ca: deps.ca, keepAlive: false }));
  const sender = deps.hostname ?? osHostname();
  // Events already accepted for a notification: a retry after a partial failure sends only the rest.
  const accepted = new WeakMap<Notification, Set<string>>();

  async function send(data: EventPayload, signal: AbortSignal): Promise<void> {
    let response: Awaited<ReturnType<typeof event>>;
    try {
      response = await event({
        server,
        data,
        signal,
        ...(agent === undefined ? {} : { agent }),
        // pdjs retries a 429 three times by itself, waiting 20 s each by default: keep that wait short,
        // the retry layer does the real backing off.
        retryTimeout: 0,
        // pdjs's requestTimeout only arms an empty timer that keeps the process alive: the signal times out instead.
        requestTimeout: 0,
        ...(deps.requestTimeoutMs === undefined ? {} : { timeout: deps.requestTimeoutMs }),
      } as Parameters<typeof event>[0]);
    } catch (error) {
      throw pagerDutyTransportFailure(context, error, signal);
    }
    if (!classifyStatus(response.status).ok) throw statusFailure(context, response.status, describeAnswer(response.data));
  }

  return {
    channel: 'pagerduty',
    async notify(notification: Notification, signal: AbortSignal): Promise<void> {
      const alerts = orderedAlerts(notification);
      let done = accepted.get(notification);
      if (done === undefined) {
        done = new Set();
        accepted.set(notification, done);
      }
      for (const alert of alerts) {
        const data = pagerDutyEvent(config.routingKey, notification, alert, sender);
        const key = `${data.event_action}:${data.dedup_key}`;
        if (done.has(key)) continue;
        await send(data, signal);
        done.add(key);
      }
    },
  };
}

/** The Events API v2 body for one alert. */
export function pagerDutyEvent(routingKey: string, notification: Notification, alert: AlertInstance, sender: string): EventPayload {
  const link = sourceUrl(notification);
  const summary = `${notification.kind === 'test' ? '[TEST] ' : ''}${alertName(alert)}: ${alert.summary}`;
  return {
    routing_key: routingKey,
    event_action: alert.status === 'resolved' ? 'resolve' : 'trigger',
    dedup_key: alert.fingerprint,
    payload: {
      summary: summary.length <= 1024 ? summary : `${summary.slice(0, 1021)}...`,
      source: notification.source ?? sender,
      severity: alert.severity,
      timestamp: alert.startsAt.toISOString(),
      ...(alert.labels['database'] === undefined ? {} : { component: alert.labels['database'] }),
      class: alert.rule,
      custom_details: {
        rule: alert.rule,
        labels: { ...alert.labels },
        ...(alert.description === undefined ? {} : { description: alert.description }),
        starts_at: alert.startsAt.toISOString(),
        ...(alert.endsAt === undefined ? {} : { ends_at: alert.endsAt.toISOString() }),
        notification: notification.kind,
      },
    },
    ...(link === undefined ? {} : { links: [{ href: link, text: 'pgwarden' }] }),
  };
}

/** "Event object is invalid (routing_key is wrong)" from PagerDuty's `{ status, message, errors[] }`. */
function describeAnswer(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { message, errors } = data as { message?: unknown; errors?: unknown };
  const parts = Array.isArray(errors) ? errors.map(String) : [];
  if (typeof message !== 'string') return parts.length > 0 ? parts.join('; ') : undefined;
  return parts.length > 0 ? `${message} (${parts.join('; ')})` : message;
}

function pagerDutyTransportFailure(context: FailureContext, error: unknown, signal: AbortSignal): NotifyError {
  const e = error as { type?: string; message?: string };
  // pdjs parses every answer as JSON before anyone can look at the status: a proxy's HTML error page
  // surfaces here, status unknown. Most such pages are 5xx, so it counts as worth another try.
  if (e.type === 'invalid-json') {
    return new NotifyError('pagerduty', scrub(`the answer was not JSON (${oneLine(e.message ?? '', 120)})`, context.secrets), {
      recoverable: true,
      reason: 'server_error',
      hints: ['check channels.pagerduty.url: it should point at the Events API v2 or a proxy in front of it'],
    });
  }
  if (e.type === 'request-timeout') return new NotifyError('pagerduty', 'timed out waiting for PagerDuty', { recoverable: true, reason: 'timeout' });
  return transportFailure(context, error, signal);
}
