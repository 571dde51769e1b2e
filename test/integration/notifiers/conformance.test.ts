// What every notifier must do, run against each one: its errors never carry its secret (even when the
// server echoes the secret back, and in no form: as is, URL-encoded or base64 as in Basic auth), an
// unreachable server is a recoverable NotifyError, and it stops when its signal is aborted.
import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { createEmailNotifier } from '../../../src/alerting/notifiers/email.js';
import { createPagerDutyNotifier } from '../../../src/alerting/notifiers/pagerduty.js';
import { createSlackNotifier } from '../../../src/alerting/notifiers/slack.js';
import { createSmsNotifier } from '../../../src/alerting/notifiers/sms.js';
import { type ChannelName, type Notifier, NotifyError } from '../../../src/alerting/notify-types.js';
import { deliver } from '../../../src/alerting/retry.js';
import { startRecorder } from '../../helpers/recorder.js';
import { startSmtpServer } from '../../helpers/smtp.js';
import { createSelfSignedCert, type TestCertificate } from '../../helpers/tls.js';
import { firing, NEVER, TWILIO_SID } from './fixtures.js';

const SMTP_PASSWORD = 'SMTP-SECRET-pa55w0rd-7f3a';
const SLACK_TOKEN = 'xoxb-SLACK-SECRET-9b2e41';
const ROUTING_KEY = 'PD-SECRET-ROUTING-KEY-4c1d0000';
const TWILIO_TOKEN = 'TWILIO-SECRET-TOKEN-e8a5';

let cert: TestCertificate;
before(async () => {
  cert = await createSelfSignedCert();
});
after(() => cert.remove());

type After = { after(fn: () => Promise<void>): void };

interface Case {
  channel: ChannelName;
  /** The secret, and the encoded forms it travels in. */
  secrets: string[];
  /** A notifier whose server fails and repeats the secret it was sent in its answer. */
  echoing(t: After): Promise<Notifier>;
  /** A notifier pointed at a port nobody listens on. */
  unreachable(port: number): Notifier;
  /** A notifier whose server takes the request and never answers. */
  hanging(t: After): Promise<Notifier>;
}

