// Full backups under AWS KMS envelope encryption, through the CLI against the local KMS: each backup gets its
// own data key, the manifest keeps only the wrapped copy, verify and restore unwrap it (one KMS call each),
// older config-key backups keep restoring, and a KMS that is down or refuses fails loudly, naming the key.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sealManifest } from '../../../src/manifest/manifest.js';
import type { BackupManifest } from '../../../src/manifest/types.js';
import { type FakeKms, startFakeKms } from '../../helpers/fake-kms.js';
import { type CliResult, printedIds, setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';
import { clusterForSuite, fingerprintDiff, loadFixture, tableFingerprints } from '../../helpers/postgres.js';

const manifestPath = (warden: WardenSetup, db: string, id: string) => join(warden.storageDir, db, 'full', id, 'manifest.json');
const readManifest = async (warden: WardenSetup, db: string, id: string): Promise<BackupManifest> =>
  JSON.parse(await readFile(manifestPath(warden, db, id), 'utf8')) as BackupManifest;

function backedUp(result: CliResult): string {
  assert.equal(result.code, 0, result.stderr);
  const [id] = printedIds(result);
  assert.ok(id, `no backup id printed: ${result.stdout}`);
  return id;
}

/** No plaintext data key the KMS handed out appears in `text`, in base64 or hex. */
function assertNoDataKey(kms: FakeKms, text: string | Buffer, what: string): void {
  for (const key of kms.issued) {
    for (const needle of [key, Buffer.from(key.toString('base64')), Buffer.from(key.toString('hex'))]) {
      assert.equal(Buffer.from(text).includes(needle), false, `a plaintext data key is in ${what}`);
    }
  }
}

describe('full backups with AWS KMS', () => {
  const pg = clusterForSuite();

  it('a KMS-only backup keeps only the wrapped data key; verify and restore unwrap it once each; the data is identical', async (t) => {
    const kms = await startFakeKms(t);
    const sourceUrl = await pg().createDatabase('kms_awkward');
    await loadFixture(sourceUrl, 'awkward');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'awkward', url: sourceUrl }], kms: kms.configYaml('alias/backups') });

    const id = backedUp(await warden.run(['backup', 'full']));
    assert.deepEqual(kms.calls, { GenerateDataKey: 1, Decrypt: 1 }, "one data key, unwrapped once by the backup's own verification");
    assert.deepEqual(await warden.storageFiles(), [`awkward/full/${id}/dump.pgc.zst.enc`, `awkward/full/${id}/manifest.json`]);
    const manifestText = await readFile(manifestPath(warden, 'awkward', id), 'utf8');
    const { artifact } = JSON.parse(manifestText) as BackupManifest;
    assert.match(artifact!.encryption!.keyId, /^kms-[0-9a-f]{32}$/);
    assert.equal(artifact!.encryption!.kms?.keyId, kms.arn('alias/backups'), 'the key ARN, not the alias');
    assert.ok(Buffer.from(artifact!.encryption!.kms!.wrappedKey, 'base64').length > 32);
    const stored = await readFile(join(warden.storageDir, 'awkward', 'full', id, 'dump.pgc.zst.enc'));
    assert.equal(stored.subarray(0, 6).toString(), 'PGWENC');
    assert.ok(stored.subarray(0, 80).includes(Buffer.from(artifact!.encryption!.keyId)), 'the header names the data key');
    assertNoDataKey(kms, manifestText, 'the manifest');
    assertNoDataKey(kms, stored, 'the artifact');
    const [row] = await warden.query<{ encryption_key_id: string; status: string }>('SELECT encryption_key_id, status FROM pgwarden.database_backups WHERE backup_id = $1', [id]);
    assert.deepEqual(row, { encryption_key_id: artifact!.encryption!.keyId, status: 'succeeded' });
    const logs = await warden.query<{ message: string; details: unknown }>('SELECT message, details FROM pgwarden.backup_logs WHERE backup_id = $1', [id]);
    assertNoDataKey(kms, JSON.stringify(logs), 'the backup logs');

    kms.resetCalls();
    const verify = await warden.run(['verify', id]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.deepEqual(kms.calls, { GenerateDataKey: 0, Decrypt: 1 }, 'verify reads the artifact twice with one unwrap');

    kms.resetCalls();
    const targetUrl = await pg().createDatabase('kms_awkward_restored');
    const restore = await warden.run(['restore', id, '--target-url', targetUrl]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(kms.calls, { GenerateDataKey: 0, Decrypt: 1 });
    assert.deepEqual(fingerprintDiff(await tableFingerprints(sourceUrl), await tableFingerprints(targetUrl)), []);
    assertNoDataKey(kms, restore.stdout + restore.stderr + verify.stdout + verify.stderr, 'the CLI output');

    // A second backup has a data key of its own.
    const second = backedUp(await warden.run(['backup', 'full']));
    const next = await readManifest(warden, 'awkward', second);
    assert.notEqual(next.artifact!.encryption!.keyId, artifact!.encryption!.keyId);
    assert.notEqual(next.artifact!.encryption!.kms!.wrappedKey, artifact!.encryption!.kms!.wrappedKey);
  });

  it('a backup made with a config key still restores once KMS is configured, and new backups use KMS', async (t) => {
    const kms = await startFakeKms(t);
    const sourceUrl = await pg().createDatabase('kms_rotation');
    await pg().query('CREATE TABLE stays (id int PRIMARY KEY, guest text); INSERT INTO stays SELECT i, md5(i::text) FROM generate_series(1, 500) i', [], 'kms_rotation');
    const databases = [{ name: 'rotation', url: sourceUrl }];
    const warden = await setupWarden(t, pg(), { databases, encrypt: true });
    const old = backedUp(await warden.run(['backup', 'full']));
    assert.deepEqual((await readManifest(warden, 'rotation', old)).artifact!.encryption, { keyId: 'k1', format: 'pgwenc-1' });

    await warden.writeConfig({ databases, keys: [{ id: 'k1', key: warden.key }], kms: kms.configYaml('alias/backups') });
    const fresh = backedUp(await warden.run(['backup', 'full']));
    assert.match((await readManifest(warden, 'rotation', fresh)).artifact!.encryption!.keyId, /^kms-/);
    kms.resetCalls();
    for (const id of [old, fresh]) {
      const targetUrl = await pg().createDatabase(`kms_rotation_${id.slice(-6)}`);
      const restore = await warden.run(['restore', id, '--target-url', targetUrl]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.deepEqual(fingerprintDiff(await tableFingerprints(sourceUrl), await tableFingerprints(targetUrl)), []);
    }
    assert.deepEqual(kms.calls, { GenerateDataKey: 0, Decrypt: 1 }, 'only the KMS backup asks KMS');

    // Without encryption.kms, the KMS backup says what is missing.
    await warden.writeConfig({ databases, keys: [{ id: 'k1', key: warden.key }] });
    const verify = await warden.run(['verify', fresh]);
    assert.equal(verify.code, 1);
    assert.match(verify.stderr, /the data key is wrapped by KMS key arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]+, and encryption\.kms is not configured/);
    // Without any encryption section, the hint says what to configure.
    await warden.writeConfig({ databases });
    const bare = await warden.run(['restore', fresh, '--target-url', await pg().createDatabase('kms_rotation_bare')]);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /is encrypted with key "kms-[0-9a-f]{32}" but no encryption keys are configured/);
    assert.match(bare.stderr, /HINT: set encryption\.kms: the data key of this artifact is wrapped by KMS key arn:aws:kms:/);
  });

  it('KMS down or refusing during a backup fails it in seconds, naming the key; nothing is stored or marked good', async (t) => {
    const kms = await startFakeKms(t);
    const sourceUrl = await pg().createDatabase('kms_down');
    await pg().query('CREATE TABLE t (id int)', [], 'kms_down');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'down', url: sourceUrl }], kms: kms.configYaml('alias/backups', 'timeoutSeconds: 2') });

    await kms.down();
    const started = performance.now();
    const down = await warden.run(['backup', 'full', '--json']);
    assert.ok(performance.now() - started < 15_000, `took ${Math.round(performance.now() - started)} ms`);
    assert.equal(down.code, 1);
    const [record] = JSON.parse(down.stdout);
    assert.equal(record.status, 'failed');
    assert.match(record.error, new RegExp(`KMS endpoint ${kms.endpoint.replace(/\./g, '\\.')} is unreachable \\(ECONNREFUSED\\): cannot make a new data key with key alias/backups`));

    await kms.up();
    kms.deny('alias/backups');
    const denied = await warden.run(['backup', 'full', '--json']);
    assert.equal(denied.code, 1);
    assert.match(JSON.parse(denied.stdout)[0].error, /KMS denied GenerateDataKey with key alias\/backups/);

    assert.deepEqual(await warden.storageFiles(), [], 'no artifact, no manifest');
    const rows = await warden.query<{ status: string; verification_status: string | null }>('SELECT status, verification_status FROM pgwarden.database_backups');
    assert.deepEqual(rows.map((r) => r.status), ['failed', 'failed']);
    assert.ok(rows.every((r) => r.verification_status !== 'ok'));
  });

  it('KMS down or access denied during restore and verify: a clear error naming the KMS key, the target untouched', async (t) => {
    const kms = await startFakeKms(t);
    const sourceUrl = await pg().createDatabase('kms_restore');
    await pg().query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)', [], 'kms_restore');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'restore', url: sourceUrl }], kms: kms.configYaml('alias/backups', 'timeoutSeconds: 2') });
    const id = backedUp(await warden.run(['backup', 'full']));
    const arn = kms.arn('alias/backups');
    const targetUrl = await pg().createDatabase('kms_restore_target');

    kms.deny('alias/backups');
    const denied = await warden.run(['restore', id, '--target-url', targetUrl]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, new RegExp(`KMS denied Decrypt with key ${arn}`));
    assert.match(denied.stderr, new RegExp(`HINT: allow kms:Decrypt on ${arn}`));
    assert.doesNotMatch(denied.stderr, /\n\s+at /, 'no stack trace');
    const verify = await warden.run(['verify', id]);
    assert.equal(verify.code, 1);
    assert.match(verify.stderr, new RegExp(`KMS denied Decrypt with key ${arn}`));

    kms.allow('alias/backups');
    await kms.down();
    const down = await warden.run(['restore', id, '--target-url', targetUrl]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, new RegExp(`KMS endpoint .* is unreachable \\(ECONNREFUSED\\): cannot unwrap a data key with key ${arn}`));
    const tables = await pg().query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'", [], 'kms_restore_target');
    assert.equal(tables.rows[0]?.n, 0, 'nothing was restored');

    await kms.up();
    const restored = await warden.run(['restore', id, '--target-url', targetUrl]);
    assert.equal(restored.code, 0, restored.stderr);
  });

  it('a manifest whose wrapped key was tampered with is refused, before KMS is asked', async (t) => {
    const kms = await startFakeKms(t);
    const sourceUrl = await pg().createDatabase('kms_tamper');
    await pg().query('CREATE TABLE t (id int)', [], 'kms_tamper');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'tamper', url: sourceUrl }], kms: kms.configYaml('alias/backups') });
    const id = backedUp(await warden.run(['backup', 'full']));
    const manifest = await readManifest(warden, 'tamper', id);
    const wrapped = Buffer.from(manifest.artifact!.encryption!.kms!.wrappedKey, 'base64');
    wrapped[wrapped.length - 1]! ^= 0x01;
    const { checksum: _checksum, ...rest } = manifest;
    const tampered = { ...rest, artifact: { ...manifest.artifact!, encryption: { ...manifest.artifact!.encryption!, kms: { ...manifest.artifact!.encryption!.kms!, wrappedKey: wrapped.toString('base64') } } } };

    // Edited in place: the manifest's checksum catches it.
    await writeFile(manifestPath(warden, 'tamper', id), JSON.stringify({ ...tampered, checksum: manifest.checksum }));
    const edited = await warden.run(['verify', id]);
    assert.equal(edited.code, 1);
    assert.match(edited.stderr, /was modified: its checksum does not match its content/);

    // Resealed with a matching checksum: the wrapped key no longer belongs to the artifact's header.
    await writeFile(manifestPath(warden, 'tamper', id), sealManifest(tampered).text);
    kms.resetCalls();
    const targetUrl = await pg().createDatabase('kms_tamper_target');
    const restore = await warden.run(['restore', id, '--target-url', targetUrl]);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /the wrapped data key does not belong to this encrypted stream: it is key "kms-[0-9a-f]{32}", the stream was encrypted with "kms-[0-9a-f]{32}"/);
    assert.match(restore.stderr, /HINT: the wrapped key \(in the manifest, or in front of the WAL object\) was altered or swapped/);
    const verify = await warden.run(['verify', id]);
    assert.equal(verify.code, 1);
    assert.match(verify.stderr, /the wrapped data key does not belong to this encrypted stream/);
    assert.equal(kms.calls.Decrypt, 0);
  });
});
