// Turns the performance benchmark's runs into the README table (targets as ratios of medians), the SVG chart
// drawn from the same figures, and the README section between its markers.
import { readFile, writeFile } from 'node:fs/promises';
import type { OpSummary, Ratios } from './base-backup-report.js';
import { type Spread, spread } from './bench-run.js';

export type Op = 'floor' | 'zstd3Pipeline' | 'gzip6Pipeline' | 'pgwardenZstd' | 'pgwardenGzip6' | 'verifyByHand' | 'pgwardenVerify' | 'pgRestoreJ2' | 'pgwardenRestoreJ2';

export interface Run {
  op: Op;
  scale: number;
  round: number;
  wallSeconds: number;
  /** pgwarden backups: startup, dump, verify, finish (from the catalog's backup_logs). */
  phases?: Record<string, number>;
  storedBytes?: number;
  rawBytes?: number;
  /** The pgwarden node process. */
  peakRssBytes?: number;
  /** Child processes (pg_dump, zstd, pigz, pg_restore …) by name, apart from pgwarden's own. */
  childRss: Record<string, number>;
  backupId?: string;
  /** 1-minute load average as the run started, and CPU others used during it: the noise. */
  load: number;
  otherCpuSeconds: number;
}

export interface BaseResults {
  compression: string;
  file: string;
  results: { ops: OpSummary[]; ratios: Ratios };
}

export interface PerfResults {
  machine: {
    date: string;
    cpus: number;
    cpuModel: string;
    memoryBytes: number;
    kernel: string;
    node: string;
    postgres: string;
    tools: Record<string, string>;
    commit: string;
    loadBefore: number;
  };
  rounds: number;
  fullScale: number;
  databases: { scale: number; databaseBytes: number }[];
  runs: Run[];
  base: BaseResults[];
  loadAfter: number;
  minutes: number;
}

export interface Row {
  what: string;
  pgwarden: string;
  baseline: string;
  ratio: number;
  target: string;
  met: boolean;
  /** A comparison with no target of the issue's: it says what bounds a row above it. */
  reference?: true;
  /** For the chart: the two medians compared (seconds or bytes), and the target ratio. */
  chart?: { label: string; pgwarden: number; baseline: number; limit: number; unit: 's' | 'MB' };
}

const s = (x: Spread) => `${x.median.toFixed(1)} s (${x.min.toFixed(1)}–${x.max.toFixed(1)})`;
const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;

