// Benchmark of one full backup written to local + S3 + GCS at once against the same backup to local alone, on a
// generated hotel database of ≥ 1 GB, interleaved rounds in one run (issue #4: wall-time ratio ≤ 1.3, peak RSS
// of the pgwarden process ≤ 200 MB). S3 is s3rver and GCS the fake, through the real SDKs over loopback, in a
// process of their own (their CPU and memory are reported apart); they store on this machine's disk, so the
// multi-target run writes every byte three times to one disk where production writes it once locally.
// Usage: npm run bench:targets -- [--scale GB] [--rounds N] [--keep-dir DIR] [--no-warmup]
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CLI } from '../helpers/pgwarden.js';
import { S3_CREDENTIALS } from '../helpers/s3.js';
import { type BenchCluster, openBenchCluster } from './bench-cluster.js';
import { byComm, createBenchRunner, killGroup, sourceCommit, spread, type TimedRun, writeResults, machineBasics } from './bench-run.js';
import { generateHotelDb } from './generate-hotel-db.js';

const { values: args } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'keep-dir': { type: 'string' },
    'no-warmup': { type: 'boolean', default: false },
    // Which cloud targets the multi-target side writes to besides local (to see what each costs).
    targets: { type: 'string', default: 's3,gcs' },
  },
});
const cloudNames = args.targets.split(',').filter(Boolean);
const scale = Number(args.scale);
const rounds = Number(args.rounds);
if (!(scale > 0) || !(rounds >= 1)) {
  console.error('usage: npm run bench:targets -- [--scale GB] [--rounds N] [--keep-dir DIR] [--no-warmup]');
  process.exit(2);
}
const log = (line: string) => console.error(`[bench] ${line}`);
const runner = createBenchRunner({ log });
const DB = 'hotel';
const MB = 1e6;

type Variant = 'local' | 'local+s3+gcs';
interface Run {
  variant: Variant;
  round: number;
  wallSeconds: number;
  storedBytes: number;
  /** The pgwarden process (getrusage maxRSS, or the sampled peak if higher). */
  pgwardenPeakRssBytes: number;
  childrenPeakRssBytes: Record<string, number>;
  cpuSeconds: Record<string, number>;
  otherCpuSeconds: number;
  /** Peaks of process.memoryUsage() in the pgwarden process: where its memory was (heap, Buffers). */
  memoryPeaks: Record<string, number>;
}

