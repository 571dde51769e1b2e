// The Slack notifier against a recorder standing in for the Web API: the chat.postMessage request
// (Bearer token, channel, text fallback, blocks, coloured attachments), grouping, and Slack's refusals.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSlackNotifier } from '../../../src/alerting/notifiers/slack.js';
import { NotifyError } from '../../../src/alerting/notify-types.js';
import { type Recorder, type RecordedRequest, startRecorder } from '../../helpers/recorder.js';
import { alert, firing, NEVER, resolved, slackOk, threeAlerts } from './fixtures.js';

const TOKEN = 'xoxb-1111-2222-slacktesttoken';

function notifierFor(recorder: Recorder) {
  return createSlackNotifier({ token: TOKEN, channel: '#db-alerts', apiUrl: `${recorder.url}/api/` });
}

interface Attachment {
  color: string;
  fallback: string;
  blocks: { type: string; text?: { text: string }; elements?: { text: string }[] }[];
}

function attachmentsOf(request: RecordedRequest): Attachment[] {
  return JSON.parse(String(request.body['attachments'])) as Attachment[];
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

describe('slack notifier', () => {
  test('posts chat.postMessage with the Bearer token, the channel, a text fallback, blocks and a red attachment', async (t) => {
    const recorder = await startRecorder(t, { default: slackOk });

    await notifierFor(recorder).notify(firing(), NEVER);

    assert.equal(recorder.requests.length, 1);
    const request = recorder.requests[0]!;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/api/chat.postMessage');
    assert.equal(request.bearer, TOKEN);
    assert.match(String(request.headers['content-type']), /application\/x-www-form-urlencoded/);
    assert.equal(request.body['channel'], '#db-alerts');
    assert.equal(request.body['text'], '[CRITICAL] BackupMissing hotel_extranet');
    const blocks = JSON.parse(String(request.body['blocks'])) as { type: string; text?: { text: string }; elements?: { text: string }[] }[];
    assert.deepEqual(
      blocks.map((b) => b.type),
      ['header', 'section', 'context'],
    );
    assert.equal(blocks[0]!.text!.text, '[CRITICAL] BackupMissing hotel_extranet');
    assert.equal(blocks[2]!.elements![0]!.text, '<https://pgwarden.example.com|pgwarden>');
    const [attachment] = attachmentsOf(request);
    assert.equal(attachment!.color, '#d92d20');
    assert.equal(attachment!.blocks[0]!.text!.text, '*CRITICAL* BackupMissing hotel_extranet\nno successful full backup of hotel_extranet in 26 h\n_The last successful full backup finished 2026-11-24 00:12 UTC._');
    assert.equal(attachment!.blocks[1]!.elements![0]!.text, '`database=hotel_extranet type=full` · since 2026-11-25 02:00 UTC');
  });

  test('groups three alerts into one message, one attachment each, coloured by severity', async (t) => {
    const recorder = await startRecorder(t, { default: slackOk });

    await notifierFor(recorder).notify(firing(threeAlerts()), NEVER);

    assert.equal(recorder.requests.length, 1);
    const request = recorder.requests[0]!;
    assert.equal(request.body['text'], '[CRITICAL] BackupMissing hotel_extranet (+2 more)');
    assert.deepEqual(
      attachmentsOf(request).map((a) => [a.color, a.fallback.split(':')[0]]),
      [
        ['#d92d20', 'CRITICAL BackupMissing hotel_extranet'],
        ['#f79009', 'WARNING BackupSizeDrop crm'],
        ['#2e90fa', 'INFO IncrementalSizeSpike shop'],
      ],
    );
  });

  test('turns green when resolved', async (t) => {
    const recorder = await startRecorder(t, { default: slackOk });

    await notifierFor(recorder).notify(resolved(), NEVER);

    const request = recorder.requests[0]!;
    assert.equal(request.body['text'], '[RESOLVED] BackupMissing hotel_extranet');
    const [attachment] = attachmentsOf(request);
    assert.equal(attachment!.color, '#12b76a');
    assert.match(attachment!.blocks[0]!.text!.text, /^\*RESOLVED\* BackupMissing hotel_extranet/);
  });

  test('escapes Slack markup in what alerts say', async (t) => {
    const recorder = await startRecorder(t, { default: slackOk });

    await notifierFor(recorder).notify(firing([alert({ summary: 'size <50% & dropping', description: undefined })]), NEVER);

    assert.match(attachmentsOf(recorder.requests[0]!)[0]!.blocks[0]!.text!.text, /size &lt;50% &amp; dropping/);
  });

  test('ok:false channel_not_found is final and says to invite the app', async (t) => {
    const recorder = await startRecorder(t, { default: { status: 200, body: { ok: false, error: 'channel_not_found' } } });

    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.equal(error.message, 'slack: Slack refused the message: channel_not_found');
    assert.deepEqual([error.recoverable, error.reason], [false, 'client_error']);
    assert.match(error.hints.join('\n'), /invite the pgwarden app/);
  });

  test('ok:false invalid_auth is an auth failure', async (t) => {
    const recorder = await startRecorder(t, { default: { status: 200, body: { ok: false, error: 'invalid_auth' } } });

    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.deepEqual([error.recoverable, error.reason], [false, 'auth']);
    assert.deepEqual(error.hints, ['check channels.slack.token in the config']);
  });

  test('HTTP 500 may pass, with the status', async (t) => {
    const recorder = await startRecorder(t, { default: { status: 500, body: 'upstream exploded' } });

    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.equal(error.message, 'slack: HTTP 500: upstream exploded');
    assert.deepEqual([error.recoverable, error.reason, error.status], [true, 'server_error', 500]);
    assert.equal(recorder.requests.length, 1, 'the client did not retry by itself');
  });

  test('a 429 fails at once as recoverable instead of sleeping for Retry-After', async (t) => {
    const recorder = await startRecorder(t, { default: { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': '30' } } });

    const started = Date.now();
    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.ok(Date.now() - started < 2000, 'did not wait out Retry-After');
    assert.deepEqual([error.recoverable, error.reason, error.status], [true, 'rate_limited', 429]);
    assert.equal(recorder.requests.length, 1);
  });
});
