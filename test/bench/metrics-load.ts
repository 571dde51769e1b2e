// Load for the /metrics benchmark: autocannon (programmatic) against one URL for a fixed time, keeping every
// response time it measured (to the microsecond) next to its own histogram, whose resolution is 1 ms; and
// what /proc says about the server process under test (RSS, CPU time of the process and of its main thread).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadResult {
  connections: number;
  durationSeconds: number;
  /** 2xx responses per second of the run. */
  reqPerSec: number;
  responses: number;
  /** autocannon's own percentiles (hdr histogram, whole milliseconds). */
  autocannonP50Ms: number;
  autocannonP99Ms: number;
  /** From every response time autocannon reported, nearest rank, sub-millisecond. */
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Response body and headers bytes per response. */
  bytesPerResponse: number;
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  signal?: AbortSignal;
}

export function runLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  options.signal?.throwIfAborted();
  const latencies: number[] = [];
  let bytes = 0;
  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      { url, connections: options.connections, duration: options.durationSeconds, pipelining: 1, timeout: 10 },
      (error: unknown, result: autocannon.Result) => {
        options.signal?.removeEventListener('abort', stop);
        if (error) {
          reject(error);
          return;
        }
        if (options.signal?.aborted) {
          reject(options.signal.reason);
          return;
        }
        const sorted = Float64Array.from(latencies).sort();
        const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
        resolve({
          connections: options.connections,
          durationSeconds: seconds,
          reqPerSec: result['2xx'] / seconds,
          responses: result['2xx'],
          autocannonP50Ms: result.latency.p50,
          autocannonP99Ms: result.latency.p99,
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
          p999Ms: percentile(sorted, 0.999),
          maxMs: sorted.at(-1) ?? Number.NaN,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          bytesPerResponse: latencies.length > 0 ? bytes / latencies.length : 0,
        });
      },
    );
    instance.on('response', (_client, _status, resBytes, responseTime) => {
      latencies.push(responseTime);
      bytes += resBytes;
    });
    const stop = () => instance.stop();
    options.signal?.addEventListener('abort', stop, { once: true });
  });
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface MemoryReading {
  vmRssBytes: number;
  vmHwmBytes: number;
}

/** VmRSS and VmHWM (peak RSS) from /proc/PID/status. */
export function readMemory(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
  return { vmRssBytes: kib('VmRSS'), vmHwmBytes: kib('VmHWM') };
}

export interface CpuReading {
  /** utime + stime of every thread. */
  processSeconds: number;
  /** The main thread alone: the event loop that serves every request. */
  mainThreadSeconds: number;
  /** CPU seconds per kind of thread: `main`, and the others by name (V8's GC and compiler workers, libuv's pool…). */
  threads: Record<string, number>;
}

const CLOCK_TICKS = (() => {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

export function readCpu(pid: number): CpuReading {
  const seconds = (path: string) => {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th of them.
    const rest = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  };
  const threads: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      threads[name] = (threads[name] ?? 0) + seconds(`/proc/${pid}/task/${tid}/stat`);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return { processSeconds: seconds(`/proc/${pid}/stat`), mainThreadSeconds: seconds(`/proc/${pid}/task/${pid}/stat`), threads };
}

/** Per-key difference of two readings (keys of either). */
export function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of new Set([...Object.keys(after), ...Object.keys(before)])) out[key] = (after[key] ?? 0) - (before[key] ?? 0);
  return out;
}

/** CPU time the whole machine spent busy (all but idle and iowait) and in total, from /proc/stat. */
export function readMachineCpu(): { busySeconds: number; totalSeconds: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((sum, n) => sum + n, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busySeconds: (total - idle) / CLOCK_TICKS, totalSeconds: total / CLOCK_TICKS };
}
