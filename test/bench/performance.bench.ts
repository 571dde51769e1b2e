// The performance benchmark of README "Performance" (issue #9), every baseline in the same run, interleaved:
//   at the full scale (default 1 GB), per round: the floor `pg_dump -Fc -Z0 > file`, the same compression as the
//   zstd backup by hand (`pg_dump -Fc -Z0 | zstd -3 -T2 > file`, a reference for what bounds it), `pg_dump -Fc -Z0 | gzip -6`,
//   `pgwarden backup full` with zstd (the default) and with gzip 6, both encrypted; the read-through of the zstd
//   backup against `zstd -dc file | pg_restore -f /dev/null`; `pgwarden restore --jobs 2` against
//   `pg_restore -j 2` from the uncompressed dump;
//   at every other scale (default 0.25 and 4 GB): the floor and the zstd backup, for peak RSS and throughput;
//   then the base-backup benchmark (base-backup.bench.ts) at zstd:3 and gzip:6 with backup.jobs 2, against
//   pgBackRest at process-max 2, and restore-pitr against pgBackRest's restore.
// Prints the table, writes test/bench/results/performance-<date>.json, the chart docs/img/performance.svg and
// the table into README.md between the performance markers.
// Usage: npm run bench:perf -- [--scales 0.25,1,4] [--full-scale 1] [--rounds 3] [--keep-dir DIR] [--no-base] [--no-readme]
//   --keep-dir DIR  generated clusters live in DIR/scale-<GB> and are reused next time (default /tmp/pgwarden-perfbench)
//   --groups LIST   at the full scale, which comparisons run beside the floor and the zstd backup (always run):
//                   gzip (gzip 6 pipeline and backup), verify (read-through by hand, `pgwarden verify`), restore
//                   (pg_restore -j 2, pgwarden restore --jobs 2); default all three
//   --from FILE     redo the table, chart and README section from a results file, and exit
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../src/package-root.js';
import { CLI, printedIds } from '../helpers/pgwarden.js';
import { byComm, createBenchRunner, quote, sourceCommit, writeResults, machineBasics } from './bench-run.js';
import { type BenchCluster, openBenchCluster } from './bench-cluster.js';
import { generateHotelDb } from './generate-hotel-db.js';
import { type PerfResults, type Run, formatPerfReport, performanceSvg, updateReadme } from './performance-report.js';

