// Figures of the /metrics benchmark: medians and ranges per endpoint and scraper count, the ratios of pgwarden
// to the bare registry measured in the same run, and the Markdown a person pastes into a closing note.
import type { LoadResult, MemoryReading } from './metrics-load.js';

/**
 * pgwarden: GET /metrics of `pgwarden serve`; baseline: the bare registry rendered per request; cached: the
 * same text rendered once a second and served from memory by a bare express (the floor); pgwardenBuffer
 * (with --try-buffer): `pgwarden serve` with the proposed fix preloaded (metrics-buffer-preload.ts).
 */
export const TARGETS = ['pgwarden', 'baseline', 'cached', 'pgwardenBuffer'] as const;
export type Target = (typeof TARGETS)[number];

export const TARGET_NAMES: Record<Target, string> = {
  pgwarden: 'pgwarden serve',
  baseline: 'bare prom-client + express, rendered per request',
  cached: 'floor: same text rendered once a second, bare express',
  pgwardenBuffer: 'pgwarden serve + fix tried: cached text sent as one reused Buffer',
};

export interface MeasuredRun extends LoadResult {
  target: Target;
  round: number;
  /** CPU of the server process during the run, per 2xx response. */
  cpuMsPerRequest: number;
  /** Share of one core the server's main thread (its event loop) used during the run. */
  mainThreadUtilisation: number;
  /** CPU of the bench process (autocannon) during the run, in cores. */
  loadGeneratorCores: number;
  /** CPU of everything else on the machine during the run (not the server, not the bench), in cores. */
  otherCores: number;
  /** RSS of the server process right after the run. */
  serverMemoryAfter: MemoryReading;
  /** Server CPU per 2xx response by thread: `main`, and the others by name (V8 workers, libuv pool…). */
  cpuMsPerRequestByThread: Record<string, number>;
  /** The server's collections during the run by kind (`minor`…) and their pause time (`minor_seconds`…). */
  gc: Record<string, number>;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export interface TargetSummary {
  reqPerSec: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  autocannonP99Ms: Spread;
  cpuMsPerRequest: Spread;
  mainThreadUtilisation: Spread;
  loadGeneratorCores: Spread;
  otherCores: Spread;
  /** Medians over the rounds, per thread name. */
  cpuMsPerRequestByThread: Record<string, number>;
  /** Medians over the rounds, per GC figure. */
  gc: Record<string, number>;
}

export interface ConfigSummary {
  connections: number;
  /** Each target measured. */
  targets: Partial<Record<Target, TargetSummary>>;
  /** Of the medians: pgwarden ÷ baseline (the issue's ratio), pgwarden ÷ the floor, and the fix tried ÷ pgwarden. */
  ratios: { name: string; of: Target; to: Target; ratio: Ratio }[];
}

const RATIOS: readonly { name: string; of: Target; to: Target }[] = [
  { name: 'ratio pgwarden ÷ bare', of: 'pgwarden', to: 'baseline' },
  { name: 'ratio pgwarden ÷ floor', of: 'pgwarden', to: 'cached' },
  { name: 'ratio pgwarden + fix ÷ pgwarden', of: 'pgwardenBuffer', to: 'pgwarden' },
];

export interface Ratio {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerRequest: number;
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  node: string;
  postgres: string;
  autocannon: string;
  promClient: string;
  express: string;
  /** The pgwarden commit measured (`+changes`: with uncommitted changes to src/). */
  commit: string;
}

export interface Setup {
  rows: number;
  databases: number;
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Sample lines of each /metrics, scraped before the first round and after the last. */
  samples: Record<'pgwarden' | 'baseline', { before: number; after: number; bytes: number }>;
  /** In the order each round runs them. */
  targets: Target[];
}

export type MemorySummary = Partial<Record<Target, { beforeLoad: MemoryReading; afterLoad: MemoryReading }>>;

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN, values };
}

export function summarise(connections: readonly number[], targets: readonly Target[], runs: readonly MeasuredRun[]): ConfigSummary[] {
  return connections.map((c) => {
    const of = (target: Target): TargetSummary => {
      const mine = runs.filter((r) => r.target === target && r.connections === c);
      const s = (pick: (r: MeasuredRun) => number) => spread(mine.map(pick));
      return {
        reqPerSec: s((r) => r.reqPerSec),
        p50Ms: s((r) => r.p50Ms),
        p99Ms: s((r) => r.p99Ms),
        autocannonP99Ms: s((r) => r.autocannonP99Ms),
        cpuMsPerRequest: s((r) => r.cpuMsPerRequest),
        mainThreadUtilisation: s((r) => r.mainThreadUtilisation),
        loadGeneratorCores: s((r) => r.loadGeneratorCores),
        otherCores: s((r) => r.otherCores),
        cpuMsPerRequestByThread: medians(mine.map((r) => r.cpuMsPerRequestByThread)),
        gc: medians(mine.map((r) => r.gc)),
      };
    };
    const summaries: Partial<Record<Target, TargetSummary>> = Object.fromEntries(targets.map((t) => [t, of(t)]));
    const ratio = (a: TargetSummary, b: TargetSummary): Ratio => ({
      reqPerSec: a.reqPerSec.median / b.reqPerSec.median,
      p50Ms: a.p50Ms.median / b.p50Ms.median,
      p99Ms: a.p99Ms.median / b.p99Ms.median,
      cpuMsPerRequest: a.cpuMsPerRequest.median / b.cpuMsPerRequest.median,
    });
    const ratios = RATIOS.flatMap((r) => {
      const [a, b] = [summaries[r.of], summaries[r.to]];
      return a && b ? [{ ...r, ratio: ratio(a, b) }] : [];
    });
    return { connections: c, targets: summaries, ratios };
  });
}

