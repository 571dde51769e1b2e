// The throwaway-cluster harness itself: other integration tests trust it to start clean servers, to
// say exactly when data changed, and to leave nothing running behind.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DatabaseUnreachableError, ToolError } from '../../../src/errors.js';
import { startCluster } from '../../../src/postgres/cluster.js';
import { fingerprintDiff, LARGE_OBJECTS_KEY, loadFixture, tableFingerprints, useCluster } from '../../helpers/postgres.js';

const ROOM_RATES = '"Hotel Ops"."Room Rates"';

test('fingerprints of the awkward fixture are stable and change with the data', async (t) => {
  const cluster = await useCluster(t);
  // A name that needs percent-encoding in the URL and quoting in SQL.
  const url = await cluster.createDatabase('awkward db');
  await loadFixture(url, 'awkward');

  const first = await tableFingerprints(url);
  assert.deepEqual(await tableFingerprints(url), first);

  const rows = Object.fromEntries([...first].map(([name, { rows }]) => [name, rows]));
  assert.deepEqual(rows, {
    [ROOM_RATES]: 207,
    '"Hotel Ops"."bookings 2024"': 104,
    '"Hotel Ops"."bookings 2025"': 104,
    '"Hotel Ops"."bookings 2026"': 92,
    '"Hotel Ops"."Revenue by Month"': 36,
    '"Hotel Ops"."Guest ""VIP"" Notes"': 4,
    '"Hotel Ops".empty_table': 0,
    '"Hotel Ops".floor_plans': 2,
    '"Hotel Ops".guest_secrets': 20,
    'public."no columns"': 2,
    [LARGE_OBJECTS_KEY]: 2,
  });

  await cluster.query(`UPDATE ${ROOM_RATES} SET note = note || '!' WHERE id = 1`, [], 'awkward db');
  const afterUpdate = await tableFingerprints(url);
  assert.deepEqual(fingerprintDiff(first, afterUpdate), [`${ROOM_RATES}: same row count (207), different contents`]);

  await cluster.query(`SELECT lo_put(424243, 5, '\\xaa')`, [], 'awkward db');
  assert.deepEqual(fingerprintDiff(afterUpdate, await tableFingerprints(url)), [
    `${LARGE_OBJECTS_KEY}: same row count (2), different contents`,
  ]);
});

test('two clusters run side by side, and the fixture loads identically into both', async (t) => {
  const [a, b] = await Promise.all([useCluster(t), useCluster(t, { settings: { fsync: 'on' } })]);
  assert.notEqual(a.port, b.port);
  assert.notEqual(a.dataDir, b.dataDir);

  await a.query('CREATE TABLE only_in_a (id int)');
  const tables = await b.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'only_in_a'`);
  assert.equal(tables.rows[0]?.n, 0);

  const fsync = await Promise.all([a, b].map(async (c) => (await c.query('SHOW fsync')).rows[0]?.fsync));
  assert.deepEqual(fsync, ['off', 'on']);

  await Promise.all([loadFixture(a.url(), 'awkward'), loadFixture(b.url(), 'awkward')]);
  const [fromA, fromB] = await Promise.all([tableFingerprints(a.url()), tableFingerprints(b.url())]);
  fromA.delete('public.only_in_a');
  assert.deepEqual(fingerprintDiff(fromA, fromB), []);
});

test('stop is idempotent, also when called concurrently', async (t) => {
  const cluster = await useCluster(t);
  await Promise.all([cluster.stop(), cluster.stop('fast')]);
  await cluster.stop();
  await cluster.stop('fast');
  await assert.rejects(cluster.query('SELECT 1'), DatabaseUnreachableError);
  assert.equal(postmastersServing(cluster.dataDir), 0);
});

test('destroy removes the cluster directory and frees its port', async (t) => {
  const cluster = await useCluster(t);
  assert.equal(postmastersServing(cluster.dataDir), 1);
  await cluster.destroy();
  await cluster.destroy();
  assert.equal(existsSync(cluster.baseDir), false);
  assert.equal(postmastersServing(cluster.dataDir), 0);
  await assertPortFree(cluster.port);
});

test('a server that cannot start fails with its log and leaves nothing behind', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'pgwarden-harness-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  await chmod(parent, 0o755); // as root, the server's OS user must be able to reach baseDir
  const baseDir = join(parent, 'cluster');

  await assert.rejects(startCluster({ baseDir, settings: { shared_buffers: 'plenty' } }), (error: unknown) => {
    assert.ok(error instanceof ToolError);
    assert.match(error.message, /did not start/);
    assert.match(error.message, /invalid value for parameter "shared_buffers"/);
    return true;
  });
  assert.equal(existsSync(baseDir), false);
});

test('a baseDir that holds files is refused rather than adopted', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'pgwarden-harness-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  await writeFile(join(parent, 'keep-me.txt'), 'not a cluster');
  await assert.rejects(startCluster({ baseDir: parent }), /is not empty/);
  assert.equal(existsSync(join(parent, 'keep-me.txt')), true);
});

/** How many live processes have dataDir on their command line (a postmaster's is `postgres -D dataDir`). */
function postmastersServing(dataDir: string): number {
  let count = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      // The postmaster itself: pg_ctl, or the wrapper that runs it as the postgres user, may still be exiting
      // with the data directory on its command line.
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv.includes(dataDir) && /(^|\/)postgres$/.test(argv[0] ?? '')) count++;
    } catch {
      // exited while we looked
    }
  }
  return count;
}

async function assertPortFree(port: number): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise((resolve) => server.close(resolve));
}
