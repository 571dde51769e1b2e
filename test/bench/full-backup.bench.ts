// Benchmark of `pgwarden backup full` against the shell pipeline `pg_dump -Fc -Z0 | gzip -N > file` on a
// generated hotel database of ≥ 1 GB: interleaved rounds at gzip levels 1 and 6, pgwarden with and without
// encryption, wall time per phase (from the catalog's backup_logs), CPU per process and thread, peak RSS.
// Prints a Markdown table and writes test/bench/results/full-backup-<date>.json. See BENCHMARKS.md.
// Usage: npm run bench -- [--scale GB] [--rounds N] [--levels 1,6] [--keep-dir DIR] [--cpu-prof] [--report FILE]
//   --keep-dir DIR  keep the generated cluster in DIR and reuse it next time (saves generating the database)
//   --cpu-prof      after the timed rounds, one untimed run per configuration under node --cpu-prof, summarised
//   --report FILE   print the table of a results file written earlier, and exit
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CLI, printedIds } from '../helpers/pgwarden.js';
import { BENCH_SETTINGS, type BenchCluster, openBenchCluster } from './bench-cluster.js';
import {
  type BaselineRun,
  type DatabaseInfo,
  type FloorRun,
  formatQuietRounds,
  formatReport,
  type Machine,
  type PgwardenRun,
  summarise,
} from './full-backup-report.js';
import { generateHotelDb } from './generate-hotel-db.js';
import { cpuBetween, peakRssBetween, peakUtilisation } from './process-sampler.js';
import { byComm, createBenchRunner, quote, resultsDir, stamp, writeResults as writeResultsFile, machineBasics } from './bench-run.js';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    levels: { type: 'string', default: '1,6' },
    'keep-dir': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    report: { type: 'string' },
  },
});

/** What writeResults stores, and --report reads back. */
interface SavedResults {
  machine: Machine;
  database: DatabaseInfo;
  rounds: number;
  levels: number[];
  baselines: BaselineRun[];
  runs: PgwardenRun[];
  floor: FloorRun[];
  idleRssBytes: number;
}

// --report FILE: print the table of an earlier results file again (with this version's formatting), and stop.
if (args.report !== undefined) {
  const saved = JSON.parse(readFileSync(args.report, 'utf8')) as SavedResults;
  const configs = summarise(saved.levels, saved.baselines, saved.runs);
  console.log(formatReport(saved.machine, saved.database, saved.rounds, configs, { floor: saved.floor, idleRssBytes: saved.idleRssBytes }));
  console.log(`\n${formatQuietRounds(saved.levels, saved.baselines, saved.runs)}`);
  process.exit(0);
}

const scale = Number(args.scale);
const rounds = Number(args.rounds);
const levels = args.levels.split(',').map(Number);
if (!(scale > 0) || !(rounds >= 1) || levels.some((l) => !Number.isInteger(l) || l < 1 || l > 9)) {
  console.error('usage: npm run bench -- [--scale GB] [--rounds N] [--levels 1,6] [--keep-dir DIR] [--cpu-prof] [--report FILE]');
  process.exit(2);
}

const DB_NAME = 'hotel';
const CATALOG_NAME = 'pgwarden_bench_catalog';
const log = (line: string) => console.error(`[bench] ${line}`);

const runner = createBenchRunner({ log, quietTimeoutMs: 60_000, cwd: process.cwd() });
const abort = { signal: runner.signal };
const runTimed = runner.runTimed;