const CASES: Case[] = [
  {
    channel: 'email',
    secrets: [SMTP_PASSWORD, Buffer.from(SMTP_PASSWORD).toString('base64'), Buffer.from(`\0pgwarden\0${SMTP_PASSWORD}`).toString('base64')],
    async echoing(t) {
      const smtp = await startSmtpServer(t, { auth: { user: 'pgwarden', password: 'something else' }, echoPasswordOnAuthFailure: true });
      return emailNotifier(smtp.port);
    },
    unreachable: (port) => emailNotifier(port),
    async hanging(t) {
      return emailNotifier(await silentPort(t));
    },
  },
  {
    channel: 'slack',
    secrets: [SLACK_TOKEN, encodeURIComponent(SLACK_TOKEN)],
    async echoing(t) {
      const recorder = await startRecorder(t, { default: (request) => ({ status: 500, body: `bad token ${request.headers.authorization} in ${request.rawBody}` }) });
      return slackNotifier(`${recorder.url}/api/`);
    },
    unreachable: (port) => slackNotifier(`http://127.0.0.1:${port}/api/`),
    async hanging(t) {
      const recorder = await startRecorder(t, { default: { hang: true } });
      return slackNotifier(`${recorder.url}/api/`);
    },
  },
  {
    channel: 'pagerduty',
    secrets: [ROUTING_KEY],
    async echoing(t) {
      const recorder = await startRecorder(t, {
        tls: cert,
        default: (request) => ({ status: 400, body: { status: 'invalid event', message: `unknown routing key ${String(request.body['routing_key'])}`, errors: [request.rawBody] } }),
      });
      return pagerDutyNotifier(`${recorder.url}/v2/enqueue`);
    },
    unreachable: (port) => pagerDutyNotifier(`https://127.0.0.1:${port}/v2/enqueue`),
    async hanging(t) {
      const recorder = await startRecorder(t, { tls: cert, default: { hang: true } });
      return pagerDutyNotifier(`${recorder.url}/v2/enqueue`);
    },
  },
  {
    channel: 'sms',
    secrets: [TWILIO_TOKEN, Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')],
    async echoing(t) {
      const recorder = await startRecorder(t, {
        default: (request) => ({
          status: 401,
          body: { code: 20003, message: `Authenticate: ${request.headers.authorization} (${request.basicAuth?.password})`, status: 401 },
        }),
      });
      return smsNotifier(recorder.url);
    },
    unreachable: (port) => smsNotifier(`http://127.0.0.1:${port}`),
    async hanging(t) {
      const recorder = await startRecorder(t, { default: { hang: true } });
      return smsNotifier(recorder.url);
    },
  },
];

function emailNotifier(port: number): Notifier {
  return createEmailNotifier({ host: '127.0.0.1', port, secure: false, user: 'pgwarden', password: SMTP_PASSWORD, from: 'pgwarden@example.com', to: ['dba@example.com'] });
}

function slackNotifier(apiUrl: string): Notifier {
  return createSlackNotifier({ token: SLACK_TOKEN, channel: '#db', apiUrl });
}

function pagerDutyNotifier(url: string): Notifier {
  return createPagerDutyNotifier({ routingKey: ROUTING_KEY, url }, { ca: cert.cert });
}

function smsNotifier(apiUrl: string): Notifier {
  return createSmsNotifier({ accountSid: TWILIO_SID, authToken: TWILIO_TOKEN, from: '+15005550006', to: ['+4915112345678'], apiUrl });
}

/** A port that accepts connections and never says anything. */
async function silentPort(t: After): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof NotifyError, `expected a NotifyError, got ${inspect(error)}`);
    return error;
  }
  assert.fail('the notification was delivered');
}

/** Everything a log line or an operator could see of the error: message, hints, every property, the stack. */
function assertNoSecret(error: NotifyError, secrets: readonly string[]): void {
  const visible = [error.message, error.detail, ...error.hints, error.stack ?? '', inspect(error, { depth: null, showHidden: true }), JSON.stringify(error)].join('\n');
  for (const secret of secrets) assert.ok(!visible.includes(secret), `the error shows the secret ${secret}:\n${visible}`);
}

for (const c of CASES) {
  describe(`${c.channel} notifier conformance`, () => {
    test('a failing server that echoes the secret back: the error does not repeat it', async (t) => {
      const notifier = await c.echoing(t);

      const error = await rejection(notifier.notify(firing(), NEVER));

      assert.equal(error.channel, c.channel);
      assert.ok(error.message.startsWith(`${c.channel}: `), error.message);
      assert.match(error.message, /\*\*\*/, 'the echoed secret was replaced, the rest of the answer kept');
      assertNoSecret(error, c.secrets);
    });

    test('the folded error of several attempts does not carry it either', async (t) => {
      const notifier = await c.echoing(t);

      const error = await rejection(deliver(notifier, firing(), { attempts: 2, baseDelayMs: 1 }));

      assertNoSecret(error, c.secrets);
    });

    test('an unreachable server is a recoverable connection failure, without the secret', async () => {
      const error = await rejection(c.unreachable(await closedPort()).notify(firing(), NEVER));

      assert.deepEqual([error.channel, error.reason, error.recoverable], [c.channel, 'connection', true]);
      assert.match(error.message, /ECONNREFUSED/);
      assertNoSecret(error, c.secrets);
    });

    test('it stops when its signal is aborted, on its own', async (t) => {
      const notifier = await c.hanging(t);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 150);

      const started = Date.now();
      const error = await rejection(notifier.notify(firing(), controller.signal));

      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
      assert.deepEqual([error.channel, error.reason, error.recoverable], [c.channel, 'aborted', false]);
      assertNoSecret(error, c.secrets);
    });
  });
}
