// Watches a running process tree through /proc: CPU time per process (and, for the root, its main thread apart
// from its other threads), peak RSS (VmHWM), and the PostgreSQL server's CPU, sampled every 50 ms so that CPU
// can be split by phase afterwards. Linux only; every read tolerates the process having exited meanwhile.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessRecord {
  pid: number;
  /** The process's name (/proc/PID/comm): node, pg_dump, gzip, pg_restore, bash… */
  comm: string;
  /** utime + stime at the last sample, in seconds (minus what it had used before sampling began). */
  cpuSeconds: number;
  /** The highest VmHWM seen, in bytes. */
  peakRssBytes: number;
}

/** Cumulative CPU seconds at one instant, per series. */
export interface Sample {
  /** Wall clock, ms since the epoch (comparable with the catalog's timestamps on the same machine). */
  t: number;
  series: Record<string, number>;
  /** The root process's resident set (VmRSS) at this instant, bytes. */
  rootRssBytes: number;
}

export interface SamplerResult {
  /** The root and its descendants, in the order they were first seen. */
  processes: ProcessRecord[];
  samples: Sample[];
  /** Peak RSS of the root process alone, bytes. */
  rootPeakRssBytes: number;
  intervalMs: number;
}

export interface SamplerOptions {
  rootPid: number;
  /** The postmaster: CPU of all its children (backends, walwriter…) is summed as series `server`. */
  serverPid?: number | undefined;
  intervalMs?: number;
}

/** Clock ticks per second of /proc's CPU times. */
export const CLOCK_TICKS = clockTicks();

/**
 * Series in every sample: `main` (root's main thread), `threads` (root's other threads: libuv pool, V8),
 * one per descendant comm (`pg_dump`, `gzip`, …, summed over processes of that name), and `server`.
 */
export function startSampler(options: SamplerOptions): { stop(): SamplerResult } {
  const intervalMs = options.intervalMs ?? 50;
  const processes = new Map<string, ProcessRecord & { baseTicks: number }>();
  const serverBase = new Map<string, number>();
  const serverLast = new Map<string, number>();
  const samples: Sample[] = [];
  let rootPeak = 0;
  let rootMain = 0;
  let rootThreads = 0;
  let rootRss = 0;
  const threadLast = new Map<number, number>();

  if (options.serverPid !== undefined) {
    for (const pid of [options.serverPid, ...childrenOf(options.serverPid)]) {
      const stat = readStat(pid);
      if (stat) serverBase.set(`${pid}:${stat.start}`, stat.ticks);
    }
  }

  const tick = () => {
    const t = performance.timeOrigin + performance.now();
    // Per thread, so that a thread which exits keeps counting with what it had used.
    for (const [tid, ticks] of threadTicks(options.rootPid)) {
      if (tid === options.rootPid) rootMain = ticks;
      else threadLast.set(tid, ticks);
    }
    rootThreads = [...threadLast.values()].reduce((sum, ticks) => sum + ticks, 0);
    for (const pid of [options.rootPid, ...descendantsOf(options.rootPid)]) {
      const stat = readStat(pid);
      if (!stat) continue;
      const key = `${pid}:${stat.start}`;
      let record = processes.get(key);
      if (!record) {
        record = { pid, comm: stat.comm, cpuSeconds: 0, peakRssBytes: 0, baseTicks: 0 };
        processes.set(key, record);
      }
      record.cpuSeconds = (stat.ticks - record.baseTicks) / CLOCK_TICKS;
      const memory = readMemory(pid);
      if (memory.hwm > record.peakRssBytes) record.peakRssBytes = memory.hwm;
      if (pid === options.rootPid) {
        rootPeak = Math.max(rootPeak, memory.hwm);
        rootRss = memory.rss;
      }
    }
    if (options.serverPid !== undefined) {
      for (const pid of [options.serverPid, ...childrenOf(options.serverPid)]) {
        const stat = readStat(pid);
        if (stat) serverLast.set(`${pid}:${stat.start}`, stat.ticks);
      }
    }
    const series: Record<string, number> = { main: rootMain / CLOCK_TICKS, threads: rootThreads / CLOCK_TICKS };
    for (const record of processes.values()) {
      if (record.pid === options.rootPid) continue;
      series[record.comm] = (series[record.comm] ?? 0) + record.cpuSeconds;
    }
    let server = 0;
    for (const [key, ticks] of serverLast) server += ticks - (serverBase.get(key) ?? 0);
    series['server'] = server / CLOCK_TICKS;
    samples.push({ t, series, rootRssBytes: rootRss });
  };

  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return {
        processes: [...processes.values()].map(({ baseTicks: _, ...record }) => record),
        samples,
        rootPeakRssBytes: rootPeak,
        intervalMs,
      };
    },
  };
}

