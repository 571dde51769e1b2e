// The SMS notifier against a recorder standing in for Twilio's REST API (reached through the RequestClient
// subclass that rebases every request onto apiUrl): Basic auth sid:token, one form POST per number, one
// 160-character segment, and Twilio's refusals.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSmsNotifier, SMS_MAX_LENGTH } from '../../../src/alerting/notifiers/sms.js';
import { NotifyError } from '../../../src/alerting/notify-types.js';
import { type Recorder, startRecorder } from '../../helpers/recorder.js';
import { alert, firing, NEVER, resolved, threeAlerts, TWILIO_SID, twilioCreated } from './fixtures.js';

const AUTH_TOKEN = 'twilio-auth-token-0123456789abcd';
const NUMBERS = ['+4915112345678', '+4917687654321'];

function notifierFor(recorder: Recorder, apiPath = '') {
  return createSmsNotifier({ accountSid: TWILIO_SID, authToken: AUTH_TOKEN, from: '+15005550006', to: NUMBERS, apiUrl: `${recorder.url}${apiPath}` });
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

describe('sms notifier', () => {
  test('creates one message per number, with Basic auth sid:token, form-encoded', async (t) => {
    const recorder = await startRecorder(t, { default: twilioCreated });

    await notifierFor(recorder).notify(firing(), NEVER);

    assert.equal(recorder.requests.length, 2);
    for (const request of recorder.requests) {
      assert.equal(request.method, 'POST');
      assert.equal(request.path, `/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`);
      assert.deepEqual(request.basicAuth, { user: TWILIO_SID, password: AUTH_TOKEN });
      assert.match(String(request.headers['content-type']), /application\/x-www-form-urlencoded/);
      assert.equal(request.body['From'], '+15005550006');
      assert.equal(request.body['Body'], '[CRITICAL] BackupMissing hotel_extranet: no successful full backup of hotel_extranet in 26 h');
    }
    assert.deepEqual(recorder.requests.map((r) => r.body['To']).sort(), [...NUMBERS].sort());
  });

  test('keeps an apiUrl path prefix', async (t) => {
    const recorder = await startRecorder(t, { default: twilioCreated });

    await notifierFor(recorder, '/twilio/').notify(firing(), NEVER);

    assert.equal(recorder.requests[0]!.path, `/twilio/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`);
  });

  test('a grouped notification is one text per number, counting the others', async (t) => {
    const recorder = await startRecorder(t, { default: twilioCreated });

    await notifierFor(recorder).notify(firing(threeAlerts()), NEVER);

    assert.equal(recorder.requests.length, 2);
    assert.equal(recorder.requests[0]!.body['Body'], '[CRITICAL] BackupMissing hotel_extranet (+2 more): no successful full backup of hotel_extranet in 26 h');
  });

  test('says RESOLVED when the alerts clear', async (t) => {
    const recorder = await startRecorder(t, { default: twilioCreated });

    await notifierFor(recorder).notify(resolved(), NEVER);

    assert.match(String(recorder.requests[0]!.body['Body']), /^\[RESOLVED\] BackupMissing hotel_extranet: /);
  });

  test('a long summary and database name still fit one 160-character segment, keeping severity, rule, database and count', async (t) => {
    const recorder = await startRecorder(t, { default: twilioCreated });
    const long = alert({
      labels: { database: `hotel_extranet_${'archive_'.repeat(8)}2026` },
      summary: `no successful full backup in 26 h — ${'the storage target answered slowly and then not at all; '.repeat(4)}`,
    });

    await notifierFor(recorder).notify(firing([long, ...threeAlerts().slice(0, 1)]), NEVER);

    const body = String(recorder.requests[0]!.body['Body']);
    assert.ok(body.length <= SMS_MAX_LENGTH, `${body.length} characters: ${body}`);
    assert.match(body, /^\[CRITICAL\] BackupMissing hotel_extranet_archive_/);
    assert.match(body, /\(\+1 more\)/);
    assert.match(body, /\.\.\.$/);
    assert.doesNotMatch(body, /[—…]/, 'only GSM-7 characters, or the segment shrinks to 70');
  });

  test('a 400 is final and carries what Twilio said', async (t) => {
    const recorder = await startRecorder(t, {
      default: { status: 400, body: { code: 21211, message: "The 'To' number +4915112345678 is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 } },
    });

    const error = await rejection(createSmsNotifier({ accountSid: TWILIO_SID, authToken: AUTH_TOKEN, from: '+15005550006', to: [NUMBERS[0]!], apiUrl: recorder.url }).notify(firing(), NEVER));

    assert.equal(error.message, "sms: to +4915112345678: HTTP 400: The 'To' number +4915112345678 is not a valid phone number. (Twilio error 21211)");
    assert.deepEqual([error.recoverable, error.reason, error.status], [false, 'client_error', 400]);
  });

  test('a 401 is an auth failure naming the config fields', async (t) => {
    const recorder = await startRecorder(t, { default: { status: 401, body: { code: 20003, message: 'Authenticate', status: 401 } } });

    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.deepEqual([error.recoverable, error.reason, error.status], [false, 'auth', 401]);
    assert.match(error.message, /^sms: to 2 of 2 numbers \(.+\), first: HTTP 401: Authenticate \(Twilio error 20003\)$/);
    assert.deepEqual(error.hints, ['check channels.sms.accountSid and channels.sms.authToken in the config']);
  });

  test('a retry after one number failed texts only that number', async (t) => {
    const recorder = await startRecorder(t, {
      default: (request) => (request.body['To'] === NUMBERS[1] && recorder.requests.length <= 2 ? { status: 503, body: { code: 20503, message: 'Service unavailable', status: 503 } } : twilioCreated(request)),
    });
    const notifier = notifierFor(recorder);
    const notification = firing();

    const error = await rejection(notifier.notify(notification, NEVER));
    assert.deepEqual([error.recoverable, error.status], [true, 503]);
    await notifier.notify(notification, NEVER);

    assert.deepEqual(
      recorder.requests.map((r) => r.body['To']).sort(),
      [NUMBERS[0], NUMBERS[1], NUMBERS[1]].sort(),
    );
  });
});
