// Turns the runs of the base-backup benchmark into figures: median and range per operation, the ratios of
// medians (pgwarden against pg_basebackup -z and pgBackRest, restore-pitr against pgBackRest restore), the
// stream/verification split of pgwarden's backups, CPU per process, and the Markdown table for a closing note.
import { type Spread, spread } from './bench-run.js';

export type Operation = 'pgwarden' | 'basebackup' | 'pgbackrest1' | 'pgbackrest2' | 'pgwardenRestore' | 'pgbackrestRestore1' | 'pgbackrestRestore2';

/** What each operation ran, at the compression of the run (`zstd:3`) and pgwarden's backup.jobs. */
export function operationNames(compression = 'gzip:6', jobs = 1): Record<Operation, string> {
  return {
    pgwarden: `A. \`pgwarden backup base\` (${compression}, backup.jobs ${jobs})`,
    basebackup: `B. \`pg_basebackup -Ft --compress=client-${compression} -X none -c fast\``,
    pgbackrest1: `C. pgBackRest full, ${compression}, process-max 1`,
    pgbackrest2: `C. pgBackRest full, ${compression}, process-max 2`,
    pgwardenRestore: 'D. `pgwarden restore-pitr --latest --start`',
    pgbackrestRestore1: 'E. `pgbackrest restore` pm 1 + start until promoted',
    pgbackrestRestore2: 'E. `pgbackrest restore` pm 2 + start until promoted',
  };
}
const OPERATION_NAMES = operationNames();

export interface OpRun {
  op: Operation;
  round: number;
  /** Whole operation: process start → exit (backups), → the restored server accepts writes (restores). */
  wallSeconds: number;
  /** Bytes stored (backups). */
  storedBytes?: number;
  /** Backups: raw tar bytes (pgwarden) or the backup's original size (pgBackRest). */
  rawBytes?: number;
  /**
   * Seconds per phase. pgwarden backup: startup (process start → precheck logged), stream (precheck → dump:
   * pg_basebackup through gzip into storage, fsynced), verify (dump → verify: read back, unpack, WAL collected,
   * pg_verifybackup), finish (verify → exit). Restores: files (laying out the data directory), recovery
   * (server start → recovery finished and promoted).
   */
  phases: Record<string, number>;
  /** CPU seconds per process name over the whole run (`main`/`threads`: the pgwarden node process), `server` for PostgreSQL. */
  cpuSeconds: Record<string, number>;
  /** pgwarden backups: CPU seconds per process in the stream and in the verify phase. */
  phaseCpu?: Record<string, Record<string, number>>;
  /** Peak RSS (VmHWM) per process name (the pgwarden node process as `node`). */
  peakRssBytes: Record<string, number>;
  /** pgwarden runs: node main thread in the stream phase: busiest second and mean, as a fraction of a core. */
  mainThread?: { peak: number; mean: number; threadsMean: number };
  /** Restores: WAL files the server restored from the archive (server log "restored log file"). */
  walRestored?: number;
  /** restore-pitr: runs of its restore_command (files restored + "not in the archive" answers in the server log). */
  restoreCommandRuns?: number;
  /** CPU seconds used by everything else on the machine meanwhile: the noise. */
  otherCpuSeconds: number;
  id?: string;
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  node: string;
  postgres: string;
  pgBasebackup: string;
  pgbackrest: string;
  /** The pgwarden source measured. */
  commit: string;
  settings: Record<string, string>;
}

export interface DatabaseInfo {
  name: string;
  scale: number;
  databaseBytes: number;
  rows: Record<string, number>;
}

export interface OpSummary {
  op: Operation;
  runs: number;
  wall: Spread;
  phases: Record<string, Spread>;
  storedBytes: number | undefined;
  rawBytes: number | undefined;
  cpu: Record<string, number>;
  phaseCpu: Record<string, Record<string, number>> | undefined;
  peakRssBytes: Record<string, number>;
  mainThread: { peak: number; mean: number; threadsMean: number } | undefined;
  walRestored: number | undefined;
  restoreCommandRuns: number | undefined;
  otherLoad: Spread;
}

