// Push-mode WAL archiving against a real server: archive_command and restore_command are the lines
// archiveCommandFor/restoreCommandFor produce — in a directory whose name needs quoting — run by the server
// itself, as its own OS user, in its own environment. The archive is zstd + encrypted.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startClusterFrom } from '../../../src/postgres/cluster.js';
import { runToolForText } from '../../../src/postgres/run-tool.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';
import { findWalGaps, listArchivedWal } from '../../../src/wal/archive.js';
import { archiveCommandFor, restoreCommandFor } from '../../../src/wal/commands.js';
import { compareSegments } from '../../../src/wal/names.js';
import { CLI, type CliResult, setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';
import { type Cluster, useCluster } from '../../helpers/postgres.js';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

/** The CLI as the server runs it: from the data directory (where %p is relative to), with a config path. */
function runCliIn(cwd: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** As root, the server runs as `postgres`: give it what the archive command reads and writes. */
async function chownToServer(...paths: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const uid = Number((await runToolForText('id', ['-u', 'postgres'])).trim());
  const gid = Number((await runToolForText('id', ['-g', 'postgres'])).trim());
  for (const path of paths) await chown(path, uid, gid);
}

describe('archive_command = pgwarden wal-push, restore_command = pgwarden wal-fetch', () => {
  let root: string;
  let configPath: string;
  let cluster: Cluster;
  let warden: WardenSetup;
  const hooks: (() => unknown)[] = [];
  const switched: string[] = [];
  let failedFirst: string;
  /** Copies of switched segments, read from pg_wal right after they were archived. */
  const originals = new Map<string, Buffer>();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pgwarden-walpush-'));
    hooks.push(() => rm(root, { recursive: true, force: true }));
    const dir = join(root, `it's the "config" dir`);
    await mkdir(dir);
    configPath = join(dir, 'pg warden.yml');
    await chownToServer(root, dir);

    cluster = await useCluster(
      { after: (fn) => hooks.push(fn) },
      { settings: { archive_mode: 'on', archive_command: archiveCommandFor(configPath, 'app'), wal_level: 'replica' } },
    );
    warden = await setupWarden({ after: (fn) => hooks.push(fn) }, cluster, { databases: [{ name: 'app', url: cluster.url() }], encrypt: true });
    await cluster.query('CREATE TABLE items (id int, payload text)');
    // No config file at the path the command names yet: the push fails, and PostgreSQL keeps the segment.
    failedFirst = await switchWal(100);
    await eventually('the archive command failed', async () => {
      const { rows } = await cluster.query<{ failed: string | null }>('SELECT last_failed_wal AS failed FROM pg_stat_archiver');
      return rows[0]!.failed === failedFirst ? true : undefined;
    });
    await copyFile(warden.configPath, configPath);
    await chownToServer(configPath, warden.dir);
  });
  after(async () => {
    for (const hook of hooks.reverse()) await hook();
  });

  const storage = () => createLocalDriver({ root: warden.storageDir });

  async function switchWal(rows: number): Promise<string> {
    await cluster.query(`INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, ${rows}) i`);
    const { rows: result } = await cluster.query<{ name: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS name');
    return result[0]!.name;
  }

  async function waitArchived(name: string): Promise<void> {
    await eventually(
      `the server reports ${name} archived`,
      async () => {
        const { rows } = await cluster.query<{ last: string | null; failed: string | null; failed_count: string }>(
          'SELECT last_archived_wal AS last, last_failed_wal AS failed, failed_count FROM pg_stat_archiver',
        );
        const row = rows[0]!;
        if (row.last !== null && row.last.length === 24 && compareSegments(row.last, name) >= 0) return true;
        return undefined;
      },
      60_000,
    ).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\n--- server log ---\n${await cluster.logTail(30)}`);
    });
  }

  it('archives every completed segment through the archive command, with no gap', async () => {
    for (let i = 0; i < 4; i++) {
      const name = await switchWal(1000);
      switched.push(name);
      await waitArchived(name);
      originals.set(name, await readFile(join(cluster.dataDir, 'pg_wal', name)));
    }
    const archive = await listArchivedWal(storage(), '', 'app');
    const segments = archive.segments.get(1) ?? [];
    for (const name of switched) {
      assert.ok(segments.includes(name), `${name} is archived (have ${segments.join(', ')})`);
      assert.equal(archive.objects.get(name)?.path, `app/wal/00000001/${name}.zst.enc`);
    }
    // The segment whose push failed at first was retried by the server and is archived too.
    assert.ok(segments.includes(failedFirst), `${failedFirst} was archived on retry`);
    assert.deepEqual(findWalGaps(archive, { from: segments[0]!, to: switched.at(-1)! }), []);
    assert.ok(compareSegments(segments[0]!, failedFirst) <= 0);
  });

  it('wal-push of an identical segment again exits 0; a different one exits 1 naming it and leaves the archive alone', async (t) => {
    const name = switched[0]!;
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-walpush-copy-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const same = join(dir, name);
    await writeFile(same, originals.get(name)!);
    const again = await warden.run(['wal-push', '--database', 'app', same]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '');

    const objectFile = join(warden.storageDir, 'app', 'wal', '00000001', `${name}.zst.enc`);
    const before = await readFile(objectFile);
    const beforeStat = await stat(objectFile);
    const differentDir = join(dir, 'other');
    await mkdir(differentDir);
    const different = join(differentDir, name);
    await writeFile(different, randomBytes(originals.get(name)!.length));
    const conflict = await warden.run(['wal-push', '--database', 'app', different]);
    assert.equal(conflict.code, 1, conflict.stderr);
    assert.match(conflict.stderr, new RegExp(`^pgwarden wal-push: WAL file ${name} is already archived at .* with different contents`));
    assert.equal(conflict.stderr.trimEnd().split('\n').length, 1, 'one line for the server log');
    assert.ok((await readFile(objectFile)).equals(before), 'the archived object is unchanged');
    assert.equal((await stat(objectFile)).mtimeMs, beforeStat.mtimeMs);

    const notWal = await warden.run(['wal-push', '--database', 'app', join(dir, 'nope')]);
    assert.equal(notWal.code, 1);
    const unknownDb = await warden.run(['wal-push', '--database', 'other', same]);
    assert.equal(unknownDb.code, 1);
    assert.match(unknownDb.stderr, /database "other" is not configured/);
  });

  it('wal-fetch restores the identical bytes from the server data directory; a missing file exits non-zero', async () => {
    const name = switched[1]!;
    const scratch = join(root, 'fetch');
    await mkdir(join(scratch, 'pg_wal'), { recursive: true });
    const fetched = await runCliIn(scratch, ['--config', configPath, 'wal-fetch', '--database', 'app', name, 'pg_wal/RECOVERYXLOG']);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.ok((await readFile(join(scratch, 'pg_wal', 'RECOVERYXLOG'))).equals(originals.get(name)!));

    for (const missing of ['0000000100000000000000F0', '00000002.history']) {
      const result = await runCliIn(scratch, ['--config', configPath, 'wal-fetch', '--database', 'app', missing, 'pg_wal/RECOVERYHISTORY']);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`^pgwarden wal-fetch: ${missing.replace('.', '\\.')} is not in the WAL archive of "app"\n$`));
      await assert.rejects(stat(join(scratch, 'pg_wal', 'RECOVERYHISTORY')), { code: 'ENOENT' });
    }
  });

  it('a server recovers from a base backup with WAL from restore_command only', async (t) => {
    let expected = 0;
    const restored = await startClusterFrom({
      binDir: cluster.binDir,
      // Its own archiving stays off: it must not write into the archive it restores from.
      settings: { archive_mode: 'off', restore_command: restoreCommandFor(configPath, 'app') },
      async populate({ dataDir, run }) {
        // -X none: the backup holds no WAL at all; every byte of WAL replayed comes from the archive.
        await run('pg_basebackup', ['-D', dataDir, '-X', 'none', '-c', 'fast', '-d', `host=127.0.0.1 port=${cluster.port} user=postgres`, '--no-sync']);
        await writeFile(join(dataDir, 'recovery.signal'), '');
        // Written after the base backup: only replaying archived WAL brings these rows.
        await cluster.query(`INSERT INTO items SELECT i, 'after base' FROM generate_series(1, 500) i`);
        await waitArchived(await switchWal(10));
        const { rows } = await cluster.query<{ n: string }>('SELECT count(*) AS n FROM items');
        expected = Number(rows[0]!.n);
      },
    });
    t.after(() => restored.destroy());
    await eventually('the restored server finished recovery', async () => {
      const { rows } = await restored.query<{ recovering: boolean }>('SELECT pg_is_in_recovery() AS recovering');
      return rows[0]!.recovering ? undefined : true;
    });
    const { rows } = await restored.query<{ n: string }>('SELECT count(*) AS n FROM items');
    assert.equal(Number(rows[0]!.n), expected);
    assert.match(await readFile(restored.logFile, 'utf8'), /restored log file "[0-9A-F]{24}" from archive/);
  });
});
