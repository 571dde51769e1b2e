// gzip base backups end to end: written as indexed gzip members (one standard gzip stream), restored by
// restore-pitr with the members inflated in parallel; a gzip base from before the index (one pigz stream) still
// restores; a member index that lies fails the restore with the reason.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { sealManifest } from '../../../src/manifest/manifest.js';
import type { BackupManifest } from '../../../src/manifest/types.js';
import { readMemberIndex } from '../../../src/pipeline/gzip-members.js';
import { findPgBinDir } from '../../../src/postgres/bindir.js';
import { type Cluster, useCluster } from '../../helpers/postgres.js';
import { setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';

type Hooks = Parameters<typeof useCluster>[0];

async function stopServer(dataDir: string): Promise<void> {
  const pgCtl = join(await findPgBinDir({ tool: 'pg_ctl' }), 'pg_ctl');
  const args = ['--pgdata', dataDir, '--mode', 'immediate', 'stop'];
  try {
    if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore' });
    else execFileSync(pgCtl, args, { stdio: 'ignore' });
  } catch {
    // not running
  }
}

/** restore-pitr --latest --start into a new directory; the rows of `stays`, and the server stopped again. */
async function restoreLatest(t: Hooks, warden: WardenSetup, name: string): Promise<string[]> {
  const dataDir = join(warden.dir, name);
  t.after(async () => {
    await stopServer(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  });
  const restore = await warden.run(['restore-pitr', '--database', 'hotel', '--latest', '--data-dir', dataDir, '--start', '--timeout', '120', '--json']);
  assert.equal(restore.code, 0, `restore-pitr (${name}) failed: ${restore.stderr}`);
  const { port } = JSON.parse(restore.stdout) as { port: number };
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'hotel' });
  try {
    await client.connect();
    return (await client.query<{ v: string }>('SELECT v FROM stays ORDER BY id')).rows.map((r) => r.v);
  } finally {
    await client.end().catch(() => {});
    await stopServer(dataDir);
  }
}

async function setup(t: Hooks): Promise<{ primary: Cluster; warden: WardenSetup; artifact: string; manifestPath: string }> {
  const primary = await useCluster(t, { settings: { archive_mode: 'on', archive_command: '', archive_timeout: 0, wal_keep_size: '256MB' } });
  const url = await primary.createDatabase('hotel');
  await primary.query("CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL); INSERT INTO stays (v) SELECT 'row ' || i FROM generate_series(1, 3) i", [], 'hotel');
  const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }], extra: 'backup: { compression: gzip }' });
  const printed = await warden.run(['sql', 'archive-command', '--database', 'hotel']);
  assert.equal(printed.code, 0, printed.stderr);
  for (const statement of printed.stdout.split('\n').filter((l) => l.startsWith('ALTER SYSTEM'))) await primary.query(statement);
  await primary.query('SELECT pg_reload_conf()');
  const base = await warden.run(['backup', 'base', '--json']);
  assert.equal(base.code, 0, base.stderr);
  const [record] = JSON.parse(base.stdout) as { backup_id: string }[];
  const dir = join(warden.storageDir, 'hotel', 'base', record!.backup_id);
  await primary.query("INSERT INTO stays (v) VALUES ('after the base')", [], 'hotel');
  await primary.query('SELECT pg_switch_wal()', [], 'hotel');
  return { primary, warden, artifact: join(dir, 'base.tar.gz'), manifestPath: join(dir, 'manifest.json') };
}

/** Replaces the stored artifact and reseals the manifest for it, as if the backup had been written that way. */
async function replaceArtifact(artifact: string, manifestPath: string, bytes: Buffer): Promise<void> {
  await writeFile(artifact, bytes);
  const { checksum: _old, ...manifest } = JSON.parse(await readFile(manifestPath, 'utf8')) as BackupManifest;
  manifest.artifact = { ...manifest.artifact!, storedBytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  await writeFile(manifestPath, sealManifest(manifest).text);
}

const EXPECTED = ['row 1', 'row 2', 'row 3', 'after the base'];

describe('gzip base backups', () => {
  it('are indexed gzip members that gzip accepts, restore-pitr restores them, and a pigz-written base still restores', async (t) => {
    const { warden, artifact, manifestPath } = await setup(t);
    execFileSync('gzip', ['-t', artifact]);
    const stored = await readFile(artifact);
    assert.ok(readMemberIndex(stored), 'the first member carries its index');
    assert.deepEqual(await restoreLatest(t, warden, 'members'), EXPECTED);

    // A base from before the index: the same tar as one pigz stream.
    const plain = execFileSync('pigz', ['-d', '-c', artifact], { maxBuffer: 1 << 30 });
    const single = execFileSync('pigz', ['-6', '-c'], { input: plain, maxBuffer: 1 << 30 });
    assert.equal(readMemberIndex(single), undefined);
    await replaceArtifact(artifact, manifestPath, single);
    assert.deepEqual(await restoreLatest(t, warden, 'single-stream'), EXPECTED);
  });

  it('a member index that lies fails restore-pitr, naming the member', async (t) => {
    const { warden, artifact, manifestPath } = await setup(t);
    const stored = Buffer.from(await readFile(artifact));
    const first = readMemberIndex(stored)!;
    // The first member claims one plain byte more than it holds (the manifest resealed: only the index lies).
    stored.writeUInt32LE(first.plainLength + 1, 20);
    await replaceArtifact(artifact, manifestPath, stored);
    const dataDir = join(warden.dir, 'lying');
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const restore = await warden.run(['restore-pitr', '--database', 'hotel', '--latest', '--data-dir', dataDir]);
    assert.equal(restore.code, 1, restore.stdout);
    assert.match(restore.stderr, /member 1 of the gzip stream \(offset 0\) inflates to \d+ bytes; its index says \d+/);
  });
});