/** Seconds one restore_command run takes for one archived segment. */
export interface RestoreCommandCost {
  /** The newest segment of each tool's own archive (the archives are disjoint). */
  segments: { pgwarden: string; pgbackrest: string };
  runs: number;
  pgwardenWalFetch: Spread;
  pgbackrestArchiveGet: Spread;
}

export interface Ratios {
  /** pgwarden total / pg_basebackup -z; the target is ≤ TARGET_RATIO. */
  vsBasebackup: number;
  /** pgwarden's stream phase alone / pg_basebackup -z. */
  streamVsBasebackup: number;
  vsPgbackrest1: number;
  vsPgbackrest2: number;
  streamVsPgbackrest1: number;
  streamVsPgbackrest2: number;
  restoreVsPgbackrest1: number;
  restoreVsPgbackrest2: number;
  /** restore-pitr's file phase / pgBackRest's, process-max 1 and 2. */
  restoreFilesVsPgbackrest1: number;
  restoreFilesVsPgbackrest2: number;
  /** The same ratios within each round (both runs of a pair minutes apart), to show how far noise moves them. */
  perRound: Record<'vsBasebackup' | 'vsPgbackrest1' | 'vsPgbackrest2' | 'restoreVsPgbackrest1' | 'restoreVsPgbackrest2', number[]>;
}

export const TARGET_RATIO = 1.1;

export function summarise(runs: OpRun[]): { ops: OpSummary[]; ratios: Ratios } {
  const ops = (Object.keys(OPERATION_NAMES) as Operation[])
    .map((op) => summariseOp(op, runs.filter((r) => r.op === op)))
    .filter((s): s is OpSummary => s !== undefined);
  const get = (op: Operation) => ops.find((o) => o.op === op);
  const wall = (op: Operation) => get(op)?.wall.median ?? Number.NaN;
  const phase = (op: Operation, name: string) => get(op)?.phases[name]?.median ?? Number.NaN;
  return {
    ops,
    ratios: {
      vsBasebackup: wall('pgwarden') / wall('basebackup'),
      streamVsBasebackup: phase('pgwarden', 'stream') / wall('basebackup'),
      vsPgbackrest1: wall('pgwarden') / wall('pgbackrest1'),
      vsPgbackrest2: wall('pgwarden') / wall('pgbackrest2'),
      streamVsPgbackrest1: phase('pgwarden', 'stream') / wall('pgbackrest1'),
      streamVsPgbackrest2: phase('pgwarden', 'stream') / wall('pgbackrest2'),
      restoreVsPgbackrest1: wall('pgwardenRestore') / wall('pgbackrestRestore1'),
      restoreVsPgbackrest2: wall('pgwardenRestore') / wall('pgbackrestRestore2'),
      restoreFilesVsPgbackrest1: phase('pgwardenRestore', 'files') / phase('pgbackrestRestore1', 'files'),
      restoreFilesVsPgbackrest2: phase('pgwardenRestore', 'files') / phase('pgbackrestRestore2', 'files'),
      perRound: {
        vsBasebackup: paired(runs, 'pgwarden', 'basebackup'),
        vsPgbackrest1: paired(runs, 'pgwarden', 'pgbackrest1'),
        vsPgbackrest2: paired(runs, 'pgwarden', 'pgbackrest2'),
        restoreVsPgbackrest1: paired(runs, 'pgwardenRestore', 'pgbackrestRestore1'),
        restoreVsPgbackrest2: paired(runs, 'pgwardenRestore', 'pgbackrestRestore2'),
      },
    },
  };
}