/** The rows of the table, in the issue's order. */
export function perfRows(r: PerfResults): Row[] {
  const at = (op: Op, scale = r.fullScale) => r.runs.filter((x) => x.op === op && x.scale === scale && x.round > 0);
  const wall = (op: Op, scale?: number) => spread(at(op, scale).map((x) => x.wallSeconds));
  const phase = (op: Op, name: string, scale?: number) => spread(at(op, scale).map((x) => x.phases?.[name] ?? Number.NaN));
  const bytes = (op: Op, scale?: number) => spread(at(op, scale).map((x) => x.storedBytes ?? Number.NaN)).median;
  const rows: Row[] = [];
  const compare = (what: string, a: Spread, b: Spread, limit: number, baselineName: string, chartLabel: string) => {
    const ratio = a.median / b.median;
    rows.push({ what, pgwarden: s(a), baseline: `${baselineName}: ${s(b)}`, ratio, target: `≤ ${limit.toFixed(2)}×`, met: ratio <= limit, chart: { label: chartLabel, pgwarden: a.median, baseline: b.median, limit, unit: 's' } });
  };
  const floor = wall('floor');
  compare('Full backup, zstd 3 + AES-GCM: dump phase (the read-back verification runs beside it)', phase('pgwardenZstd', 'dump'), floor, 1.15, '`pg_dump -Fc -Z0 > file`', 'full zstd (dump)');
  compare('… the whole command (start-up, dump, the read-back verification)', wall('pgwardenZstd'), floor, 1.15, '`pg_dump -Fc -Z0 > file`', 'full zstd (whole)');
  const byHand = wall('zstd3Pipeline');
  if (Number.isFinite(byHand.median)) {
    const dump = phase('pgwardenZstd', 'dump');
    rows.push({
      what: '… dump phase against the same compression by hand (what bounds it: zstd 3 on the cores pg_dump leaves)',
      pgwarden: s(dump),
      baseline: `\`pg_dump -Fc -Z0 | zstd -3 -T2 > file\`: ${s(byHand)} (${(byHand.median / floor.median).toFixed(2)}× the floor)`,
      ratio: dump.median / byHand.median,
      target: 'reference',
      met: true,
      reference: true,
    });
  }
  const zstdBytes = bytes('pgwardenZstd');
  const gzipBytes = bytes('gzip6Pipeline');
  rows.push({
    what: 'Stored bytes, zstd 3 + AES-GCM',
    pgwarden: mb(zstdBytes),
    baseline: `\`pg_dump -Fc -Z0 | gzip -6\`: ${mb(gzipBytes)}`,
    ratio: zstdBytes / gzipBytes,
    target: '≤ 1.00×',
    met: zstdBytes <= gzipBytes,
    chart: { label: 'stored bytes zstd', pgwarden: zstdBytes / 1e6, baseline: gzipBytes / 1e6, limit: 1, unit: 'MB' },
  });
  const gzip = wall('gzip6Pipeline');
  compare('Full backup, gzip 6 (pigz) + AES-GCM: dump phase', phase('pgwardenGzip6', 'dump'), gzip, 0.7, '`pg_dump -Fc -Z0 | gzip -6`', 'full gzip 6 (dump)');
  compare('… the whole command', wall('pgwardenGzip6'), gzip, 0.7, '`pg_dump -Fc -Z0 | gzip -6`', 'full gzip 6 (whole)');
  // A backup reads itself back beside the dump, so its read-through has no time of its own: `pgwarden verify`
  // repeats it alone, and reports it.
  compare('Verification read-through of the zstd backup, as `pgwarden verify <id>` reports it (stat, decrypt, SHA-256, zstd -d, pg_restore)', phase('pgwardenVerify', 'readThrough'), wall('verifyByHand'), 1.15, '`zstd -dc file | pg_restore -f /dev/null`', 'verify (read-through)');
  compare('… `pgwarden verify <id>`: the whole command (start-up, catalog, manifest rewrite)', wall('pgwardenVerify'), wall('verifyByHand'), 1.15, '`zstd -dc file | pg_restore -f /dev/null`', 'verify command (whole)');
  compare('Logical restore `restore --jobs 2` (whole command, row counts included)', wall('pgwardenRestoreJ2'), wall('pgRestoreJ2'), 1.1, '`pg_restore -j 2` of the uncompressed dump', 'restore -j 2');

  for (const base of r.base) {
    const op = (name: string) => base.results.ops.find((o) => o.op === name);
    const ours = op('pgwarden');
    const theirs = op('pgbackrest2');
    if (ours && theirs) {
      compare(`Base backup, ${base.compression}, backup.jobs 2 (whole command: baseMethod auto, which reads the data directory here; WAL by pg_waldump)`, ours.wall, theirs.wall, 1.0, `pgBackRest full, process-max 2`, `base ${base.compression}`);
      compare(`… the read phase alone`, ours.phases['stream'] ?? ours.wall, theirs.wall, 1.0, 'pgBackRest full, process-max 2', `base ${base.compression} (read)`);
      const a = ours.storedBytes ?? Number.NaN;
      const b = theirs.storedBytes ?? Number.NaN;
      rows.push({ what: `… stored bytes`, pgwarden: mb(a), baseline: `pgBackRest: ${mb(b)}`, ratio: a / b, target: '≤ 1.10×', met: a / b <= 1.1 });
    }
    const restore = op('pgwardenRestore');
    const theirRestore = op('pgbackrestRestore2');
    if (restore && theirRestore) {
      compare(`restore-pitr --latest --start (${base.compression} backup and WAL)`, restore.wall, theirRestore.wall, 1.25, 'pgBackRest restore pm 2 + start + recovery', `restore-pitr ${base.compression}`);
    }
  }

  // Memory and linear cost, from the zstd backups at every scale.
  const scales = [...new Set(r.runs.map((x) => x.scale))].sort((a, b) => a - b);
  const rss = scales.map((scale) => ({ scale, bytes: Math.max(...at('pgwardenZstd', scale).map((x) => x.peakRssBytes ?? 0)) }));
  const big = rss.filter((x) => x.scale >= 1);
  if (big.length > 0) {
    const worst = Math.max(...big.map((x) => x.bytes));
    const spreadRatio = Math.max(...big.map((x) => x.bytes)) / Math.min(...big.map((x) => x.bytes));
    rows.push({
      what: 'Peak RSS of the pgwarden process (zstd backup), by database size',
      pgwarden: big.map((x) => `${x.scale} GB: ${mb(x.bytes)}`).join(', '),
      baseline: `children apart: ${childSummary(at('pgwardenZstd'))}`,
      ratio: spreadRatio,
      target: '≤ 150 MB, within 1.10× of each other',
      met: worst <= 150e6 && spreadRatio <= 1.1,
    });
  }
  const throughput = scales.map((scale) => ({ scale, mbps: spread(at('pgwardenZstd', scale).map((x) => (x.rawBytes ?? 0) / 1e6 / (x.phases?.['dump'] ?? Number.NaN))).median }));
  if (throughput.length > 1) {
    const ratio = Math.max(...throughput.map((x) => x.mbps)) / Math.min(...throughput.map((x) => x.mbps));
    rows.push({
      what: 'Throughput of the dump phase (plain MB/s), by database size',
      pgwarden: throughput.map((x) => `${x.scale} GB: ${x.mbps.toFixed(0)} MB/s`).join(', '),
      baseline: 'the same at every size',
      ratio,
      target: 'within 1.15× of each other',
      met: ratio <= 1.15,
    });
  }
  return rows;
}

