// A backup that cannot be taken fails with the reason in the CLI output and the catalog, and leaves nothing
// on storage: unreachable server, bad password, a table the role cannot read, a disk too small or filling up.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openPgwarden } from '../../../src/app/open.js';
import { runBackups } from '../../../src/backup/run.js';
import { loadConfig } from '../../../src/config/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { clusterForSuite, createIncompressibleBlobs, createRole } from '../../helpers/postgres.js';
import { listFiles, setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';
import { withTmpfs } from '../../helpers/tmpfs.js';

describe('failed pre-checks and storage faults', () => {
  // Passwords are checked for the roles these tests create; everything else is trusted.
  const pg = clusterForSuite({ hbaLines: ['host all pw_user 127.0.0.1/32 scram-sha-256', 'host all reader 127.0.0.1/32 scram-sha-256'] });

  async function expectFailedRun(warden: WardenSetup, pattern: RegExp) {
    const result = await warden.run(['backup', 'full', '--json']);
    assert.equal(result.code, 1, result.stderr);
    const [record] = JSON.parse(result.stdout);
    assert.equal(record.status, 'failed');
    assert.match(record.error, pattern);
    const text = await warden.run(['backup', 'full']);
    assert.equal(text.code, 1);
    assert.match(text.stderr, pattern);
    assert.doesNotMatch(text.stderr, /\n\s+at /, 'no stack trace');
    const rows = await warden.query<{ status: string; error: string }>('SELECT status, error FROM pgwarden.database_backups ORDER BY created_at');
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.status, 'failed');
      assert.match(row.error, pattern);
    }
    const logged = await warden.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.backup_logs WHERE step = 'failed' AND level = 'error'");
    assert.equal(logged[0]?.n, 2);
    assert.deepEqual(await warden.storageFiles(), [], 'nothing left on storage');
  }

  it('names an unreachable server', async (t) => {
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'gone', url: 'postgres://postgres@127.0.0.1:1/gone' }] });
    await expectFailedRun(warden, /cannot connect to database "gone" at postgres@127\.0\.0\.1:1\/gone: connection refused/);
  });

  it('names a wrong password without printing it', async (t) => {
    await createRole(pg(), 'pw_user', { password: 'right-password' });
    const url = await pg().createDatabase('pw_db');
    const badUrl = url.replace('postgres@', 'pw_user:wrong-password-123@');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'pw_db', url: badUrl }] });
    await expectFailedRun(warden, /cannot connect to database "pw_db" at pw_user@127\.0\.0\.1:\d+\/pw_db: password authentication failed/);
    const out = await warden.run(['backup', 'full']);
    assert.equal(out.stderr.includes('wrong-password-123'), false);
  });

  it('names the table the backup role cannot read, and row-level security it cannot bypass', async (t) => {
    await createRole(pg(), 'reader', { password: 'reader-pass' });
    const url = await pg().createDatabase('guarded');
    await pg().query(
      `CREATE TABLE open_rates (id int); CREATE TABLE "Secret Payroll" (id int);
       CREATE TABLE tenant_rows (tenant text); ALTER TABLE tenant_rows ENABLE ROW LEVEL SECURITY;
       CREATE POLICY mine ON tenant_rows USING (tenant = current_user);
       GRANT SELECT ON open_rates, tenant_rows TO reader;`,
      [],
      'guarded',
    );
    const readerUrl = url.replace('postgres@', 'reader:reader-pass@');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'guarded', url: readerUrl }] });
    await expectFailedRun(
      warden,
      /role reader cannot read 2 objects in database "guarded": table public\."Secret Payroll" \(no SELECT privilege\), table public\.tenant_rows \(row-level security applies \(needs BYPASSRLS\)\)/,
    );
    const hint = await warden.run(['backup', 'full']);
    assert.match(hint.stderr, /HINT: .*pgwarden sql backup-role/);
  });

  it('fails the disk pre-check when free space is under 1.5 × the expected size', async (t) => {
    const url = await pg().createDatabase('small_disk');
    await pg().query('CREATE TABLE t AS SELECT i FROM generate_series(1, 1000) i', [], 'small_disk');
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'small_disk', url }] });
    const config = await loadConfig(warden.configPath);
    const app = await openPgwarden(config, { logger: createLogger({ level: 'silent', secrets: [] }), freeBytes: async () => 100_000 });
    try {
      const [result] = await runBackups(app, { kind: 'full' });
      assert.equal(result?.status, 'failed');
      assert.match(result?.error ?? '', /storage target local has 97\.7 KiB free at .*; this backup needs [\d.]+ MiB \(1\.5 × the expected [\d.]+ MiB\)/);
    } finally {
      await app.close();
    }
    const [row] = await warden.query<{ status: string; error: string }>('SELECT status, error FROM pgwarden.database_backups');
    assert.equal(row?.status, 'failed');
    assert.match(row?.error ?? '', /has 97\.7 KiB free/);
    assert.deepEqual(await warden.storageFiles(), []);
  });

  it('fails cleanly when the disk fills up mid-backup (a real 16 MiB tmpfs)', async (t) => {
    const url = await pg().createDatabase('big_blobs');
    // 24 MiB of incompressible bytes: the first-backup estimate (a quarter of the database) passes the
    // pre-check on a 16 MiB disk, and the dump then runs out of space.
    await createIncompressibleBlobs(pg(), 'big_blobs', 24);
    const warden = await setupWarden(t, pg(), { databases: [{ name: 'big_blobs', url }] });
    const mountPoint = join(warden.dir, 'tiny');
    await withTmpfs(mountPoint, 16, async () => {
      await warden.writeConfig({ databases: [{ name: 'big_blobs', url }], storagePath: mountPoint });

      const result = await warden.run(['backup', 'full', '--json']);
      assert.equal(result.code, 1, result.stderr);
      const [record] = JSON.parse(result.stdout);
      assert.equal(record.status, 'failed');
      assert.match(record.error, /storage target local: no space left on .*tiny while writing big_blobs\/full\/.*\/dump\.pgc\.zst/);
      assert.deepEqual(await listFiles(mountPoint), [], 'the partial file was removed');
      const [row] = await warden.query<{ status: string; error: string }>('SELECT status, error FROM pgwarden.database_backups');
      assert.equal(row?.status, 'failed');
      assert.match(row?.error ?? '', /no space left/);
    });
  });
});