let cluster: BenchCluster | undefined;
let workDir: string | undefined;
let failed = false;
try {
  cluster = await openBenchCluster({ keepDir: args['keep-dir'], log });
  const fsync = (await cluster.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync;
  if (fsync !== 'on') throw new Error(`the benchmark cluster runs with fsync=${fsync}; benchmarks need fsync=on`);
  const db = await ensureDatabase(cluster);
  const machine = await describeMachine(cluster);
  log(`database "${DB_NAME}": ${(db.databaseBytes / 1e9).toFixed(2)} GB on disk`);

  workDir = await mkdtemp(join(tmpdir(), 'pgwarden-bench-'));
  const setup = await prepareRuns(cluster, workDir);

  log('warm-up (untimed): one pipeline run and one pgwarden run, to fill the page cache and migrate the catalog');
  await runBaseline(setup, levels[0]!, 0);
  await runPgwarden(setup, levels[0]!, false, 0);

  const idleRssBytes = await measureIdleRss(setup);
  const baselines: BaselineRun[] = [];
  const runs: PgwardenRun[] = [];
  const floor: FloorRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    floor.push(await runFloor(setup, round));
    log(`round ${round}: pg_dump -Fc -Z0 > file ${floor.at(-1)!.wallSeconds.toFixed(1)} s`);
    for (const level of levels) {
      const base = await runBaseline(setup, level, round);
      baselines.push(base);
      log(`round ${round} gzip -${level}: pipeline ${base.wallSeconds.toFixed(1)} s`);
      for (const encrypted of [false, true]) {
        const run = await runPgwarden(setup, level, encrypted, round);
        runs.push(run);
        log(
          `round ${round} gzip -${level}: pgwarden${encrypted ? ' + AES-GCM' : ''} ${run.wallSeconds.toFixed(1)} s ` +
            `(dump ${run.dumpSeconds.toFixed(1)} s, verify ${run.verifySeconds.toFixed(1)} s), peak RSS ${Math.round(run.peakRssBytes / 1e6)} MB`,
        );
      }
    }
  }

  const configs = summarise(levels, baselines, runs);
  const report = `${formatReport(machine, db, rounds, configs, { floor, idleRssBytes })}\n\n${formatQuietRounds(levels, baselines, runs)}`;
  const profiles = args['cpu-prof'] ? await profileRuns(setup) : undefined;
  console.log(`\n${report}\n`);
  if (profiles) console.log(`${profiles.text}\n`);
  const file = await writeResults({ machine, database: db, rounds, levels, configs, baselines, runs, floor, idleRssBytes, profiles: profiles?.data, report });
  console.log(`Results: ${file}`);
} catch (error) {
  failed = true;
  console.error(abort.signal.aborted ? `[bench] aborted: ${(abort.signal.reason as Error).message}` : error);
} finally {
  runner.killAll('SIGKILL');
  if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => {});
  await cluster?.close().catch((error: unknown) => console.error('[bench] could not stop the cluster:', error));
}
process.exit(failed ? (abort.signal.aborted ? 130 : 1) : 0);

// ---- the database ----