function paired(runs: OpRun[], a: Operation, b: Operation): number[] {
  const rounds = [...new Set(runs.map((r) => r.round))].sort((x, y) => x - y);
  return rounds.flatMap((round) => {
    const x = runs.find((r) => r.op === a && r.round === round);
    const y = runs.find((r) => r.op === b && r.round === round);
    return x && y ? [x.wallSeconds / y.wallSeconds] : [];
  });
}

function summariseOp(op: Operation, runs: OpRun[]): OpSummary | undefined {
  if (runs.length === 0) return undefined;
  const phaseNames = new Set(runs.flatMap((r) => Object.keys(r.phases)));
  const stored = runs.map((r) => r.storedBytes).filter((x): x is number => x !== undefined);
  const raw = runs.map((r) => r.rawBytes).filter((x): x is number => x !== undefined);
  const withPhaseCpu = runs.map((r) => r.phaseCpu).filter((x): x is Record<string, Record<string, number>> => x !== undefined);
  const main = runs.map((r) => r.mainThread).filter((x): x is NonNullable<OpRun['mainThread']> => x !== undefined);
  const wal = runs.map((r) => r.walRestored).filter((x): x is number => x !== undefined);
  const calls = runs.map((r) => r.restoreCommandRuns).filter((x): x is number => x !== undefined);
  return {
    op,
    runs: runs.length,
    wall: spread(runs.map((r) => r.wallSeconds)),
    phases: Object.fromEntries([...phaseNames].map((name) => [name, spread(runs.map((r) => r.phases[name] ?? 0))])),
    storedBytes: stored.length > 0 ? spread(stored).median : undefined,
    rawBytes: raw.length > 0 ? spread(raw).median : undefined,
    cpu: medianOf(runs.map((r) => r.cpuSeconds)),
    phaseCpu:
      withPhaseCpu.length > 0
        ? Object.fromEntries([...new Set(withPhaseCpu.flatMap((p) => Object.keys(p)))].map((phase) => [phase, medianOf(withPhaseCpu.map((p) => p[phase] ?? {}))]))
        : undefined,
    peakRssBytes: maxOf(runs.map((r) => r.peakRssBytes)),
    mainThread:
      main.length > 0
        ? { peak: spread(main.map((m) => m.peak)).median, mean: spread(main.map((m) => m.mean)).median, threadsMean: spread(main.map((m) => m.threadsMean)).median }
        : undefined,
    walRestored: wal.length > 0 ? spread(wal).median : undefined,
    restoreCommandRuns: calls.length > 0 ? spread(calls).median : undefined,
    otherLoad: spread(runs.map((r) => r.otherCpuSeconds / r.wallSeconds)),
  };
}

function medianOf(records: Record<string, number>[]): Record<string, number> {
  const names = new Set(records.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...names].map((name) => [name, spread(records.map((r) => r[name] ?? 0)).median]));
}

function maxOf(records: Record<string, number>[]): Record<string, number> {
  const names = new Set(records.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...names].map((name) => [name, Math.max(...records.map((r) => r[name] ?? 0))]));
}

// ---- text ----

const MiB = 1024 * 1024;
const s = (seconds: number) => `${seconds.toFixed(1)} s`;
const range = (x: Spread) => `${s(x.median)} (${x.min.toFixed(1)}–${x.max.toFixed(1)})`;
const range2 = (x: Spread) => `${x.median.toFixed(2)} s (${x.min.toFixed(2)}–${x.max.toFixed(2)})`;
const mb = (bytes: number | undefined) => (bytes === undefined ? '' : `${(bytes / 1e6).toFixed(0)} MB`);
const mib = (bytes: number) => `${Math.round(bytes / MiB)} MiB`;
const cpu = (seconds: number | undefined) => (seconds === undefined || seconds === 0 ? '–' : seconds.toFixed(1));
const ratio = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const pct = (x: number) => `${Math.round(x * 100)} %`;

