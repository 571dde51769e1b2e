// Benchmark of physical backups and point-in-time restores on a generated hotel database of ≥ 1 GB, all in one
// run on one cluster (fsync on, archive_mode on), at one compression (--compression, default gzip:6):
//   A. `pgwarden backup base` (backup.jobs --jobs: pg_basebackup -Ft -X none through the in-stream check against
//      its backup_manifest into the compressor on every core → AES-GCM →
//      SHA-256 → file, then pg_waldump over its WAL from the archive), stream and verify phases from the catalog's
//      backup_logs;
//   B. `pg_basebackup -Ft --compress=client-<algorithm>:<level> -X none -c fast` into a directory;
//   C. pgBackRest full backups (same algorithm and level, process-max 1 and 2) of the same cluster into a
//      repository on the same disk;
//   D. `pgwarden restore-pitr --latest --start` until it returns (recovery finished, connections accepted);
//   E. `pgbackrest restore --type=default` (process-max 1 and 2) + starting the server until it is promoted.
// Each tool runs with its own archive_command (see `switchArchive`). Prints a Markdown table and writes
// test/bench/results/base-backup-<algorithm><level>-<date>.json. See BENCHMARKS.md.
// Usage: npm run bench:base -- [--scale GB] [--rounds N] [--keep-dir DIR] [--no-warmup] [--compression zstd:3] [--jobs 2]
//   --keep-dir DIR  keep the generated cluster in DIR and reuse it next time (saves generating the database)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { archiveCommandFor, shellQuote } from '../../src/wal/commands.js';
import { CLI } from '../helpers/pgwarden.js';
import { type DatabaseInfo, formatReport, type Machine, type OpRun, type RestoreCommandCost, summarise } from './base-backup-report.js';
import { BENCH_SETTINGS, type BenchCluster, openBenchCluster } from './bench-cluster.js';
import { generateHotelDb } from './generate-hotel-db.js';
import { cpuBetween, peakUtilisation, type SamplerResult } from './process-sampler.js';
import { createBenchRunner, directoryBytes, freePort, sourceCommit, spread, writeResults as writeResultsFile, machineBasics } from './bench-run.js';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'keep-dir': { type: 'string' },
    'no-warmup': { type: 'boolean', default: false },
    compression: { type: 'string', default: 'gzip:6' },
    jobs: { type: 'string', default: '1' },
  },
});
const scale = Number(args.scale);
const rounds = Number(args.rounds);
const [algorithm = '', levelText = ''] = args.compression.split(':');
const compression = { algorithm: algorithm as 'zstd' | 'gzip' | 'lz4', level: Number(levelText) };
const jobs = Number(args.jobs);
if (!(scale > 0) || !(rounds >= 1) || !['zstd', 'gzip', 'lz4'].includes(compression.algorithm) || !Number.isInteger(compression.level) || !(jobs >= 1)) {
  console.error('usage: npm run bench:base -- [--scale GB] [--rounds N] [--keep-dir DIR] [--no-warmup] [--compression zstd:3|gzip:6|lz4:1] [--jobs N]');
  process.exit(2);
}
/** pgBackRest's name for each algorithm (compress-type). */
const PGBACKREST_TYPE = { zstd: 'zst', gzip: 'gz', lz4: 'lz4' } as const;

const DB_NAME = 'hotel';
const CATALOG_NAME = 'pgwarden_basebench_catalog';
const STANZA = 'bench';
const SERVER_USER = 'postgres';
const log = (line: string) => console.error(`[bench] ${new Date().toISOString().slice(11, 19)} ${line}`);

const runner = createBenchRunner({ log });
const abort = { signal: runner.signal };
const runTimed = runner.runTimed;

