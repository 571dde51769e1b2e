// Compression choices end to end: a gzip backup taken before the default became zstd still verifies and
// restores (and is a standard gzip stream), databases choose their own algorithm and level (recorded in the
// manifest), and a compressor that dies mid-stream fails the backup and leaves nothing that looks good.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clusterForSuite, fingerprintDiff, loadFixture, tableFingerprints } from '../../helpers/postgres.js';
import { printedIds, setupWarden } from '../../helpers/pgwarden.js';

describe('compression choices', () => {
  const pg = clusterForSuite();

  it('a gzip backup from before the default became zstd is a standard gzip stream, and still verifies and restores', async (t) => {
    const sourceUrl = await pg().createDatabase('old_gzip');
    await loadFixture(sourceUrl, 'awkward');
    const db = { name: 'awkward', url: sourceUrl };
    const warden = await setupWarden(t, pg(), { databases: [db], extra: 'backup: { compression: gzip }' });
    const backup = await warden.run(['backup', 'full']);
    assert.equal(backup.code, 0, backup.stderr);
    const [id] = printedIds(backup);
    const artifact = join(warden.storageDir, 'awkward', 'full', id!, 'dump.pgc.gz');
    execFileSync('gzip', ['-t', artifact]);
    const manifest = JSON.parse(await readFile(join(warden.storageDir, 'awkward', 'full', id!, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.artifact.compression, { algorithm: 'gzip', level: 6 });

    // Today's config: the default (zstd). The old backup is read as its manifest says.
    await warden.writeConfig({ databases: [db] });
    const verify = await warden.run(['verify', id!]);
    assert.equal(verify.code, 0, verify.stderr);
    for (const jobs of ['1', '2']) {
      const targetUrl = await pg().createDatabase(`old_gzip_restored_${jobs}`);
      const restore = await warden.run(['restore', id!, '--target-url', targetUrl, '--jobs', jobs]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.deepEqual(fingerprintDiff(await tableFingerprints(sourceUrl), await tableFingerprints(targetUrl)), []);
    }
    const next = await warden.run(['backup', 'full']);
    assert.equal(next.code, 0, next.stderr);
    assert.ok((await warden.storageFiles()).includes(`awkward/full/${printedIds(next)[0]}/dump.pgc.zst`));
  });

  it('each database uses its own algorithm and level, recorded in its manifest and the catalog', async (t) => {
    const fastUrl = await pg().createDatabase('fast_lz4');
    const smallUrl = await pg().createDatabase('small_zstd');
    for (const [url, name] of [[fastUrl, 'fast_lz4'], [smallUrl, 'small_zstd']] as const) {
      await pg().query(`CREATE TABLE notes (id int, body text); INSERT INTO notes SELECT i, repeat('note ' || i, 20) FROM generate_series(1, 20000) i`, [], name);
      assert.ok(url);
    }
    const warden = await setupWarden(t, pg(), {
      databases: [
        { name: 'fast', url: fastUrl, compression: 'lz4' },
        { name: 'small', url: smallUrl, compressionLevel: 19 },
      ],
      encrypt: true,
      extra: 'backup: { compression: zstd, compressionLevel: 5 }',
    });
    const backup = await warden.run(['backup', 'full', '--json']);
    assert.equal(backup.code, 0, backup.stderr);
    const records = JSON.parse(backup.stdout) as { backup_id: string; database: string }[];
    const expected: Record<string, [string, object, string]> = {
      fast: ['dump.pgc.lz4.enc', { algorithm: 'lz4', level: 1 }, 'lz4:1'],
      small: ['dump.pgc.zst.enc', { algorithm: 'zstd', level: 19 }, 'zstd:19'],
    };
    for (const record of records) {
      const [file, compression, label] = expected[record.database]!;
      const manifest = JSON.parse(await readFile(join(warden.storageDir, record.database, 'full', record.backup_id, 'manifest.json'), 'utf8'));
      assert.equal(manifest.artifact.file, file);
      assert.deepEqual(manifest.artifact.compression, compression);
      const [row] = await warden.query<{ compression: string }>('SELECT compression FROM pgwarden.database_backups WHERE backup_id = $1', [record.backup_id]);
      assert.equal(row?.compression, label);
      const targetUrl = await pg().createDatabase(`${record.database}_restored`);
      const restore = await warden.run(['restore', record.backup_id, '--target-url', targetUrl, '--json']);
      assert.equal(restore.code, 0, restore.stderr);
      assert.equal(JSON.parse(restore.stdout).rows, 20000);
    }
  });

  it('a compressor that dies mid-stream fails the backup, leaves nothing on storage and records why', async (t) => {
    const sourceUrl = await pg().createDatabase('dies_midway');
    await pg().query(`CREATE TABLE blobs (id int, body text); INSERT INTO blobs SELECT i, md5(i::text) FROM generate_series(1, 200000) i`, [], 'dies_midway');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'dies', url: sourceUrl }], encrypt: true });
    const bin = await mkdtemp(join(tmpdir(), 'pgwarden-fakebin-'));
    t.after(() => rm(bin, { recursive: true, force: true }));
    await mkdir(bin, { recursive: true });
    const real = execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim();
    // The real zstd for the first megabyte (so the start-up check passes), then a crash while input remains.
    await writeFile(
      join(bin, 'zstd'),
      `#!/bin/sh\ncase " $* " in *" -d "*) exec ${real} "$@";; esac\nhead -c 1048576 | ${real} "$@"\nif [ -n "$(head -c 1 | od -An)" ]; then echo "zstd: simulated crash" >&2; exit 1; fi\n`,
    );
    await chmod(join(bin, 'zstd'), 0o755);

    const backup = await warden.run(['backup', 'full'], { PATH: `${bin}:${process.env['PATH']}` });
    assert.equal(backup.code, 1, backup.stdout);
    assert.match(backup.stderr, /zstd \(compressing\) exited with code 1: .*simulated crash/);
    assert.deepEqual(await warden.storageFiles(), []);
    const rows = await warden.query<{ status: string; verification_status: string | null }>('SELECT status, verification_status FROM pgwarden.database_backups');
    assert.deepEqual(rows.map((r) => r.status), ['failed']);
    assert.notEqual(rows[0]!.verification_status, 'ok');
  });
});
