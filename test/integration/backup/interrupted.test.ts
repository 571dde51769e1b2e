// kill -9 of the CLI in the middle of a dump: the next start marks the run failed ('interrupted'), removes
// its temporary file, and no manifest claims a backup that never finished.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { useCluster } from '../../helpers/postgres.js';
import { CLI, listFiles, setupWarden } from '../../helpers/pgwarden.js';

it('marks a run killed mid-dump as interrupted at the next start and removes its temporary file', async (t) => {
  const pg = await useCluster(t);
  const url = await pg.createDatabase('busy');
  // ~120 MB of text at gzip level 9: several seconds of dumping, long enough to kill it midway.
  await pg.query(
    `CREATE TABLE events (id int, body text);
     INSERT INTO events SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 900000) i;`,
    [],
    'busy',
  );
  const warden = await setupWarden(t, pg, { databases: [{ name: 'busy', url }], extra: 'backup: { compression: gzip, compressionLevel: 9 }' });

  const child = spawn(process.execPath, [CLI, '--config', warden.configPath, 'backup', 'full'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const exited = once(child, 'exit');

  // Wait until the temporary artifact holds data: the dump is really under way.
  let temp: string | undefined;
  for (let i = 0; i < 600 && !temp; i++) {
    await sleep(50);
    for (const file of await listFiles(warden.storageDir)) {
      if (file.includes('.tmp-') && (await stat(join(warden.storageDir, file))).size > 256 * 1024) temp = file;
    }
  }
  assert.ok(temp, 'the backup never started writing');
  const [running] = await warden.query<{ backup_id: string; status: string }>('SELECT backup_id, status FROM pgwarden.database_backups');
  assert.equal(running?.status, 'running');

  child.kill('SIGKILL');
  await exited;
  assert.ok((await listFiles(warden.storageDir)).some((f) => f.includes('.tmp-')), 'kill -9 leaves the temporary file behind');

  // The next start of any command recovers the run.
  const list = await warden.run(['list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const [row] = JSON.parse(list.stdout);
  assert.equal(row.backupId, running!.backup_id);
  assert.equal(row.status, 'failed');
  assert.match(row.error, /^interrupted: the process running this backup \(host .*, pid \d+\) stopped before it finished$/);
  assert.deepEqual(await listFiles(warden.storageDir), [], 'no temporary file and no manifest remain');
  const logged = await warden.query<{ step: string }>("SELECT step FROM pgwarden.backup_logs WHERE operation = 'recover'");
  assert.deepEqual(logged.map((l) => l.step), ['interrupted']);

  // A live run is never taken for a dead one: a second backup now succeeds and the failed one stays failed.
  const again = await warden.run(['backup', 'full', '--json']);
  assert.equal(again.code, 0, again.stderr);
  const statuses = await warden.query<{ status: string }>('SELECT status FROM pgwarden.database_backups ORDER BY created_at');
  assert.deepEqual(statuses.map((s) => s.status), ['failed', 'succeeded']);
});
