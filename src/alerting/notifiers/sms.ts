// SMS through Twilio (messages.create), one text to each configured number, each at most one 160-character
// GSM-7 segment. Which severities go out by SMS is the router's decision, not this notifier's.
// Twilio's client has no base-URL option: a RequestClient subclass moves each request onto `apiUrl`.
import twilio from 'twilio';
import type { ChannelsConfig } from '../../config/types.js';
import type { Notification, Notifier, NotifierDeps } from '../notify-types.js';
import { NotifyError } from '../notify-types.js';
import { type FailureContext, scrub, secretForms, statusFailure, transportFailure } from './failure.js';
import { orderedAlerts, subjectOf, tagOf } from './format.js';

export type SmsChannelConfig = NonNullable<ChannelsConfig['sms']>;
type RequestOptions<T> = Parameters<twilio.RequestClient['request']>[0] & { data?: T };

/** One SMS segment in the GSM 03.38 alphabet; a single character outside it would cut a segment to 70. */
export const SMS_MAX_LENGTH = 160;

/** Twilio's HTTP client, sending to `baseUrl` instead of api.twilio.com, under one attempt's signal, noting each status. */
class TwilioHttpClient extends twilio.RequestClient {
  lastStatus: number | undefined;
  private readonly baseUrl: URL | undefined;

  constructor(baseUrl: string | undefined, signal: AbortSignal, options: { timeout: number; ca?: NotifierDeps['ca'] }) {
    // Twilio takes one PEM string or buffer: a list of certificates becomes one bundle.
    const ca = Array.isArray(options.ca) ? options.ca.map(String).join('\n') : options.ca;
    super({ timeout: options.timeout, keepAlive: false, ...(ca === undefined ? {} : { ca }) });
    this.baseUrl = baseUrl === undefined ? undefined : new URL(baseUrl);
    this.axios.interceptors.request.use((config) => {
      config.signal = signal;
      return config;
    });
  }

  override async request<TData>(opts: RequestOptions<TData>) {
    const uri = this.baseUrl === undefined ? opts.uri : rebase(opts.uri, this.baseUrl);
    const response = await super.request<TData>({ ...opts, uri });
    this.lastStatus = response.statusCode;
    return response;
  }
}

