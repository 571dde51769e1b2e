// The standby helper: a hot standby that the primary lists under its name, that replays the primary's
// writes and refuses its own, and that leaves nothing behind once destroyed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { startStandby } from '../../../src/postgres/standby.js';
import { useCluster } from '../../helpers/postgres.js';

test('a standby streams from its primary under its name, replays writes, refuses its own, and is removed by destroy', async (t) => {
  const primary = await useCluster(t);
  const standby = await startStandby(primary, { name: 'replica_a' });
  t.after(() => standby.destroy());
  assert.notEqual(standby.port, primary.port);

  const { rows } = await primary.query<{ state: string }>("SELECT state FROM pg_stat_replication WHERE application_name = 'replica_a'");
  assert.deepEqual(rows, [{ state: 'streaming' }]);
  assert.deepEqual((await standby.query('SELECT pg_is_in_recovery() AS r')).rows, [{ r: true }]);

  await primary.query('CREATE TABLE t AS SELECT generate_series(1, 100) AS i');
  const deadline = Date.now() + 20_000;
  for (;;) {
    const seen = await standby.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_class WHERE relname = 't'");
    if (seen.rows[0]?.n === 1) break;
    assert.ok(Date.now() < deadline, 'the table never reached the standby');
    await new Promise((done) => setTimeout(done, 50));
  }
  assert.deepEqual((await standby.query('SELECT count(*)::int AS n FROM t')).rows, [{ n: 100 }]);
  await assert.rejects(standby.query('CREATE TABLE u (i int)'), /read-only transaction/);

  await standby.destroy();
  assert.equal(existsSync(standby.baseDir), false);
  await standby.destroy(); // again: a no-op
});

test('a standby name that could not be an application_name is refused before anything starts', async (t) => {
  const primary = await useCluster(t);
  await assert.rejects(startStandby(primary, { name: "bad name'" }), /invalid standby name/);
});
