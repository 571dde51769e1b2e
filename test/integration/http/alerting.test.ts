// The alerting endpoints before and after alerting is wired: an empty alert list, 501 for silences and the
// Alertmanager webhook when no action is given (after the body is validated), and the actions when it is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AlertmanagerPayload, SilenceInput } from '../../../src/http/index.js';
import { bearer, jsonOf, postJson, startTestServer } from '../../helpers/http.js';

const SILENCE = { matchers: { alertname: 'BackupMissing', database: 'shop' }, durationSeconds: 3600, comment: 'maintenance' };
const WEBHOOK = { version: '4', status: 'firing', receiver: 'pgwarden', alerts: [{ status: 'firing', labels: { alertname: 'Up' } }] };

test('GET /api/alerts is an empty list until alerting provides one', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/alerts`, { headers: bearer() });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), []);

  const wired = await startTestServer(t, { actions: { alerts: async () => [{ rule: 'BackupMissing', status: 'firing' }] } });
  const alerts = await fetch(`${wired.url}/api/alerts`, { headers: bearer() });
  assert.deepEqual(await alerts.json(), [{ rule: 'BackupMissing', status: 'firing' }]);
});

test('POST /api/silences validates the body, then answers 501 JSON when silences are not available', async (t) => {
  const server = await startTestServer(t);
  const bad = await postJson(`${server.url}/api/silences`, { matchers: { '1bad': 'x', db: '' }, durationSeconds: 0, extra: 1 });
  assert.equal(bad.status, 400);
  const message = String((await jsonOf(bad)).message);
  for (const part of ['extra: unknown field', 'matchers.1bad: not a label name', 'matchers.db: must be a non-empty string', 'durationSeconds: must be a whole number']) {
    assert.ok(message.includes(part), `${part} in ${message}`);
  }
  const everything = await postJson(`${server.url}/api/silences`, { matchers: {}, durationSeconds: 60 });
  assert.equal(everything.status, 400);
  assert.match(String((await jsonOf(everything)).message), /^matchers: must name at least one label/);

  const response = await postJson(`${server.url}/api/silences`, SILENCE);
  assert.equal(response.status, 501);
  const body = await jsonOf(response);
  assert.equal(body.error, 'NOT_IMPLEMENTED');
  assert.equal(body.message, 'silences are not available in this version of pgwarden');
});

test('POST /api/silences passes the silence and the actor to the action and answers 201', async (t) => {
  const received: SilenceInput[] = [];
  const server = await startTestServer(t, {
    actions: {
      silence: async (input) => {
        received.push(input);
        return { id: 'silence-1', endsAt: '2026-11-25T04:00:00.000Z' };
      },
    },
  });
  const response = await postJson(`${server.url}/api/silences`, SILENCE);
  assert.equal(response.status, 201);
  assert.deepEqual(await jsonOf(response), { id: 'silence-1', endsAt: '2026-11-25T04:00:00.000Z' });
  assert.deepEqual(received, [{ ...SILENCE, actor: 'api:ops' }]);
});

test('POST /api/alertmanager is 501 without a webhook action and 400 for a payload without alerts', async (t) => {
  const server = await startTestServer(t);
  const bad = await postJson(`${server.url}/api/alertmanager`, { status: 'firing' });
  assert.equal(bad.status, 400);
  assert.match(String((await jsonOf(bad)).message), /^alerts: required, an array/);
  const response = await postJson(`${server.url}/api/alertmanager`, WEBHOOK);
  assert.equal(response.status, 501);
  assert.equal((await jsonOf(response)).error, 'NOT_IMPLEMENTED');
});

test('POST /api/alertmanager hands the whole payload to the webhook action', async (t) => {
  const received: AlertmanagerPayload[] = [];
  const server = await startTestServer(t, {
    actions: {
      alertmanagerWebhook: async (payload) => {
        received.push(payload);
      },
    },
  });
  const response = await postJson(`${server.url}/api/alertmanager`, WEBHOOK);
  assert.equal(response.status, 200);
  assert.deepEqual(await jsonOf(response), { status: 'ok', alerts: 1 });
  assert.deepEqual(received, [WEBHOOK]);
});
