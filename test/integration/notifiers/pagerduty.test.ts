// The PagerDuty notifier against an HTTPS recorder (pdjs speaks HTTPS only) with a self-signed certificate
// trusted through the notifier's deps: one Events API v2 event per alert, trigger then resolve on the same
// dedup_key, and statuses checked (pdjs resolves on any status).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPagerDutyNotifier } from '../../../src/alerting/notifiers/pagerduty.js';
import { NotifyError } from '../../../src/alerting/notify-types.js';
import { ConfigError } from '../../../src/errors.js';
import { type Recorder, startRecorder } from '../../helpers/recorder.js';
import { createSelfSignedCert, type TestCertificate } from '../../helpers/tls.js';
import { alert, firing, NEVER, pagerDutyAccepted, resolved, threeAlerts } from './fixtures.js';

const ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefPDTEST';

let cert: TestCertificate;
before(async () => {
  cert = await createSelfSignedCert();
});
after(() => cert.remove());

function notifierFor(recorder: Recorder, path = '/v2/enqueue') {
  return createPagerDutyNotifier({ routingKey: ROUTING_KEY, url: `${recorder.url}${path}` }, { ca: cert.cert, hostname: 'db-backup-1' });
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

describe('pagerduty notifier', () => {
  test('sends one trigger event per alert, deduplicated by fingerprint, over HTTPS', async (t) => {
    const recorder = await startRecorder(t, { tls: cert, default: pagerDutyAccepted });

    await notifierFor(recorder).notify(firing(threeAlerts()), NEVER);

    assert.equal(recorder.requests.length, 3);
    for (const request of recorder.requests) {
      assert.equal(request.method, 'POST');
      assert.equal(request.path, '/v2/enqueue');
      assert.match(String(request.headers['content-type']), /application\/json/);
      assert.equal(request.body['routing_key'], ROUTING_KEY);
      assert.equal(request.body['event_action'], 'trigger');
    }
    assert.deepEqual(
      recorder.requests.map((r) => r.body['dedup_key']),
      ['a1b2c3d4e5f60718', '1111aaaa2222bbbb', '3333cccc4444dddd'],
    );
    assert.deepEqual(recorder.requests[0]!.body['payload'], {
      summary: 'BackupMissing hotel_extranet: no successful full backup of hotel_extranet in 26 h',
      source: 'https://pgwarden.example.com',
      severity: 'critical',
      timestamp: '2026-11-25T02:00:00.000Z',
      component: 'hotel_extranet',
      class: 'BackupMissing',
      custom_details: {
        rule: 'BackupMissing',
        labels: { database: 'hotel_extranet', type: 'full' },
        description: 'The last successful full backup finished 2026-11-24 00:12 UTC.',
        starts_at: '2026-11-25T02:00:00.000Z',
        notification: 'firing',
      },
    });
    assert.deepEqual(recorder.requests[0]!.body['links'], [{ href: 'https://pgwarden.example.com', text: 'pgwarden' }]);
    assert.deepEqual(
      recorder.requests.map((r) => (r.body['payload'] as { severity: string }).severity),
      ['critical', 'warning', 'info'],
    );
  });

  test('resolves with the same dedup_key once the alert clears', async (t) => {
    const recorder = await startRecorder(t, { tls: cert, default: pagerDutyAccepted });
    const notifier = notifierFor(recorder);

    await notifier.notify(firing(), NEVER);
    await notifier.notify(resolved(), NEVER);

    assert.deepEqual(
      recorder.requests.map((r) => [r.body['event_action'], r.body['dedup_key']]),
      [
        ['trigger', 'a1b2c3d4e5f60718'],
        ['resolve', 'a1b2c3d4e5f60718'],
      ],
    );
  });

  test('falls back to the host name as source, and keeps a proxy path prefix', async (t) => {
    const recorder = await startRecorder(t, { tls: cert, default: pagerDutyAccepted });

    await notifierFor(recorder, '/pagerduty/v2/enqueue').notify({ kind: 'firing', alerts: [alert()] }, NEVER);

    assert.equal(recorder.requests[0]!.path, '/pagerduty/v2/enqueue');
    assert.equal((recorder.requests[0]!.body['payload'] as { source: string }).source, 'db-backup-1');
  });

  test('a 400 does not throw in pdjs, but is a final failure here, with what PagerDuty said', async (t) => {
    const recorder = await startRecorder(t, {
      tls: cert,
      default: { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors: ["'payload.summary' is missing"] } },
    });

    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.equal(error.message, "pagerduty: HTTP 400: Event object is invalid ('payload.summary' is missing)");
    assert.deepEqual([error.recoverable, error.reason, error.status], [false, 'client_error', 400]);
  });

  test('a 500 may pass', async (t) => {
    const recorder = await startRecorder(t, { tls: cert, default: { status: 500, body: { status: 'error', message: 'internal' } } });

    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.deepEqual([error.recoverable, error.reason, error.status], [true, 'server_error', 500]);
  });

  test('an answer that is not JSON (a proxy error page) counts as recoverable', async (t) => {
    const recorder = await startRecorder(t, { tls: cert, default: { status: 502, body: '<html>Bad gateway</html>' } });

    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.deepEqual([error.recoverable, error.reason], [true, 'server_error']);
    assert.match(error.message, /^pagerduty: the answer was not JSON/);
  });

  test('a 429 comes back within a second instead of pdjs waiting 20 s before each of its retries', async (t) => {
    const recorder = await startRecorder(t, { tls: cert, default: { status: 429, body: { status: 'throttled', message: 'Requests for this service are arriving too quickly' } } });

    const started = Date.now();
    const error = await rejection(notifierFor(recorder).notify(firing(), NEVER));

    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    assert.deepEqual([error.recoverable, error.reason, error.status], [true, 'rate_limited', 429]);
    // pdjs's retry count is fixed at three; only its wait can be set.
    assert.equal(recorder.requests.length, 4);
  });

  test('a retry after a partial failure sends only the events not yet accepted', async (t) => {
    const recorder = await startRecorder(t, { tls: cert, default: pagerDutyAccepted });
    recorder.enqueue(pagerDutyAccepted, { status: 500, body: { status: 'error', message: 'internal' } });
    const notifier = notifierFor(recorder);
    const notification = firing(threeAlerts());

    await rejection(notifier.notify(notification, NEVER));
    await notifier.notify(notification, NEVER);

    assert.deepEqual(
      recorder.requests.map((r) => r.body['dedup_key']),
      ['a1b2c3d4e5f60718', '1111aaaa2222bbbb', '1111aaaa2222bbbb', '3333cccc4444dddd'],
    );
  });

  test('an http:// URL is a config error: pdjs cannot speak plain HTTP', () => {
    assert.throws(
      () => createPagerDutyNotifier({ routingKey: ROUTING_KEY, url: 'http://127.0.0.1:9/v2/enqueue' }),
      (error: unknown) => error instanceof ConfigError && error.problems[0] === 'channels.pagerduty.url: must be an https:// URL (the PagerDuty client speaks HTTPS only)',
    );
  });
});
