// A full backup on local disk is read back while it is written: the read-through (decrypt, decompress,
// pg_restore) follows the file as its bytes land instead of starting after the dump. It counts only if the
// write completed and the bytes read are the ones written; when it fails, or the local copy drops out, the
// stored copy is read back afterwards as before, and that read decides.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findPgBinDir } from '../../../src/postgres/bindir.js';
import { clusterForSuite, createIncompressibleBlobs } from '../../helpers/postgres.js';
import { printedIds, setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';
import { S3_CREDENTIALS, startS3Server } from '../../helpers/s3.js';
import { withTmpfs } from '../../helpers/tmpfs.js';

const READ_WHILE_WRITTEN = /\(read back from local as it was written\)$/;

describe('full backup verified while it is written', () => {
  const pg = clusterForSuite();

  async function database(name: string): Promise<string> {
    const url = await pg().createDatabase(name);
    await pg().query(
      `CREATE TABLE rates (id int primary key, night date, amount numeric, note text);
       INSERT INTO rates SELECT i, date '2026-01-01' + i % 365, i * 1.5, repeat(md5(i::text), 4) FROM generate_series(1, 30000) i;
       CREATE TABLE guests (id int primary key, name text);
       INSERT INTO guests SELECT i, 'guest ' || i FROM generate_series(1, 500) i;`,
      [],
      name,
    );
    return url;
  }

  async function verifyLogs(warden: WardenSetup, id: string) {
    return warden.query<{ level: string; message: string }>("SELECT level, message FROM pgwarden.backup_logs WHERE backup_id = $1 AND step = 'verify' ORDER BY id", [id]);
  }

  async function backupRow(warden: WardenSetup, id: string) {
    const [row] = await warden.query<{ status: string; verification_status: string | null; error: string | null }>(
      'SELECT status, verification_status, error FROM pgwarden.database_backups WHERE backup_id = $1',
      [id],
    );
    return row;
  }

  for (const jobs of [1, 2]) {
    const format = jobs === 1 ? 'custom archive' : 'pg_dump directory as tar';
    it(`reads the local copy back as it lands (${format}), and the backup verifies again from storage`, async (t) => {
      const url = await database(`vww_${jobs}`);
      const warden = await setupWarden(t, pg(), { databases: [{ name: 'hotel', url }], encrypt: true, extra: `backup: { jobs: ${jobs} }` });
      const backup = await warden.run(['backup', 'full']);
      assert.equal(backup.code, 0, backup.stderr);
      const id = printedIds(backup)[0]!;
      const logs = await verifyLogs(warden, id);
      assert.equal(logs.length, 1, JSON.stringify(logs));
      assert.equal(logs[0]!.level, 'info');
      assert.match(logs[0]!.message, /^verified: checksum, every data block read through pg_restore, 2 tables/);
      assert.match(logs[0]!.message, READ_WHILE_WRITTEN);
      assert.deepEqual(await backupRow(warden, id), { status: 'succeeded', verification_status: 'ok', error: null });
      const again = await warden.run(['verify', id, '--json']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).tables, 2);
    });
  }

  it('a read-back that fails while writing is redone from the stored copy, which decides', async (t) => {
    const url = await database('vww_flaky');
    // backup.pgBinDir: the real tools, but the read-through's pg_restore fails as ./mode says.
    const bin = await mkdtemp(join(tmpdir(), 'pgwarden-flakybin-'));
    t.after(() => rm(bin, { recursive: true, force: true }));
    const real = await findPgBinDir({ tool: 'pg_restore' });
    for (const tool of ['pg_dump', 'psql', 'pg_ctl']) await symlink(join(real, tool), join(bin, tool));
    await writeFile(
      join(bin, 'pg_restore'),
      [
        '#!/bin/sh',
        'for arg in "$@"; do',
        '  if [ "$arg" = "--file=/dev/null" ]; then',
        `    mode=$(cat ${join(bin, 'mode')})`,
        `    if [ "$mode" = always ] || { [ "$mode" = once ] && [ ! -e ${join(bin, 'failed')} ]; }; then`,
        `      touch ${join(bin, 'failed')}; cat > /dev/null; echo "pg_restore: error: injected read failure" >&2; exit 1`,
        '    fi',
        '  fi',
        'done',
        `exec ${join(real, 'pg_restore')} "$@"`,
        '',
      ].join('\n'),
    );
    await chmod(join(bin, 'pg_restore'), 0o755);
    await chmod(bin, 0o755);
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'hotel', url }], encrypt: true, extra: `backup: { pgBinDir: "${bin}" }` });

    // The read beside the write fails; the stored copy, read back after it, passes: the backup is good.
    await writeFile(join(bin, 'mode'), 'once');
    const flaky = await warden.run(['backup', 'full']);
    assert.equal(flaky.code, 0, flaky.stderr);
    const flakyId = printedIds(flaky)[0]!;
    const logs = await verifyLogs(warden, flakyId);
    assert.deepEqual(logs.map((l) => l.level), ['warn', 'info']);
    assert.match(logs[0]!.message, /^the read-back while writing failed \(artifact local:hotel\/full\/.*\/dump\.pgc\.zst\.enc is not a readable pg_dump archive: pg_restore: error: injected read failure\); reading the stored copy back again$/);
    assert.doesNotMatch(logs[1]!.message, READ_WHILE_WRITTEN);
    assert.equal((await backupRow(warden, flakyId))?.verification_status, 'ok');

    // Both reads fail: the backup fails with the reason, is not marked good, and leaves nothing on storage.
    await writeFile(join(bin, 'mode'), 'always');
    const bad = await warden.run(['backup', 'full', '--json']);
    assert.equal(bad.code, 1, bad.stdout);
    const [record] = JSON.parse(bad.stdout) as { backup_id: string; status: string; error: string }[];
    assert.equal(record?.status, 'failed');
    assert.match(record!.error, /is not a readable pg_dump archive: pg_restore: error: injected read failure/);
    const row = await backupRow(warden, record!.backup_id);
    assert.equal(row?.status, 'failed');
    assert.notEqual(row?.verification_status, 'ok');
    assert.deepEqual((await warden.storageFiles()).filter((f) => f.includes(record!.backup_id)), []);
  });

  it('when the local disk fills up mid-backup, the copy S3 took is read back instead (a real 16 MiB tmpfs)', async (t) => {
    const url = await pg().createDatabase('vww_full_disk');
    // 24 MiB of incompressible bytes: more than the tmpfs holds.
    await createIncompressibleBlobs(pg(), 'vww_full_disk', 24);
    const s3 = await startS3Server(t, { buckets: ['primary'] });
    const s3Target = `s3: { bucket: primary, endpoint: "${s3.endpoint}", region: us-east-1, forcePathStyle: true, requestChecksumCalculation: WHEN_REQUIRED, accessKeyId: ${S3_CREDENTIALS.accessKeyId}, secretAccessKey: ${S3_CREDENTIALS.secretAccessKey}, maxAttempts: 1 }, copyAttempts: 1, copyRetryDelaySeconds: 0`;
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'blobs', url }], encrypt: true });
    const mountPoint = join(warden.dir, 'tiny');
    await withTmpfs(mountPoint, 16, async () => {
      await warden.writeConfig({ databases: [{ name: 'blobs', url }], encrypt: true, storagePath: mountPoint, storageTargets: s3Target });
      const backup = await warden.run(['backup', 'full', '--json']);
      assert.equal(backup.code, 0, backup.stderr);
      const [record] = JSON.parse(backup.stdout) as { backup_id: string; status: string }[];
      assert.equal(record?.status, 'succeeded');
      const id = record!.backup_id;
      const logs = await verifyLogs(warden, id);
      assert.deepEqual(logs.map((l) => l.level), ['info'], JSON.stringify(logs));
      assert.doesNotMatch(logs[0]!.message, READ_WHILE_WRITTEN, 'the local copy dropped out: S3 was read back');
      const [row] = await warden.query<{ verification_status: string; storage: Record<string, { status: string; error?: string }> }>(
        'SELECT verification_status, storage FROM pgwarden.database_backups WHERE backup_id = $1',
        [id],
      );
      assert.equal(row?.verification_status, 'ok');
      assert.equal(row?.storage['local']?.status, 'failed');
      assert.match(row?.storage['local']?.error ?? '', /no space left/);
      assert.equal(row?.storage['s3']?.status, 'stored');
      assert.deepEqual(await readdir(mountPoint, { recursive: true }).then((names) => names.filter((n) => n.includes('.tmp-'))), [], 'no partial file is left');
    });
  });
});
