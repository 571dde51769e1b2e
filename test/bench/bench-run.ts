// What every benchmark shares: timed runs of a program in its own process group with its process tree and the
// server sampled, waiting for a quiet machine first and measuring the noise of the rest of it; Ctrl-C handling
// that kills what runs; helpers for results files, medians and shell quoting.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { packageRoot } from '../../src/package-root.js';
import { CLOCK_TICKS, type SamplerResult, startSampler } from './process-sampler.js';

export interface TimedRun {
  wallSeconds: number;
  /** Epoch ms, comparable with the catalog's timestamps. */
  started: number;
  ended: number;
  sampled: SamplerResult;
  stdout: string;
  /** CPU the rest of the machine used meanwhile (other users' work, the sampler itself): noise to report. */
  otherCpuSeconds: number;
  /** The 1-minute load average when the run started. */
  loadBefore: number;
}

export interface BenchRunner {
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
  /** Runs a program in its own process group, sampling it and the server; fails on a non-zero exit. */
  runTimed(program: string, argv: string[], env: NodeJS.ProcessEnv, serverPid: number): Promise<TimedRun>;
  /** Kills whatever still runs (on the way out). */
  killAll(signal: NodeJS.Signals): void;
}

export interface RunnerOptions {
  log: (line: string) => void;
  /** How long to wait for a quiet machine before each timed run; default 10 s. */
  quietTimeoutMs?: number;
  /** Working directory of the programs; default '/' (readable by the server's OS user). */
  cwd?: string;
}

/** Installs Ctrl-C handling (abort, kill the running process groups) and returns the runner. */
export function createBenchRunner(options: RunnerOptions): BenchRunner {
  const { log } = options;
  const abort = new AbortController();
  const running = new Set<ChildProcess>();
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (abort.signal.aborted) {
        log(`${signal} again: exiting now`);
        for (const child of running) killGroup(child, 'SIGKILL');
        process.exit(130);
      }
      log(`${signal}: stopping, cleaning up`);
      abort.abort(new Error(`interrupted by ${signal}`));
      for (const child of running) killGroup(child, 'SIGTERM');
    });
  }

  /**
   * The machine is shared: before a timed run, wait for a second in which other processes keep less than a
   * quarter of a core busy. What still happens during a run is reported as noise.
   */
  async function waitForQuiet(): Promise<void> {
    const deadline = Date.now() + (options.quietTimeoutMs ?? 10_000);
    for (;;) {
      abort.signal.throwIfAborted();
      const before = machineBusySeconds();
      await sleep(1000);
      const busy = machineBusySeconds() - before;
      if (busy < 0.25) return;
      if (Date.now() > deadline) {
        log(`the machine stayed busy (${busy.toFixed(2)} cores used by other processes); running anyway`);
        return;
      }
    }
  }

  async function runTimed(program: string, argv: string[], env: NodeJS.ProcessEnv, serverPid: number): Promise<TimedRun> {
    abort.signal.throwIfAborted();
    await waitForQuiet();
    const loadBefore = loadavg()[0] ?? 0;
    const busyBefore = machineBusySeconds();
    const started = performance.timeOrigin + performance.now();
    const child = spawn(program, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true, cwd: options.cwd ?? '/' });
    running.add(child);
    const sampler = startSampler({ rootPid: child.pid!, serverPid });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
    });
    const code = await new Promise<number | null>((done, fail) => {
      child.once('error', fail);
      child.once('close', (exitCode) => done(exitCode));
    });
    const ended = performance.timeOrigin + performance.now();
    running.delete(child);
    const sampled = sampler.stop();
    const last = sampled.samples.at(-1)?.series ?? {};
    const ours = Object.values(last).reduce((sum, x) => sum + x, 0);
    const otherCpuSeconds = Math.max(0, machineBusySeconds() - busyBefore - ours);
    abort.signal.throwIfAborted();
    if (code !== 0) throw new Error(`${program} ${argv.slice(-6).join(' ')} exited with ${code}:\n${stderr}\n${stdout.slice(-2000)}`);
    return { wallSeconds: (ended - started) / 1000, started, ended, sampled, stdout, otherCpuSeconds, loadBefore };
  }

  return {
    signal: abort.signal,
    log,
    runTimed,
    killAll: (signal) => {
      for (const child of running) killGroup(child, signal);
    },
  };
}

/** CPU time the whole machine has been busy since boot (/proc/stat: all but idle and iowait), seconds. */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** CPU seconds or peak RSS per process name (bash wrappers left out). */
export function byComm(sampled: SamplerResult, field: 'cpuSeconds' | 'peakRssBytes', combine: 'sum' | 'max' = 'sum'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of sampled.processes) {
    if (p.comm === 'bash') continue;
    out[p.comm] = combine === 'sum' ? (out[p.comm] ?? 0) + p[field] : Math.max(out[p.comm] ?? 0, p[field]);
  }
  return out;
}

export function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function resultsDir(): string {
  return join(packageRoot(), 'test', 'bench', 'results');
}

export function stamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/:/g, '');
}

/** Writes `<prefix>-<date>[-N].json` in test/bench/results and returns its path. */
export async function writeResults(prefix: string, results: Record<string, unknown>): Promise<string> {
  const dir = resultsDir();
  await mkdir(dir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  let file = join(dir, `${prefix}-${date}.json`);
  for (let n = 2; existsSync(file); n++) file = join(dir, `${prefix}-${date}-${n}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await directoryBytes(path) : (await stat(path)).size;
  }
  return total;
}

/** What every benchmark reports about the machine it ran on; each adds its own tool versions. */
export function machineBasics(): { date: string; cpus: number; cpuModel: string; memoryBytes: number; kernel: string; node: string } {
  return { date: new Date().toISOString(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryBytes: totalmem(), kernel: release(), node: process.version };
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** The pgwarden commit measured: git's HEAD (+ "dirty" when src/ has changes), or $PGWARDEN_BENCH_COMMIT for a snapshot. */
export function sourceCommit(): string {
  const git = (argv: string[]) => spawnSync('git', ['-C', packageRoot(), ...argv], { encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head.status !== 0) return process.env['PGWARDEN_BENCH_COMMIT'] ?? 'unknown';
  const dirty = git(['status', '--porcelain', '--', 'src']).stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? ' (src/ modified)' : ''}`;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0 };
}
