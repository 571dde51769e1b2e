// The notifiers' contract: what the router hands a channel (a grouped Notification), the one interface every
// channel implements, and the one error they throw, which says whether another attempt may help.
import type { Agent as HttpsAgent } from 'node:https';
import { PgwardenError } from '../errors.js';

export type Severity = 'critical' | 'warning' | 'info';
export type ChannelName = 'email' | 'slack' | 'pagerduty' | 'sms';

export const CHANNEL_NAMES: readonly ChannelName[] = ['email', 'slack', 'pagerduty', 'sms'];

export interface AlertInstance {
  fingerprint: string; // stable id: rule + sorted labels, hex; PagerDuty dedup_key
  rule: string; // 'BackupMissing'
  severity: Severity;
  labels: Record<string, string>; // database, type, standby, target…
  summary: string; // one line for humans
  description?: string;
  startsAt: Date;
  endsAt?: Date; // set when resolved
  status: 'firing' | 'resolved';
}

export interface Notification {
  kind: 'firing' | 'repeat' | 'resolved' | 'test';
  /** All alerts for one channel at once (grouped); one message per channel per notification. */
  alerts: AlertInstance[];
  /** e.g. the service's URL, for links in messages. */
  source?: string;
}

export interface Notifier {
  readonly channel: ChannelName;
  /** Throws NotifyError; `recoverable` says whether a retry may help (5xx, 429, timeouts, connection errors) or not (other 4xx, auth). */
  notify(notification: Notification, signal: AbortSignal): Promise<void>;
}

/**
 * Why a delivery failed, as a small fixed set so delivery metrics can carry it as a `reason` label created
 * at 0 up front (rules then work before the first failure).
 */
export const NOTIFY_FAILURE_REASONS = [
  'client_error', // a 4xx other than 429, a rejected message or recipient: the same request will fail again
  'server_error', // a 5xx, a transient SMTP reply
  'rate_limited', // 429 or the service's own rate-limit answer
  'auth', // the credentials were refused
  'tls', // the server's certificate is not trusted, or TLS could not be set up
  'timeout', // no answer within the attempt's time
  'connection', // refused, reset, DNS: the service could not be reached
  'aborted', // pgwarden cancelled the delivery (shutdown)
  'other',
] as const;
export type NotifyFailureReason = (typeof NOTIFY_FAILURE_REASONS)[number];

export interface NotifyErrorOptions {
  /** Whether another attempt may succeed. */
  recoverable: boolean;
  reason: NotifyFailureReason;
  /** The HTTP status (or SMTP reply code) the service answered with, when it answered. */
  status?: number;
  /** How many attempts this error sums up; 1 for a notifier's own error. */
  attempts?: number;
  hints?: string[];
}

/**
 * A channel could not deliver. The message is `<channel>: <detail>` and never contains a secret: notifiers
 * build it from what they know (status, the service's error code) and scrub their credentials from it, and
 * never attach the library's error as `cause` (those carry request configs with auth headers).
 */
export class NotifyError extends PgwardenError {
  override readonly code = 'NOTIFY_FAILED';
  readonly channel: ChannelName;
  readonly recoverable: boolean;
  readonly reason: NotifyFailureReason;
  readonly status?: number;
  readonly attempts: number;
  /** The message without the channel prefix, so retries can fold several attempts into one message. */
  readonly detail: string;

  constructor(channel: ChannelName, detail: string, options: NotifyErrorOptions) {
    super(`${channel}: ${detail}`, { hints: options.hints ?? [] });
    this.channel = channel;
    this.detail = detail;
    this.recoverable = options.recoverable;
    this.reason = options.reason;
    if (options.status !== undefined) this.status = options.status;
    this.attempts = options.attempts ?? 1;
  }
}

/** What a notifier factory may be given besides its channel's config. */
export interface NotifierDeps {
  /**
   * Time in ms a library may spend on one request before giving up by itself (connection, greeting, socket).
   * The retry layer enforces its own per-attempt timeout through the signal; this is the inner safety net.
   */
  requestTimeoutMs?: number;
  /** Extra CA certificates (PEM) to trust for SMTP TLS, PagerDuty and Twilio: a private CA, or a test's self-signed cert. */
  ca?: string | Buffer | (string | Buffer)[];
  /** The HTTPS agent PagerDuty's requests use; built from `ca` when absent. */
  httpsAgent?: HttpsAgent;
  /** For the libraries' own chatter (debug) and partial failures (warn). */
  logger?: NotifyLogger;
  /** Names the sender in PagerDuty's `payload.source` when the notification has no `source`; defaults to the host name. */
  hostname?: string;
}

/** The slice of a pino logger the notifiers use. */
export interface NotifyLogger {
  debug(object: object, message?: string): void;
  warn(object: object, message?: string): void;
}
