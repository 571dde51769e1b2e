// Slack through the Web API (chat.postMessage): one message per notification, a header and one coloured
// attachment per alert (red, orange, blue by severity; green once resolved), with a plain-text fallback.
// The client's own retries are off: pgwarden's retry layer owns them (its default retries for ~30 minutes).
import { ErrorCode, type Logger as SlackLogger, LogLevel, type MessageAttachment, WebClient } from '@slack/web-api';
import type { ChannelsConfig } from '../../config/types.js';
import type { AlertInstance, Notification, Notifier, NotifierDeps, NotifyLogger } from '../notify-types.js';
import { NotifyError } from '../notify-types.js';
import { authHint, type FailureContext, oneLine, scrub, secretForms, statusFailure, transportFailure } from './failure.js';
import { alertName, labelText, leadOf, orderedAlerts, sourceUrl, titleOf, whenText } from './format.js';

export type SlackChannelConfig = NonNullable<ChannelsConfig['slack']>;

export const SLACK_COLOURS = { critical: '#d92d20', warning: '#f79009', info: '#2e90fa', resolved: '#12b76a' } as const;

/** Slack shows at most this many alerts as attachments; the rest are counted. */
const MAX_ATTACHMENTS = 20;

export interface SlackMessage {
  text: string;
  blocks: object[];
  attachments: MessageAttachment[];
}

export function createSlackNotifier(config: SlackChannelConfig, deps: NotifierDeps = {}): Notifier {
  const context: FailureContext = { channel: 'slack', secrets: secretForms([config.token]) };
  const logger = slackLogger(deps.logger);

  return {
    channel: 'slack',
    async notify(notification: Notification, signal: AbortSignal): Promise<void> {
      const message = renderSlack(notification);
      if (message === undefined) return;
      let status: number | undefined;
      // A client per notification, so its fetch carries this attempt's signal and reports the HTTP status.
      const client = new WebClient(config.token, {
        slackApiUrl: config.apiUrl ?? 'https://slack.com/api/',
        retryConfig: { retries: 0 },
        // Otherwise a 429 makes the client sleep for Retry-After before it even fails.
        rejectRateLimitedCalls: true,
        timeout: deps.requestTimeoutMs ?? 30_000,
        logger,
        fetch: async (url, init) => {
          const response = await fetch(url, { ...init, signal: init?.signal === undefined ? signal : AbortSignal.any([init.signal, signal]) });
          status = response.status;
          return response;
        },
      });
      try {
        await client.chat.postMessage({ channel: config.channel, ...message, unfurl_links: false, unfurl_media: false });
      } catch (error) {
        throw slackFailure(context, error, status, signal);
      }
    },
  };
}

const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'missing_scope', 'not_allowed_token_type', 'no_permission', 'ekm_access_denied']);
const TRANSIENT_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);
const CHANNEL_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived']);

function slackFailure(context: FailureContext, error: unknown, status: number | undefined, signal: AbortSignal): NotifyError {
  const e = error as { code?: string; data?: { error?: unknown }; statusCode?: number; body?: unknown; retryAfter?: number; original?: unknown };
  switch (e.code) {
    case ErrorCode.PlatformError: {
      // Slack answers 200 with { ok: false, error } for everything it refuses.
      const code = scrub(oneLine(String(e.data?.error ?? 'unknown_error'), 80), context.secrets);
      const detail = `Slack refused the message: ${code}`;
      if (code === 'ratelimited' || code === 'rate_limited') return new NotifyError('slack', detail, { recoverable: true, reason: 'rate_limited', ...statusField(status) });
      if (AUTH_ERRORS.has(code)) return new NotifyError('slack', detail, { recoverable: false, reason: 'auth', ...statusField(status), hints: [authHint('slack')] });
      if (TRANSIENT_ERRORS.has(code)) return new NotifyError('slack', detail, { recoverable: true, reason: 'server_error', ...statusField(status) });
      const hints = CHANNEL_ERRORS.has(code) ? ['check channels.slack.channel, and invite the pgwarden app to that channel'] : [];
      return new NotifyError('slack', detail, { recoverable: false, reason: 'client_error', ...statusField(status), hints });
    }
    case ErrorCode.RateLimitedError:
      return new NotifyError('slack', `HTTP 429: rate limited, Slack asks to wait ${e.retryAfter ?? '?'} s`, { recoverable: true, reason: 'rate_limited', status: 429 });
    case ErrorCode.HTTPError:
      return statusFailure(context, e.statusCode ?? status ?? 0, typeof e.body === 'string' ? e.body : undefined);
    case ErrorCode.RequestError:
      return transportFailure(context, e.original ?? error, signal);
    default:
      // e.g. a 429 without a usable Retry-After, which the client reports as a plain Error.
      if (status !== undefined && status !== 200) return statusFailure(context, status, undefined);
      return transportFailure(context, error, signal);
  }
}

function statusField(status: number | undefined): { status?: number } {
  return status === undefined ? {} : { status };
}

/** The client's own log lines are only of interest when debugging: failures are reported by pgwarden itself. */
function slackLogger(logger: NotifyLogger | undefined): SlackLogger {
  let level = LogLevel.WARN;
  const log = (...parts: unknown[]) => logger?.debug({ channel: 'slack', library: '@slack/web-api' }, parts.map(String).join(' '));
  return {
    debug: () => {},
    info: log,
    warn: log,
    error: log,
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

/** The chat.postMessage arguments for a notification; undefined when there is nothing to say. */
export function renderSlack(notification: Notification): SlackMessage | undefined {
  const alerts = orderedAlerts(notification);
  if (alerts.length === 0) return undefined;
  const title = titleOf(notification, alerts);
  const link = sourceUrl(notification);
  const blocks: object[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, 150), emoji: false } },
    { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(leadOf(notification, alerts)) } },
  ];
  const shown = alerts.slice(0, MAX_ATTACHMENTS);
  const hidden = alerts.length - shown.length;
  const footer = [hidden > 0 ? `…and ${hidden} more alert${hidden === 1 ? '' : 's'}` : undefined, link === undefined ? notification.source : `<${link}|pgwarden>`]
    .filter((part) => part !== undefined)
    .join(' · ');
  if (footer !== '') blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: footer }] });
  return { text: title, blocks, attachments: shown.map(alertAttachment) };
}

function alertAttachment(alert: AlertInstance): MessageAttachment {
  const tag = alert.status === 'resolved' ? 'RESOLVED' : alert.severity.toUpperCase();
  const colour = alert.status === 'resolved' ? SLACK_COLOURS.resolved : SLACK_COLOURS[alert.severity];
  const lines = [`*${tag}* ${escapeMrkdwn(alertName(alert))}`, escapeMrkdwn(alert.summary)];
  if (alert.description !== undefined) lines.push(`_${escapeMrkdwn(alert.description)}_`);
  const labels = labelText(alert.labels);
  const context = [labels === '' ? undefined : `\`${escapeMrkdwn(labels)}\``, escapeMrkdwn(whenText(alert))].filter((part) => part !== undefined).join(' · ');
  return {
    color: colour,
    fallback: `${tag} ${alertName(alert)}: ${alert.summary}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), 3000) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(context, 3000) }] },
    ],
  };
}

/** Slack's mrkdwn treats &, < and > as markup. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