/** Per key, the median over the records that have it. */
function medians(records: readonly Record<string, number>[]): Record<string, number> {
  const keys = new Set(records.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...keys].map((k) => [k, spread(records.map((r) => r[k] ?? 0)).median]));
}

const P99_TARGET_MS = 10;

export function formatReport(machine: Machine, setup: Setup, configs: readonly ConfigSummary[], memory: MemorySummary): string {
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
  const range = (s: Spread, f: (n: number) => string) => `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
  const times = (n: number) => `${n.toFixed(2)}×`;
  const { samples } = setup;
  const lines = [
    `### /metrics under load: pgwarden serve vs a bare prom-client registry served by express (rendered per request)`,
    '',
    `- machine: ${machine.cpus} × ${machine.cpuModel}, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, Linux ${machine.kernel}; ` +
      `Node ${machine.node}, ${machine.postgres} (fsync on); express ${machine.express}, prom-client ${machine.promClient}`,
    `- date: ${machine.date}; pgwarden ${machine.commit}; load: autocannon ${machine.autocannon} (programmatic, one thread, on the same cores), loopback, keep-alive, pipelining 1`,
    `- catalog: ${int(setup.rows)} rows in pgwarden.database_backups over ${setup.databases} databases (90 days: hourly incremental, daily full, weekly base; ~3 % failed)`,
    `- /metrics: pgwarden ${int(samples.pgwarden.before)} sample lines (${(samples.pgwarden.bytes / 1024).toFixed(0)} KiB), ` +
      `baseline ${int(samples.baseline.before)} (${(samples.baseline.bytes / 1024).toFixed(0)} KiB); after the load ${int(samples.pgwarden.after)} and ${int(samples.baseline.after)}`,
    `- ${setup.rounds} rounds, interleaved (${setup.targets.join(', ')} at each scraper count), each run ${setup.warmupSeconds} s warm-up + ${setup.durationSeconds} s measured; ` +
      'figures are median (min–max) over the rounds; p50/p99 from every response time (sub-ms), "ac p99" is autocannon’s own (whole ms); ' +
      '"other load": CPU the rest of the machine used meanwhile (a shared machine: it competes with server and load generator)',
    '',
    '| endpoint | scrapers | req/s | p50 ms | p99 ms | ac p99 ms | server CPU ms/req | main thread busy | autocannon cores | other load cores |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const c of configs) {
    for (const [target, t] of Object.entries(c.targets) as [Target, TargetSummary][]) {
      const name = TARGET_NAMES[target];
      lines.push(
        `| ${name} | ${c.connections} | ${range(t.reqPerSec, int)} | ${range(t.p50Ms, ms)} | ${range(t.p99Ms, ms)} | ${range(t.autocannonP99Ms, ms)} | ` +
          `${ms(t.cpuMsPerRequest.median)} | ${(t.mainThreadUtilisation.median * 100).toFixed(0)} % | ${t.loadGeneratorCores.median.toFixed(2)} | ` +
          `${t.otherCores.median.toFixed(2)} (${t.otherCores.min.toFixed(2)}–${t.otherCores.max.toFixed(2)}) |`,
      );
    }
    const ratioRow = (name: string, r: Ratio, bold: (s: string) => string) =>
      `| ${bold(name)} | ${c.connections} | ${bold(times(r.reqPerSec))} | ${times(r.p50Ms)} | ${bold(times(r.p99Ms))} | | ${times(r.cpuMsPerRequest)} | | | |`;
    for (const r of c.ratios) lines.push(ratioRow(r.name, r.ratio, r.to === 'baseline' ? (s) => `**${s}**` : (s) => s));
  }
  lines.push('');
  const m = memory;
  lines.push('RSS of each server process (VmRSS before and after the load; VmHWM, the peak):', '');
  for (const [t, r] of Object.entries(m) as [Target, NonNullable<MemorySummary[Target]>][]) {
    lines.push(`- ${TARGET_NAMES[t]}: ${mib(r.beforeLoad.vmRssBytes)} before, ${mib(r.afterLoad.vmRssBytes)} after, peak ${mib(r.afterLoad.vmHwmBytes)}`);
  }
  lines.push('', 'Where the servers’ CPU went (medians over the rounds): ms per request by thread, and the GC pauses of each measured run', '');
  for (const c of configs) {
    for (const [t, s] of Object.entries(c.targets) as [Target, TargetSummary][]) {
      const threads = Object.entries(s.cpuMsPerRequestByThread)
        .filter(([, v]) => v >= 0.005)
        .sort((a, b) => b[1] - a[1])
        .map(([name, v]) => `${name} ${v.toFixed(2)}`)
        .join(', ');
      const gc = ['minor', 'major', 'incremental', 'weakcb']
        .filter((k) => (s.gc[k] ?? 0) > 0)
        .map((k) => `${k} ×${Math.round(s.gc[k]!)} (${((s.gc[`${k}_seconds`] ?? 0) * 1000).toFixed(0)} ms)`)
        .join(', ');
      lines.push(`- ${t} at ${c.connections}: ${threads}; GC ${gc || 'none'}`);
    }
  }
  lines.push('');
  for (const c of configs) {
    const pgwarden = c.targets.pgwarden;
    if (pgwarden === undefined) continue;
    const p99 = pgwarden.p99Ms.median;
    lines.push(
      `- issue target p99 ≤ ${P99_TARGET_MS} ms at ${c.connections} scraper${c.connections === 1 ? '' : 's'}: ` +
        `${p99 <= P99_TARGET_MS ? 'met' : 'not met'} (median p99 ${ms(p99)} ms; worst round ${ms(pgwarden.p99Ms.max)} ms)`,
    );
  }
  return lines.join('\n');
}
