// Retention against real backups on real clusters, aged with an injected clock (backup ids, manifests and so
// the backups' ages follow it): `pgwarden cleanup --dry-run` line by line and removing nothing, real cleanups
// over two storage targets (one of them down for the first run), the catalog marks, the logs, the WAL the
// oldest retained base needs kept and PITR still restoring inside the window, and the scheduled job.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { openPgwarden, type Pgwarden } from '../../../src/app/open.js';
import { runBaseBackup } from '../../../src/backup/base.js';
import { runFullBackup } from '../../../src/backup/full.js';
import { runIncrementalBackup } from '../../../src/backup/incremental.js';
import { createWalAccess } from '../../../src/backup/wal-access.js';
import { loadConfig } from '../../../src/config/index.js';
import { syncCopies } from '../../../src/copies/sync.js';
import { findPgBinDir } from '../../../src/postgres/bindir.js';
import { cleanupContextFor, runCleanup } from '../../../src/retention/cleanup.js';
import { formatCleanup } from '../../../src/retention/format.js';
import { buildJobs } from '../../../src/scheduler/jobs.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';
import { TargetSet } from '../../../src/storage/target-set.js';
import { writeTextObject } from '../../../src/storage/text.js';
import { parseLsn, segmentOfLsn } from '../../../src/wal/names.js';
import { formatBytes } from '../../../src/backup/precheck.js';
import { listFiles, setupWarden, type CliResult, type WardenSetup } from '../../helpers/pgwarden.js';
import { type Cluster, useCluster } from '../../helpers/postgres.js';

const silent = pino({ level: 'silent' });
const DAY = 86_400_000;
const ISO = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z';
const iso = (d: Date | string) => new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z');
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A settable clock that keeps running: backups taken while it is set `daysAgo` in the past are that old. */
function clock() {
  let offset = 0;
  return { now: () => new Date(Date.now() - offset), set: (daysAgo: number | undefined) => (offset = (daysAgo ?? 0) * DAY) };
}