/** Generates the hotel database, or reuses a kept one of the same scale. */
async function ensureDatabase(cluster: BenchCluster): Promise<DatabaseInfo> {
  const infoFile = args['keep-dir'] === undefined ? undefined : join(args['keep-dir'], 'hotel-db.json');
  if (cluster.reused && infoFile && existsSync(infoFile)) {
    const info = JSON.parse(await readFile(infoFile, 'utf8')) as DatabaseInfo;
    if (info.scale !== scale) {
      throw new Error(`${args['keep-dir']} holds a database of scale ${info.scale}, not ${scale}: pass --scale ${info.scale} or another --keep-dir`);
    }
    log(`reusing the generated database in ${args['keep-dir']}`);
    return info;
  }
  if (cluster.reused) throw new Error(`${args['keep-dir']} holds a cluster but no finished database (hotel-db.json): remove the directory`);
  log(`generating the hotel database at scale ${scale} (about ${scale} GB)`);
  const url = cluster.url(DB_NAME);
  await cluster.query(`CREATE DATABASE ${DB_NAME}`);
  const generated = await generateHotelDb(url, { scale, log });
  log(`generated in ${generated.seconds.toFixed(0)} s`);
  const info: DatabaseInfo = { name: DB_NAME, scale, databaseBytes: generated.databaseBytes, rows: generated.rows };
  if (infoFile) await writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

async function describeMachine(cluster: BenchCluster): Promise<Machine> {
  const version = (await cluster.query<{ v: string }>(`SELECT split_part(version(), ' on ', 1) AS v`)).rows[0]!.v;
  const settings: Record<string, string> = {};
  for (const name of Object.keys(BENCH_SETTINGS)) {
    settings[name] = (await cluster.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0]!.v;
  }
  const firstLine = (program: string, argv: string[]) => spawnSync(program, argv, { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() ?? '?';
  return {
    ...machineBasics(),
    postgres: version,
    pgDump: firstLine(join(cluster.binDir, 'pg_dump'), ['--version']),
    gzip: firstLine('gzip', ['--version']),
    settings,
  };
}

// ---- runs ----

interface RunSetup {
  cluster: BenchCluster;
  workDir: string;
  storageDir: string;
  pgDump: string;
  sourceUrl: string;
  catalogUrl: string;
  postmasterPid: number;
  /** Config file per gzip level and encryption. */
  configs: Map<string, string>;
  probe: string;
}

async function prepareRuns(cluster: BenchCluster, workDir: string): Promise<RunSetup> {
  await cluster.query(`DROP DATABASE IF EXISTS ${CATALOG_NAME} WITH (FORCE)`);
  await cluster.query(`CREATE DATABASE ${CATALOG_NAME}`);
  const storageDir = join(workDir, 'storage');
  const key = randomBytes(32).toString('base64');
  const configs = new Map<string, string>();
  for (const level of levels) {
    for (const encrypted of [false, true]) {
      const file = join(workDir, `pgwarden-gzip${level}${encrypted ? '-enc' : ''}.yml`);
      const lines = [
        `catalog: { url: "${cluster.url(CATALOG_NAME)}" }`,
        'databases:',
        `  - { name: ${DB_NAME}, url: "${cluster.url(DB_NAME)}" }`,
        `storage: { local: { path: "${storageDir}" } }`,
        ...(encrypted ? ['encryption:', `  keys: [{ id: bench, key: "${key}" }]`] : []),
        `backup: { compression: gzip, compressionLevel: ${level}, pgBinDir: "${cluster.binDir}" }`,
        'logLevel: warn',
      ];
      await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
      configs.set(configKey(level, encrypted), file);
    }
  }
  return {
    cluster,
    workDir,
    storageDir,
    pgDump: join(cluster.binDir, 'pg_dump'),
    sourceUrl: cluster.url(DB_NAME),
    catalogUrl: cluster.url(CATALOG_NAME),
    postmasterPid: await cluster.postmasterPid(),
    configs,
    probe: pathToFileURL(join(import.meta.dirname, 'usage-probe.js')).href,
  };
}

function configKey(level: number, encrypted: boolean): string {
  return `${level}:${encrypted}`;
}

async function runBaseline(setup: RunSetup, level: number, round: number): Promise<BaselineRun> {
  const file = join(setup.workDir, `pipeline-gzip${level}.pgc.gz`);
  const script = `set -o pipefail; ${quote(setup.pgDump)} -Fc -Z0 -d ${quote(setup.sourceUrl)} | gzip -${level} > ${quote(file)}`;
  const { wallSeconds, sampled, otherCpuSeconds } = await runTimed('bash', ['-c', script], {}, setup.postmasterPid);
  // Untimed: what durability would have added to the pipeline, since pgwarden fsyncs its file.
  const fsyncStarted = performance.now();
  const handle = await open(file, 'r');
  await handle.sync();
  await handle.close();
  const fsyncSeconds = (performance.now() - fsyncStarted) / 1000;
  const storedBytes = (await stat(file)).size;
  await rm(file);
  const cpuSeconds: Record<string, number> = { ...byComm(sampled, 'cpuSeconds') };
  cpuSeconds['server'] = sampled.samples.at(-1)?.series['server'] ?? 0;
  return {
    kind: 'baseline',
    level,
    round,
    wallSeconds,
    fsyncSeconds,
    storedBytes,
    cpuSeconds,
    peakRssBytes: byComm(sampled, 'peakRssBytes', 'max'),
    otherCpuSeconds,
  };
}

/** pg_dump alone into a file: what any compressed backup is measured against at best. */
async function runFloor(setup: RunSetup, round: number): Promise<FloorRun> {
  const file = join(setup.workDir, 'floor.pgc');
  const script = `${quote(setup.pgDump)} -Fc -Z0 -d ${quote(setup.sourceUrl)} > ${quote(file)}`;
  const { wallSeconds, sampled } = await runTimed('bash', ['-c', script], {}, setup.postmasterPid);
  const bytes = (await stat(file)).size;
  await rm(file);
  const cpuSeconds: Record<string, number> = { ...byComm(sampled, 'cpuSeconds') };
  cpuSeconds['server'] = sampled.samples.at(-1)?.series['server'] ?? 0;
  return { kind: 'floor', round, wallSeconds, bytes, cpuSeconds };
}

/** Peak RSS of a pgwarden process that loads its modules and config and moves no data. */
async function measureIdleRss(setup: RunSetup): Promise<number> {
  const usageFile = join(setup.workDir, 'usage.json');
  const config = setup.configs.get(configKey(levels[0]!, true))!;
  await runTimed(process.execPath, ['--import', setup.probe, CLI, '--config', config, 'config', 'check'], { PGWARDEN_BENCH_USAGE_FILE: usageFile }, setup.postmasterPid);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as NodeJS.ResourceUsage;
  return usage.maxRSS * 1024;
}

async function runPgwarden(setup: RunSetup, level: number, encrypted: boolean, round: number, profileDir?: string): Promise<PgwardenRun> {
  const usageFile = join(setup.workDir, 'usage.json');
  await rm(usageFile, { force: true });
  const nodeArgs = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), '--import', setup.probe];
  const argv = [...nodeArgs, CLI, '--config', setup.configs.get(configKey(level, encrypted))!, 'backup', 'full'];
  const env = { ...process.env, PGWARDEN_BENCH_USAGE_FILE: usageFile };
  const { wallSeconds, started, ended, sampled, stdout, otherCpuSeconds } = await runTimed(process.execPath, argv, env, setup.postmasterPid);
  const [backupId] = printedIds({ code: 0, stdout, stderr: '' });
  if (!backupId) throw new Error(`pgwarden printed no backup id:\n${stdout}`);

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
  const [precheck, dumped, verified] = [at('precheck'), at('dump'), at('verify')];
  const row = (
    await setup.cluster.query<{ status: string; file_size: string; raw_size: string }>(
      'SELECT status, file_size, raw_size FROM pgwarden.database_backups WHERE backup_id = $1',
      [backupId],
      CATALOG_NAME,
    )
  ).rows[0];
  if (row?.status !== 'succeeded') throw new Error(`backup ${backupId} is ${row?.status ?? 'missing'} in the catalog`);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as NodeJS.ResourceUsage & { memoryPeaks: Record<string, number> };
  await rm(join(setup.storageDir, DB_NAME, 'full', backupId), { recursive: true, force: true });

  const children = byComm(sampled, 'peakRssBytes', 'max');
  delete children['node'];
  return {
    kind: 'pgwarden',
    level,
    encrypted,
    round,
    backupId,
    wallSeconds,
    startupSeconds: (precheck - started) / 1000,
    dumpSeconds: (dumped - precheck) / 1000,
    verifySeconds: (verified - dumped) / 1000,
    finishSeconds: (ended - verified) / 1000,
    storedBytes: Number(row.file_size),
    rawBytes: Number(row.raw_size),
    peakRssBytes: Math.max(usage.maxRSS * 1024, sampled.rootPeakRssBytes),
    sampledPeakRssBytes: sampled.rootPeakRssBytes,
    memoryPeaks: usage.memoryPeaks,
    dumpPhaseRssBytes: peakRssBetween(sampled.samples, precheck, dumped),
    verifyPhaseRssBytes: peakRssBetween(sampled.samples, dumped, verified),
    childPeakRssBytes: children,
    dumpCpu: cpuBetween(sampled.samples, precheck, dumped),
    verifyCpu: cpuBetween(sampled.samples, dumped, verified),
    totalCpu: { user: usage.userCPUTime / 1e6, system: usage.systemCPUTime / 1e6 },
    mainThreadPeak: peakUtilisation(sampled.samples, 'main', precheck, dumped),
    otherCpuSeconds,
  };
}

// ---- CPU profiles ----

interface ProfileSummary {
  level: number;
  encrypted: boolean;
  file: string;
  seconds: number;
  /** Share of the main thread's samples: idle, GC, native (program), and the top functions by self time. */
  idle: number;
  gc: number;
  program: number;
  top: { name: string; share: number }[];
}

/** One untimed run per configuration under --cpu-prof; summarises where the main thread spent its time. */
async function profileRuns(setup: RunSetup): Promise<{ text: string; data: ProfileSummary[] }> {
  const dir = join(resultsDir(), `cpu-profiles-${stamp()}`);
  await mkdir(dir, { recursive: true });
  const data: ProfileSummary[] = [];
  for (const level of levels) {
    for (const encrypted of [false, true]) {
      const runDir = join(dir, `gzip${level}${encrypted ? '-enc' : ''}`);
      log(`profiling gzip -${level}${encrypted ? ' + AES-GCM' : ''} (untimed)`);
      await runPgwarden(setup, level, encrypted, 0, runDir);
      const [name] = (await readdir(runDir)).filter((f) => f.endsWith('.cpuprofile'));
      if (name) data.push({ level, encrypted, ...summariseProfile(JSON.parse(await readFile(join(runDir, name), 'utf8')), join(runDir, name)) });
    }
  }
  const lines = [`CPU profiles of node's main thread (whole run, untimed), in ${dir}:`, ''];
  for (const p of data) {
    lines.push(
      `- gzip -${p.level}${p.encrypted ? ' + AES-GCM' : ''}: ${p.seconds.toFixed(1)} s, idle ${pct(p.idle)}, GC ${pct(p.gc)}, native ${pct(p.program)}; ` +
        `top: ${p.top.map((t) => `${t.name} ${pct(t.share)}`).join(', ')}`,
    );
  }
  return { text: lines.join('\n'), data };
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function summariseProfile(profile: CpuProfile, file: string): Omit<ProfileSummary, 'level' | 'encrypted'> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const where = frame?.url ? ` ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}` : '';
    const name = `${frame?.functionName || '(anonymous)'}${where}`;
    self.set(name, (self.get(name) ?? 0) + delta);
  });
  const share = (name: string) => (self.get(name) ?? 0) / total;
  const top = [...self.entries()]
    .filter(([name]) => !['(idle)', '(garbage collector)', '(program)'].includes(name))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([name, us]) => ({ name, share: us / total }));
  return {
    file,
    seconds: (profile.endTime - profile.startTime) / 1e6,
    idle: share('(idle)'),
    gc: share('(garbage collector)'),
    program: share('(program)'),
    top,
  };
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)} %`;
}

// ---- results ----

async function writeResults(results: SavedResults & Record<string, unknown>): Promise<string> {
  return writeResultsFile('full-backup', results);
}
