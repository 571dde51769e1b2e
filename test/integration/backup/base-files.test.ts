// backup.baseMethod files: the base backup read from the data directory between pg_backup_start and
// pg_backup_stop. Its archive holds what pg_basebackup's holds (same exclusions, pg_control, backup_label,
// backup_manifest), BaseStreamCheck and pg_verifybackup accept it, PITR recovers from it; auto falls back
// to pg_basebackup and says why; with data_checksums every page is checked and a damaged one fails the run;
// a run killed midway ends the server's backup and leaves nothing marked good.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { BaseStreamCheck } from '../../../src/backup/base-stream-check.js';
import { findPgBinDir } from '../../../src/postgres/bindir.js';
import { type Cluster, useCluster } from '../../helpers/postgres.js';
import { CLI, type CliResult, setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';

async function archivingPrimary(t: Parameters<typeof useCluster>[0]): Promise<Cluster> {
  return useCluster(t, { settings: { archive_mode: 'on', archive_command: '', archive_timeout: 0, wal_keep_size: '256MB' } });
}

async function enableArchiving(cluster: Cluster, warden: WardenSetup, database: string): Promise<void> {
  const printed = await ok(warden.run(['sql', 'archive-command', '--database', database]), 'sql archive-command');
  for (const statement of printed.stdout.split('\n').filter((l) => l.startsWith('ALTER SYSTEM'))) await cluster.query(statement);
  await cluster.query('SELECT pg_reload_conf()');
}

async function ok(result: Promise<CliResult>, what: string): Promise<CliResult> {
  const r = await result;
  assert.equal(r.code, 0, `${what} failed: ${r.stderr}`);
  return r;
}

/** The entries of a plain tar: [path, type] in archive order ('/' ended for directories, as tar -t prints them). */
function tarEntries(tar: Buffer): string[] {
  return execFileSync('tar', ['-tf', '-'], { input: tar, maxBuffer: 64 * 1024 * 1024 }).toString().trim().split('\n');
}

async function precheckMessage(warden: WardenSetup, id: string): Promise<string> {
  const [row] = await warden.query<{ message: string }>("SELECT message FROM pgwarden.backup_logs WHERE backup_id = $1 AND step = 'precheck'", [id]);
  return row!.message;
}

function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = execFileSync('getent', ['passwd', 'postgres']).toString().split(':');
  return { uid: Number(line[2]), gid: Number(line[3]) };
}