/** Data directories of restored servers that may be running: stopped and removed in `finally`. */
const restoredDirs = new Set<string>();
/** Whose archive_command the cluster runs (see switchArchive). */
let activeArchive: 'pgwarden' | 'pgbackrest' | undefined;
let cluster: BenchCluster | undefined;
let workDir: string | undefined;
let keptCluster = false;
let failed = false;
try {
  const started = performance.now();
  workDir = await mkdtemp(join(tmpdir(), 'pgwarden-basebench-'));
  // The server's OS user runs archive_command (pgwarden wal-push, pgbackrest archive-push) and must reach in here.
  await chmod(workDir, 0o755);
  keptCluster = args['keep-dir'] !== undefined;
  const keepDir = args['keep-dir'] ?? join(workDir, 'cluster-home');
  cluster = await openBenchCluster({ keepDir, log });
  const fsync = (await cluster.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync;
  if (fsync !== 'on') throw new Error(`the benchmark cluster runs with fsync=${fsync}; benchmarks need fsync=on`);
  const db = await ensureDatabase(cluster, keepDir);
  cluster = await enableArchiveMode(cluster, keepDir);
  const machine = describeMachine(cluster, await serverSettings(cluster));
  log(`database "${DB_NAME}": ${(db.databaseBytes / 1e9).toFixed(2)} GB on disk; setup took ${((performance.now() - started) / 1000).toFixed(0)} s`);

  const setup = await prepareRuns(cluster, workDir);
  // pgwarden first: its wal-push creates the database's folder in storage as the server's user.
  await switchArchive(setup, 'pgwarden');
  await pgbackrest(setup, ['stanza-create']);
  await switchArchive(setup, 'pgbackrest');
  await pgbackrest(setup, ['check']);

  const warmup = args['no-warmup']
    ? 'No warm-up runs: the first round ran with whatever the page cache held after generating the database.'
    : 'Before timing, one untimed run of each operation (page cache, catalog migration, pgBackRest stanza).';
  if (!args['no-warmup']) {
    log('warm-up (untimed): one run of each operation');
    await pgbackrestPhase(setup, 0, true);
    await pgwardenPhase(setup, 0, true);
  }
  const runs: OpRun[] = [];
  const report = (run: OpRun) => {
    runs.push(run);
    const phases = Object.entries(run.phases)
      .map(([name, secs]) => `${name} ${secs.toFixed(1)} s`)
      .join(', ');
    log(`round ${run.round}: ${run.op} ${run.wallSeconds.toFixed(1)} s${phases ? ` (${phases})` : ''}`);
  };
  for (let round = 1; round <= rounds; round++) {
    // Alternate which tool goes first, and the order inside each phase, so no tool always runs on a warmer machine.
    const odd = round % 2 === 1;
    if (odd) {
      for (const run of await pgwardenPhase(setup, round, false)) report(run);
      for (const run of await pgbackrestPhase(setup, round, false)) report(run);
    } else {
      for (const run of await pgbackrestPhase(setup, round, true)) report(run);
      for (const run of await pgwardenPhase(setup, round, true)) report(run);
    }
  }

  const restoreCommands = await measureRestoreCommands(setup);
  const { ops, ratios } = summarise(runs);
  const clusterBytes = runs.find((r) => r.op === 'pgwarden')?.rawBytes ?? 0;
  const archiving =
    `Compression ${compression.algorithm} level ${compression.level}, pgwarden backup.jobs ${jobs}. ` +
    `Archiving: each tool with its own archive_command, as its users run it — \`pgwarden wal-push\` (${args.compression}) while A, B and D run, ` +
    `\`pgbackrest archive-push\` (${args.compression}) while C and E run; ` +
    'between the phases `pg_switch_wal()`, wait until pg_wal/archive_status holds no ' +
    '.ready file (every completed segment is in the archive of the tool that was active), then ALTER SYSTEM SET archive_command + ' +
    'pg_reload_conf(). So each archive holds an unbroken chain from its own backups on. pg_basebackup -X none (B) runs in pgwarden\'s ' +
    'phase: like A, it waits at its end until the server archived its last segment through wal-push. Restores recover to the end of ' +
    'their own archive (pgwarden: the base backup of A; pgBackRest: the latest full of C) with archive_mode=off on the copy, ' +
    'into new directories on the same disk; each restored server is stopped (immediate) and removed after.';
  const text = formatReport({ machine, database: db, clusterBytes, rounds, warmup, archiving, restoreCommands, compression: args.compression, jobs }, ops, ratios);
  console.log(`\n${text}\n`);
  const file = await writeResults({ machine, database: db, compression, jobs, clusterBytes, rounds, warmup, archiving, ratios, restoreCommands, ops, runs, report: text });
  console.log(`Results: ${file}`);
  log(`whole run ${((performance.now() - started) / 1000 / 60).toFixed(1)} min`);
} catch (error) {
  failed = true;
  console.error(abort.signal.aborted ? `[bench] aborted: ${(abort.signal.reason as Error).message}` : error);
} finally {
  runner.killAll('SIGKILL');
  for (const dir of restoredDirs) await stopRestored(dir).catch(() => {});
  if (cluster && keptCluster) {
    // A kept cluster must not keep WAL for an archive_command that points into the removed work directory.
    await cluster
      .query('ALTER SYSTEM RESET archive_command')
      .then(() => cluster?.query('ALTER SYSTEM RESET archive_mode'))
      .catch(() => {});
  }
  await cluster?.close().catch((error: unknown) => console.error('[bench] could not stop the cluster:', error));
  if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => {});
}
process.exit(failed ? (abort.signal.aborted ? 130 : 1) : 0);

// ---- the cluster and the database ----

