// A full backup of a database with awkward content restores to identical data: every table's row count
// and content hash, large objects included — plain, encrypted, and with a parallel restore.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clusterForSuite, fingerprintDiff, loadFixture, tableFingerprints } from '../../helpers/postgres.js';
import { printedIds, setupWarden } from '../../helpers/pgwarden.js';

describe('full backup round trip', () => {
  const pg = clusterForSuite();

  it('restores a database with quoted names, enums, citext, jsonb, bytea, partitions, LOs and RLS identically', async (t) => {
    const sourceUrl = await pg().createDatabase('awkward_plain');
    await loadFixture(sourceUrl, 'awkward');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'awkward', url: sourceUrl }] });

    const backup = await warden.run(['backup', 'full']);
    assert.equal(backup.code, 0, backup.stderr);
    const [id] = printedIds(backup);
    assert.ok(id, `no backup id printed: ${backup.stdout}`);

    const files = await warden.storageFiles();
    assert.deepEqual(files, [`awkward/full/${id}/dump.pgc.zst`, `awkward/full/${id}/manifest.json`]);
    const manifest = JSON.parse(await readFile(join(warden.storageDir, 'awkward', 'full', id, 'manifest.json'), 'utf8'));
    assert.equal(manifest.verification.ok, true);
    assert.equal(manifest.artifact.encryption, null);
    assert.deepEqual(manifest.artifact.compression, { algorithm: 'zstd', level: 3 });

    const targetUrl = await pg().createDatabase('awkward_plain_restored');
    const restore = await warden.run(['restore', id, '--target-url', targetUrl, '--json']);
    assert.equal(restore.code, 0, restore.stderr);
    const report = JSON.parse(restore.stdout);
    assert.equal(report.tables, manifest.tables.count);

    const expected = await tableFingerprints(sourceUrl);
    const actual = await tableFingerprints(targetUrl);
    assert.deepEqual(fingerprintDiff(expected, actual), []);
    assert.ok(expected.size >= 10, `fixture should have many tables, has ${expected.size}`);
    const restoredRows = [...actual.entries()].filter(([name]) => !name.startsWith('pg_catalog.')).reduce((n, [, f]) => n + Math.max(f.rows, 0), 0);
    assert.ok(report.rows > 0 && report.rows <= restoredRows, `reported ${report.rows} rows`);

    const [row] = await warden.query<{ status: string; verification_status: string; file_size: string; checksum_sha256: string }>(
      'SELECT status, verification_status, file_size, checksum_sha256 FROM pgwarden.database_backups WHERE backup_id = $1',
      [id],
    );
    assert.equal(row?.status, 'succeeded');
    assert.equal(row?.verification_status, 'ok');
    assert.equal(row?.checksum_sha256, manifest.artifact.sha256);
    const steps = await warden.query<{ step: string }>('SELECT step FROM pgwarden.backup_logs WHERE backup_id = $1 ORDER BY id', [id]);
    assert.deepEqual(steps.map((s) => s.step), ['start', 'precheck', 'dump', 'verify', 'finish']);
    const access = await warden.query<{ action: string; actor: string; result: string }>(
      'SELECT action, actor, result FROM pgwarden.backup_access_logs WHERE backup_id = $1',
      [id],
    );
    assert.deepEqual(access.map((a) => [a.action, a.result]), [['restore', 'ok']]);
    assert.match(access[0]!.actor, /^cli:/);
  });

  it('restores an encrypted backup with --jobs 2 and refuses to decrypt with a wrong key, naming it', async (t) => {
    const sourceUrl = await pg().createDatabase('awkward_enc');
    await loadFixture(sourceUrl, 'awkward');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'awkward', url: sourceUrl }], encrypt: true });

    const backup = await warden.run(['backup', 'full', '--json']);
    assert.equal(backup.code, 0, backup.stderr);
    const [record] = JSON.parse(backup.stdout);
    assert.deepEqual(Object.keys(record).sort(), ['backup_id', 'checksum_sha256', 'created_at', 'database', 'error', 'file_size', 'finished_at', 'status', 'type']);
    assert.equal(record.status, 'succeeded');
    assert.equal(record.error, null);
    const id: string = record.backup_id;
    const stored = await readFile(join(warden.storageDir, 'awkward', 'full', id, 'dump.pgc.zst.enc'));
    assert.equal(stored.subarray(0, 6).toString(), 'PGWENC');
    // The plaintext must not leak: the fixture's table name is not in the stored bytes.
    assert.equal(stored.includes(Buffer.from('Room Rates')), false);

    const targetUrl = await pg().createDatabase('awkward_enc_restored');
    const restore = await warden.run(['restore', id, '--target-url', targetUrl, '--jobs', '2']);
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, /restored backup .* tables, \d+ rows/);
    assert.doesNotMatch(restore.stderr, /data offsets were not filled in/, 'pg_restore --jobs got a seekable table of contents');
    assert.deepEqual(fingerprintDiff(await tableFingerprints(sourceUrl), await tableFingerprints(targetUrl)), []);

    // Same key id, different key bytes: a wrong key, named.
    await warden.writeConfig({ databases: [{ name: 'awkward', url: sourceUrl }], keys: [{ id: 'k1', key: Buffer.alloc(32, 7).toString('base64') }] });
    const wrongTarget = await pg().createDatabase('awkward_enc_wrong');
    const wrong = await warden.run(['restore', id, '--target-url', wrongTarget]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /decryption failed with key "k1": wrong key/);
    assert.doesNotMatch(wrong.stderr, /\n\s+at /, 'no stack trace');
    const verify = await warden.run(['verify', id]);
    assert.equal(verify.code, 1);
    assert.match(verify.stderr, /key "k1"/);

    // A key ring without the backup's key id: the message names the missing id.
    await warden.writeConfig({ databases: [{ name: 'awkward', url: sourceUrl }], keys: [{ id: 'k2', key: warden.key }] });
    const missing = await warden.run(['verify', id]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /encrypted with key "k1", which is not in encryption\.keys/);
  });

  it('dumps in parallel with backup.jobs 2 (pg_dump -Fd packed as tar) and restores with one or two jobs', async (t) => {
    const sourceUrl = await pg().createDatabase('awkward_dir');
    await loadFixture(sourceUrl, 'awkward');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'awkward', url: sourceUrl }], encrypt: true, extra: 'backup: { jobs: 2 }' });
    const backup = await warden.run(['backup', 'full']);
    assert.equal(backup.code, 0, backup.stderr);
    const id = printedIds(backup)[0]!;
    assert.deepEqual(await warden.storageFiles(), [`awkward/full/${id}/dump.tar.zst.enc`, `awkward/full/${id}/manifest.json`]);
    const manifest = JSON.parse(await readFile(join(warden.storageDir, 'awkward', 'full', id, 'manifest.json'), 'utf8'));
    assert.equal(manifest.artifact.format, 'directory-tar');
    assert.equal(manifest.verification.ok, true);

    const verify = await warden.run(['verify', id]);
    assert.equal(verify.code, 0, verify.stderr);
    const expected = await tableFingerprints(sourceUrl);
    for (const jobs of ['1', '2']) {
      const targetUrl = await pg().createDatabase(`awkward_dir_restored_${jobs}`);
      const restore = await warden.run(['restore', id, '--target-url', targetUrl, '--jobs', jobs]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.deepEqual(fingerprintDiff(expected, await tableFingerprints(targetUrl)), []);
    }

    const artifact = join(warden.storageDir, 'awkward', 'full', id, 'dump.tar.zst.enc');
    const bytes = await readFile(artifact);
    bytes[Math.floor(bytes.length / 3)]! ^= 0x01;
    await writeFile(artifact, bytes);
    const damaged = await warden.run(['verify', id]);
    assert.equal(damaged.code, 1);
    assert.match(damaged.stderr, /does not match its checksum/);
  });

  it('refuses a non-empty restore target unless --clean, and --clean replaces its contents', async (t) => {
    const sourceUrl = await pg().createDatabase('clean_src');
    await pg().query('CREATE TABLE t (id int primary key, v text); INSERT INTO t SELECT i, md5(i::text) FROM generate_series(1, 100) i', [], 'clean_src');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'clean_src', url: sourceUrl }] });
    const backup = await warden.run(['backup', 'full']);
    assert.equal(backup.code, 0, backup.stderr);
    const [id] = printedIds(backup);

    const targetUrl = await pg().createDatabase('clean_target');
    await pg().query("CREATE TABLE t (id int primary key, v text); INSERT INTO t VALUES (1, 'stale')", [], 'clean_target');
    const refused = await warden.run(['restore', id!, '--target-url', targetUrl]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /restore target .*clean_target is not empty \(1 tables\/views\/sequences\)/);
    assert.match(refused.stderr, /HINT: .*--clean/);

    const cleaned = await warden.run(['restore', id!, '--target-url', targetUrl, '--clean']);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.deepEqual(fingerprintDiff(await tableFingerprints(sourceUrl), await tableFingerprints(targetUrl)), []);
  });

  it('rebuilds the catalog from the manifests on storage, then restores by id', async (t) => {
    const sourceUrl = await pg().createDatabase('rebuild_src');
    await pg().query('CREATE TABLE booking (id int primary key); INSERT INTO booking SELECT generate_series(1, 42)', [], 'rebuild_src');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'rebuild_src', url: sourceUrl }], encrypt: true });
    const first = await warden.run(['backup', 'full']);
    const second = await warden.run(['backup', 'full']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    const ids = [...printedIds(first), ...printedIds(second)];

    await warden.query('DROP SCHEMA pgwarden CASCADE');
    const rebuilt = await warden.run(['catalog', 'rebuild', '--json']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.deepEqual(JSON.parse(rebuilt.stdout).inserted.sort(), ids.sort());

    const list = await warden.run(['list', '--json']);
    const rows = JSON.parse(list.stdout);
    assert.deepEqual(rows.map((r: { backupId: string; status: string; verificationStatus: string }) => [r.backupId, r.status, r.verificationStatus]).sort(), ids.sort().map((id) => [id, 'succeeded', 'ok']));

    const targetUrl = await pg().createDatabase('rebuild_restored');
    const restore = await warden.run(['restore', ids[0]!, '--target-url', targetUrl, '--json']);
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(JSON.parse(restore.stdout).rows, 42);
  });
});
