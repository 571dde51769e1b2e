// The backup endpoints: listing with validated filters, one backup by id, starting runs (202) and verifying.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KNOWN_ID, OTHER_ID, UNKNOWN_ID, bearer, jsonOf, postJson, startTestServer } from '../../helpers/http.js';

test('GET /api/backups lists the catalog rows as JSON, newest first, with ISO times', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/backups`, { headers: bearer() });
  assert.equal(response.status, 200);
  const rows = (await response.json()) as Record<string, unknown>[];
  assert.deepEqual(
    rows.map((r) => r.backupId),
    [KNOWN_ID, OTHER_ID],
  );
  assert.equal(rows[0]!.createdAt, '2026-11-25T02:00:00.000Z');
  assert.deepEqual(server.calls.list, [{}]);
});

test('GET /api/backups passes database, type, status and limit to the catalog', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/backups?database=crm&type=full&status=failed&limit=1000`, { headers: bearer() });
  assert.equal(response.status, 200);
  const rows = (await response.json()) as Record<string, unknown>[];
  assert.deepEqual(
    rows.map((r) => r.backupId),
    [OTHER_ID],
  );
  assert.deepEqual(server.calls.list, [{ database: 'crm', type: 'full', status: 'failed', limit: 1000 }]);
});

test('bad list queries are 400 with a message naming each bad field, and the catalog is not asked', async (t) => {
  const server = await startTestServer(t);
  const cases: [string, RegExp][] = [
    ['limit=abc', /^limit: must be a whole number from 1 to 1000, got "abc"$/],
    ['limit=0', /^limit: /],
    ['limit=1001', /^limit: /],
    ['limit=-5', /^limit: /],
    ['limit=2.5', /^limit: /],
    ['type=weird', /^type: must be one of "full", "base", "incremental", "wal", got "weird"$/],
    ['status=done', /^status: must be one of/],
    ['database=', /^database: must not be empty$/],
    ['colour=red', /^colour: unknown query parameter/],
    ['type=full&type=base', /^type: give it once$/],
    ['limit=abc&type=weird', /^limit: .*; type: /],
  ];
  for (const [query, message] of cases) {
    const response = await fetch(`${server.url}/api/backups?${query}`, { headers: bearer() });
    assert.equal(response.status, 400, query);
    const body = await jsonOf(response);
    assert.equal(body.error, 'INVALID_REQUEST', query);
    assert.match(String(body.message), message, query);
  }
  assert.equal(server.calls.list.length, 0);
});

test('GET /api/backups/:id answers the catalog row and logs the read without an access-log download', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/backups/${KNOWN_ID}`, { headers: bearer() });
  assert.equal(response.status, 200);
  const body = await jsonOf(response);
  assert.equal(body.backupId, KNOWN_ID);
  assert.equal(body.database, 'shop');
  assert.equal(body.checksumSha256, 'a'.repeat(64));
  assert.deepEqual(server.calls.access, []);
  const read = server.logs().find((line) => line.msg === 'backup details read through the API');
  assert.equal(read?.actor, 'api:ops');
  assert.equal(read?.backupId, KNOWN_ID);
});

test('an unknown backup id is 404 JSON', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/backups/${UNKNOWN_ID}`, { headers: bearer() });
  assert.equal(response.status, 404);
  const body = await jsonOf(response);
  assert.equal(body.error, 'BACKUP_NOT_FOUND');
  assert.match(String(body.message), new RegExp(UNKNOWN_ID));
});

test('something that is not a backup id is 400, also when it tries to climb out of the path', async (t) => {
  const server = await startTestServer(t);
  for (const id of ['latest', '..%2F..%2Fetc%2Fpasswd', '20261125T020000Z-full-XYZ', `${KNOWN_ID}x`, '%E0%A4%A']) {
    const response = await fetch(`${server.url}/api/backups/${id}`, { headers: bearer() });
    assert.equal(response.status, 400, id);
    const body = await jsonOf(response);
    assert.match(String(body.error), /^INVALID_(BACKUP_ID|REQUEST)$/, id);
  }
  const shown = await jsonOf(await fetch(`${server.url}/api/backups/latest`, { headers: bearer() }));
  assert.deepEqual(shown, { error: 'INVALID_BACKUP_ID', message: '"latest" is not a backup id (they look like 20261125T020000Z-full-1a2b3c)' });
});

test('POST /api/backups starts a run now and answers 202 with what was started', async (t) => {
  const server = await startTestServer(t);
  const response = await postJson(`${server.url}/api/backups`, { kind: 'full', database: 'shop' });
  assert.equal(response.status, 202);
  assert.deepEqual(await jsonOf(response), {
    accepted: true,
    kind: 'full',
    runs: [{ database: 'shop', backupId: '20261125T030000Z-full-000000' }],
  });
  assert.deepEqual(server.calls.runBackup, [{ kind: 'full', database: 'shop', actor: 'api:ops' }]);
});

