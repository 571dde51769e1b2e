// deliver() around each real notifier against servers that fail on cue: recoverable failures are retried
// until one gets through (and it gets through exactly once), final ones are not, an attempt that hangs is
// cut off at its deadline and retried, and cancelling stops everything.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createEmailNotifier } from '../../../src/alerting/notifiers/email.js';
import { createPagerDutyNotifier } from '../../../src/alerting/notifiers/pagerduty.js';
import { createSlackNotifier } from '../../../src/alerting/notifiers/slack.js';
import { createSmsNotifier } from '../../../src/alerting/notifiers/sms.js';
import { type Notifier, NotifyError } from '../../../src/alerting/notify-types.js';
import { type AttemptResult, deliver } from '../../../src/alerting/retry.js';
import { type Recorder, type Reply, type Responder, startRecorder } from '../../helpers/recorder.js';
import { startSmtpServer } from '../../helpers/smtp.js';
import { createSelfSignedCert, type TestCertificate } from '../../helpers/tls.js';
import { firing, pagerDutyAccepted, slackOk, TWILIO_SID, twilioCreated } from './fixtures.js';

let cert: TestCertificate;
before(async () => {
  cert = await createSelfSignedCert();
});
after(() => cert.remove());

/** An HTTP service, its notifier, and how it says yes, "try later" and "no". */
interface HttpTarget {
  name: string;
  tls: boolean;
  notifier(recorder: Recorder): Notifier;
  ok: Responder;
  serverError: Reply;
  badRequest: Reply;
}

const TARGETS: HttpTarget[] = [
  {
    name: 'slack',
    tls: false,
    notifier: (r) => createSlackNotifier({ token: 'xoxb-retry-token', channel: '#db', apiUrl: `${r.url}/api/` }),
    ok: slackOk,
    serverError: { status: 500, body: 'internal error' },
    badRequest: { status: 200, body: { ok: false, error: 'invalid_blocks' } },
  },
  {
    name: 'pagerduty',
    tls: true,
    notifier: (r) => createPagerDutyNotifier({ routingKey: 'retry-routing-key-0123456789abcd', url: `${r.url}/v2/enqueue` }, { ca: cert.cert }),
    ok: pagerDutyAccepted,
    serverError: { status: 500, body: { status: 'error', message: 'internal' } },
    badRequest: { status: 400, body: { status: 'invalid event', message: 'Event object is invalid' } },
  },
  {
    name: 'sms',
    tls: false,
    notifier: (r) => createSmsNotifier({ accountSid: TWILIO_SID, authToken: 'retry-auth-token-0123456789', from: '+15005550006', to: ['+4915112345678'], apiUrl: r.url }),
    ok: twilioCreated,
    serverError: { status: 500, body: { code: 20500, message: 'Internal Server Error', status: 500 } },
    badRequest: { status: 400, body: { code: 21211, message: 'Invalid To number', status: 400 } },
  },
];

function attemptLog() {
  const log: [number, AttemptResult, string?][] = [];
  const onAttempt = (attempt: number, result: AttemptResult, error?: NotifyError) => {
    log.push(error === undefined ? [attempt, result] : [attempt, result, error.reason]);
  };
  return { log, onAttempt };
}

async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof NotifyError, `expected a NotifyError, got ${String(error)}`);
    return error;
  }
  assert.fail('the notification was delivered');
}

