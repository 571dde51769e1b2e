// Benchmark of GET /metrics of the real `pgwarden serve` (a child process, config with 20 databases, a catalog of
// 50,000 rows) against a bare prom-client registry with the same number of series rendered per request by express
// (another child process; a third one serves the same text rendered once a second from memory: the floor), under
// autocannon at 1 and at 50 concurrent scrapers on loopback: req/s, p50, p99, the ratio of the two measured in the
// same run, server CPU per request (by thread), GC during each run and each server's RSS. See BENCHMARKS.md
// "/metrics under load". Prints a Markdown table and writes test/bench/results/metrics-<date>.json.
// Usage: npm run bench:metrics -- [--rounds N] [--duration S] [--warmup S] [--connections 1,50] [--rows N] [--cpu-prof] [--try-buffer]
//   --cpu-prof    after the timed rounds, one untimed run of each server under node --cpu-prof at the highest
//                 scraper count, summarised by function and by package (profiles kept in test/bench/results/)
//   --try-buffer  also measure a second `pgwarden serve` with metrics-buffer-preload.ts preloaded: the fix that
//                 sends the cached text as one reused Buffer instead of a new one per scrape
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrateCatalog } from '../../src/catalog/migrate.js';
import { machineBasics } from './bench-run.js';
import { packageRoot } from '../../src/package-root.js';
import { type Cluster, startCluster } from '../../src/postgres/cluster.js';
import { BENCH_DATABASES, type CatalogSummary, populateCatalog } from './metrics-catalog.js';
import { countSamples, parseExposition } from './metrics-exposition.js';
import { difference, type LoadResult, readCpu, readMachineCpu, readMemory, runLoad } from './metrics-load.js';
import { formatReport, type Machine, type MeasuredRun, type MemorySummary, type Setup, summarise, TARGETS, type Target } from './metrics-report.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '1,50' },
    rows: { type: 'string', default: '50000' },
    'cpu-prof': { type: 'boolean', default: false },
    'try-buffer': { type: 'boolean', default: false },
  },
});
const rounds = Number(args.rounds);
const durationSeconds = Number(args.duration);
const warmupSeconds = Number(args.warmup);
const connections = args.connections.split(',').map(Number);
const rows = Number(args.rows);
if (
  !(rounds >= 1) ||
  !(durationSeconds >= 1) ||
  !(warmupSeconds >= 0) ||
  connections.some((c) => !Number.isInteger(c) || c < 1) ||
  !(rows >= BENCH_DATABASES.length) ||
  rows % BENCH_DATABASES.length !== 0
) {
  console.error(
    'usage: npm run bench:metrics -- [--rounds N] [--duration S] [--warmup S] [--connections 1,50] [--rows N (a multiple of 20)] [--cpu-prof] [--try-buffer]',
  );
  process.exit(2);
}

const CATALOG_DB = 'pgwarden_catalog';
/** Once a year (1 January): no scheduled job fires while the benchmark runs. */
const NEVER = '0 0 1 1 *';
const log = (line: string) => console.error(`[bench] ${line}`);

// Ctrl-C: stop the load and the servers, then clean up below, then exit.
const abort = new AbortController();
const running = new Set<ChildProcess>();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (abort.signal.aborted) {
      log(`${signal} again: exiting now`);
      for (const child of running) child.kill('SIGKILL');
      process.exit(130);
    }
    log(`${signal}: stopping, cleaning up`);
    abort.abort(new Error(`interrupted by ${signal}`));
  });
}

