// Damage to a stored backup is caught by `pgwarden verify` (and by restore), with a message saying which
// check failed: truncation, a flipped bit anywhere, a missing artifact, a missing or edited manifest.
import assert from 'node:assert/strict';
import { cp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clusterForSuite } from '../../helpers/postgres.js';
import { printedIds, setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';

describe('verify catches damaged backups', () => {
  const pg = clusterForSuite();

  /** One database, one good backup; returns paths to its files and a way to put them back. */
  async function backedUp(t: Parameters<typeof setupWarden>[0], name: string, encrypt: boolean) {
    const url = await pg().createDatabase(name);
    await pg().query(
      `CREATE TABLE rates (id int primary key, night date, amount numeric, note text);
       INSERT INTO rates SELECT i, date '2026-01-01' + i % 365, i * 1.5, repeat(md5(i::text), 4) FROM generate_series(1, 20000) i;
       CREATE TABLE guests (id int primary key, name text);
       INSERT INTO guests SELECT i, 'guest ' || i FROM generate_series(1, 500) i;`,
      [],
      name,
    );
    const warden = await setupWarden(t, pg(), { databases: [{ name, url }], encrypt });
    const backup = await warden.run(['backup', 'full']);
    assert.equal(backup.code, 0, backup.stderr);
    const id = printedIds(backup)[0]!;
    const dir = join(warden.storageDir, name, 'full', id);
    const artifact = join(dir, encrypt ? 'dump.pgc.zst.enc' : 'dump.pgc.zst');
    const manifest = join(dir, 'manifest.json');
    const pristine = join(warden.dir, 'pristine');
    await cp(dir, pristine, { recursive: true });
    const reset = () => cp(pristine, dir, { recursive: true, force: true });
    return { warden, id, artifact, manifest, reset, url };
  }

  async function expectVerifyFailure(warden: WardenSetup, id: string, pattern: RegExp) {
    const result = await warden.run(['verify', id]);
    assert.equal(result.code, 1, `verify should fail: ${result.stdout}`);
    assert.match(result.stderr, pattern);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    const [row] = await warden.query<{ verification_status: string; verification_error: string }>(
      'SELECT verification_status, verification_error FROM pgwarden.database_backups WHERE backup_id = $1',
      [id],
    );
    assert.equal(row?.verification_status, 'failed');
    assert.match(row?.verification_error ?? '', pattern);
  }

  async function flipBit(file: string, offset: number) {
    const bytes = await readFile(file);
    const at = offset < 0 ? bytes.length + offset : offset;
    bytes[at] = bytes[at]! ^ 0x10;
    await writeFile(file, bytes);
  }

  for (const encrypt of [false, true]) {
    const label = encrypt ? 'encrypted' : 'unencrypted';

    it(`detects truncation, flipped bits and a missing artifact (${label})`, async (t) => {
      const { warden, id, artifact, reset } = await backedUp(t, `faults_${label}`, encrypt);
      const ok = await warden.run(['verify', id, '--json']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(JSON.parse(ok.stdout).ok, true);

      const size = (await readFile(artifact)).length;
      await truncate(artifact, Math.floor(size * 0.6));
      await expectVerifyFailure(warden, id, /is truncated: \d+ bytes stored, the manifest records \d+/);
      await reset();

      // Header, early, middle, the last bytes (zstd frame end or last GCM tag).
      for (const offset of [2, 40, Math.floor(size / 2), -3]) {
        await flipBit(artifact, offset);
        await expectVerifyFailure(warden, id, /does not match its checksum: sha256 [0-9a-f]{64}, the manifest records [0-9a-f]{64}/);
        await reset();
      }

      await rm(artifact);
      await expectVerifyFailure(warden, id, /artifact local:.*dump\.pgc\.zst.* is missing/);
      await reset();

      const again = await warden.run(['verify', id]);
      assert.equal(again.code, 0, again.stderr);
      const accesses = await warden.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pgwarden.backup_access_logs WHERE backup_id = $1 AND action = 'verify'",
        [id],
      );
      assert.equal(accesses[0]?.n, 8);
    });
  }

  it('detects a missing manifest, an edited one, and one whose checksum was recomputed to hide the edit', async (t) => {
    const { warden, id, manifest, reset, url } = await backedUp(t, 'faults_manifest', true);

    await rm(manifest);
    await expectVerifyFailure(warden, id, /has no manifest at local:.*manifest\.json .*incomplete or was removed/);
    const target = await pg().createDatabase('faults_manifest_target');
    const restore = await warden.run(['restore', id, '--target-url', target]);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /has no manifest/);
    await reset();

    const text = await readFile(manifest, 'utf8');
    await writeFile(manifest, text.replace(/"count": \d+/, '"count": 99'));
    await expectVerifyFailure(warden, id, /manifest local:.*manifest\.json was modified: its checksum does not match its content/);
    await reset();

    await writeFile(manifest, text.replace(/"storedBytes": \d+/, '"storedBytes": 1'));
    await expectVerifyFailure(warden, id, /was modified/);
    await reset();

    // An edit that also recomputes the self-checksum is still caught against the catalog's record.
    const { manifestChecksum } = await import('../../../src/manifest/manifest.js');
    const forged = JSON.parse(text);
    forged.artifact.sha256 = 'a'.repeat(64);
    forged.checksum = manifestChecksum(forged);
    await writeFile(manifest, JSON.stringify(forged));
    await expectVerifyFailure(warden, id, /disagrees with the catalog/);
    await reset();

    await writeFile(manifest, '{ not json');
    await expectVerifyFailure(warden, id, /manifest local:.* is not valid JSON/);
    await reset();

    const fine = await warden.run(['verify', id]);
    assert.equal(fine.code, 0, fine.stderr);
    assert.ok(url);
  });

  it('reports an unknown backup id as not found', async (t) => {
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'any', url: pg().url('postgres') }] });
    const missing = await warden.run(['verify', '20200101T000000Z-full-abcdef']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /backup 20200101T000000Z-full-abcdef not found in the catalog or on storage target local/);
    const garbage = await warden.run(['restore', 'nonsense', '--target-url', 'postgres://127.0.0.1:1/x']);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stderr, /"nonsense" is not a backup id/);
  });
});