for (const target of TARGETS) {
  describe(`deliver() through ${target.name}`, () => {
    const start = (t: { after(fn: () => Promise<void>): void }) => startRecorder(t, { default: target.ok, ...(target.tls ? { tls: cert } : {}) });

    test('500 twice then 200: delivered exactly once, three attempts recorded', async (t) => {
      const recorder = await start(t);
      recorder.enqueue(target.serverError, target.serverError);
      const { log, onAttempt } = attemptLog();

      const delivery = await deliver(target.notifier(recorder), firing(), { baseDelayMs: 10, onAttempt });

      assert.equal(delivery.attempts, 3);
      assert.equal(recorder.requests.length, 3);
      assert.deepEqual(log, [
        [1, 'retrying', 'server_error'],
        [2, 'retrying', 'server_error'],
        [3, 'sent'],
      ]);
    });

    test('a final refusal is not retried', async (t) => {
      const recorder = await start(t);
      recorder.setDefault(target.badRequest);
      const { log, onAttempt } = attemptLog();

      const error = await rejection(deliver(target.notifier(recorder), firing(), { baseDelayMs: 10, onAttempt }));

      assert.equal(recorder.requests.length, 1);
      assert.equal(error.recoverable, false);
      assert.equal(error.attempts, 1);
      assert.deepEqual(log, [[1, 'failed', 'client_error']]);
    });

    test('a server that keeps failing: all attempts folded into one message', async (t) => {
      const recorder = await start(t);
      recorder.setDefault(target.serverError);

      const error = await rejection(deliver(target.notifier(recorder), firing(), { attempts: 3, baseDelayMs: 10 }));

      assert.equal(recorder.requests.length, 3);
      assert.match(error.message, new RegExp(`^${target.name}: 3 attempts failed, each: (to \\S+: )?HTTP 500`));
      assert.deepEqual([error.attempts, error.status, error.recoverable], [3, 500, true]);
    });

    test('a hanging server: the attempt times out and the next one gets through', async (t) => {
      const recorder = await start(t);
      recorder.enqueue({ hang: true });
      const { log, onAttempt } = attemptLog();

      const started = Date.now();
      const delivery = await deliver(target.notifier(recorder), firing(), { timeoutMs: 300, baseDelayMs: 10, onAttempt });

      assert.equal(delivery.attempts, 2);
      assert.ok(Date.now() - started < 2000);
      assert.deepEqual(log, [
        [1, 'retrying', 'timeout'],
        [2, 'sent'],
      ]);
    });

    test('aborting stops the delivery during the wait, without another attempt', async (t) => {
      const recorder = await start(t);
      recorder.setDefault(target.serverError);
      const controller = new AbortController();

      const started = Date.now();
      const error = await rejection(
        deliver(target.notifier(recorder), firing(), {
          baseDelayMs: 60_000,
          signal: controller.signal,
          onAttempt: () => controller.abort(),
        }),
      );

      assert.ok(Date.now() - started < 2000);
      assert.equal(recorder.requests.length, 1);
      assert.equal(error.reason, 'aborted');
      assert.match(error.message, new RegExp(`^${target.name}: delivery aborted after 1 failed attempt: (to \\S+: )?HTTP 500`));
    });

    test('aborting ends an attempt in flight', async (t) => {
      const recorder = await start(t);
      recorder.setDefault({ hang: true });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);

      const error = await rejection(deliver(target.notifier(recorder), firing(), { timeoutMs: 10_000, signal: controller.signal }));

      assert.equal(error.reason, 'aborted');
      assert.equal(error.message, `${target.name}: delivery aborted during the first attempt`);
      assert.equal(recorder.requests.length, 1);
    });
  });
}

describe('deliver() through email', () => {
  test('a 451 twice then accepted: one email, three attempts', async (t) => {
    const smtp = await startSmtpServer(t);
    smtp.enqueue({ code: 451, message: 'Try again later' }, { code: 451, message: 'Try again later' });
    const notifier = createEmailNotifier({ host: '127.0.0.1', port: smtp.port, secure: false, from: 'pgwarden@example.com', to: ['dba@example.com'] });
    const { log, onAttempt } = attemptLog();

    const delivery = await deliver(notifier, firing(), { baseDelayMs: 10, onAttempt });

    assert.equal(delivery.attempts, 3);
    assert.equal(smtp.offered(), 3);
    assert.equal(smtp.messages.length, 1);
    assert.deepEqual(
      log.map(([, result]) => result),
      ['retrying', 'retrying', 'sent'],
    );
  });

  test('a server that never greets: each attempt times out, and the folded error says so', async (t) => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const notifier = createEmailNotifier({ host: '127.0.0.1', port: (silent.address() as AddressInfo).port, secure: false, from: 'pgwarden@example.com', to: ['dba@example.com'] });

    const error = await rejection(deliver(notifier, firing(), { attempts: 2, timeoutMs: 200, baseDelayMs: 10 }));

    assert.equal(error.message, 'email: 2 attempts failed, each: timed out after 200 ms');
    assert.deepEqual([error.reason, error.recoverable, error.attempts], ['timeout', true, 2]);
    assert.equal(sockets.size, 2);
  });
});