let cluster: Cluster | undefined;
let workDir: string | undefined;
/** Where the servers' code is run from: a copy of the build taken at start (see snapshotBuild). */
let code: { cli: string; benchDir: string } | undefined;
let failed = false;
try {
  cluster = await startCluster({ settings: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' }, log });
  const fsync = (await cluster.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync;
  if (fsync !== 'on') throw new Error(`the benchmark cluster runs with fsync=${fsync}; benchmarks need fsync=on`);
  const machine = await describeMachine(cluster);
  workDir = await mkdtemp(join(tmpdir(), 'pgwarden-metrics-bench-'));
  code = await snapshotBuild(workDir);

  const catalog = await prepareCatalog(cluster);
  log(`catalog: ${catalog.rows} rows over ${catalog.databases} databases, ${catalog.oldest} to ${catalog.newest}`);
  const configPath = await writeConfig(cluster, workDir);

  const serve = await startServe(configPath, []);
  const pgwardenText = await scrape(`${serve.url}/metrics`);
  checkPgwardenMetrics(pgwardenText, rows);
  const ownSamples = pgwardenText.split('\n').filter((line) => line.startsWith('pgwarden_')).length;
  const textFile = join(workDir, 'pgwarden-metrics.txt');
  await writeFile(textFile, pgwardenText);
  log(`pgwarden /metrics: ${countSamples(pgwardenText)} sample lines (${ownSamples} pgwarden_*), ${pgwardenText.length} bytes`);

  const baseline = await startBaseline(textFile, ownSamples, []);
  const baselineText = await scrape(`${baseline.url}/metrics`);
  log(`baseline /metrics: ${countSamples(baselineText)} sample lines, ${baselineText.length} bytes`);
  const differing = familyDifferences(pgwardenText, baselineText);
  if (differing.length > 0) log(`families whose sample counts differ (pgwarden/baseline): ${differing.join(', ')}`);

  // The floor runs in a process of its own, so neither baseline's heap is shaped by the other's load.
  const floor = await startBaseline(textFile, ownSamples, []);
  await scrape(`${floor.url}/metrics-cached`);

  const endpoints: Partial<Record<Target, Endpoint>> = {
    pgwarden: { server: serve, url: `${serve.url}/metrics`, statsUrl: `${serve.url}/metrics` },
    baseline: { server: baseline, url: `${baseline.url}/metrics`, statsUrl: `${baseline.url}/metrics` },
    cached: { server: floor, url: `${floor.url}/metrics-cached`, statsUrl: `${floor.url}/metrics` },
  };
  if (args['try-buffer']) {
    const fixed = await startServe(configPath, ['--import', bufferPreload()]);
    const fixedText = await scrape(`${fixed.url}/metrics`);
    checkPgwardenMetrics(fixedText, rows);
    endpoints.pgwardenBuffer = { server: fixed, url: `${fixed.url}/metrics`, statsUrl: `${fixed.url}/metrics` };
  }
  const targets = TARGETS.filter((t) => endpoints[t] !== undefined);
  const memoryBefore = Object.fromEntries(targets.map((t) => [t, readMemory(endpoints[t]!.server.pid)]));

  const runs: MeasuredRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const c of connections) {
      for (const target of targets) {
        const run = await measure(endpoints[target]!, target, c, round);
        runs.push(run);
        log(
          `round ${round} ${target.padEnd(8)} ${String(c).padStart(2)} scrapers: ${run.reqPerSec.toFixed(0)} req/s, p50 ${run.p50Ms.toFixed(2)} ms, ` +
            `p99 ${run.p99Ms.toFixed(2)} ms (autocannon ${run.autocannonP99Ms} ms), CPU ${run.cpuMsPerRequest.toFixed(2)} ms/req, ` +
            `RSS ${(run.serverMemoryAfter.vmRssBytes / 1048576).toFixed(0)} MiB, load generator ${run.loadGeneratorCores.toFixed(2)} cores, ` +
            `other processes ${run.otherCores.toFixed(2)} cores; ms/req by thread ${threadLine(run.cpuMsPerRequestByThread)}; ` +
            `GC minor ×${run.gc['minor'] ?? 0} major ×${run.gc['major'] ?? 0} incremental ×${run.gc['incremental'] ?? 0}`,
        );
      }
    }
  }

  const memory: MemorySummary = Object.fromEntries(
    targets.map((t) => [t, { beforeLoad: memoryBefore[t]!, afterLoad: readMemory(endpoints[t]!.server.pid) }]),
  );
  const [pgwardenAfter, baselineAfter] = await Promise.all([scrape(`${serve.url}/metrics`), scrape(`${baseline.url}/metrics`)]);
  const quiet = await checkNothingRan(cluster, rows);
  await Promise.all(targets.map((t) => endpoints[t]!.server.stop()));

  const setup: Setup = {
    rows,
    databases: BENCH_DATABASES.length,
    rounds,
    durationSeconds,
    warmupSeconds,
    targets,
    samples: {
      pgwarden: { before: countSamples(pgwardenText), after: countSamples(pgwardenAfter), bytes: Buffer.byteLength(pgwardenText) },
      baseline: { before: countSamples(baselineText), after: countSamples(baselineAfter), bytes: Buffer.byteLength(baselineText) },
    },
  };
  const configs = summarise(connections, targets, runs);
  const report = formatReport(machine, setup, configs, memory);
  const results = { machine, setup, catalog, quiet, configs, memory, runs, report };
  console.log(`\n${report}\n`);
  // Written before the profiles, so a failure there does not lose the timed rounds.
  const file = await writeResults(results);
  if (args['cpu-prof']) {
    const profiles = await profileServers(configPath, textFile, ownSamples);
    console.log(`${profiles.text}\n`);
    await writeFile(file, `${JSON.stringify({ ...results, profiles: profiles.data }, null, 2)}\n`);
  }
  console.log(`Results: ${file}`);
} catch (error) {
  failed = true;
  console.error(abort.signal.aborted ? `[bench] aborted: ${(abort.signal.reason as Error).message}` : error);
} finally {
  for (const child of running) child.kill('SIGKILL');
  if (workDir) await rm(workDir, { recursive: true, force: true }).catch(() => {});
  await cluster?.destroy().catch((error: unknown) => console.error('[bench] could not stop the cluster:', error));
}
process.exit(failed ? (abort.signal.aborted ? 130 : 1) : 0);

// ---- the code under test ----

/**
 * Copies the build (dist/, bin/, sql/, package.json; node_modules linked) into the work dir and runs every server
 * from there: the tree is shared, and a `npm run build` elsewhere during the ten minutes of a run would otherwise
 * change, or break, the code the later rounds measure.
 */
async function snapshotBuild(dir: string): Promise<{ cli: string; benchDir: string }> {
  const root = packageRoot();
  const copy = join(dir, 'pgwarden');
  await mkdir(copy);
  for (const entry of ['dist', 'bin', 'sql', 'package.json']) await cp(join(root, entry), join(copy, entry), { recursive: true });
  await symlink(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  log(`running the servers from a copy of the build in ${copy}`);
  return { cli: join(copy, 'bin', 'pgwarden.js'), benchDir: join(copy, 'dist', 'test', 'bench') };
}

// ---- the catalog and the config ----

/** The 20 databases (empty, but reachable: database_up 1), then the migrated catalog with its rows. */
async function prepareCatalog(cluster: Cluster): Promise<CatalogSummary> {
  for (const name of BENCH_DATABASES) await cluster.createDatabase(name);
  await cluster.createDatabase(CATALOG_DB);
  const client = new pg.Client({ connectionString: cluster.url(CATALOG_DB) });
  await client.connect();
  try {
    await migrateCatalog(client);
    const started = performance.now();
    const summary = await populateCatalog(client, rows, BENCH_DATABASES);
    log(`inserted ${summary.rows} catalog rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return summary;
  } finally {
    await client.end();
  }
}

async function writeConfig(cluster: Cluster, dir: string): Promise<string> {
  const schedules = `{ full: "${NEVER}", base: "${NEVER}", incremental: "${NEVER}" }`;
  const lines = [
    `catalog: { url: "${cluster.url(CATALOG_DB)}" }`,
    'databases:',
    ...BENCH_DATABASES.map((name) => `  - { name: "${name}", url: "${cluster.url(name)}", schedules: ${schedules} }`),
    `storage: { local: { path: "${join(dir, 'storage')}" } }`,
    `schedules: { full: "${NEVER}", base: "${NEVER}", incremental: "${NEVER}", cleanup: "${NEVER}", healthCheck: "${NEVER}" }`,
    'server: { port: 0 }',
    'logLevel: warn',
  ];
  const file = join(dir, 'pgwarden.yml');
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

/** What pgwarden serves must be complete, or the benchmark measures something else. */
function checkPgwardenMetrics(text: string, expectedRuns: number): void {
  const families = new Map(parseExposition(text).map((f) => [f.name, f]));
  const samples = (name: string) => families.get(name)?.samples ?? [];
  const failing = samples('pgwarden_collector_success').filter((s) => s.value !== 1);
  if (failing.length > 0) throw new Error(`pgwarden collectors failed: ${failing.map((s) => s.labels['collector']).join(', ')}`);
  const runs = samples('pgwarden_backup_runs_total').reduce((sum, s) => sum + s.value, 0);
  if (runs !== expectedRuns) throw new Error(`pgwarden_backup_runs_total sums to ${runs}, expected ${expectedRuns}`);
  const up = samples('pgwarden_database_up');
  if (up.length !== BENCH_DATABASES.length || up.some((s) => s.value !== 1)) {
    throw new Error(`pgwarden_database_up: ${up.filter((s) => s.value === 1).length} of ${BENCH_DATABASES.length} databases up`);
  }
}

function threadLine(threads: Record<string, number>): string {
  return Object.entries(threads)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${v.toFixed(2)}`)
    .join(', ');
}

/** `name a/b` for each family with a different number of samples in the two texts. */
function familyDifferences(a: string, b: string): string[] {
  const counts = (text: string) => new Map(parseExposition(text).map((f) => [f.name, f.samples.length]));
  const [ca, cb] = [counts(a), counts(b)];
  return [...new Set([...ca.keys(), ...cb.keys()])].filter((n) => ca.get(n) !== cb.get(n)).map((n) => `${n} ${ca.get(n) ?? 0}/${cb.get(n) ?? 0}`);
}

/** No backup (scheduled or catch-up) ran during the benchmark: the catalog holds exactly the generated rows. */
async function checkNothingRan(cluster: Cluster, expectedRows: number): Promise<{ backupRows: number; jobRuns: number }> {
  const count = async (table: string) => (await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`, [], CATALOG_DB)).rows[0]!.n;
  const quiet = { backupRows: await count('pgwarden.database_backups'), jobRuns: await count('pgwarden.job_runs') };
  if (quiet.backupRows !== expectedRows || quiet.jobRuns !== 0) {
    throw new Error(`jobs ran during the benchmark: ${quiet.backupRows} backup rows (expected ${expectedRows}), ${quiet.jobRuns} job runs`);
  }
  return quiet;
}

// ---- the servers ----

interface ServerProcess {
  /** `http://127.0.0.1:PORT` */
  url: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 20 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

function startServe(configPath: string, nodeArgs: string[]): Promise<ServerProcess> {
  return startServer('pgwarden serve', [...nodeArgs, code!.cli, '--config', configPath, 'serve'], /listening on (http:\/\/\S+)/);
}

function bufferPreload(): string {
  return pathToFileURL(join(code!.benchDir, 'metrics-buffer-preload.js')).href;
}

function startBaseline(textFile: string, samples: number, nodeArgs: string[]): Promise<ServerProcess> {
  const script = join(code!.benchDir, 'metrics-baseline-server.js');
  return startServer('baseline', [...nodeArgs, script, textFile, String(samples)], /listening on (http:\/\/\S+)/);
}

async function startServer(name: string, argv: string[], listening: RegExp, timeoutMs = 60_000): Promise<ServerProcess> {
  abort.signal.throwIfAborted();
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (url === undefined) {
    url = listening.exec(stdout)?.[1];
    if (url !== undefined) break;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before listening:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen within ${timeoutMs} ms:\n${stderr}`);
    abort.signal.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  log(`${name} (pid ${child.pid}) listening on ${url}`);
  let stopping: Promise<void> | undefined;
  return {
    url,
    pid: child.pid!,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
        if (stderr.trim() !== '') log(`${name} stderr:\n${stderr.trim()}`);
      })();
      return stopping;
    },
  };
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.text();
}

interface Endpoint {
  server: ServerProcess;
  /** What the load hits. */
  url: string;
  /** A freshly rendered /metrics of the same process, for its GC figures. */
  statsUrl: string;
}

/**
 * A warm-up run, then the measured one, with the server's CPU time (per thread) and its own GC figures
 * (nodejs_gc_duration_seconds, scraped untimed before and after) around it.
 */
async function measure(endpoint: Endpoint, target: Target, c: number, round: number): Promise<MeasuredRun> {
  const { server, url } = endpoint;
  if (warmupSeconds > 0) await runLoad(url, { connections: c, durationSeconds: warmupSeconds, signal: abort.signal });
  const gcBefore = await gcFigures(endpoint.statsUrl);
  const cpuBefore = readCpu(server.pid);
  const machineBefore = readMachineCpu();
  const benchBefore = process.cpuUsage();
  const started = performance.now();
  const result = await runLoad(url, { connections: c, durationSeconds, signal: abort.signal });
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuAfter = readCpu(server.pid);
  const machineAfter = readMachineCpu();
  const bench = process.cpuUsage(benchBefore);
  const serverSeconds = cpuAfter.processSeconds - cpuBefore.processSeconds;
  const loadGeneratorSeconds = (bench.user + bench.system) / 1e6;
  // Whatever else kept the cores busy meanwhile (other work on a shared machine): it competes with both.
  const otherSeconds = machineAfter.busySeconds - machineBefore.busySeconds - serverSeconds - loadGeneratorSeconds;
  checkClean(result, `${target} at ${c} scrapers, round ${round}`);
  const gc = difference(await gcFigures(endpoint.statsUrl), gcBefore);
  const threads = difference(cpuAfter.threads, cpuBefore.threads);
  return {
    ...result,
    target,
    round,
    cpuMsPerRequest: (serverSeconds * 1000) / result.responses,
    mainThreadUtilisation: (cpuAfter.mainThreadSeconds - cpuBefore.mainThreadSeconds) / wallSeconds,
    loadGeneratorCores: loadGeneratorSeconds / wallSeconds,
    otherCores: Math.max(0, otherSeconds) / wallSeconds,
    serverMemoryAfter: readMemory(server.pid),
    cpuMsPerRequestByThread: Object.fromEntries(Object.entries(threads).map(([name, seconds]) => [name, (seconds * 1000) / result.responses])),
    gc,
  };
}

/**
 * `<kind>`: collections so far, `<kind>_seconds`: their total pause, from the process's own
 * nodejs_gc_duration_seconds. pgwarden serves a render up to a second old: wait that out first.
 */
async function gcFigures(statsUrl: string): Promise<Record<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const family = parseExposition(await scrape(statsUrl)).find((f) => f.name === 'nodejs_gc_duration_seconds');
  const out: Record<string, number> = {};
  for (const s of family?.samples ?? []) {
    const kind = s.labels['kind'] ?? '?';
    if (s.name.endsWith('_count')) out[kind] = s.value;
    else if (s.name.endsWith('_sum')) out[`${kind}_seconds`] = s.value;
  }
  return out;
}

function checkClean(result: LoadResult, what: string): void {
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0 || result.responses === 0) {
    throw new Error(`${what}: ${result.responses} ok, ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  }
}

// ---- CPU profiles ----

interface ProfileSummary {
  target: Target;
  file: string;
  /** Length of the window summarised: the measured load, startup and shutdown left out. */
  seconds: number;
  reqPerSec: number;
  idle: number;
  gc: number;
  program: number;
  /** Self time by function and by where the code lives (a package in node_modules, pgwarden's src/, node:internal). */
  topFunctions: { name: string; share: number }[];
  byPackage: { name: string; share: number }[];
}

/** One untimed run of each server under --cpu-prof at the highest scraper count. */
async function profileServers(configPath: string, textFile: string, samples: number): Promise<{ text: string; data: ProfileSummary[] }> {
  const dir = join(resultsDir(), `metrics-cpu-profiles-${stamp()}`);
  const c = Math.max(...connections);
  const data: ProfileSummary[] = [];
  const profiled: Target[] = ['pgwarden', 'baseline', ...(args['try-buffer'] ? (['pgwardenBuffer'] as const) : [])];
  for (const target of profiled) {
    const profileDir = join(dir, target);
    await mkdir(profileDir, { recursive: true });
    const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
    const server =
      target === 'baseline'
        ? await startBaseline(textFile, samples, nodeArgs)
        : await startServe(configPath, target === 'pgwardenBuffer' ? [...nodeArgs, '--import', bufferPreload()] : nodeArgs);
    const url = `${server.url}/metrics`;
    log(`profiling ${target} at ${c} scrapers (untimed)`);
    await runLoad(url, { connections: c, durationSeconds: warmupSeconds || 1, signal: abort.signal });
    const loadStart = Date.now();
    const result = await runLoad(url, { connections: c, durationSeconds, signal: abort.signal });
    const loadEnd = Date.now();
    await server.stop();
    const exitAt = Date.now();
    const [name] = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
    if (name === undefined) {
      log(`${target} wrote no CPU profile in ${profileDir}`);
      continue;
    }
    const profile = JSON.parse(await readFile(join(profileDir, name), 'utf8')) as CpuProfile;
    // The profile's clock is not ours: place the load window back from the profile's end (the process exit).
    const window = { fromUs: profile.endTime - (exitAt - loadStart) * 1000, toUs: profile.endTime - (exitAt - loadEnd) * 1000 };
    data.push({ target, reqPerSec: result.reqPerSec, ...summariseProfile(profile, join(profileDir, name), window) });
  }
  const pct = (f: number) => `${(f * 100).toFixed(1)} %`;
  const lines = [`CPU profiles of the servers' main threads during ${durationSeconds} s at ${c} scrapers (untimed runs), in ${dir}:`, ''];
  for (const p of data) {
    lines.push(`- ${p.target} (${p.reqPerSec.toFixed(0)} req/s): idle ${pct(p.idle)}, GC ${pct(p.gc)}, native ${pct(p.program)}`);
    lines.push(`  - by package: ${p.byPackage.map((t) => `${t.name} ${pct(t.share)}`).join(', ')}`);
    lines.push(`  - top functions: ${p.topFunctions.map((t) => `${t.name} ${pct(t.share)}`).join(', ')}`);
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

function summariseProfile(
  profile: CpuProfile,
  file: string,
  window: { fromUs: number; toUs: number },
): Omit<ProfileSummary, 'target' | 'reqPerSec'> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < window.fromUs || at > window.toUs) return;
    const frame = byId.get(id)?.callFrame;
    total += delta;
    const where = frame?.url ? ` ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}` : '';
    const name = `${frame?.functionName || '(anonymous)'}${where}`;
    self.set(name, (self.get(name) ?? 0) + delta);
    const area = areaOf(frame?.url ?? '', frame?.functionName ?? '');
    byPackage.set(area, (byPackage.get(area) ?? 0) + delta);
  });
  const share = (name: string) => (self.get(name) ?? 0) / total;
  const top = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .filter(([name]) => !['(idle)', '(garbage collector)', '(program)'].includes(name))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, share: us / total }));
  return {
    file,
    seconds: total / 1e6,
    idle: share('(idle)'),
    gc: share('(garbage collector)'),
    program: share('(program)'),
    topFunctions: top(self, 12),
    byPackage: top(byPackage, 10),
  };
}