/** CPU seconds of each series spent between two instants, interpolating between samples. */
export function cpuBetween(samples: Sample[], from: number, to: number): Record<string, number> {
  const names = new Set(samples.flatMap((s) => Object.keys(s.series)));
  const out: Record<string, number> = {};
  for (const name of names) out[name] = valueAt(samples, name, to) - valueAt(samples, name, from);
  return out;
}

/** The highest CPU use of a series over any window of `windowMs` between two instants, as a fraction of one core. */
export function peakUtilisation(samples: Sample[], name: string, from: number, to: number, windowMs = 1000): number {
  let peak = 0;
  for (let start = from; start + windowMs <= to; start += windowMs / 4) {
    const used = valueAt(samples, name, start + windowMs) - valueAt(samples, name, start);
    peak = Math.max(peak, used / (windowMs / 1000));
  }
  return peak;
}

/** The largest resident set of the root process sampled between two instants. */
export function peakRssBetween(samples: Sample[], from: number, to: number): number {
  return Math.max(0, ...samples.filter((s) => s.t >= from && s.t <= to).map((s) => s.rootRssBytes));
}

function valueAt(samples: Sample[], name: string, t: number): number {
  let before: Sample | undefined;
  for (const sample of samples) {
    if (sample.t <= t) {
      before = sample;
      continue;
    }
    // A series absent from a sample had used nothing yet (its process had not started).
    const b = sample.series[name] ?? 0;
    if (!before) return b;
    const a = before.series[name] ?? 0;
    return a + ((b - a) * (t - before.t)) / (sample.t - before.t);
  }
  return before?.series[name] ?? 0;
}

// ---- /proc ----

interface Stat {
  comm: string;
  ticks: number;
  /** Start time in ticks since boot: with the pid, identifies a process even if the pid is reused. */
  start: number;
}

function readStat(pid: number, path = `/proc/${pid}/stat`): Stat | undefined {
  const text = readOrUndefined(path);
  if (text === undefined) return undefined;
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
  return {
    comm: text.slice(open + 1, close),
    ticks: Number(fields[11]) + Number(fields[12]),
    start: Number(fields[19]),
  };
}

function readMemory(pid: number): { hwm: number; rss: number } {
  const text = readOrUndefined(`/proc/${pid}/status`) ?? '';
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
  return { hwm: kib('VmHWM'), rss: kib('VmRSS') };
}

function threadTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const stat = readStat(pid, `/proc/${pid}/task/${tid}/stat`);
    if (stat) out.set(Number(tid), stat.ticks);
  }
  return out;
}

/** Direct children of every thread of pid (a child belongs to the thread that forked it). */
function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    const text = readOrUndefined(`/proc/${pid}/task/${tid}/children`);
    if (text) for (const child of text.trim().split(/\s+/)) if (child !== '') out.push(Number(child));
  }
  return out;
}

function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (const child of childrenOf(pid)) out.push(child, ...descendantsOf(child));
  return out;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function clockTicks(): number {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(result.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}
