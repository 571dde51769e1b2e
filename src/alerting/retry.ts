// Delivery with retries, once for every channel (the notifiers themselves never retry): exponential backoff
// with jitter, a timeout per attempt, cancellation checked before every attempt, an immediate stop on an
// error no retry can fix, and all attempts folded into one message. Also the one HTTP status classifier.
import { errorMessage } from '../errors.js';
import { type Notification, type Notifier, NotifyError, type NotifyFailureReason } from './notify-types.js';

export type StatusClass = { ok: true } | { ok: false; recoverable: boolean; reason: NotifyFailureReason };

/**
 * What an HTTP status means for a delivery, for every webhook-style channel (Slack, PagerDuty, Twilio):
 * 2xx delivered; 5xx and 429 worth another try; any other status final (redirects are not followed).
 */
export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status < 300) return { ok: true };
  if (status === 429) return { ok: false, recoverable: true, reason: 'rate_limited' };
  if (status >= 500 && status < 600) return { ok: false, recoverable: true, reason: 'server_error' };
  if (status === 401 || status === 403) return { ok: false, recoverable: false, reason: 'auth' };
  if (status >= 400 && status < 500) return { ok: false, recoverable: false, reason: 'client_error' };
  return { ok: false, recoverable: false, reason: 'other' };
}

export type AttemptResult = 'sent' | 'failed' | 'retrying';

export interface DeliverOptions {
  /** Attempts in all, the first included. Default 5. */
  attempts?: number;
  /** The wait after the first failure; it doubles after each further one. Default 1000 ms. */
  baseDelayMs?: number;
  /** The longest wait between attempts. Default 30 s. */
  maxDelayMs?: number;
  /** One attempt's time; its signal is aborted when it runs out and the attempt counts as a recoverable failure. Default 10 s. */
  timeoutMs?: number;
  /** Cancels the whole delivery (shutdown): checked before every attempt, and ends a running attempt or wait. */
  signal?: AbortSignal;
  /** Called once per attempt: 'sent', 'retrying' (failed, another attempt follows) or 'failed' (failed, no more). */
  onAttempt?: (attempt: number, result: AttemptResult, error?: NotifyError) => void;
  /** [0, 1) for the jitter; tests pin it. */
  random?: () => number;
}

export interface Delivery {
  /** Attempts made, the successful one included. */
  attempts: number;
}

const DEFAULTS = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000, timeoutMs: 10_000 };

/** The wait after failed attempt `attempt` (1-based): base·2^(attempt-1), capped, then jittered into [½, 1] of that. */
export function backoffDelay(attempt: number, options: Pick<DeliverOptions, 'baseDelayMs' | 'maxDelayMs' | 'random'> = {}): number {
  const base = options.baseDelayMs ?? DEFAULTS.baseDelayMs;
  const max = options.maxDelayMs ?? DEFAULTS.maxDelayMs;
  const ceiling = Math.min(max, base * 2 ** (attempt - 1));
  // Equal jitter: spreads retries from many deliveries apart while keeping a floor under the wait.
  return Math.round(ceiling / 2 + (options.random ?? Math.random)() * (ceiling / 2));
}

/**
 * Sends one notification through one notifier, retrying recoverable failures. Resolves once delivered;
 * otherwise rejects with one NotifyError summing up every attempt (reason 'aborted' when cancelled).
 */
export async function deliver(notifier: Notifier, notification: Notification, options: DeliverOptions = {}): Promise<Delivery> {
  const maxAttempts = Math.max(1, Math.floor(options.attempts ?? DEFAULTS.attempts));
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const { signal, onAttempt } = options;
  const errors: NotifyError[] = [];

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (signal?.aborted) throw foldErrors(notifier.channel, errors, 'aborted');
    const error = await attemptOnce(notifier, notification, timeoutMs, signal);
    if (error === undefined) {
      onAttempt?.(attempt, 'sent');
      return { attempts: attempt };
    }
    errors.push(error);
    const stop = error.reason === 'aborted' ? 'aborted' : !error.recoverable ? 'final' : attempt === maxAttempts ? 'exhausted' : undefined;
    onAttempt?.(attempt, stop === undefined ? 'retrying' : 'failed', error);
    if (stop !== undefined) throw foldErrors(notifier.channel, errors, stop);
    try {
      await sleep(backoffDelay(attempt, options), signal);
    } catch {
      throw foldErrors(notifier.channel, errors, 'aborted');
    }
  }
  throw new Error('unreachable: the loop always returns or throws');
}

