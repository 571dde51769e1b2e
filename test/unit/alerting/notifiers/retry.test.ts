// deliver() with scripted notifiers (no servers): when it retries and when it stops, how long it waits,
// how it folds the attempts into one message, and that it checks cancellation before every attempt.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Notification, type Notifier, NotifyError } from '../../../../src/alerting/notify-types.js';
import { type AttemptResult, backoffDelay, classifyStatus, deliver } from '../../../../src/alerting/retry.js';

const NOTIFICATION: Notification = { kind: 'test', alerts: [] };

type Step = 'ok' | NotifyError | 'hang' | Error;

/** A notifier that plays `steps` in order, one per call, and remembers the signals it was given. */
function scripted(steps: Step[]): Notifier & { calls: number; signals: AbortSignal[] } {
  const notifier = {
    channel: 'slack' as const,
    calls: 0,
    signals: [] as AbortSignal[],
    async notify(_notification: Notification, signal: AbortSignal) {
      const step = steps[notifier.calls++] ?? 'ok';
      notifier.signals.push(signal);
      if (step === 'ok') return;
      // Ignores its signal on purpose: deliver() must end the attempt anyway.
      if (step === 'hang') return new Promise<void>(() => {});
      throw step;
    },
  };
  return notifier;
}

const http500 = () => new NotifyError('slack', 'HTTP 500: internal error', { recoverable: true, reason: 'server_error', status: 500 });
const http502 = () => new NotifyError('slack', 'HTTP 502', { recoverable: true, reason: 'server_error', status: 502 });
const http400 = () => new NotifyError('slack', 'HTTP 400: invalid_blocks', { recoverable: false, reason: 'client_error', status: 400, hints: ['fix the blocks'] });

async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof NotifyError, `expected a NotifyError, got ${String(error)}`);
    return error;
  }
  assert.fail('the notification was delivered');
}

test('classifyStatus: 2xx delivered, 5xx and 429 worth a retry, other 4xx final, 401/403 an auth failure', () => {
  assert.deepEqual(classifyStatus(200), { ok: true });
  assert.deepEqual(classifyStatus(202), { ok: true });
  assert.deepEqual(classifyStatus(429), { ok: false, recoverable: true, reason: 'rate_limited' });
  assert.deepEqual(classifyStatus(500), { ok: false, recoverable: true, reason: 'server_error' });
  assert.deepEqual(classifyStatus(503), { ok: false, recoverable: true, reason: 'server_error' });
  assert.deepEqual(classifyStatus(400), { ok: false, recoverable: false, reason: 'client_error' });
  assert.deepEqual(classifyStatus(404), { ok: false, recoverable: false, reason: 'client_error' });
  assert.deepEqual(classifyStatus(401), { ok: false, recoverable: false, reason: 'auth' });
  assert.deepEqual(classifyStatus(403), { ok: false, recoverable: false, reason: 'auth' });
  assert.deepEqual(classifyStatus(301), { ok: false, recoverable: false, reason: 'other' });
});

test('backoff doubles from the base delay, is capped, and jitters within [half, all] of the step', () => {
  const at = (random: number) => [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, { baseDelayMs: 1000, maxDelayMs: 10_000, random: () => random }));
  assert.deepEqual(at(0.999999), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.deepEqual(at(0), [500, 1000, 2000, 4000, 5000, 5000]);
});

test('retries recoverable failures and reports every attempt', async () => {
  const notifier = scripted([http500(), http502(), 'ok']);
  const log: [number, AttemptResult, string?][] = [];

  const delivery = await deliver(notifier, NOTIFICATION, { baseDelayMs: 1, onAttempt: (n, result, error) => log.push(error ? [n, result, error.detail] : [n, result]) });

  assert.deepEqual(delivery, { attempts: 3 });
  assert.deepEqual(log, [
    [1, 'retrying', 'HTTP 500: internal error'],
    [2, 'retrying', 'HTTP 502'],
    [3, 'sent'],
  ]);
});