/** https://api.twilio.com/2010-04-01/… onto the configured base URL, keeping any path prefix it has. */
function rebase(uri: string, base: URL): string {
  const original = new URL(uri);
  const prefix = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${prefix}${original.pathname}${original.search}`;
}

export function createSmsNotifier(config: SmsChannelConfig, deps: NotifierDeps = {}): Notifier {
  const context: FailureContext = { channel: 'sms', secrets: secretForms([config.authToken], [`${config.accountSid}:${config.authToken}`]) };
  const timeout = deps.requestTimeoutMs ?? 30_000;
  // Numbers already sent to for a notification: a retry after a partial failure texts only the others.
  const delivered = new WeakMap<Notification, Set<string>>();

  async function sendOne(to: string, body: string, signal: AbortSignal): Promise<void> {
    const httpClient = new TwilioHttpClient(config.apiUrl, signal, { timeout, ...(deps.ca === undefined ? {} : { ca: deps.ca }) });
    const client = twilio(config.accountSid, config.authToken, { httpClient, autoRetry: false });
    try {
      await client.messages.create({ to, from: config.from, body });
    } catch (error) {
      const e = error as { status?: unknown; code?: unknown; message?: unknown };
      const status = typeof e.status === 'number' ? e.status : httpClient.lastStatus;
      if (status !== undefined && status >= 300) {
        const code = typeof e.code === 'number' ? ` (Twilio error ${e.code})` : '';
        const said = typeof e.message === 'string' && !e.message.startsWith('[HTTP ') ? `${e.message}${code}` : code.trim() || undefined;
        throw statusFailure(context, status, said);
      }
      throw transportFailure(context, error, signal);
    }
  }

  return {
    channel: 'sms',
    async notify(notification: Notification, signal: AbortSignal): Promise<void> {
      const body = smsBody(notification);
      if (body === undefined) return;
      let done = delivered.get(notification);
      if (done === undefined) {
        done = new Set();
        delivered.set(notification, done);
      }
      const sentTo = done;
      const pending = config.to.filter((to) => !sentTo.has(to));
      const results = await Promise.allSettled(
        pending.map(async (to) => {
          await sendOne(to, body, signal);
          sentTo.add(to);
        }),
      );
      const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ to: pending[i], error: toNotifyError(context, r.reason, signal) }] : []));
      const first = failures[0];
      if (first === undefined) return;
      const count = failures.length === 1 ? `to ${first.to}` : `to ${failures.length} of ${pending.length} numbers (${failures.map((f) => f.to).join(', ')}), first`;
      throw new NotifyError('sms', scrub(`${count}: ${first.error.detail}`, context.secrets), {
        // Another attempt may reach a number that failed for a passing reason.
        recoverable: failures.some((f) => f.error.recoverable),
        reason: first.error.reason,
        ...(first.error.status === undefined ? {} : { status: first.error.status }),
        hints: [...new Set(failures.flatMap((f) => f.error.hints))],
      });
    },
  };
}

function toNotifyError(context: FailureContext, error: unknown, signal: AbortSignal): NotifyError {
  return error instanceof NotifyError ? error : transportFailure(context, error, signal);
}

/**
 * "[CRITICAL] BackupMissing hotel_extranet (+2 more): no successful full backup in 26 h", cut to one segment:
 * the tag, rule, subject and count are kept (the subject shortened if it must be), the summary fills what is left.
 */
export function smsBody(notification: Notification): string | undefined {
  const alerts = orderedAlerts(notification);
  const first = alerts[0];
  if (first === undefined) return undefined;
  const head = `[${tagOf(notification, first)}] ${toGsm(first.rule)}`;
  const count = alerts.length > 1 ? ` (+${alerts.length - 1} more)` : '';
  const subjectText = subjectOf(first);
  let subject = subjectText === undefined ? '' : ` ${toGsm(subjectText)}`;
  const room = SMS_MAX_LENGTH - gsmLength(head) - gsmLength(count);
  if (gsmLength(subject) > room) subject = cut(subject, Math.max(room, 0));
  const essential = cut(`${head}${subject}${count}`, SMS_MAX_LENGTH);
  const left = SMS_MAX_LENGTH - gsmLength(essential) - 2;
  // A few characters of summary say nothing: leave it out rather than send "no su...".
  if (left < 12) return essential;
  return `${essential}: ${cut(toGsm(first.summary.replace(/\s+/g, ' ').trim()), left)}`;
}

// GSM 03.38: the basic set costs one septet, the extension set two (escape + character).
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const GSM_EXTENSION = new Set('^{}\\[~]|€');
const LOOKALIKES: Record<string, string> = { '…': '...', '–': '-', '—': '-', '‘': "'", '’': "'", '“': '"', '”': '"', '×': 'x', '\t': ' ', '\u00a0': ' ' };

/** Text in the GSM alphabet: lookalikes replaced, accents dropped where GSM lacks the letter ("á" → "a"), anything else "?". */
export function toGsm(text: string): string {
  let out = '';
  for (const char of text.normalize('NFC')) {
    if (GSM_BASIC.has(char) || GSM_EXTENSION.has(char)) out += char;
    else out += LOOKALIKES[char] ?? baseLetter(char) ?? '?';
  }
  return out;
}

function baseLetter(char: string): string | undefined {
  const base = char.normalize('NFD')[0];
  return base !== undefined && base !== char && GSM_BASIC.has(base) ? base : undefined;
}

/** Septets the text takes in one GSM-7 segment. */
export function gsmLength(text: string): number {
  let length = 0;
  for (const char of text) length += GSM_EXTENSION.has(char) ? 2 : 1;
  return length;
}

/** At most `max` septets, ending in "..." when shortened. */
function cut(text: string, max: number): string {
  if (gsmLength(text) <= max) return text;
  if (max <= 3) return '.'.repeat(Math.max(max, 0));
  let out = '';
  for (const char of text) {
    if (gsmLength(out + char) > max - 3) break;
    out += char;
  }
  return `${out.trimEnd()}...`;
}