function childSummary(runs: Run[]): string {
  const peaks: Record<string, number> = {};
  for (const run of runs) for (const [name, bytes] of Object.entries(run.childRss)) peaks[name] = Math.max(peaks[name] ?? 0, bytes);
  return Object.entries(peaks)
    .filter(([name]) => !['bash', 'sh'].includes(name))
    .map(([name, bytes]) => `${name} ${mb(bytes)}`)
    .join(', ');
}

export function formatPerfReport(r: PerfResults): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`Measured ${m.date.slice(0, 10)} on ${m.cpus} × ${m.cpuModel}, ${(m.memoryBytes / 1024 ** 3).toFixed(0)} GiB RAM, Linux ${m.kernel}, Node ${m.node}, ${m.postgres}, ${Object.values(m.tools).join(', ')}; pgwarden ${m.commit}.`);
  lines.push(
    `Generated hotel database (jsonb, bytea, arrays, partitioned bookings): ${r.databases.map((d) => `${(d.databaseBytes / 1e9).toFixed(2)} GB`).join(', ')} on disk; ` +
      `fsync on; ${r.rounds} interleaved rounds after an untimed warm-up, medians (range); encryption on for every pgwarden run. ` +
      `Load average ${m.loadBefore.toFixed(2)} before the run and ${r.loadAfter.toFixed(2)} at its end (its own processes included); the whole run took ${r.minutes.toFixed(0)} min.`,
  );
  lines.push('');
  lines.push('| what | pgwarden | baseline (same run) | ratio | target | |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const row of perfRows(r)) {
    const verdict = row.reference ? '' : row.met ? 'met' : '**missed**';
    const cells = [row.what, row.pgwarden, row.baseline, Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}×` : '–', row.target, verdict];
    lines.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** A horizontal bar chart: per comparison, pgwarden's median against the baseline's, with the target marked. */
export function performanceSvg(r: PerfResults): string {
  const rows = perfRows(r).filter((row) => row.chart);
  const width = 860;
  const labelWidth = 200;
  const barMax = width - labelWidth - 140;
  const rowHeight = 44;
  const top = 56;
  const height = top + rows.length * rowHeight + 40;
  const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  parts.push(`<title>pgwarden performance against its baselines (${esc(r.machine.date.slice(0, 10))})</title>`);
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(`<text x="12" y="22" font-size="15" font-weight="600">pgwarden against the same work by hand (medians, ${r.rounds} rounds, ${r.machine.cpus} cores)</text>`);
  parts.push(`<rect x="12" y="34" width="12" height="10" fill="#2b6cb0"/><text x="30" y="43">pgwarden</text>`);
  parts.push(`<rect x="100" y="34" width="12" height="10" fill="#a0aec0"/><text x="118" y="43">baseline</text>`);
  parts.push(`<line x1="200" y1="39" x2="216" y2="39" stroke="#c53030" stroke-width="2" stroke-dasharray="3 2"/><text x="222" y="43">target (ratio × baseline)</text>`);
  rows.forEach((row, i) => {
    const c = row.chart!;
    const y = top + i * rowHeight;
    const scaleMax = Math.max(c.pgwarden, c.baseline, c.baseline * c.limit) || 1;
    const w = (v: number) => Math.max(1, (v / scaleMax) * barMax);
    const unit = (v: number) => (c.unit === 's' ? `${v.toFixed(1)} s` : `${Math.round(v)} MB`);
    parts.push(`<text x="12" y="${y + 18}">${esc(c.label)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${w(c.pgwarden).toFixed(1)}" height="14" fill="${row.met ? '#2b6cb0' : '#dd6b20'}"/>`);
    parts.push(`<text x="${(labelWidth + w(c.pgwarden) + 6).toFixed(1)}" y="${y + 15}">${unit(c.pgwarden)} (${row.ratio.toFixed(2)}×)</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 20}" width="${w(c.baseline).toFixed(1)}" height="14" fill="#a0aec0"/>`);
    parts.push(`<text x="${(labelWidth + w(c.baseline) + 6).toFixed(1)}" y="${y + 31}">${unit(c.baseline)}</text>`);
    const limitX = labelWidth + w(c.baseline * c.limit);
    parts.push(`<line x1="${limitX.toFixed(1)}" y1="${y + 1}" x2="${limitX.toFixed(1)}" y2="${y + 37}" stroke="#c53030" stroke-width="2" stroke-dasharray="3 2"/>`);
  });
  parts.push(`<text x="12" y="${height - 14}" fill="#4a5568">Orange: a target missed. Written by test/bench/performance.bench.ts from its own results (${esc(r.machine.date)}).</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const BEGIN = '<!-- performance:begin (written by npm run bench:perf) -->';
const END = '<!-- performance:end -->';

/** Replaces the README section between the performance markers with `table`. */
export async function updateReadme(path: string, table: string): Promise<void> {
  const text = await readFile(path, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin === -1 || end === -1 || end < begin) throw new Error(`${path} has no performance markers (${BEGIN} … ${END})`);
  await writeFile(path, `${text.slice(0, begin + BEGIN.length)}\n${table}\n${text.slice(end)}`);
}