/** Generates the hotel database, or reuses a kept one of the same scale. */
async function ensureDatabase(cluster: BenchCluster, keepDir: string): Promise<DatabaseInfo> {
  const infoFile = join(keepDir, 'hotel-db.json');
  if (cluster.reused && existsSync(infoFile)) {
    const info = JSON.parse(await readFile(infoFile, 'utf8')) as DatabaseInfo;
    if (info.scale !== scale) throw new Error(`${keepDir} holds a database of scale ${info.scale}, not ${scale}: pass --scale ${info.scale} or another --keep-dir`);
    log(`reusing the generated database in ${keepDir}`);
    return info;
  }
  if (cluster.reused) throw new Error(`${keepDir} holds a cluster but no finished database (hotel-db.json): remove the directory`);
  log(`generating the hotel database at scale ${scale} (about ${scale} GB)`);
  await cluster.query(`CREATE DATABASE ${DB_NAME}`);
  const generated = await generateHotelDb(cluster.url(DB_NAME), { scale, log });
  log(`generated in ${generated.seconds.toFixed(0)} s`);
  const info: DatabaseInfo = { name: DB_NAME, scale, databaseBytes: generated.databaseBytes, rows: generated.rows };
  await writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

/**
 * archive_mode needs a restart. It is switched on only after the database was generated: segments completed
 * while it was off are never queued for archiving, so the archives start small instead of replaying the load.
 */
async function enableArchiveMode(current: BenchCluster, keepDir: string): Promise<BenchCluster> {
  await current.query(`ALTER SYSTEM SET archive_command = ''`);
  await current.query('ALTER SYSTEM SET archive_timeout = 0');
  const mode = (await current.query<{ v: string }>("SELECT current_setting('archive_mode') AS v")).rows[0]?.v;
  if (mode === 'on') {
    await current.query('SELECT pg_reload_conf()');
    return current;
  }
  await current.query(`ALTER SYSTEM SET archive_mode = 'on'`);
  await current.query('CHECKPOINT');
  await current.close();
  log('restarting the cluster with archive_mode = on');
  // A cluster in a kept directory is restarted by openBenchCluster (pg_ctl), reading postgresql.auto.conf.
  const reopened = await openBenchCluster({ keepDir, log });
  const now = (await reopened.query<{ v: string }>("SELECT current_setting('archive_mode') AS v")).rows[0]?.v;
  if (now !== 'on') throw new Error(`archive_mode is ${now} after the restart`);
  return reopened;
}

async function serverSettings(cluster: BenchCluster): Promise<Record<string, string>> {
  const settings: Record<string, string> = {};
  for (const name of [...Object.keys(BENCH_SETTINGS), 'archive_mode', 'wal_level', 'data_checksums']) {
    settings[name] = (await cluster.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]!.v;
  }
  return settings;
}

function describeMachine(cluster: BenchCluster, settings: Record<string, string>): Machine {
  const firstLine = (program: string, argv: string[]) => spawnSync(program, argv, { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() ?? '?';
  return {
    ...machineBasics(),
    postgres: firstLine(join(cluster.binDir, 'postgres'), ['--version']),
    pgBasebackup: firstLine(join(cluster.binDir, 'pg_basebackup'), ['--version']),
    pgbackrest: firstLine('pgbackrest', ['version']),
    commit: sourceCommit(),
    settings,
  };
}

// ---- setup ----

interface RunSetup {
  cluster: BenchCluster;
  workDir: string;
  pgwardenConfig: string;
  pgwardenStorage: string;
  pgbackrestConfig: string;
  pgbackrestRepo: string;
  postmasterPid: number;
  probe: string;
  owner: { uid: number; gid: number };
}

/**
 * A base backup copies the whole cluster: a database left in the kept cluster (a restore tried by hand, a run
 * that died before dropping its target) would be measured too. Refuse, naming it, instead of reporting it as
 * the hotel database's figures. The performance benchmark's catalog shares the cluster and is small.
 */
async function refuseStrayDatabases(cluster: BenchCluster): Promise<void> {
  const expected = ['postgres', 'template0', 'template1', DB_NAME, CATALOG_NAME, 'pgwarden_perfbench_catalog'];
  const { rows } = await cluster.query<{ datname: string; size: string }>(
    'SELECT datname, pg_size_pretty(pg_database_size(datname)) AS size FROM pg_database WHERE NOT datname = ANY($1) ORDER BY 1',
    [expected],
  );
  if (rows.length > 0) {
    throw new Error(
      `the kept cluster holds databases the benchmark did not make: ${rows.map((r) => `${r.datname} (${r.size})`).join(', ')}; ` +
        `a base backup would copy them too. Drop them (DROP DATABASE … WITH (FORCE)) or use another --keep-dir`,
    );
  }
}

async function prepareRuns(cluster: BenchCluster, workDir: string): Promise<RunSetup> {
  await refuseStrayDatabases(cluster);
  await cluster.query(`DROP DATABASE IF EXISTS ${CATALOG_NAME} WITH (FORCE)`);
  await cluster.query(`CREATE DATABASE ${CATALOG_NAME}`);
  const owner = serverOwner();
  const ownedDir = async (path: string) => {
    await mkdir(path, { recursive: true, mode: 0o700 });
    await chown(path, owner.uid, owner.gid);
    return path;
  };

  // pgwarden: storage owned by the server's user, who runs wal-push; the CLI (root here) writes base backups.
  const pgwardenStorage = await ownedDir(join(workDir, 'pgwarden-storage'));
  const pgwardenConfig = join(workDir, 'pgwarden.yml');
  await writeFile(
    pgwardenConfig,
    `${[
      `catalog: { url: "${cluster.url(CATALOG_NAME)}" }`,
      'databases:',
      `  - { name: ${DB_NAME}, url: "${cluster.url(DB_NAME)}", pitr: true }`,
      `storage: { local: { path: "${pgwardenStorage}" } }`,
      `backup: { compression: ${compression.algorithm}, compressionLevel: ${compression.level}, jobs: ${jobs}, pgBinDir: "${cluster.binDir}" }`,
      'logLevel: warn',
    ].join('\n')}\n`,
    { mode: 0o644 },
  );

  // pgBackRest: repository, lock and log directories of its own, on the same disk, owned by the server's user.
  const pgbackrestRepo = await ownedDir(join(workDir, 'pgbackrest-repo'));
  const lockPath = await ownedDir(join(workDir, 'pgbackrest-lock'));
  const logPath = await ownedDir(join(workDir, 'pgbackrest-log'));
  const spoolPath = await ownedDir(join(workDir, 'pgbackrest-spool'));
  const port = new URL(cluster.url()).port;
  const pgbackrestConfig = join(workDir, 'pgbackrest.conf');
  await writeFile(
    pgbackrestConfig,
    `${[
      '[global]',
      `repo1-path=${pgbackrestRepo}`,
      'repo1-retention-full=99',
      `lock-path=${lockPath}`,
      `log-path=${logPath}`,
      `spool-path=${spoolPath}`,
      'log-level-console=warn',
      'log-level-file=off',
      `compress-type=${PGBACKREST_TYPE[compression.algorithm]}`,
      `compress-level=${compression.level}`,
      'process-max=1',
      'start-fast=y',
      '',
      `[${STANZA}]`,
      `pg1-path=${cluster.dataDir}`,
      `pg1-port=${port}`,
      `pg1-socket-path=${join(cluster.dataDir, '..', 'run')}`,
      `pg1-user=${SERVER_USER}`,
    ].join('\n')}\n`,
    { mode: 0o644 },
  );
  return {
    cluster,
    workDir,
    pgwardenConfig,
    pgwardenStorage,
    pgbackrestConfig,
    pgbackrestRepo,
    postmasterPid: await cluster.postmasterPid(),
    probe: pathToFileURL(join(import.meta.dirname, 'usage-probe.js')).href,
    owner,
  };
}

function serverOwner(): { uid: number; gid: number } {
  if (process.getuid?.() !== 0) return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${SERVER_USER}:`));
  if (!line) throw new Error(`running as root, but there is no ${SERVER_USER} user to run PostgreSQL and pgBackRest`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** As root, PostgreSQL's and pgBackRest's programs run as the server's OS user. */
function asServerUser(program: string, argv: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', SERVER_USER, '--', program, ...argv]] : [program, argv];
}

// ---- archiving ----

/**
 * Hands WAL archiving to one tool: closes the current segment, waits until every completed segment has been
 * archived by the tool that was active, then sets archive_command and reloads. Each archive so holds an unbroken
 * chain from its own backups on (what each tool's restore to the latest point needs).
 */
async function switchArchive(setup: RunSetup, to: 'pgwarden' | 'pgbackrest'): Promise<void> {
  if (activeArchive === to) return;
  // Before the first switch archive_command is empty: what waits is archived by the first tool.
  if (activeArchive !== undefined) await drainArchive(setup);
  const command =
    to === 'pgwarden'
      ? archiveCommandFor(setup.pgwardenConfig, DB_NAME)
      : `pgbackrest --config=${shellQuote(setup.pgbackrestConfig)} --stanza=${STANZA} archive-push %p`;
  await setup.cluster.query(`ALTER SYSTEM SET archive_command = ${pg.escapeLiteral(command)}`);
  await setup.cluster.query('SELECT pg_reload_conf()');
  for (let i = 0; i < 50; i++) {
    const current = (await setup.cluster.query<{ v: string }>("SELECT current_setting('archive_command') AS v")).rows[0]?.v;
    if (current === command) break;
    await sleep(50);
  }
  // The archiver reads the new setting at its next wake-up; no segment completes before the next operation.
  await sleep(300);
  activeArchive = to;
  await drainArchive(setup);
}

/** pg_switch_wal(), then waits until pg_wal/archive_status holds no .ready file. */
async function drainArchive(setup: RunSetup): Promise<void> {
  await setup.cluster.query('SELECT pg_switch_wal()');
  const statusDir = join(setup.cluster.dataDir, 'pg_wal', 'archive_status');
  const deadline = Date.now() + 180_000;
  for (;;) {
    abort.signal.throwIfAborted();
    const ready = (await readdir(statusDir)).filter((f) => f.endsWith('.ready'));
    if (ready.length === 0) return;
    if (Date.now() > deadline) {
      const archiver = (await setup.cluster.query('SELECT * FROM pg_stat_archiver')).rows[0];
      throw new Error(`WAL archiving is stuck: ${ready.length} segments waiting (${ready.slice(0, 3).join(', ')}); pg_stat_archiver: ${JSON.stringify(archiver)}`);
    }
    await sleep(100);
  }
}

// ---- phases ----

/** A, B (pgwarden's archive_command), then D: restore-pitr recovers from A's base backup to the archive's end. */
async function pgwardenPhase(setup: RunSetup, round: number, reversed: boolean): Promise<OpRun[]> {
  await switchArchive(setup, 'pgwarden');
  const out: OpRun[] = [];
  if (reversed) {
    out.push(await runBasebackup(setup, round));
    out.push(await runPgwardenBase(setup, round));
  } else {
    out.push(await runPgwardenBase(setup, round));
    out.push(await runBasebackup(setup, round));
  }
  out.push(await runPgwardenRestore(setup, round));
  return out;
}

/** C with process-max 1 and 2 (pgBackRest's archive_command), then E from the latest full, process-max 1 and 2. */
async function pgbackrestPhase(setup: RunSetup, round: number, reversed: boolean): Promise<OpRun[]> {
  await switchArchive(setup, 'pgbackrest');
  const order = reversed ? [2, 1] : [1, 2];
  const out: OpRun[] = [];
  for (const pm of order) out.push(await runPgbackrestBackup(setup, pm, round));
  for (const pm of order) out.push(await runPgbackrestRestore(setup, pm, round));
  return out;
}

// ---- A. pgwarden backup base ----

async function runPgwardenBase(setup: RunSetup, round: number): Promise<OpRun> {
  const usageFile = join(setup.workDir, 'usage.json');
  await rm(usageFile, { force: true });
  const argv = ['--import', setup.probe, CLI, '--config', setup.pgwardenConfig, 'backup', 'base', '--database', DB_NAME];
  const timed = await runTimed(process.execPath, argv, { PGWARDEN_BENCH_USAGE_FILE: usageFile }, setup.postmasterPid);
  const backupId = timed.stdout
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^\d{8}T\d{6}Z-base-[0-9a-f]{6}$/.test(l));
  if (!backupId) throw new Error(`pgwarden printed no base backup id:\n${timed.stdout}`);
  const steps = await setup.cluster.query<{ step: string; t: number }>(
    `SELECT step, extract(epoch FROM created_at) * 1000 AS t FROM pgwarden.backup_logs WHERE backup_id = $1 AND operation = 'backup' ORDER BY id`,
    [backupId],
    CATALOG_NAME,
  );
  const at = (step: string) => {
    const row = steps.rows.find((r) => r.step === step);
    if (!row) throw new Error(`backup ${backupId} has no '${step}' step in backup_logs (steps: ${steps.rows.map((r) => r.step).join(', ')})`);
    return Number(row.t);
  };
  const [precheck, streamed, verified] = [at('precheck'), at('dump'), at('verify')];
  const row = (
    await setup.cluster.query<{ status: string; file_size: string; raw_size: string }>(
      'SELECT status, file_size, raw_size FROM pgwarden.database_backups WHERE backup_id = $1',
      [backupId],
      CATALOG_NAME,
    )
  ).rows[0];
  if (row?.status !== 'succeeded') throw new Error(`backup ${backupId} is ${row?.status ?? 'missing'} in the catalog`);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as NodeJS.ResourceUsage;
  const { samples } = timed.sampled;
  const stream = cpuBetween(samples, precheck, streamed);
  const streamSeconds = (streamed - precheck) / 1000;
  return {
    op: 'pgwarden',
    round,
    id: backupId,
    wallSeconds: timed.wallSeconds,
    storedBytes: Number(row.file_size),
    rawBytes: Number(row.raw_size),
    phases: {
      startup: (precheck - timed.started) / 1000,
      stream: streamSeconds,
      verify: (verified - streamed) / 1000,
      finish: (timed.ended - verified) / 1000,
    },
    cpuSeconds: wholeCpu(timed.sampled),
    phaseCpu: { stream, verify: cpuBetween(samples, streamed, verified) },
    peakRssBytes: { ...peakRss(timed.sampled), node: Math.max(usage.maxRSS * 1024, timed.sampled.rootPeakRssBytes) },
    mainThread: {
      peak: peakUtilisation(samples, 'main', precheck, streamed),
      mean: (stream['main'] ?? 0) / streamSeconds,
      threadsMean: (stream['threads'] ?? 0) / streamSeconds,
    },
    otherCpuSeconds: timed.otherCpuSeconds,
  };
}

// ---- B. pg_basebackup -z ----

async function runBasebackup(setup: RunSetup, round: number): Promise<OpRun> {
  const dir = join(setup.workDir, 'pg_basebackup-out');
  await rm(dir, { recursive: true, force: true });
  const argv = ['-D', dir, '-Ft', `--compress=client-${compression.algorithm}:${compression.level}`, '-X', 'none', '-c', 'fast', '-d', setup.cluster.url(DB_NAME)];
  const timed = await runTimed(join(setup.cluster.binDir, 'pg_basebackup'), argv, {}, setup.postmasterPid);
  const storedBytes = await directoryBytes(dir);
  await rm(dir, { recursive: true, force: true });
  return {
    op: 'basebackup',
    round,
    wallSeconds: timed.wallSeconds,
    storedBytes,
    phases: {},
    cpuSeconds: wholeCpu(timed.sampled),
    peakRssBytes: peakRss(timed.sampled),
    otherCpuSeconds: timed.otherCpuSeconds,
  };
}

// ---- C. pgBackRest full backup ----

async function runPgbackrestBackup(setup: RunSetup, processMax: number, round: number): Promise<OpRun> {
  const [program, argv] = asServerUser('pgbackrest', [`--config=${setup.pgbackrestConfig}`, `--stanza=${STANZA}`, '--type=full', `--process-max=${processMax}`, 'backup']);
  const timed = await runTimed(program, argv, {}, setup.postmasterPid);
  const info = JSON.parse(await pgbackrest(setup, ['info', '--output=json'])) as {
    backup: { label: string; info: { size: number; repository: { delta: number; size: number } } }[];
  }[];
  const latest = info[0]?.backup.at(-1);
  if (!latest) throw new Error('pgbackrest info shows no backup after a successful backup');
  return {
    op: processMax === 1 ? 'pgbackrest1' : 'pgbackrest2',
    round,
    id: latest.label,
    wallSeconds: timed.wallSeconds,
    storedBytes: latest.info.repository.delta,
    rawBytes: latest.info.size,
    phases: {},
    cpuSeconds: wholeCpu(timed.sampled),
    peakRssBytes: peakRss(timed.sampled),
    otherCpuSeconds: timed.otherCpuSeconds,
  };
}

async function pgbackrest(setup: RunSetup, command: string[]): Promise<string> {
  const [program, argv] = asServerUser('pgbackrest', [`--config=${setup.pgbackrestConfig}`, `--stanza=${STANZA}`, ...command]);
  const result = spawnSync(program, argv, { encoding: 'utf8', cwd: '/' });
  if (result.status !== 0) throw new Error(`pgbackrest ${command.join(' ')} exited with ${result.status}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

// ---- D. pgwarden restore-pitr --latest --start ----

async function runPgwardenRestore(setup: RunSetup, round: number): Promise<OpRun> {
  const dataDir = join(setup.workDir, `restore-pgwarden-${round}`);
  restoredDirs.add(dataDir);
  const usageFile = join(setup.workDir, 'usage.json');
  await rm(usageFile, { force: true });
  const argv = ['--import', setup.probe, CLI, '--config', setup.pgwardenConfig, 'restore-pitr', '--database', DB_NAME, '--latest', '--data-dir', dataDir, '--start', '--timeout', '900', '--json'];
  const timed = await runTimed(process.execPath, argv, { PGWARDEN_BENCH_USAGE_FILE: usageFile }, setup.postmasterPid);
  const result = JSON.parse(timed.stdout) as { port: number; recovery_seconds: number; total_seconds: number; base_backup_id: string };
  // The same end point as for pgBackRest: a connection that sees the server out of recovery.
  await waitPromoted(result.port, 5_000);
  const serverLog = join(dataDir, 'log', 'pgwarden-restore.log');
  const walRestored = await countRestoredWal(serverLog);
  const restoreCommandRuns = await countWalFetchCalls(serverLog);
  await stopRestored(dataDir);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as NodeJS.ResourceUsage;
  const filesEnd = timed.ended - result.recovery_seconds * 1000;
  return {
    op: 'pgwardenRestore',
    round,
    id: result.base_backup_id,
    wallSeconds: timed.wallSeconds,
    phases: { files: (filesEnd - timed.started) / 1000, recovery: result.recovery_seconds },
    cpuSeconds: cpuBetween(timed.sampled.samples, timed.started, filesEnd),
    peakRssBytes: { ...peakRss(timed.sampled), node: Math.max(usage.maxRSS * 1024, timed.sampled.rootPeakRssBytes) },
    walRestored,
    restoreCommandRuns,
    otherCpuSeconds: timed.otherCpuSeconds,
  };
}

// ---- E. pgbackrest restore + start until promoted ----

async function runPgbackrestRestore(setup: RunSetup, processMax: number, round: number): Promise<OpRun> {
  const dataDir = join(setup.workDir, `restore-pgbackrest-${round}-${processMax}`);
  restoredDirs.add(dataDir);
  await mkdir(dataDir, { mode: 0o700 });
  await chown(dataDir, setup.owner.uid, setup.owner.gid);
  // The same recovery as restore-pitr --latest: to the end of the archive, then promote; no archiving on the copy.
  const [program, argv] = asServerUser('pgbackrest', [
    `--config=${setup.pgbackrestConfig}`,
    `--stanza=${STANZA}`,
    `--pg1-path=${dataDir}`,
    '--type=default',
    '--archive-mode=off',
    `--process-max=${processMax}`,
    'restore',
  ]);
  const timed = await runTimed(program, argv, {}, setup.postmasterPid);
  const port = await freePort();
  const logFile = join(dataDir, 'pgbackrest-restore.log');
  const startedAt = performance.timeOrigin + performance.now();
  const [ctl, ctlArgv] = asServerUser(join(setup.cluster.binDir, 'pg_ctl'), ['--pgdata', dataDir, '--log', logFile, '--options', `-p ${port}`, '--wait', '--timeout', '900', 'start']);
  const start = spawnSync(ctl, ctlArgv, { encoding: 'utf8', cwd: '/' });
  if (start.status !== 0) throw new Error(`the server restored by pgBackRest did not start: ${start.stderr}\n${await readFile(logFile, 'utf8').catch(() => '')}`);
  await waitPromoted(port, 900_000);
  const promotedAt = performance.timeOrigin + performance.now();
  const walRestored = await countRestoredWal(logFile);
  await stopRestored(dataDir);
  return {
    op: processMax === 1 ? 'pgbackrestRestore1' : 'pgbackrestRestore2',
    round,
    wallSeconds: (promotedAt - timed.started) / 1000,
    phases: { files: timed.wallSeconds, recovery: (promotedAt - startedAt) / 1000 },
    cpuSeconds: wholeCpu(timed.sampled),
    peakRssBytes: peakRss(timed.sampled),
    walRestored,
    otherCpuSeconds: timed.otherCpuSeconds,
  };
}

/** Polls (every 100 ms, like restore-pitr) until the server accepts a connection and pg_is_in_recovery() is false. */
async function waitPromoted(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let client: pg.Client | undefined;
  try {
    for (;;) {
      abort.signal.throwIfAborted();
      try {
        if (!client) {
          const fresh = new pg.Client({ host: '127.0.0.1', port, user: SERVER_USER, database: 'postgres', connectionTimeoutMillis: 2_000 });
          fresh.on('error', () => {});
          await fresh.connect();
          client = fresh;
        }
        const { rows } = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (rows[0]?.r === false) return;
      } catch {
        await client?.end().catch(() => {});
        client = undefined;
      }
      if (Date.now() > deadline) throw new Error(`the restored server on port ${port} did not leave recovery within ${timeoutMs / 1000} s`);
      await sleep(100);
    }
  } finally {
    await client?.end().catch(() => {});
  }
}

async function countRestoredWal(logFile: string): Promise<number> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => /restored log file "[0-9A-F]{24}"/.test(l)).length;
}

/** restore_command runs of pgwarden's wal-fetch: files restored plus the "not in the archive" answers it logs. */
async function countWalFetchCalls(logFile: string): Promise<number> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => /restored log file "|pgwarden wal-fetch: .* is not in the WAL archive/.test(l)).length;
}

/** Stops a restored server (immediate: it is thrown away) and removes its directory. */
async function stopRestored(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, 'postmaster.pid'))) {
    const binDir = cluster?.binDir;
    if (binDir) {
      const [ctl, argv] = asServerUser(join(binDir, 'pg_ctl'), ['--pgdata', dataDir, '--mode', 'immediate', '--wait', 'stop']);
      spawnSync(ctl, argv, { stdio: 'ignore', cwd: '/' });
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  restoredDirs.delete(dataDir);
}

// ---- restore_command ----

/**
 * What one restore_command run costs, as the recovering server runs it (as its OS user, a new process per
 * file): `pgwarden wal-fetch` against `pgbackrest archive-get` for the same archived segment, interleaved.
 */
async function measureRestoreCommands(setup: RunSetup, runs = 5): Promise<RestoreCommandCost> {
  await switchArchive(setup, 'pgbackrest');
  await drainArchive(setup);
  // The archives are disjoint (see switchArchive): each tool fetches the newest segment of its own archive.
  const newest = (names: string[], where: string) => {
    const found = names
      .map((f) => f.slice(0, 24))
      .filter((f) => /^[0-9A-F]{24}$/.test(f))
      .sort()
      .at(-1);
    if (!found) throw new Error(`no archived segment in ${where}`);
    return found;
  };
  const pgwardenWal = join(setup.pgwardenStorage, DB_NAME, 'wal', '00000001');
  const pgwardenSegment = newest(await readdir(pgwardenWal), pgwardenWal);
  const pgbackrestArchive = join(setup.pgbackrestRepo, 'archive', STANZA);
  const pgbackrestFiles: string[] = [];
  for (const version of await readdir(pgbackrestArchive, { withFileTypes: true })) {
    if (!version.isDirectory()) continue;
    for (const part of await readdir(join(pgbackrestArchive, version.name), { withFileTypes: true })) {
      if (part.isDirectory()) pgbackrestFiles.push(...(await readdir(join(pgbackrestArchive, version.name, part.name))));
    }
  }
  const pgbackrestSegment = newest(pgbackrestFiles, pgbackrestArchive);
  const dir = join(setup.workDir, 'restore-command');
  await mkdir(dir, { mode: 0o700 });
  await chown(dir, setup.owner.uid, setup.owner.gid);
  const commands = {
    pgwarden: asServerUser(process.execPath, [CLI, '--config', setup.pgwardenConfig, 'wal-fetch', '--database', DB_NAME, pgwardenSegment, join(dir, 'pgwarden')]),
    pgbackrest: asServerUser('pgbackrest', [`--config=${setup.pgbackrestConfig}`, `--stanza=${STANZA}`, 'archive-get', pgbackrestSegment, join(dir, 'pgbackrest')]),
  };
  const seconds: Record<'pgwarden' | 'pgbackrest', number[]> = { pgwarden: [], pgbackrest: [] };
  for (let i = 0; i < runs; i++) {
    for (const tool of ['pgwarden', 'pgbackrest'] as const) {
      await rm(join(dir, tool), { force: true });
      const [program, argv] = commands[tool];
      const begin = performance.now();
      const result = spawnSync(program, argv, { encoding: 'utf8', cwd: '/' });
      seconds[tool].push((performance.now() - begin) / 1000);
      if (result.status !== 0 || !existsSync(join(dir, tool))) throw new Error(`${tool} restore_command failed: ${result.stderr}${result.stdout}`);
    }
  }
  await rm(dir, { recursive: true, force: true });
  log(`restore_command per file: pgwarden wal-fetch ${seconds.pgwarden.map((x) => x.toFixed(2)).join(', ')} s; pgbackrest archive-get ${seconds.pgbackrest.map((x) => x.toFixed(2)).join(', ')} s`);
  return { segments: { pgwarden: pgwardenSegment, pgbackrest: pgbackrestSegment }, runs, pgwardenWalFetch: spread(seconds.pgwarden), pgbackrestArchiveGet: spread(seconds.pgbackrest) };
}

// ---- running and sampling ----

/**
 * CPU seconds per process name and `server`, over the whole run. The root process is `main`/`threads` when it is
 * pgwarden's node process; any other root (pg_basebackup, runuser) is counted under its own name.
 */
function wholeCpu(sampled: SamplerResult): Record<string, number> {
  const out: Record<string, number> = { ...(sampled.samples.at(-1)?.series ?? {}) };
  const root = sampled.processes[0]?.comm;
  if (root !== undefined && root !== 'node') {
    out[root] = (out[root] ?? 0) + (out['main'] ?? 0) + (out['threads'] ?? 0);
    delete out['main'];
    delete out['threads'];
  }
  delete out['runuser'];
  for (const [name, value] of Object.entries(out)) if (value === 0) delete out[name];
  return out;
}

/** Peak RSS per process name, the root excluded when it is a wrapper. */
function peakRss(sampled: SamplerResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of sampled.processes) {
    // runuser is a wrapper; sh/postgres/pg_ctl under restore-pitr are the restored server starting, not pgwarden.
    if (['runuser', 'node', 'sh', 'postgres', 'pg_ctl'].includes(p.comm)) continue;
    out[p.comm] = Math.max(out[p.comm] ?? 0, p.peakRssBytes);
  }
  return out;
}

// ---- results ----

function writeResults(results: Record<string, unknown>): Promise<string> {
  return writeResultsFile(`base-backup-${compression.algorithm}${compression.level}`, results);
}