/** `express`, `prom-client`, `@scope/pkg`, `pgwarden src/http`, `node:internal`, or the V8 pseudo-frame. */
function areaOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1]!;
  const inPgwarden = /\/dist\/(src\/[^/]+|test\/[^/]+)/.exec(url);
  if (inPgwarden) return `pgwarden ${inPgwarden[1]}`;
  if (url.startsWith('node:')) return 'node:internal';
  return url;
}

// ---- the machine and the results ----

async function describeMachine(cluster: Cluster): Promise<Machine> {
  const version = (await cluster.query<{ v: string }>(`SELECT split_part(version(), ' on ', 1) AS v`)).rows[0]!.v;
  const versionOf = async (pkg: string) =>
    (JSON.parse(await readFile(join(packageRoot(), 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    ...machineBasics(),
    postgres: version,
    autocannon: await versionOf('autocannon'),
    promClient: await versionOf('prom-client'),
    express: await versionOf('express'),
    commit: sourceCommit(),
  };
}

/** HEAD, with `+changes` when src/ differs from it (the build measured is of the working tree). */
function sourceCommit(): string {
  const git = (argv: string[]) => spawnSync('git', argv, { cwd: packageRoot(), encoding: 'utf8' }).stdout?.trim() ?? '';
  const head = git(['rev-parse', '--short', 'HEAD']) || 'unknown';
  return git(['status', '--porcelain', '--', 'src', 'sql']) === '' ? head : `${head}+changes`;
}

function resultsDir(): string {
  return join(packageRoot(), 'test', 'bench', 'results');
}

function stamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/:/g, '');
}

async function writeResults(results: Record<string, unknown>): Promise<string> {
  await mkdir(resultsDir(), { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  let file = join(resultsDir(), `metrics-${date}.json`);
  for (let n = 2; existsSync(file); n++) file = join(resultsDir(), `metrics-${date}-${n}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

