// Turns what the libraries throw or answer into NotifyErrors: a short, specific, secret-free message, the
// failure's reason and whether a retry may help. Library errors are never kept as `cause`: axios and the
// Slack client hang request configs with auth headers on theirs.
import { classifyStatus } from '../retry.js';
import { type ChannelName, NotifyError, type NotifyFailureReason } from '../notify-types.js';

/** A channel's secrets in every form a message could carry them: as is, URL-encoded, base64 (Basic auth, SMTP AUTH). */
export function secretForms(secrets: readonly (string | undefined)[], encoded: readonly string[] = []): string[] {
  const forms = new Set<string>();
  for (const secret of [...secrets, ...encoded]) {
    if (secret === undefined || secret.length < 4) continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
    forms.add(Buffer.from(secret).toString('base64'));
  }
  // Longest first, so a secret inside a longer encoded form is not half-replaced.
  return [...forms].sort((a, b) => b.length - a.length);
}

export function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, secret) => t.split(secret).join('***'), text);
}

/** One line, at most `max` characters: what a service answered can be a whole HTML page. */
export function oneLine(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 3)}...`;
}

export interface FailureContext {
  channel: ChannelName;
  /** From secretForms(); scrubbed from every message. */
  secrets: readonly string[];
}

/** A service answered with a status that is not success; `said` is what its body says (already reduced to the useful part). */
export function statusFailure(context: FailureContext, status: number, said: string | undefined, hints: string[] = []): NotifyError {
  const verdict = classifyStatus(status);
  const recoverable = verdict.ok ? false : verdict.recoverable;
  const reason = verdict.ok ? 'other' : verdict.reason;
  const text = said === undefined || said.trim() === '' ? '' : `: ${oneLine(said)}`;
  const allHints = reason === 'auth' ? [...hints, authHint(context.channel)] : hints;
  return new NotifyError(context.channel, scrub(`HTTP ${status}${text}`, context.secrets), { recoverable, reason, status, hints: allHints });
}

export function authHint(channel: ChannelName): string {
  const field = { email: 'channels.email.user and channels.email.password', slack: 'channels.slack.token', pagerduty: 'channels.pagerduty.routingKey', sms: 'channels.sms.accountSid and channels.sms.authToken' }[channel];
  return `check ${field} in the config`;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ECONNECTION',
  'ESOCKET',
  'EDNS',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ESOCKETTIMEDOUT']);
const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

interface ErrorFacts {
  codes: string[];
  messages: string[];
  isAbort: boolean;
}

/** The codes and messages along an error's `cause` chain: fetch's "fetch failed" hides the socket error in its cause. */
function factsOf(error: unknown): ErrorFacts {
  const facts: ErrorFacts = { codes: [], messages: [], isAbort: false };
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    if (typeof current === 'object') {
      const { code, name, message, originalCode } = current as { code?: unknown; name?: unknown; message?: unknown; originalCode?: unknown };
      if (typeof code === 'string') facts.codes.push(code);
      if (typeof originalCode === 'string') facts.codes.push(originalCode);
      if (typeof message === 'string' && message !== '') facts.messages.push(message);
      if (name === 'AbortError' || code === 'ABORT_ERR' || code === 'ERR_CANCELED' || code === 'EABORT') facts.isAbort = true;
      current = (current as { cause?: unknown }).cause;
    } else {
      facts.messages.push(String(current));
      break;
    }
  }
  return facts;
}

/**
 * An error thrown while talking to the service (no status to go by): connection problems and timeouts may
 * pass, an untrusted certificate will not, and an abort is the retry layer's business (it knows whether it
 * was a deadline or a shutdown).
 */
export function transportFailure(context: FailureContext, error: unknown, signal?: AbortSignal): NotifyError {
  const facts = factsOf(error);
  // The innermost message is the specific one ("connect ECONNREFUSED 127.0.0.1:4000", not "fetch failed").
  const said = scrub(oneLine(facts.messages.at(-1) ?? 'unknown error'), context.secrets);
  const make = (detail: string, recoverable: boolean, reason: NotifyFailureReason, hints: string[] = []) =>
    new NotifyError(context.channel, scrub(detail, context.secrets), { recoverable, reason, hints });

  if (signal?.aborted || facts.isAbort) return make('request aborted', false, 'aborted');
  const cert = facts.codes.find((c) => CERT_CODES.has(c));
  if (cert !== undefined) {
    return make(`TLS certificate not trusted (${cert}): ${said}`, false, 'tls', [
      'give pgwarden the CA that signed the server certificate (NODE_EXTRA_CA_CERTS), or fix the certificate',
    ]);
  }
  if (facts.codes.includes('ETLS') || facts.codes.some((c) => c.startsWith('ERR_SSL') || c.startsWith('ERR_TLS'))) {
    return make(`TLS failed: ${said}`, false, 'tls', ['check that the port and the TLS setting (secure) match what the server speaks']);
  }
  const timeout = facts.codes.find((c) => TIMEOUT_CODES.has(c));
  if (timeout !== undefined) return make(`timed out: ${said}`, true, 'timeout');
  const connection = facts.codes.find((c) => CONNECTION_CODES.has(c));
  if (connection !== undefined) return make(`cannot reach the server: ${said}`, true, 'connection');
  return make(`request failed: ${said}`, false, 'other');
}