const keepDir = args['keep-dir'] ?? (await mkdtemp(join(tmpdir(), 'pgwarden-bench-targets-')));
let cluster: BenchCluster | undefined;
let cloud: ChildProcess | undefined;
let failed = false;
try {
  cluster = await openBenchCluster({ keepDir: args['keep-dir'], log });
  const database = await ensureDatabase(cluster);
  const work = await mkdtemp(join(tmpdir(), 'pgwarden-bench-targets-work-'));
  const started = await startCloud();
  cloud = started.child;
  const catalog = `catalog_${randomBytes(3).toString('hex')}`;
  await cluster.query(`CREATE DATABASE ${catalog}`);
  const key = randomBytes(32).toString('base64');
  const configFor = async (variant: Variant): Promise<string> => {
    const local = join(work, variant === 'local' ? 'local-only' : 'local-multi');
    await mkdir(local, { recursive: true });
    const s3 = `s3: { bucket: bench, region: us-east-1, endpoint: "http://127.0.0.1:${started.s3Port}", forcePathStyle: true, requestChecksumCalculation: WHEN_REQUIRED, accessKeyId: ${S3_CREDENTIALS.accessKeyId}, secretAccessKey: ${S3_CREDENTIALS.secretAccessKey} }`;
    const gcs = `gcs: { bucket: bench, apiEndpoint: "${started.gcsUrl}", projectId: bench }`;
    const cloudTargets = variant === 'local' ? '' : `, ${[cloudNames.includes('s3') ? s3 : '', cloudNames.includes('gcs') ? gcs : ''].filter(Boolean).join(', ')}`;
    const file = join(work, `${variant === 'local' ? 'local' : 'multi'}.yml`);
    await writeFile(
      file,
      [
        `catalog: { url: "${cluster!.url(catalog)}" }`,
        `databases: [ { name: ${DB}, url: "${cluster!.url(DB)}" } ]`,
        `storage: { local: { path: "${local}" }${cloudTargets} }`,
        `encryption: { keys: [ { id: bench, key: "${key}" } ] }`,
        'logLevel: warn',
      ].join('\n'),
    );
    return file;
  };
  const configs: Record<Variant, string> = { local: await configFor('local'), 'local+s3+gcs': await configFor('local+s3+gcs') };
  const probe = pathToFileURL(join(import.meta.dirname, 'usage-probe.js')).href;
  const postmasterPid = await cluster.postmasterPid();

  const backup = async (variant: Variant, round: number): Promise<Run> => {
    const usageFile = join(work, `usage-${variant === 'local' ? 'l' : 'm'}-${round}.json`);
    const timed: TimedRun = await runner.runTimed(
      process.execPath,
      [...profileArgs(variant, round), '--import', probe, CLI, '--config', configs[variant], 'backup', 'full', '--json'],
      { PGWARDEN_BENCH_USAGE_FILE: usageFile },
      postmasterPid,
    );
    const [result] = JSON.parse(timed.stdout) as { status: string; file_size: number; backup_id: string }[];
    if (result?.status !== 'succeeded') throw new Error(`${variant} backup did not succeed: ${timed.stdout}`);
    const copies = (
      await cluster!.query<{ storage: Record<string, { status: string }> }>('SELECT storage FROM pgwarden.database_backups WHERE backup_id = $1', [result.backup_id], catalog)
    ).rows[0]!.storage;
    const missing = Object.entries(copies).filter(([, c]) => c.status !== 'stored');
    if (missing.length > 0) throw new Error(`${variant} backup ${result.backup_id} is degraded: ${JSON.stringify(copies)}`);
    const usage = JSON.parse(await readFile(usageFile, 'utf8')) as NodeJS.ResourceUsage & { memoryPeaks: Record<string, number> };
    const children = byComm(timed.sampled, 'peakRssBytes', 'max');
    delete children['node'];
    return {
      variant,
      round,
      wallSeconds: timed.wallSeconds,
      storedBytes: result.file_size,
      pgwardenPeakRssBytes: Math.max(usage.maxRSS * 1024, timed.sampled.rootPeakRssBytes),
      childrenPeakRssBytes: children,
      cpuSeconds: byComm(timed.sampled, 'cpuSeconds'),
      otherCpuSeconds: timed.otherCpuSeconds,
      memoryPeaks: usage.memoryPeaks,
    };
  };

  if (!args['no-warmup']) {
    log('warm-up: one untimed backup of each kind (page cache, first-run effects)');
    await backup('local', 0);
    await backup('local+s3+gcs', 0);
  }
  const runs: Run[] = [];
  for (let round = 1; round <= rounds; round++) {
    // A B, then B A: whatever drifts during the run hits both sides.
    const order: Variant[] = round % 2 === 1 ? ['local', 'local+s3+gcs'] : ['local+s3+gcs', 'local'];
    for (const variant of order) {
      const run = await backup(variant, round);
      const peaks = Object.entries(run.memoryPeaks)
        .map(([k, v]) => `${k} ${(v / MB).toFixed(0)}`)
        .join(', ');
      log(`round ${round} ${variant}: ${run.wallSeconds.toFixed(1)} s, pgwarden peak RSS ${(run.pgwardenPeakRssBytes / MB).toFixed(0)} MB (${peaks} MB)`);
      runs.push(run);
    }
  }

  const of = (variant: Variant) => runs.filter((r) => r.variant === variant);
  const wall = (variant: Variant) => spread(of(variant).map((r) => r.wallSeconds));
  const rss = (variant: Variant) => Math.max(...of(variant).map((r) => r.pgwardenPeakRssBytes));
  const [local, multi] = [wall('local'), wall('local+s3+gcs')];
  const ratio = multi.median / local.median;
  const cloudRss = await processRss(cloud.pid!);
  const machine = { ...machineBasics(), commit: sourceCommit() };
  const file = await writeResults('multi-target', { machine, database, rounds, runs, ratio, cloudServerRssBytes: cloudRss });
  console.log(
    [
      `## Full backup to local + S3 + GCS at once vs local alone (${machine.cpus} × ${machine.cpuModel}, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, ${machine.date.slice(0, 10)})`,
      `Database: ${DB}, ${(database.databaseBytes / 1e9).toFixed(2)} GB on disk; zstd 3, AES-256-GCM; ${rounds} interleaved rounds${args['no-warmup'] ? '' : ' after a warm-up'}; stored ${(of('local')[0]!.storedBytes / MB).toFixed(0)} MB per copy.`,
      '',
      '| targets | wall median (range) | pgwarden peak RSS | children peak RSS |',
      '| --- | --- | --- | --- |',
      ...(['local', 'local+s3+gcs'] as Variant[]).map((v) => {
        const w = wall(v);
        const kids = of(v).reduce<Record<string, number>>((acc, r) => {
          for (const [k, b] of Object.entries(r.childrenPeakRssBytes)) acc[k] = Math.max(acc[k] ?? 0, b);
          return acc;
        }, {});
        return `| ${v} | ${w.median.toFixed(1)} s (${w.min.toFixed(1)}–${w.max.toFixed(1)}) | ${(rss(v) / MB).toFixed(0)} MB | ${Object.entries(kids)
          .map(([k, b]) => `${k} ${(b / MB).toFixed(0)} MB`)
          .join(', ')} |`;
      }),
      '',
      `**Ratio of medians: ${ratio.toFixed(2)}** (target ≤ 1.3); pgwarden peak RSS ${(rss('local+s3+gcs') / MB).toFixed(0)} MB (target ≤ 200 MB). s3rver + GCS fake process: ${(cloudRss / MB).toFixed(0)} MB RSS at the end.`,
      `Results: ${file}`,
    ].join('\n'),
  );
  await rm(work, { recursive: true, force: true });
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  if (cloud) killGroup(cloud, 'SIGTERM');
  runner.killAll('SIGTERM');
  await cluster?.close().catch(() => {});
  if (!args['keep-dir']) await rm(keepDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

async function ensureDatabase(c: BenchCluster): Promise<{ scale: number; databaseBytes: number }> {
  const infoFile = join(keepDir, 'hotel-db.json');
  if (c.reused && existsSync(infoFile)) {
    const info = JSON.parse(await readFile(infoFile, 'utf8')) as { scale: number; databaseBytes: number };
    if (info.scale !== scale) throw new Error(`${keepDir} holds a database of scale ${info.scale}, not ${scale}`);
    log(`reusing the generated database in ${keepDir}`);
    return info;
  }
  log(`generating the hotel database at scale ${scale} (about ${scale} GB)`);
  await c.query(`CREATE DATABASE ${DB}`);
  const generated = await generateHotelDb(c.url(DB), { scale, log });
  const info = { scale, databaseBytes: generated.databaseBytes };
  await writeFile(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

async function startCloud(): Promise<{ child: ChildProcess; s3Port: number; gcsUrl: string }> {
  const child = spawn(process.execPath, [...cloudProfileArgs(), join(import.meta.dirname, 'cloud-servers.js')], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      if (buffered.includes('\n')) resolve(buffered.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`the cloud servers exited with ${code}`)));
  });
  return { child, ...(JSON.parse(line) as { s3Port: number; gcsUrl: string }) };
}

/** With PGWARDEN_BENCH_CPU_PROF=DIR, each pgwarden run writes a V8 CPU profile there (open it in Chrome DevTools). */
function profileArgs(variant: Variant, round: number): string[] {
  const dir = process.env.PGWARDEN_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${variant}-${round}.cpuprofile`] : [];
}

function cloudProfileArgs(): string[] {
  const dir = process.env.PGWARDEN_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', 'cloud-servers.cpuprofile'] : [];
}

async function processRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = /VmHWM:\s+(\d+)/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}