test('stops at once on a non-recoverable error, keeping its hints', async () => {
  const notifier = scripted([http400(), 'ok']);

  const error = await rejection(deliver(notifier, NOTIFICATION, { baseDelayMs: 1 }));

  assert.equal(notifier.calls, 1);
  assert.equal(error.message, 'slack: HTTP 400: invalid_blocks');
  assert.deepEqual([error.recoverable, error.reason, error.status, error.attempts], [false, 'client_error', 400, 1]);
  assert.deepEqual(error.hints, ['fix the blocks']);
});

test('folds different failures into one message, counting repeats', async () => {
  const notifier = scripted([http500(), http500(), http502(), http400()]);

  const error = await rejection(deliver(notifier, NOTIFICATION, { baseDelayMs: 1 }));

  assert.equal(error.message, 'slack: 4 attempts failed: HTTP 500: internal error ×2; HTTP 502; last: HTTP 400: invalid_blocks');
  assert.deepEqual([error.recoverable, error.reason, error.status, error.attempts], [false, 'client_error', 400, 4]);
});

test('gives up after the configured attempts, saying each failed the same way', async () => {
  const notifier = scripted([http500(), http500(), http500(), 'ok']);

  const error = await rejection(deliver(notifier, NOTIFICATION, { attempts: 3, baseDelayMs: 1 }));

  assert.equal(notifier.calls, 3);
  assert.equal(error.message, 'slack: 3 attempts failed, each: HTTP 500: internal error');
  assert.equal(error.recoverable, true, 'a later delivery may still succeed');
});

test('an attempt that overruns its time is cut off, its signal aborted, and retried', async () => {
  const notifier = scripted(['hang', 'ok']);

  const started = Date.now();
  const delivery = await deliver(notifier, NOTIFICATION, { timeoutMs: 50, baseDelayMs: 1 });

  assert.equal(delivery.attempts, 2);
  assert.ok(Date.now() - started < 1000);
  assert.equal(notifier.signals[0]?.aborted, true);
  assert.equal(notifier.signals[1]?.aborted, false);
});

test('timeouts are named with the time allowed', async () => {
  const error = await rejection(deliver(scripted(['hang', 'hang']), NOTIFICATION, { attempts: 2, timeoutMs: 30, baseDelayMs: 1 }));

  assert.equal(error.message, 'slack: 2 attempts failed, each: timed out after 30 ms');
  assert.deepEqual([error.reason, error.recoverable], ['timeout', true]);
});

test('an already aborted signal means no attempt at all', async () => {
  const notifier = scripted(['ok']);
  const controller = new AbortController();
  controller.abort();

  const error = await rejection(deliver(notifier, NOTIFICATION, { signal: controller.signal }));

  assert.equal(notifier.calls, 0);
  assert.equal(error.message, 'slack: delivery aborted before the first attempt');
  assert.deepEqual([error.reason, error.attempts], ['aborted', 0]);
});

test('aborting during the wait between attempts ends the delivery there', async () => {
  const notifier = scripted([http500(), 'ok']);
  const controller = new AbortController();

  const error = await rejection(deliver(notifier, NOTIFICATION, { baseDelayMs: 60_000, signal: controller.signal, onAttempt: () => controller.abort() }));

  assert.equal(notifier.calls, 1);
  assert.equal(error.message, 'slack: delivery aborted after 1 failed attempt: HTTP 500: internal error');
  assert.deepEqual([error.reason, error.recoverable], ['aborted', false]);
});

test('aborting ends an attempt that ignores its signal', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 20);

  const error = await rejection(deliver(scripted(['hang']), NOTIFICATION, { timeoutMs: 60_000, signal: controller.signal }));

  assert.equal(error.message, 'slack: delivery aborted during the first attempt');
});

test('anything but a NotifyError is a bug: reported, not retried', async () => {
  const notifier = scripted([new TypeError('cannot read properties of undefined'), 'ok']);

  const error = await rejection(deliver(notifier, NOTIFICATION, { baseDelayMs: 1 }));

  assert.equal(notifier.calls, 1);
  assert.equal(error.message, 'slack: unexpected error: cannot read properties of undefined');
  assert.equal(error.recoverable, false);
});