test('POST /api/backups without a database starts every configured database', async (t) => {
  const server = await startTestServer(t);
  const response = await postJson(`${server.url}/api/backups`, { kind: 'full' });
  assert.equal(response.status, 202);
  const body = await jsonOf(response);
  assert.deepEqual(
    (body.runs as { database: string }[]).map((r) => r.database),
    ['shop', 'crm'],
  );
  assert.deepEqual(server.calls.runBackup, [{ kind: 'full', actor: 'api:ops' }]);
});

test('POST /api/backups with a bad body is 400 naming the field, and nothing starts', async (t) => {
  const server = await startTestServer(t);
  const cases: [unknown, RegExp][] = [
    [{}, /^kind: required \("full", "base", "incremental"\)$/],
    [{ kind: 'base' }, /^kind: "base" backups need WAL archiving, and no configured database has pitr: true$/],
    [{ kind: 'diff' }, /^kind: must be one of "full", "base", "incremental", got "diff"$/],
    [{ kind: 'full', database: 'nope' }, /^database: no database named "nope" in the config \(configured: shop, crm\)$/],
    [{ kind: 'full', database: 42 }, /^database: must be a database name, got "42"$/],
    [{ kind: 'full', databse: 'shop' }, /^databse: unknown field \(known: kind, database\)$/],
    [['full'], /^body: must be a JSON object/],
    ['full', /^body: must be a JSON object/],
  ];
  for (const [body, message] of cases) {
    const response = await postJson(`${server.url}/api/backups`, body);
    assert.equal(response.status, 400, JSON.stringify(body));
    const answer = await jsonOf(response);
    assert.equal(answer.error, 'INVALID_REQUEST');
    assert.match(String(answer.message), message, JSON.stringify(body));
  }
  const empty = await fetch(`${server.url}/api/backups`, { method: 'POST', headers: bearer() });
  assert.equal(empty.status, 400);
  assert.match(String((await jsonOf(empty)).message), /^body: required, a JSON object such as \{"kind":"full"\}$/);
  assert.equal(server.calls.runBackup.length, 0);
});

test('POST /api/backups while a run is in the way is 409 with the runs', async (t) => {
  const server = await startTestServer(t, {
    actions: {
      runBackup: async () => ({
        accepted: false,
        reason: 'already-running',
        message: 'a full backup of shop is already running',
        runs: [{ database: 'shop', backupId: KNOWN_ID }],
      }),
    },
  });
  const response = await postJson(`${server.url}/api/backups`, { kind: 'full', database: 'shop' });
  assert.equal(response.status, 409);
  assert.deepEqual(await jsonOf(response), {
    error: 'BACKUP_RUNNING',
    message: 'a full backup of shop is already running',
    runs: [{ database: 'shop', backupId: KNOWN_ID }],
  });
});

test('POST /api/backups/:id/verify answers the verification result, also when the backup is bad', async (t) => {
  const server = await startTestServer(t, {
    actions: {
      verifyBackup: async (backupId, actor) => ({
        backup_id: backupId,
        database: 'shop',
        ok: false,
        verified_at: '2026-11-25T03:00:00.000Z',
        tables: null,
        duration_seconds: null,
        summary: null,
        error: `artifact local:shop/full/${backupId}/dump.pgc.zst is truncated (${actor})`,
      }),
    },
  });
  const response = await fetch(`${server.url}/api/backups/${KNOWN_ID}/verify`, { method: 'POST', headers: bearer() });
  assert.equal(response.status, 200);
  const body = await jsonOf(response);
  assert.equal(body.ok, false);
  assert.match(String(body.error), /truncated \(api:ops\)$/);
});

test('verify checks the id and the catalog first: 400 for a bad id, 404 for an unknown one', async (t) => {
  const server = await startTestServer(t);
  const bad = await fetch(`${server.url}/api/backups/latest/verify`, { method: 'POST', headers: bearer() });
  assert.equal(bad.status, 400);
  assert.equal((await jsonOf(bad)).error, 'INVALID_BACKUP_ID');
  const unknown = await fetch(`${server.url}/api/backups/${UNKNOWN_ID}/verify`, { method: 'POST', headers: bearer() });
  assert.equal(unknown.status, 404);
  assert.equal((await jsonOf(unknown)).error, 'BACKUP_NOT_FOUND');
  const withBody = await postJson(`${server.url}/api/backups/${KNOWN_ID}/verify`, { deep: true });
  assert.equal(withBody.status, 400);
  assert.match(String((await jsonOf(withBody)).message), /^deep: unknown field \(this endpoint takes none\)$/);
  assert.deepEqual(server.calls.verify, []);
  const emptyObject = await postJson(`${server.url}/api/backups/${KNOWN_ID}/verify`, {});
  assert.equal(emptyObject.status, 200);
  await emptyObject.arrayBuffer();
});

test('GET /api/health answers the catalog health rows', async (t) => {
  const server = await startTestServer(t);
  const response = await fetch(`${server.url}/api/health`, { headers: bearer() });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), [{ database: 'shop', check: 'full_backup_age', status: 'ok', detail: 'last full backup 2 hours ago' }]);
});