describe('base backup read from the data directory', () => {
  it('holds what pg_basebackup takes, passes BaseStreamCheck and pg_verifybackup, and PITR recovers from it', async (t) => {
    const primary = await archivingPrimary(t);
    const url = await primary.createDatabase('hotel');
    await primary.query(
      `CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL);
       INSERT INTO stays (v) SELECT md5(i::text) FROM generate_series(1, 20000) i;
       CREATE UNLOGGED TABLE scratch (v text);
       INSERT INTO scratch SELECT md5(i::text) FROM generate_series(1, 5000) i;
       CHECKPOINT;`,
      [],
      'hotel',
    );
    const [{ dboid, scratch }] = (await primary.query<{ dboid: string; scratch: string }>(
      "SELECT (SELECT oid FROM pg_database WHERE datname = 'hotel')::text AS dboid, pg_relation_filenode('scratch')::text AS scratch",
      [],
      'hotel',
    )).rows as [{ dboid: string; scratch: string }];
    // What the server keeps that no backup takes: a temporary file and a temporary relation's file.
    const dataDir = (await primary.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]!.d;
    const owner = serverUser();
    await mkdir(join(dataDir, 'base', 'pgsql_tmp'), { recursive: true });
    await writeFile(join(dataDir, 'base', 'pgsql_tmp', 'pgsql_tmp999.0'), 'spill');
    await writeFile(join(dataDir, 'base', dboid, 't3_99999'), Buffer.alloc(8192));
    if (owner) for (const p of ['base/pgsql_tmp', 'base/pgsql_tmp/pgsql_tmp999.0', `base/${dboid}/t3_99999`]) await chown(join(dataDir, p), owner.uid, owner.gid);

    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }], extra: 'backup: { baseMethod: files }' });
    await enableArchiving(primary, warden, 'hotel');

    const run = await ok(warden.run(['backup', 'base', '--json']), 'base backup');
    const [record] = JSON.parse(run.stdout) as { backup_id: string; status: string }[];
    assert.equal(record?.status, 'succeeded');
    assert.match(await precheckMessage(warden, record!.backup_id), new RegExp(`reading the data directory ${dataDir} here`));

    // The stored artifact, decompressed: a tar whose files match its backup_manifest (the stream check's code, not ours).
    const artifact = (await warden.storageFiles()).find((f) => f.startsWith('hotel/base/') && f.endsWith('base.tar.zst'))!;
    const tar = execFileSync('zstd', ['-dc', join(warden.storageDir, artifact)], { maxBuffer: 1024 * 1024 * 1024 });
    const check = new BaseStreamCheck();
    await pipeline(PassThrough.from([tar]), check, new PassThrough().resume());
    const report = check.report();
    assert.ok(report.files > 100, `${report.files} files checked`);

    const ours = tarEntries(tar);
    assert.equal(ours.at(-1), 'backup_manifest');
    assert.deepEqual(ours.slice(-4, -1), ['global/pg_control', 'backup_label', 'tablespace_map'], 'pg_control after every other file, then backup_label and tablespace_map');
    for (const excluded of ['postmaster.pid', 'postmaster.opts', 'base/pgsql_tmp/pgsql_tmp999.0', `base/${dboid}/t3_99999`, `base/${dboid}/${scratch}`]) {
      assert.ok(!ours.includes(excluded), `${excluded} is not backed up`);
    }
    assert.ok(ours.includes(`base/${dboid}/${scratch}_init`), "an unlogged table's init fork is");
    for (const emptied of ['pg_wal/', 'pg_wal/archive_status/', 'pg_replslot/', 'pg_subtrans/']) assert.ok(ours.includes(emptied), `${emptied} is there, empty`);
    assert.ok(!ours.some((e) => /^pg_wal\/.+[^/]$/.test(e)), 'no WAL inside');

    // The same files as pg_basebackup takes of the same cluster (its own backup_label and manifest aside).
    const bin = await findPgBinDir({ tool: 'pg_basebackup' });
    const theirs = tarEntries(
      execFileSync(join(bin, 'pg_basebackup'), ['-D', '-', '-Ft', '-X', 'none', '-c', 'fast', '-d', url], { maxBuffer: 1024 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    // pg_logical's snapshot and checkpoint files come and go with checkpoints: compared apart from them.
    const comparable = (entries: string[]) =>
      entries.map((e) => e.replace(/^\.\//, '')).filter((e) => !e.startsWith('pg_logical/') && e !== 'backup_label' && e !== 'backup_manifest').sort();
    const [a, b] = [comparable(ours), comparable(theirs)];
    assert.deepEqual({ onlyOurs: a.filter((e) => !b.includes(e)), onlyTheirs: b.filter((e) => !a.includes(e)) }, { onlyOurs: [], onlyTheirs: [] });

    // pg_verifybackup agrees, and the backup recovers: the logged rows back, the unlogged table empty.
    const verify = await ok(warden.run(['verify', record!.backup_id, '--json']), 'verify');
    assert.equal(JSON.parse(verify.stdout).ok, true);
    await primary.query("INSERT INTO stays (v) VALUES ('after')", [], 'hotel');
    await ok(warden.run(['backup', 'incremental']), 'incremental (archives the WAL up to now)');
    const restoredDir = join(warden.dir, 'restored');
    const restore = await ok(warden.run(['restore-pitr', '--database', 'hotel', '--latest', '--data-dir', restoredDir, '--start', '--timeout', '120', '--json']), 'restore-pitr');
    const { port } = JSON.parse(restore.stdout) as { port: number };
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'hotel' });
    t.after(() => {
      const pgCtl = join(bin, 'pg_ctl');
      const args = ['--pgdata', restoredDir, '--mode', 'immediate', 'stop'];
      try {
        if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore' });
        else execFileSync(pgCtl, args, { stdio: 'ignore' });
      } catch {
        // already stopped
      }
    });
    await client.connect();
    try {
      const counts = await client.query<{ stays: string; after: string; scratch: string }>(
        "SELECT (SELECT count(*) FROM stays)::text AS stays, (SELECT count(*) FROM stays WHERE v = 'after')::text AS after, (SELECT count(*) FROM scratch)::text AS scratch",
      );
      assert.deepEqual(counts.rows[0], { stays: '20001', after: '1', scratch: '0' });
    } finally {
      await client.end();
    }
  });

  it('auto streams with pg_basebackup where it cannot read the files, and says why; files refuses with the reason', async (t) => {
    const primary = await archivingPrimary(t);
    const url = await primary.createDatabase('hotel');
    // A least-privilege replication role: without EXECUTE on pg_backup_start/stop it cannot read the files.
    await primary.query('CREATE ROLE shipper LOGIN REPLICATION; GRANT pg_read_all_settings TO shipper');
    const shipperUrl = url.replace('postgres@', 'shipper@');
    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url: shipperUrl, pitr: true }] });
    await enableArchiving(primary, warden, 'hotel');

    const auto = await ok(warden.run(['backup', 'base', '--json']), 'auto base backup');
    const [streamed] = JSON.parse(auto.stdout) as { backup_id: string; status: string }[];
    assert.equal(streamed?.status, 'succeeded');
    assert.match(await precheckMessage(warden, streamed!.backup_id), /streaming with pg_basebackup \(not reading the data directory here: the backup role may not run pg_backup_start and pg_backup_stop\)/);

    await warden.writeConfig({ databases: [{ name: 'hotel', url: shipperUrl, pitr: true }], extra: 'backup: { baseMethod: files }' });
    const refused = await warden.run(['backup', 'base']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /backup\.baseMethod is files, but the backup role may not run pg_backup_start and pg_backup_stop/);
    assert.match(refused.stderr, /GRANT EXECUTE ON FUNCTION pg_backup_start\(text, boolean\), pg_backup_stop\(boolean\)/);

    // Granted, the same role reads the files.
    await primary.query('GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean) TO shipper', [], 'hotel');
    const files = await ok(warden.run(['backup', 'base', '--json']), 'files base backup');
    const [read] = JSON.parse(files.stdout) as { backup_id: string; status: string }[];
    assert.equal(read?.status, 'succeeded');
    assert.match(await precheckMessage(warden, read!.backup_id), /reading the data directory .* here/);

    // A tablespace: not read from the data directory (refused by name), whatever the role.
    const spc = await mkdtemp(join(tmpdir(), 'pgwarden-spc-'));
    t.after(() => rm(spc, { recursive: true, force: true }));
    const owner = serverUser();
    if (owner) await chown(spc, owner.uid, owner.gid);
    await chmod(spc, 0o700);
    await primary.query(`CREATE TABLESPACE elsewhere LOCATION '${spc}'`);
    t.after(() => primary.query('DROP TABLESPACE IF EXISTS elsewhere').catch(() => {}));
    const withTablespace = await warden.run(['backup', 'base']);
    assert.equal(withTablespace.code, 1);
    assert.match(withTablespace.stderr, /backup\.baseMethod is files, but the cluster has 1 tablespace\(s\) besides pg_default/);
    const rows = await warden.query<{ status: string; verification_status: string | null }>("SELECT status, verification_status FROM pgwarden.database_backups ORDER BY created_at");
    assert.deepEqual(rows.map((r) => r.status), ['succeeded', 'failed', 'succeeded', 'failed']);
  });

  it('checks every page checksum with data_checksums on, and fails a backup of a damaged page, naming it', async (t) => {
    const primary = await useCluster(t, { dataChecksums: true, settings: { archive_mode: 'on', archive_command: '', archive_timeout: 0 } });
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (v text); INSERT INTO stays SELECT md5(i::text) FROM generate_series(1, 20000) i; CHECKPOINT', [], 'hotel');
    const [rel] = (await primary.query<{ path: string; pages: number }>("SELECT pg_relation_filepath('stays') AS path, (pg_relation_size('stays') / 8192)::int AS pages", [], 'hotel')).rows;
    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }], extra: 'backup: { baseMethod: files }' });
    await enableArchiving(primary, warden, 'hotel');

    // Every page the server wrote checks out with our checksum: the backup passes and says how many it checked.
    const good = await ok(warden.run(['backup', 'base', '--json']), 'base backup of the sound cluster');
    const [first] = JSON.parse(good.stdout) as { backup_id: string; status: string }[];
    assert.equal(first?.status, 'succeeded');
    const [verified] = await warden.query<{ message: string }>("SELECT message FROM pgwarden.backup_logs WHERE backup_id = $1 AND step = 'verify'", [first!.backup_id]);
    const checked = Number(/(\d+) page checksums checked/.exec(verified!.message)?.[1]);
    assert.ok(checked > rel!.pages, `checked ${checked} pages, the table alone has ${rel!.pages}: ${verified!.message}`);

    // Four bytes of block 3 overwritten on disk. The server holds the page clean in its buffers and never writes it back.
    const dataDir = (await primary.query<{ d: string }>("SELECT current_setting('data_directory') AS d")).rows[0]!.d;
    const file = join(dataDir, rel!.path);
    const handle = await open(file, 'r+');
    await handle.write(Buffer.from('dead', 'latin1'), 0, 4, 3 * 8192 + 4000);
    await handle.close();
    const damaged = await warden.run(['backup', 'base']);
    assert.equal(damaged.code, 1, damaged.stderr);
    const ours = new RegExp(`page checksum verification failed for 1 page\\(s\\) in 1 file\\(s\\) of the data directory: ${rel!.path} block 3 \\(stored 0x([0-9a-f]{4}), calculated 0x([0-9a-f]{4})\\)`).exec(damaged.stderr);
    assert.ok(ours, damaged.stderr);
    assert.match(damaged.stderr, /this base backup was not kept/);
    assert.match(damaged.stderr, /pg_relation_filenode\(oid\) = \d+, in the database whose oid is \d+/);
    const rows = await warden.query<{ backup_id: string; status: string }>("SELECT backup_id, status FROM pgwarden.database_backups ORDER BY created_at");
    assert.deepEqual(rows.map((r) => r.status), ['succeeded', 'failed']);
    // Only the sound backup is on storage.
    const stored = new Set((await warden.storageFiles()).filter((f) => f.startsWith('hotel/base/')).map((f) => f.split('/')[2]));
    assert.deepEqual([...stored], [first!.backup_id]);
    await warden.writeConfig({ databases: [{ name: 'hotel', url, pitr: true }], extra: 'backup: { baseMethod: stream }' });
    const streamed = await warden.run(['backup', 'base']);
    assert.equal(streamed.code, 1);
    // pg_basebackup refuses the same page, and computes the same checksums as we did.
    const theirs = /checksum verification failed in file "\.\/([^"]+)", block (\d+): calculated ([0-9A-F]+) but expected ([0-9A-F]+)/.exec(streamed.stderr);
    assert.ok(theirs, streamed.stderr);
    assert.deepEqual([theirs[1], theirs[2], theirs[3]!.toLowerCase().padStart(4, '0'), theirs[4]!.toLowerCase().padStart(4, '0')], [rel!.path, '3', ours[2], ours[1]]);
  });

  it('a run killed while it reads ends the server-side backup and leaves nothing marked good', async (t) => {
    const primary = await archivingPrimary(t);
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (v text); INSERT INTO stays SELECT md5(i::text) FROM generate_series(1, 50000) i', [], 'hotel');
    // A zstd that waits before it reads: the run is caught between pg_backup_start and pg_backup_stop. (Not
    // the start-up check of the compressor, on one thread, nor decompression: backup.jobs 2 makes the backup's zstd run -T2 or more.)
    const bin = await mkdtemp(join(tmpdir(), 'pgwarden-slowzstd-'));
    t.after(() => rm(bin, { recursive: true, force: true }));
    const zstd = execFileSync('sh', ['-c', 'command -v zstd']).toString().trim();
    await writeFile(join(bin, 'zstd'), `#!/bin/sh\ncase "$* " in *-d\\ *|*-T1\\ *) ;; *) sleep 30;; esac\nexec ${zstd} "$@"\n`);
    await chmod(join(bin, 'zstd'), 0o755);
    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }], extra: 'backup: { baseMethod: files, jobs: 2 }' });
    await enableArchiving(primary, warden, 'hotel');

    const child = spawn(process.execPath, [CLI, '--config', warden.configPath, 'backup', 'base'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    t.after(() => child.kill('SIGKILL'));
    const exited = once(child, 'exit');
    const inBackup = async () =>
      (await primary.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgwarden backup' AND query LIKE '%pg_backup_start%'")).rows[0]!.n;
    let seen = 0;
    for (let i = 0; i < 300 && seen === 0 && child.exitCode === null; i++) {
      await sleep(50);
      seen = await inBackup();
    }
    assert.equal(seen, 1, `the backup session started the backup (exit code ${child.exitCode}): ${stderr}`);

    child.kill('SIGKILL');
    await exited;
    // The session died with the process, and the server ended its backup with it.
    for (let i = 0; i < 100 && (await inBackup()) > 0; i++) await sleep(50);
    assert.equal(await inBackup(), 0);
    const list = await ok(warden.run(['list', '--json']), 'list');
    const [row] = JSON.parse(list.stdout) as { status: string; error: string }[];
    assert.equal(row?.status, 'failed');
    assert.match(row!.error, /^interrupted/);
    assert.deepEqual((await warden.storageFiles()).filter((f) => f.startsWith('hotel/base/')), []);
    // And the next run (with the real zstd) succeeds: nothing of the killed one is in the way.
    const again = await ok(warden.run(['backup', 'base', '--json']), 'base backup after the kill');
    assert.equal((JSON.parse(again.stdout) as { status: string }[])[0]?.status, 'succeeded');
  });
});