/** One attempt under its own deadline; undefined when delivered, else the reason it was not. */
async function attemptOnce(notifier: Notifier, notification: Notification, timeoutMs: number, outer: AbortSignal | undefined): Promise<NotifyError | undefined> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`timed out after ${formatMs(timeoutMs)}`));
  }, timeoutMs);
  const onOuterAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  // A notifier that ignores its signal must not hold the delivery past its deadline: race it.
  const aborted = rejectOnAbort(controller.signal);
  try {
    await Promise.race([notifier.notify(notification, controller.signal), aborted.promise]);
    return undefined;
  } catch (error) {
    if (outer?.aborted) return new NotifyError(notifier.channel, 'delivery aborted', { recoverable: false, reason: 'aborted' });
    if (timedOut) {
      return new NotifyError(notifier.channel, `timed out after ${formatMs(timeoutMs)}`, {
        recoverable: true,
        reason: 'timeout',
        hints: [`the ${notifier.channel} endpoint did not answer in time; check that it is reachable from this host`],
      });
    }
    if (error instanceof NotifyError) return error;
    // Notifiers throw NotifyError only; anything else is a bug, and a retry will not fix it.
    return new NotifyError(notifier.channel, `unexpected error: ${errorMessage(error)}`, { recoverable: false, reason: 'other' });
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
    aborted.dispose();
  }
}

type Stop = 'final' | 'exhausted' | 'aborted';

/** One coherent error for the whole delivery: "slack: 3 attempts failed: HTTP 500 … ×2; last: timed out after 10 s". */
export function foldErrors(channel: Notifier['channel'], errors: readonly NotifyError[], stop: Stop): NotifyError {
  const last = errors.at(-1);
  if (last === undefined) return new NotifyError(channel, 'delivery aborted before the first attempt', { recoverable: false, reason: 'aborted', attempts: 0 });
  const hints = [...new Set(errors.flatMap((e) => e.hints))];
  const failed = stop === 'aborted' && last.reason === 'aborted' ? errors.slice(0, -1) : errors;
  const options = { recoverable: stop === 'aborted' ? false : last.recoverable, reason: stop === 'aborted' ? ('aborted' as const) : last.reason, attempts: errors.length, hints };
  const status = failed.at(-1)?.status;
  const withStatus = status === undefined ? options : { ...options, status };

  if (stop === 'aborted') {
    if (failed.length === 0) return new NotifyError(channel, 'delivery aborted during the first attempt', withStatus);
    return new NotifyError(channel, `delivery aborted after ${plural(failed.length, 'failed attempt')}${summarize(failed)}`, withStatus);
  }
  if (errors.length === 1) return new NotifyError(channel, last.detail, withStatus);
  return new NotifyError(channel, `${plural(errors.length, 'attempt')} failed${summarize(errors)}`, withStatus);
}

/** ": A ×2; B; last: C", or ", each: A" when every attempt failed the same way. */
function summarize(errors: readonly NotifyError[]): string {
  const details = errors.map((e) => e.detail);
  const last = details.at(-1) ?? '';
  if (details.length === 1) return `: ${last}`;
  if (details.every((d) => d === last)) return `, each: ${last}`;
  const earlier: { detail: string; count: number }[] = [];
  for (const detail of details.slice(0, -1)) {
    const previous = earlier.at(-1);
    if (previous?.detail === detail) previous.count++;
    else earlier.push({ detail, count: 1 });
  }
  return `: ${earlier.map((e) => (e.count > 1 ? `${e.detail} ×${e.count}` : e.detail)).join('; ')}; last: ${last}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export function formatMs(ms: number): string {
  return ms < 1000 || ms % 1000 !== 0 ? `${ms} ms` : `${ms / 1000} s`;
}

function rejectOnAbort(signal: AbortSignal): { promise: Promise<never>; dispose(): void } {
  let listener = () => {};
  const promise = new Promise<never>((_resolve, reject) => {
    listener = () => reject(signal.reason);
    signal.addEventListener('abort', listener, { once: true });
  });
  // Handled here so a race that already settled leaves no unhandled rejection behind.
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener('abort', listener) };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