const { values: args } = parseArgs({
  options: {
    scales: { type: 'string', default: '0.25,1,4' },
    'full-scale': { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'keep-dir': { type: 'string', default: join(tmpdir(), 'pgwarden-perfbench') },
    'no-base': { type: 'boolean', default: false },
    'no-readme': { type: 'boolean', default: false },
    groups: { type: 'string', default: 'gzip,verify,restore' },
    from: { type: 'string' },
  },
});

const log = (line: string) => console.error(`[bench] ${new Date().toISOString().slice(11, 19)} ${line}`);

if (args.from !== undefined) {
  const saved = JSON.parse(await readFile(args.from, 'utf8')) as PerfResults;
  await publish(saved);
  process.exit(0);
}

const scales = args.scales.split(',').map(Number);
const fullScale = Number(args['full-scale']);
const rounds = Number(args.rounds);
const groups = new Set(args.groups.split(',').map((g) => g.trim()));
if ([...groups].some((g) => !['gzip', 'verify', 'restore'].includes(g))) {
  console.error(`--groups takes gzip, verify, restore; got ${args.groups}`);
  process.exit(2);
}
if (scales.some((s) => !(s > 0)) || !scales.includes(fullScale) || !(rounds >= 1)) {
  console.error('usage: npm run bench:perf -- [--scales 0.25,1,4] [--full-scale 1] [--rounds 3] [--keep-dir DIR] [--no-base] [--no-readme]');
  process.exit(2);
}

const DB_NAME = 'hotel';
const CATALOG_NAME = 'pgwarden_perfbench_catalog';
const runner = createBenchRunner({ log });

let cluster: BenchCluster | undefined;
let workDir: string | undefined;
let failed = false;
try {
  const started = performance.now();
  workDir = await mkdtemp(join(tmpdir(), 'pgwarden-perfbench-run-'));
  const runs: Run[] = [];
  const databases: PerfResults['databases'] = [];
  let machine: PerfResults['machine'] | undefined;
  for (const scale of scales) {
    const keepDir = join(args['keep-dir'], `scale-${scale}`);
    cluster = await openBenchCluster({ keepDir, log });
    const fsync = (await cluster.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync;
    if (fsync !== 'on') throw new Error(`the benchmark cluster runs with fsync=${fsync}; benchmarks need fsync=on`);
    const databaseBytes = await ensureDatabase(cluster, keepDir, scale);
    databases.push({ scale, databaseBytes });
    machine ??= await describeMachine(cluster);
    log(`scale ${scale}: database "${DB_NAME}" ${(databaseBytes / 1e9).toFixed(2)} GB on disk`);
    const setup = await prepare(cluster, join(workDir, `scale-${scale}`), scale);
    const full = scale === fullScale;

    log('warm-up (untimed): the floor and one pgwarden backup fill the page cache and migrate the catalog');
    await floor(setup, 0);
    await backup(setup, 'zstd', 0);
    if (full) await makeZstdFile(setup);
    for (let round = 1; round <= rounds; round++) {
      const record = (run: Run) => {
        runs.push(run);
        log(`scale ${scale} round ${round}: ${run.op} ${run.wallSeconds.toFixed(1)} s${run.phases ? ` (${Object.entries(run.phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')})` : ''}`);
      };
      // Alternate the order, so neither side always runs on a warmer machine.
      const steps: (() => Promise<Run>)[] = [() => floor(setup, round), () => backup(setup, 'zstd', round)];
      if (full) steps.push(() => zstdPipeline(setup, round));
      if (full && groups.has('gzip')) steps.push(() => gzipPipeline(setup, round), () => backup(setup, 'gzip', round));
      if (full && groups.has('verify')) steps.push(() => verifyByHand(setup, round), () => verifyWithPgwarden(setup, round));
      for (const step of round % 2 === 1 ? steps : steps.reverse()) record(await step());
      if (full && groups.has('restore')) {
        const restores = [() => restoreByHand(setup, round), () => restoreWithPgwarden(setup, round)];
        for (const step of round % 2 === 1 ? restores : restores.reverse()) record(await step());
      }
    }
    await cluster.close();
    cluster = undefined;
  }

  // Saved now, so a failure of the base-backup part keeps the figures above.
  const partial = { machine: machine!, rounds, fullScale, databases, runs, base: [], loadAfter: loadavg()[0] ?? 0, minutes: (performance.now() - started) / 60_000 };
  const file = await writeResults('performance', partial);
  log(`results so far: ${file}`);
  const base: { compression: string; file: string }[] = [];
  if (!args['no-base']) {
    for (const compression of ['zstd:3', 'gzip:6']) base.push({ compression, file: await runBaseBench(compression) });
  }
  const results: PerfResults = {
    machine: machine!,
    rounds,
    fullScale,
    databases,
    runs,
    base: await Promise.all(base.map(async (b) => ({ ...b, results: JSON.parse(await readFile(b.file, 'utf8')) }))),
    loadAfter: loadavg()[0] ?? 0,
    minutes: (performance.now() - started) / 60_000,
  };
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  await publish(results);
  console.log(`Results: ${file}`);
} catch (error) {
  failed = true;
  console.error(runner.signal.aborted ? `[bench] aborted: ${(runner.signal.reason as Error).message}` : error);
} finally {
  runner.killAll('SIGKILL');
  await cluster?.close().catch((error: unknown) => console.error('[bench] could not stop the cluster:', error));
  if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => {});
}
process.exit(failed ? 1 : 0);

async function publish(results: PerfResults): Promise<void> {
  const text = formatPerfReport(results);
  console.log(`\n${text}\n`);
  const svg = join(packageRoot(), 'docs', 'img', 'performance.svg');
  await mkdir(join(packageRoot(), 'docs', 'img'), { recursive: true });
  await writeFile(svg, performanceSvg(results));
  log(`chart: ${svg}`);
  if (!args['no-readme']) {
    await updateReadme(join(packageRoot(), 'README.md'), text);
    log('README.md: Performance table updated');
  }
}

// ---- the database ----

async function ensureDatabase(cluster: BenchCluster, keepDir: string, scale: number): Promise<number> {
  const infoFile = join(keepDir, 'hotel-db.json');
  if (cluster.reused && existsSync(infoFile)) {
    const info = JSON.parse(await readFile(infoFile, 'utf8')) as { scale: number; databaseBytes: number };
    if (info.scale !== scale) throw new Error(`${keepDir} holds a database of scale ${info.scale}, not ${scale}`);
    return info.databaseBytes;
  }
  if (cluster.reused) throw new Error(`${keepDir} holds a cluster but no finished database (hotel-db.json): remove the directory`);
  log(`generating the hotel database at scale ${scale} (about ${scale} GB)`);
  await cluster.query(`CREATE DATABASE ${DB_NAME}`);
  const generated = await generateHotelDb(cluster.url(DB_NAME), { scale, log });
  log(`generated in ${generated.seconds.toFixed(0)} s`);
  await writeFile(infoFile, `${JSON.stringify({ name: DB_NAME, scale, databaseBytes: generated.databaseBytes, rows: generated.rows }, null, 2)}\n`);
  return generated.databaseBytes;
}

async function describeMachine(cluster: BenchCluster): Promise<PerfResults['machine']> {
  const version = (await cluster.query<{ v: string }>(`SELECT split_part(version(), ' on ', 1) AS v`)).rows[0]!.v;
  const first = async (program: string, argv: string[]) => {
    const out = await new Promise<string>((done) => {
      const child = spawn(program, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.on('close', () => done(text));
      child.on('error', () => done('?'));
    });
    // "*** Zstandard CLI (64-bit) v1.5.4, by Yann Collet ***" → "Zstandard CLI (64-bit) v1.5.4"
    return out.split('\n').find((l) => l.trim() !== '')?.replace(/\*/g, '').replace(/, by .*$/, '').trim() ?? '?';
  };
  return {
    ...machineBasics(),
    postgres: version,
    tools: {
      zstd: await first('zstd', ['--version']),
      pigz: await first('pigz', ['--version']),
      gzip: await first('gzip', ['--version']),
      igzip: await first('igzip', ['--version']),
      pgbackrest: await first('pgbackrest', ['version']),
    },
    commit: sourceCommit(),
    loadBefore: loadavg()[0] ?? 0,
  };
}

// ---- setup ----

interface Setup {
  cluster: BenchCluster;
  scale: number;
  dir: string;
  storageDir: string;
  configs: Record<'zstd' | 'gzip', string>;
  postmasterPid: number;
  probe: string;
  pgDump: string;
  pgRestore: string;
  /** The last floor dump (uncompressed), kept for the restore baseline. */
  floorFile: string;
  /** The same dump compressed with zstd -3, for the read-through baseline. */
  zstdFile: string;
  backups: string[];
}

async function prepare(cluster: BenchCluster, dir: string, scale: number): Promise<Setup> {
  await mkdir(dir, { recursive: true });
  await cluster.query(`DROP DATABASE IF EXISTS ${CATALOG_NAME} WITH (FORCE)`);
  await cluster.query(`CREATE DATABASE ${CATALOG_NAME}`);
  const storageDir = join(dir, 'storage');
  const key = randomBytes(32).toString('base64');
  const configs = { zstd: join(dir, 'pgwarden-zstd.yml'), gzip: join(dir, 'pgwarden-gzip6.yml') };
  for (const [name, backup] of [
    ['zstd', `{ pgBinDir: "${cluster.binDir}", tempDir: "${dir}" }`],
    ['gzip', `{ compression: gzip, compressionLevel: 6, pgBinDir: "${cluster.binDir}", tempDir: "${dir}" }`],
  ] as const) {
    const lines = [
      `catalog: { url: "${cluster.url(CATALOG_NAME)}" }`,
      'databases:',
      `  - { name: ${DB_NAME}, url: "${cluster.url(DB_NAME)}" }`,
      `storage: { local: { path: "${storageDir}" } }`,
      'encryption:',
      `  keys: [{ id: bench, key: "${key}" }]`,
      `backup: ${backup}`,
      'logLevel: warn',
    ];
    await writeFile(configs[name], `${lines.join('\n')}\n`, { mode: 0o600 });
  }
  return {
    cluster,
    scale,
    dir,
    storageDir,
    configs,
    postmasterPid: await cluster.postmasterPid(),
    probe: pathToFileURL(join(import.meta.dirname, 'usage-probe.js')).href,
    pgDump: join(cluster.binDir, 'pg_dump'),
    pgRestore: join(cluster.binDir, 'pg_restore'),
    floorFile: join(dir, 'floor.pgc'),
    zstdFile: join(dir, 'floor.pgc.zst'),
    backups: [],
  };
}

// ---- runs ----

function shell(setup: Setup, script: string) {
  return runner.runTimed('bash', ['-c', `set -o pipefail; ${script}`], {}, setup.postmasterPid);
}

function childRss(sampled: Awaited<ReturnType<typeof shell>>['sampled']): Record<string, number> {
  const out = byComm(sampled, 'peakRssBytes', 'max');
  delete out['node'];
  return out;
}

/** `pg_dump -Fc -Z0 > file`: pg_dump alone, the floor under any backup. */
async function floor(setup: Setup, round: number): Promise<Run> {
  const timed = await shell(setup, `${quote(setup.pgDump)} -Fc -Z0 -d ${quote(setup.cluster.url(DB_NAME))} > ${quote(setup.floorFile)}`);
  const bytes = (await stat(setup.floorFile)).size;
  return { op: 'floor', scale: setup.scale, round, wallSeconds: timed.wallSeconds, storedBytes: bytes, rawBytes: bytes, childRss: childRss(timed.sampled), load: timed.loadBefore, otherCpuSeconds: timed.otherCpuSeconds };
}

async function gzipPipeline(setup: Setup, round: number): Promise<Run> {
  const file = join(setup.dir, 'pipeline.pgc.gz');
  const timed = await shell(setup, `${quote(setup.pgDump)} -Fc -Z0 -d ${quote(setup.cluster.url(DB_NAME))} | gzip -6 > ${quote(file)}`);
  const storedBytes = (await stat(file)).size;
  await rm(file);
  return { op: 'gzip6Pipeline', scale: setup.scale, round, wallSeconds: timed.wallSeconds, storedBytes, childRss: childRss(timed.sampled), load: timed.loadBefore, otherCpuSeconds: timed.otherCpuSeconds };
}

/** The same compression as the zstd backup, by hand: pg_dump piped to zstd on both cores. */
async function zstdPipeline(setup: Setup, round: number): Promise<Run> {
  const file = join(setup.dir, 'pipeline.pgc.zst');
  const timed = await shell(setup, `${quote(setup.pgDump)} -Fc -Z0 -d ${quote(setup.cluster.url(DB_NAME))} | zstd -q -3 -T2 > ${quote(file)}`);
  const storedBytes = (await stat(file)).size;
  await rm(file);
  return { op: 'zstd3Pipeline', scale: setup.scale, round, wallSeconds: timed.wallSeconds, storedBytes, childRss: childRss(timed.sampled), load: timed.loadBefore, otherCpuSeconds: timed.otherCpuSeconds };
}

async function makeZstdFile(setup: Setup): Promise<void> {
  await shell(setup, `zstd -q -f -3 -T0 ${quote(setup.floorFile)} -o ${quote(setup.zstdFile)}`);
}

/** The read-through by hand: what pgwarden's verification does, minus decryption and the checksum. */
async function verifyByHand(setup: Setup, round: number): Promise<Run> {
  const timed = await shell(setup, `zstd -dc ${quote(setup.zstdFile)} | ${quote(setup.pgRestore)} -f /dev/null`);
  return { op: 'verifyByHand', scale: setup.scale, round, wallSeconds: timed.wallSeconds, childRss: childRss(timed.sampled), load: timed.loadBefore, otherCpuSeconds: timed.otherCpuSeconds };
}

/**
 * `pgwarden verify <id>` of the newest zstd backup, as its own command: the whole command (start-up, catalog,
 * manifest rewrite) and, as a phase, the read-through it reports (stat, checksum, decrypt, zstd -d, pg_restore).
 */
async function verifyWithPgwarden(setup: Setup, round: number): Promise<Run> {
  const backupId = setup.backups.at(-1)!;
  const usageFile = join(setup.dir, 'usage.json');
  await rm(usageFile, { force: true });
  const argv = ['--import', setup.probe, CLI, '--config', setup.configs.zstd, 'verify', backupId, '--json'];
  const timed = await runner.runTimed(process.execPath, argv, { PGWARDEN_BENCH_USAGE_FILE: usageFile }, setup.postmasterPid);
  const result = JSON.parse(timed.stdout) as { ok: boolean; duration_seconds: number; error: string | null };
  if (!result.ok) throw new Error(`pgwarden verify ${backupId} failed: ${result.error}`);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as NodeJS.ResourceUsage;
  return {
    op: 'pgwardenVerify',
    scale: setup.scale,
    round,
    backupId,
    wallSeconds: timed.wallSeconds,
    phases: { readThrough: result.duration_seconds },
    peakRssBytes: Math.max(usage.maxRSS * 1024, timed.sampled.rootPeakRssBytes),
    childRss: childRss(timed.sampled),
    load: timed.loadBefore,
    otherCpuSeconds: timed.otherCpuSeconds,
  };
}

async function backup(setup: Setup, algorithm: 'zstd' | 'gzip', round: number): Promise<Run> {
  const usageFile = join(setup.dir, 'usage.json');
  await rm(usageFile, { force: true });
  const argv = ['--import', setup.probe, CLI, '--config', setup.configs[algorithm], 'backup', 'full'];
  const timed = await runner.runTimed(process.execPath, argv, { PGWARDEN_BENCH_USAGE_FILE: usageFile }, setup.postmasterPid);
  const [backupId] = printedIds({ code: 0, stdout: timed.stdout, stderr: '' });
  if (!backupId) throw new Error(`pgwarden printed no backup id:\n${timed.stdout}`);
  const steps = await setup.cluster.query<{ step: string; t: number }>(
    `SELECT step, extract(epoch FROM created_at) * 1000 AS t FROM pgwarden.backup_logs WHERE backup_id = $1 AND operation = 'backup' ORDER BY id`,
    [backupId],
    CATALOG_NAME,
  );
  const at = (step: string) => Number(steps.rows.find((r) => r.step === step)?.t ?? Number.NaN);
  const row = (
    await setup.cluster.query<{ status: string; file_size: string; raw_size: string }>(
      'SELECT status, file_size, raw_size FROM pgwarden.database_backups WHERE backup_id = $1',
      [backupId],
      CATALOG_NAME,
    )
  ).rows[0];
  if (row?.status !== 'succeeded') throw new Error(`backup ${backupId} is ${row?.status ?? 'missing'} in the catalog`);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as NodeJS.ResourceUsage;
  // The previous backup goes: the disk holds one at a time (the newest is the restore's source).
  for (const old of setup.backups.splice(0)) await rm(join(setup.storageDir, DB_NAME, 'full', old), { recursive: true, force: true });
  setup.backups.push(backupId);
  const dumpSeconds = (at('dump') - at('precheck')) / 1000;
  return {
    op: algorithm === 'zstd' ? 'pgwardenZstd' : 'pgwardenGzip6',
    scale: setup.scale,
    round,
    backupId,
    wallSeconds: timed.wallSeconds,
    phases: { startup: (at('precheck') - timed.started) / 1000, dump: dumpSeconds, verify: (at('verify') - at('dump')) / 1000, finish: (timed.ended - at('verify')) / 1000 },
    storedBytes: Number(row.file_size),
    rawBytes: Number(row.raw_size),
    peakRssBytes: Math.max(usage.maxRSS * 1024, timed.sampled.rootPeakRssBytes),
    childRss: childRss(timed.sampled),
    load: timed.loadBefore,
    otherCpuSeconds: timed.otherCpuSeconds,
  };
}

async function freshDatabase(setup: Setup, name: string): Promise<string> {
  await setup.cluster.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await setup.cluster.query(`CREATE DATABASE ${name}`);
  return name;
}

async function restoreByHand(setup: Setup, round: number): Promise<Run> {
  const target = await freshDatabase(setup, 'restored_by_hand');
  const timed = await shell(setup, `${quote(setup.pgRestore)} -j 2 -d ${quote(setup.cluster.url(target))} ${quote(setup.floorFile)}`);
  await setup.cluster.query(`DROP DATABASE ${target} WITH (FORCE)`);
  return { op: 'pgRestoreJ2', scale: setup.scale, round, wallSeconds: timed.wallSeconds, childRss: childRss(timed.sampled), load: timed.loadBefore, otherCpuSeconds: timed.otherCpuSeconds };
}

async function restoreWithPgwarden(setup: Setup, round: number): Promise<Run> {
  const target = await freshDatabase(setup, 'restored_by_pgwarden');
  const backupId = setup.backups.at(-1)!;
  const usageFile = join(setup.dir, 'usage.json');
  await rm(usageFile, { force: true });
  const argv = ['--import', setup.probe, CLI, '--config', setup.configs.zstd, 'restore', backupId, '--target-url', setup.cluster.url(target), '--jobs', '2', '--json'];
  const timed = await runner.runTimed(process.execPath, argv, { PGWARDEN_BENCH_USAGE_FILE: usageFile }, setup.postmasterPid);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as NodeJS.ResourceUsage;
  await setup.cluster.query(`DROP DATABASE ${target} WITH (FORCE)`);
  return {
    op: 'pgwardenRestoreJ2',
    scale: setup.scale,
    round,
    backupId,
    wallSeconds: timed.wallSeconds,
    peakRssBytes: Math.max(usage.maxRSS * 1024, timed.sampled.rootPeakRssBytes),
    childRss: childRss(timed.sampled),
    load: timed.loadBefore,
    otherCpuSeconds: timed.otherCpuSeconds,
  };
}

// ---- base backups: the base-backup benchmark, once per compression ----

async function runBaseBench(compression: string): Promise<string> {
  const script = join(import.meta.dirname, 'base-backup.bench.js');
  const argv = [script, '--scale', String(fullScale), '--rounds', String(rounds), '--keep-dir', join(args['keep-dir'], `scale-${fullScale}`), '--compression', compression, '--jobs', '2'];
  log(`base backups at ${compression}: node ${argv.join(' ')}`);
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const file = /^Results: (.+)$/m.exec(stdout)?.[1];
  if (code !== 0 || !file) throw new Error(`the base-backup benchmark at ${compression} failed (exit ${code}):\n${stdout.slice(-3000)}`);
  return file.trim();
}