async function ok(result: Promise<CliResult>, what: string): Promise<CliResult> {
  const r = await result;
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}): ${r.stderr}`);
  return r;
}

/** Asserts output line by line: a string must match exactly, a RegExp must match the whole line. */
function assertLines(text: string, expected: (string | RegExp)[]): void {
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, expected.length, `expected ${expected.length} lines, got ${lines.length}:\n${text}`);
  expected.forEach((e, i) => {
    if (typeof e === 'string') assert.equal(lines[i], e, `line ${i + 1}`);
    else assert.match(lines[i]!, new RegExp(`^${e.source}$`), `line ${i + 1}`);
  });
}

async function open(t: { after(fn: () => unknown): unknown }, warden: WardenSetup, now: () => Date): Promise<Pgwarden> {
  const app = await openPgwarden(await loadConfig(warden.configPath), { logger: silent, now });
  t.after(() => app.close());
  return app;
}

interface Row {
  backup_id: string;
  status: string;
  storage: Record<string, { status: string; path: string }>;
}

const rowsOf = (warden: WardenSetup) => warden.query<Row>('SELECT backup_id, status, storage FROM pgwarden.database_backups ORDER BY backup_id');

describe('retention cleanup', () => {
  it('keeps the only full backup although it is 41 days old; the scheduled job removes it once newer ones exist', async (t) => {
    const cluster = await useCluster(t);
    const url = await cluster.createDatabase('hotel');
    await cluster.query('CREATE TABLE stays (id serial PRIMARY KEY, v text)', [], 'hotel');
    const warden = await setupWarden(t, cluster, { databases: [{ name: 'hotel', url }] });
    const time = clock();
    const app = await open(t, warden, time.now);
    const db = app.config.databases[0]!;

    time.set(41);
    const only = await runFullBackup(app, db);
    assert.equal(only.status, 'succeeded', only.error ?? '');
    const filesBefore = await warden.storageFiles();
    // The window names the end of the dump (the manifest's finishedAt), which can be a second before the run's end.
    const dumped = JSON.parse(await readFile(join(warden.storageDir, 'hotel', 'full', only.backup_id, 'manifest.json'), 'utf8')).finishedAt as string;

    const dry = await ok(warden.run(['cleanup', '--dry-run']), 'cleanup --dry-run');
    assertLines(dry.stdout, [
      new RegExp(`cleanup at ${ISO} \\(dry run: nothing is removed\\)`),
      'retention: full and base 30 days, incremental 7 days, cloud copies 90 days',
      'database "hotel"',
      `  recovery window before, local: 1 full backup, ${iso(dumped)} (${only.backup_id})`,
      `  keep local full ${only.backup_id} (41 days old): newest verified full backup`,
      `  recovery window after, local: 1 full backup, ${iso(dumped)} (${only.backup_id})`,
      'would remove 0 backup copies and 0 WAL files (0 B); 1 copy kept past its period',
    ]);
    assert.equal(dry.stderr, '');
    const real = await ok(warden.run(['cleanup']), 'cleanup');
    assert.match(real.stdout, /\nremoved 0 backup copies and 0 WAL files \(0 B\); 1 copy kept past its period\n/);
    assert.deepEqual(await warden.storageFiles(), filesBefore, 'the only full backup stays');

    time.set(35);
    const older = await runFullBackup(app, db);
    time.set(1);
    const recent = await runFullBackup(app, db);
    time.set(undefined);

    const unknown = await warden.run(['cleanup', '--dry-run', '--database', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no database named "nope" in the config/);
    const json = JSON.parse((await ok(warden.run(['cleanup', '--dry-run', '--json']), 'cleanup --dry-run --json')).stdout);
    assert.deepEqual(
      json.plan.databases[0].copies.filter((c: { action: string }) => c.action === 'remove').map((c: { backupId: string; reason: string }) => [c.backupId, c.reason]),
      [
        [only.backup_id, 'full older than 30 days (41 days)'],
        [older.backup_id, 'full older than 30 days (35 days)'],
      ],
    );

    let afterJob = 0;
    const job = buildJobs(app, { afterJob: async () => void afterJob++, healthCheck: async () => {} }, createWalAccess(app, { configPath: warden.configPath })).find((j) => j.name === 'cleanup');
    assert.ok(job);
    assert.equal(job.schedule, '0 3 * * *');
    await job.run({ signal: new AbortController().signal, scheduledFor: new Date(), reason: 'manual', params: {} });
    assert.equal(afterJob, 1);

    const files = await warden.storageFiles();
    assert.deepEqual(
      files.filter((f) => f.startsWith('hotel/full/')).map((f) => f.split('/')[2]),
      [recent.backup_id, recent.backup_id],
    );
    const rows = await rowsOf(warden);
    for (const gone of [only, older]) {
      const row = rows.find((r) => r.backup_id === gone.backup_id)!;
      assert.equal(row.status, 'expired');
      assert.equal(row.storage['local']?.status, 'removed');
    }
    assert.equal(rows.find((r) => r.backup_id === recent.backup_id)?.status, 'succeeded');
    const logs = await warden.query<{ backup_id: string | null; step: string; message: string }>("SELECT backup_id, step, message FROM pgwarden.backup_logs WHERE operation = 'cleanup' ORDER BY id");
    assert.deepEqual(
      logs.filter((l) => l.step === 'remove').map((l) => l.message),
      [
        `removed full ${only.backup_id} from local: full older than 30 days (41 days); no copy is left: expired`,
        `removed full ${older.backup_id} from local: full older than 30 days (35 days); no copy is left: expired`,
      ],
    );
    assert.match(logs.at(-1)!.message, /^cleanup by api: removed 2 of 2 backup copies and 0 of 0 WAL files$/);
    const access = await warden.query<{ backup_id: string; action: string; actor: string; result: string }>('SELECT backup_id, action, actor, result FROM pgwarden.backup_access_logs ORDER BY id');
    assert.deepEqual(
      access.map((a) => [a.backup_id, a.action, a.actor, a.result]),
      [
        [only.backup_id, 'delete', 'api', 'ok'],
        [older.backup_id, 'delete', 'api', 'ok'],
      ],
    );
    // `pgwarden list` shows them expired.
    const list = await ok(warden.run(['list', '--status', 'expired', '--json']), 'list');
    assert.deepEqual(JSON.parse(list.stdout).map((r: { backupId: string }) => r.backupId).sort(), [only.backup_id, older.backup_id].sort());
  });

  it('over two targets: keeps the base the window starts from and its WAL, removes the rest from every target (one down at first), and PITR still restores', async (t) => {
    const primary = await useCluster(t, { settings: { archive_mode: 'on', archive_command: '', archive_timeout: 0, wal_keep_size: '256MB' } });
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL)', [], 'hotel');
    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }] });
    await enableArchiving(primary, warden);
    const time = clock();
    const opened = await open(t, warden, time.now);
    // A second target beside the configured local one: backups go to both through the TargetSet.
    const replicaDir = join(warden.dir, 'replica');
    await mkdir(replicaDir);
    const local = opened.storage.targets[0]!;
    const replica = createLocalDriver({ root: replicaDir, name: 'replica' });
    const app: Pgwarden = { ...opened, storage: new TargetSet([local, replica]) };
    const wal = createWalAccess(app, { configPath: warden.configPath });
    const db = app.config.databases[0]!;
    const insert = async (v: string) => {
      await primary.query('INSERT INTO stays (v) VALUES ($1)', [v], 'hotel');
    };
    const switchWal = () => primary.query('SELECT pg_switch_wal()', [], 'hotel');
    const take = async (kind: 'full' | 'base' | 'incremental', daysAgo: number) => {
      time.set(daysAgo);
      const run = kind === 'full' ? runFullBackup(app, db) : kind === 'base' ? runBaseBackup({ ...app, wal }, db) : runIncrementalBackup({ ...app, wal }, db);
      const result = await run;
      assert.equal(result.status, 'succeeded', `${kind} backup ${daysAgo} days ago: ${result.error}`);
      return result;
    };

    const base50 = await take('base', 50);
    const full50 = await take('full', 50);
    await insert('a');
    await switchWal();
    const base40 = await take('base', 40);
    const full40 = await take('full', 40);
    await insert('b');
    const afterB = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn', [], 'hotel')).rows[0]!.lsn;
    await insert('c');
    await switchWal();
    await take('base', 20);
    await insert('d');
    const incremental10 = await take('incremental', 10);
    const full10 = await take('full', 10);
    await take('incremental', 1);
    const full1 = await take('full', 1);
    time.set(undefined);
    // A failed run whose leftovers stayed on the replica (it was down when the run cleaned up after itself).
    const failedId = `${stampOf(new Date(Date.now() - 2 * DAY))}-full-0badf0`;
    await app.catalog.startRun({ backupId: failedId, database: 'hotel', type: 'full', expectedSize: null, host: 'test', pid: 1 });
    await writeTextObject(replica, `hotel/full/${failedId}/dump.pgc.gz`, 'half a dump');
    await app.catalog.finishRun(failedId, { status: 'failed', error: 'pg_dump exited with code 1: server closed the connection unexpectedly' });
    // WAL is archived to the configured target (wal-push); the storage sync brings the replica level.
    await syncCopies({ catalog: app.catalog, storage: app.storage, prefix: '', walDatabases: ['hotel'], logger: silent });

    // What must go: everything older than the base the 30-day window starts from (base40), and its WAL.
    const base40Manifest = await app.catalog.getManifest(base40.backup_id);
    const base50Manifest = await app.catalog.getManifest(base50.backup_id);
    const floor = segmentOfLsn(parseLsn(base40Manifest!.startLsn!), 1, 16 * 1024 * 1024);
    const walFiles = (await listFiles(join(warden.storageDir, 'hotel', 'wal', '00000001'))).map((f) => ({ file: f, name: f.replace(/\.(gz|zst)$/, '') }));
    const walGoing = walFiles.filter((w) => w.name.slice(0, 24) < floor).sort((a, b) => a.name.localeCompare(b.name));
    assert.ok(walGoing.length >= 2, `WAL before ${floor}: ${walGoing.map((w) => w.name).join(', ')}`);
    assert.ok(walFiles.some((w) => w.name === floor), `the WAL from ${floor} on is archived`);
    const sizeOf = async (paths: string[]) => formatBytes((await Promise.all(paths.map((p) => local.stat(p)))).reduce((n, info) => n + info!.size, 0));
    const dirFiles = async (kind: string, id: string) => (await local.list(`hotel/${kind}/${id}/`)).map((o) => o.path);
    const going = [
      { id: base50.backup_id, kind: 'base', reason: `base older than 30 days (50 days); the window starts from base ${base40.backup_id}` },
      { id: full50.backup_id, kind: 'full', reason: 'full older than 30 days (50 days)' },
      { id: full40.backup_id, kind: 'full', reason: 'full older than 30 days (40 days)' },
      { id: incremental10.backup_id, kind: 'incremental', reason: 'incremental older than 7 days (10 days)' },
    ];
    const expectedCopyLines: { id: string; line: string | RegExp }[] = [];
    for (const g of going) expectedCopyLines.push({ id: g.id, line: `  would remove local ${g.kind} ${g.id} (${await sizeOf(await dirFiles(g.kind, g.id))}): ${g.reason}` });
    expectedCopyLines.push({
      id: base40.backup_id,
      line: new RegExp(`  keep local base ${base40.backup_id} \\(40 days old\\): needed for PITR: recovery to the start of the 30-day window \\(${ISO}\\) starts from it`),
    });
    expectedCopyLines.sort((a, b) => a.id.localeCompare(b.id));
    const walBytes = await sizeOf(walGoing.map((w) => `hotel/wal/00000001/${w.file}`));
    // The window names the end of each dump (the manifest's finishedAt), which can be a second before the run's end.
    const dumpedAt = async (id: string) => iso((await app.catalog.getManifest(id))!.finishedAt);
    const fullsAfter = `2 full backups from ${await dumpedAt(full10.backup_id)} \\(${full10.backup_id}\\) to ${await dumpedAt(full1.backup_id)} \\(${full1.backup_id}\\)`;
    const filesBefore = await warden.storageFiles();

    const dry = await ok(warden.run(['cleanup', '--dry-run', '--database', 'hotel']), 'cleanup --dry-run');
    assertLines(dry.stdout, [
      new RegExp(`cleanup at ${ISO} \\(dry run: nothing is removed\\)`),
      'retention: full and base 30 days, incremental 7 days, cloud copies 90 days',
      'database "hotel"',
      new RegExp(
        `  recovery window before, local: PITR from ${literal(iso(base50Manifest!.finishedAt))} \\(base ${base50.backup_id}\\) to ${ISO} \\([0-9A-F]{24}\\); 4 full backups from ${literal(await dumpedAt(full50.backup_id))} \\(${full50.backup_id}\\) to ${literal(await dumpedAt(full1.backup_id))} \\(${full1.backup_id}\\)`,
      ),
      ...expectedCopyLines.map((l) => l.line),
      `  would remove local WAL ${walGoing[0]!.name}..${walGoing.at(-1)!.name} (${walGoing.length} files, ${walBytes}): before ${floor}, where base ${base40.backup_id} (the oldest kept on local) starts`,
      new RegExp(`  recovery window after, local: PITR from ${literal(iso(base40Manifest!.finishedAt))} \\(base ${base40.backup_id}\\) to ${ISO} \\([0-9A-F]{24}\\); ${fullsAfter}`),
      new RegExp(`would remove 4 backup copies and ${walGoing.length} WAL files \\([\\d.]+ [KM]iB\\); 1 copy kept past its period`),
    ]);
    assert.deepEqual(await warden.storageFiles(), filesBefore, 'a dry run removes nothing');
    assert.equal((await warden.query("SELECT 1 FROM pgwarden.backup_logs WHERE operation = 'cleanup'")).length, 0, 'and records nothing');

    // The first real run: the replica is down (its folder replaced by a file). Local goes ahead.
    await rename(replicaDir, `${replicaDir}.away`);
    await writeFile(replicaDir, 'not a directory');
    const ctx = cleanupContextFor(app, wal);
    const first = await runCleanup(ctx, { databases: ['hotel'], dryRun: false, actor: 'cli:test' });
    assert.equal(first.ok, false);
    assert.deepEqual(
      first.failures.map((f) => [f.target, f.what]),
      [['replica', 'everything']],
    );
    assert.match(formatCleanup(first), /\ntarget replica unreachable, skipped \(the next run retries\): storage target replica: cannot list hotel\/ under .*replica: ENOTDIR/);
    assert.deepEqual(first.removed, { copies: 4, walFiles: walGoing.length, bytes: first.removed.bytes });
    assert.deepEqual(first.brokenChains, []);
    const localAfter = await listFiles(warden.storageDir);
    for (const g of going) assert.ok(!localAfter.some((f) => f.includes(g.id)), `${g.id} removed from local`);
    for (const w of walGoing) assert.ok(!localAfter.includes(`hotel/wal/00000001/${w.file}`));
    assert.ok(localAfter.some((f) => f.startsWith(`hotel/wal/00000001/${floor}`)), 'the WAL base40 needs stays');
    let rows = await rowsOf(warden);
    const row = (id: string) => rows.find((r) => r.backup_id === id)!;
    assert.equal(row(full50.backup_id).status, 'succeeded', 'still stored on the replica');
    assert.equal(row(full50.backup_id).storage['local']?.status, 'removed');
    assert.equal(row(full50.backup_id).storage['replica']?.status, 'stored');

    // The replica is back: the next run removes its copies too, and the backups expire.
    await rm(replicaDir);
    await rename(`${replicaDir}.away`, replicaDir);
    // The storage sync must not copy back to local the WAL retention removed there (the replica still has it).
    const synced = await syncCopies({ catalog: app.catalog, storage: app.storage, prefix: '', walDatabases: ['hotel'], logger: silent });
    assert.deepEqual(synced.walFailed, []);
    const localSynced = await listFiles(warden.storageDir);
    for (const w of walGoing) assert.ok(!localSynced.includes(`hotel/wal/00000001/${w.file}`), `${w.name} stays removed from local`);
    const second = await runCleanup(ctx, { databases: ['hotel'], dryRun: false, actor: 'cli:test' });
    assert.equal(second.ok, true, JSON.stringify(second.failures));
    assert.deepEqual(
      second.plan.databases[0]!.copies.filter((c) => c.action === 'remove').map((c) => [c.target, c.backupId]).sort(),
      [...going.map((g) => ['replica', g.id]), ['replica', failedId]].sort(),
    );
    assert.equal(second.removed.walFiles, walGoing.length);
    assert.deepEqual(second.brokenChains, []);
    rows = await rowsOf(warden);
    for (const g of going) {
      assert.equal(row(g.id).status, 'expired', g.id);
      assert.deepEqual(Object.values(row(g.id).storage).map((c) => c.status), ['removed', 'removed']);
    }
    assert.equal(row(failedId).status, 'failed');
    assert.equal(row(failedId).storage['replica']?.status, 'removed');
    const replicaFiles = await listFiles(replicaDir);
    for (const id of [...going.map((g) => g.id), failedId]) assert.ok(!replicaFiles.some((f) => f.includes(id)), `${id} removed from the replica`);
    for (const w of walGoing) assert.ok(!replicaFiles.includes(`hotel/wal/00000001/${w.file}`));
    assert.ok(replicaFiles.some((f) => f.startsWith(`hotel/wal/00000001/${floor}`)));
    const deletes = await warden.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.backup_access_logs WHERE action = 'delete' AND actor = 'cli:test' AND result = 'ok'");
    assert.equal(deletes[0]?.n, 9, '4 copies on local, 4 + the leftover on the replica');
    const walLogs = await warden.query<{ message: string }>("SELECT message FROM pgwarden.backup_logs WHERE operation = 'cleanup' AND step = 'remove-wal' ORDER BY id");
    assert.deepEqual(
      walLogs.map((l) => l.message),
      ['local', 'replica'].map((target) => `removed ${walGoing.length} of ${walGoing.length} WAL files of "hotel" from ${target} (${walGoing[0]!.name}..${walGoing.at(-1)!.name}): before ${floor}, where base ${base40.backup_id} (the oldest kept on ${target}) starts`),
    );

    // Point-in-time recovery from the oldest retained base still works inside the window.
    assert.deepEqual(await recoverAndQuery(t, warden, ['--target-lsn', afterB]), ['a', 'b']);
    // Nothing left to do; the chains are checked again.
    const again = await ok(warden.run(['cleanup']), 'cleanup');
    assert.match(again.stdout, /\nremoved 0 backup copies and 0 WAL files \(0 B\); 1 copy kept past its period\nWAL chains checked: every retained base backup recovers to the newest archived WAL\n$/);
  });
});

function stampOf(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Runs the statements `pgwarden sql archive-command` prints (one at a time: ALTER SYSTEM refuses a transaction). */
async function enableArchiving(cluster: Cluster, warden: WardenSetup): Promise<void> {
  const printed = await ok(warden.run(['sql', 'archive-command', '--database', 'hotel']), 'sql archive-command');
  for (const statement of printed.stdout.split('\n').filter((l) => l.startsWith('ALTER SYSTEM'))) await cluster.query(statement);
  await cluster.query('SELECT pg_reload_conf()');
}

/** restore-pitr --start into a fresh directory, the rows of stays, and the server stopped again. */
async function recoverAndQuery(t: { after(fn: () => unknown): unknown }, warden: WardenSetup, targetArgs: string[]): Promise<string[]> {
  const dataDir = join(warden.dir, `restored-${Math.random().toString(16).slice(2, 8)}`);
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const restore = await ok(warden.run(['restore-pitr', '--database', 'hotel', ...targetArgs, '--data-dir', dataDir, '--start', '--timeout', '120', '--json']), 'restore-pitr');
  const { port } = JSON.parse(restore.stdout) as { port: number };
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'hotel' });
  try {
    await client.connect();
    return (await client.query<{ v: string }>('SELECT v FROM stays ORDER BY id')).rows.map((r) => r.v);
  } finally {
    await client.end().catch(() => {});
    const pgCtl = join(await findPgBinDir({ tool: 'pg_ctl' }), 'pg_ctl');
    const args = ['--pgdata', dataDir, '--mode', 'immediate', 'stop'];
    try {
      if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore' });
      else execFileSync(pgCtl, args, { stdio: 'ignore' });
    } catch {
      // already stopped
    }
  }
}