export interface ReportContext {
  machine: Machine;
  database: DatabaseInfo;
  /** Bytes pg_basebackup streams: the whole cluster (pgwarden's raw tar size). */
  clusterBytes: number;
  rounds: number;
  warmup: string;
  archiving: string;
  restoreCommands: RestoreCommandCost;
  /** `zstd:3`; absent in results written before compression was a choice (gzip:6). */
  compression?: string | undefined;
  jobs?: number | undefined;
}

export function formatReport(ctx: ReportContext, ops: OpSummary[], ratios: Ratios): string {
  const { machine, database } = ctx;
  const OPERATION_NAMES = operationNames(ctx.compression, ctx.jobs);
  const get = (op: Operation) => ops.find((o) => o.op === op);
  const lines: string[] = [];
  lines.push(`### Base backup and PITR restore: pgwarden vs \`pg_basebackup -z\` and pgBackRest (${machine.date})`);
  lines.push('');
  lines.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${(machine.memoryBytes / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${machine.kernel}, Node ${machine.node}, ` +
      `${machine.postgres}, ${machine.pgBasebackup}, ${machine.pgbackrest}; pgwarden at ${machine.commit}. Backups, repository, restores and temp space on the same disk.`,
  );
  lines.push(
    `Database: generated hotel database "${database.name}" (scale ${database.scale}), ${(database.databaseBytes / 1e9).toFixed(2)} GB on disk; ` +
      `the cluster streamed by pg_basebackup is ${(ctx.clusterBytes / 1e9).toFixed(2)} GB. Cluster: ${Object.entries(machine.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}.`,
  );
  lines.push(`Method: ${ctx.rounds} interleaved rounds, median (min–max), ratios of medians. ${ctx.warmup} ${ctx.archiving}`);
  lines.push('');
  lines.push('| operation | wall | phases | stored | pgwarden ÷ this | peak RSS |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  const ratioFor: Partial<Record<Operation, string>> = {
    basebackup: `**${ratio(ratios.vsBasebackup)}** (stream phase alone ${ratio(ratios.streamVsBasebackup)}; target ≤ ${TARGET_RATIO.toFixed(2)})`,
    pgbackrest1: `**${ratio(ratios.vsPgbackrest1)}** (stream ${ratio(ratios.streamVsPgbackrest1)})`,
    pgbackrest2: `**${ratio(ratios.vsPgbackrest2)}** (stream ${ratio(ratios.streamVsPgbackrest2)})`,
    pgbackrestRestore1: `**${ratio(ratios.restoreVsPgbackrest1)}** (files ${ratio(ratios.restoreFilesVsPgbackrest1)})`,
    pgbackrestRestore2: `**${ratio(ratios.restoreVsPgbackrest2)}** (files ${ratio(ratios.restoreFilesVsPgbackrest2)})`,
  };
  for (const o of ops) {
    const phases = Object.entries(o.phases)
      .map(([name, x]) => `${name} ${range(x)}`)
      .join('; ');
    const calls = o.restoreCommandRuns === undefined ? '' : ` (${o.restoreCommandRuns} restore_command runs)`;
    const wal = o.walRestored === undefined ? '' : `; ${o.walRestored} WAL files restored${calls}`;
    const rss = Object.entries(o.peakRssBytes)
      .filter(([, bytes]) => bytes > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([name, bytes]) => `${name === 'node' ? '**node** ' : `${name} `}${mib(bytes)}`)
      .join(', ');
    lines.push(`| ${OPERATION_NAMES[o.op]} | ${range(o.wall)} | ${phases}${wal} | ${mb(o.storedBytes)} | ${ratioFor[o.op] ?? ''} | ${rss} |`);
  }
  lines.push('');
  const a = get('pgwarden');
  if (a) {
    const verifyShare = (a.phases['verify']?.median ?? 0) / a.wall.median;
    const ok = ratios.vsBasebackup <= TARGET_RATIO;
    lines.push(
      `Target pgwarden ÷ pg_basebackup -z ≤ ${TARGET_RATIO.toFixed(2)}: ${ok ? 'met' : '**missed**'} (${ratio(ratios.vsBasebackup)}` +
        `${ok ? '' : `, ${pct(ratios.vsBasebackup / TARGET_RATIO - 1)} over`}). Verification is ${pct(verifyShare)} of pgwarden's wall time; ` +
        `the stream phase alone is ${ratio(ratios.streamVsBasebackup)} × pg_basebackup -z.`,
    );
    if (a.mainThread) {
      lines.push(
        `pgwarden node process in the stream phase: main thread mean ${pct(a.mainThread.mean)} of a core (busiest second ${pct(a.mainThread.peak)}), ` +
          `other threads (libuv pool: zlib, SHA-256) mean ${pct(a.mainThread.threadsMean)}. Peak RSS (VmHWM) of the node process alone: ${mib(a.peakRssBytes['node'] ?? 0)} ` +
          `(backup), ${mib(get('pgwardenRestore')?.peakRssBytes['node'] ?? 0)} (restore-pitr); children are listed separately.`,
      );
    }
  }
  const pr = ratios.perRound;
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
  lines.push(
    `The same ratios within each round: A ÷ B ${list(pr.vsBasebackup)}; A ÷ C pm1 ${list(pr.vsPgbackrest1)}; A ÷ C pm2 ${list(pr.vsPgbackrest2)}; ` +
      `D ÷ E pm1 ${list(pr.restoreVsPgbackrest1)}; D ÷ E pm2 ${list(pr.restoreVsPgbackrest2)}.`,
  );
  const rc = ctx.restoreCommands;
  lines.push(
    `restore_command, one run for one archived segment (as the recovering server runs it, a new process per file; ${rc.runs} runs each, interleaved): ` +
      `\`pgwarden wal-fetch\` ${range2(rc.pgwardenWalFetch)}, \`pgbackrest archive-get\` ${range2(rc.pgbackrestArchiveGet)}.`,
  );
  const load = (x: Spread) => `${x.median.toFixed(2)} (max ${x.max.toFixed(2)})`;
  lines.push(`Noise — cores kept busy by other processes during the timed runs, median (max): ${ops.map((o) => `${o.op} ${load(o.otherLoad)}`).join(', ')}.`);
  lines.push('');
  lines.push(
    'CPU seconds (medians) per process. "node main"/"node threads": the pgwarden node process (JS thread / libuv pool and V8 threads); ' +
      '"server": the source cluster\'s PostgreSQL processes (walsender streaming the tar, archiver); "cores busy" = all CPU ÷ wall.',
  );
  lines.push('');
  lines.push('| operation | phase | wall | node main | node threads | pg_basebackup | tar | pg_verifybackup | pgbackrest | server | cores busy |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const o of ops) {
    const rows: [string, number, Record<string, number>][] =
      o.phaseCpu && o.op === 'pgwarden'
        ? [
            ['stream', o.phases['stream']?.median ?? 0, o.phaseCpu['stream'] ?? {}],
            ['verify', o.phases['verify']?.median ?? 0, o.phaseCpu['verify'] ?? {}],
            ['whole', o.wall.median, o.cpu],
          ]
        : o.op.endsWith('Restore1') || o.op.endsWith('Restore2') || o.op === 'pgwardenRestore'
          ? [['files', o.phases['files']?.median ?? 0, o.cpu]]
          : [['whole', o.wall.median, o.cpu]];
    for (const [phase, wall, c] of rows) {
      const total = Object.values(c).reduce((sum, x) => sum + x, 0);
      lines.push(
        `| ${o.op} | ${phase} | ${s(wall)} | ${cpu(c['main'])} | ${cpu(c['threads'])} | ${cpu(c['pg_basebackup'])} | ${cpu(c['tar'])} | ` +
          `${cpu(c['pg_verifybackup'])} | ${cpu(c['pgbackrest'])} | ${cpu(c['server'])} | ${wall > 0 ? (total / wall).toFixed(2) : '–'} |`,
      );
    }
  }
  return lines.join('\n');
}
