// The /metrics benchmark's baselines, run as their own process: a bare prom-client Registry holding the same
// pgwarden_* families, label sets and values as pgwarden's /metrics (copied from a scrape of it) plus
// prom-client's default process metrics, as pgwarden has them. Served by express, no middleware:
//   GET /metrics         rendered per request — BENCHMARKS.md's "bare prom-client registry served by express"
//   GET /metrics-cached  rendered at most once a second, the text served from memory in between — the floor
// Usage: node metrics-baseline-server.js <pgwarden-metrics.txt> <pgwarden_* sample lines to match>
// Prints `baseline listening on http://127.0.0.1:PORT` once it serves.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { LINT_FAILING_DEFAULT_METRICS, METRIC_PREFIX } from '../../src/metrics/registry.js';
import { type ExpositionFamily, parseExposition } from './metrics-exposition.js';

const [textFile, target] = process.argv.slice(2);
if (textFile === undefined || !(Number(target) > 0)) {
  console.error('usage: node metrics-baseline-server.js <pgwarden-metrics.txt> <pgwarden_* sample lines>');
  process.exit(2);
}

const registry = new Registry();
// pgwarden serves the same defaults, minus the same three gauges (see createMetrics).
collectDefaultMetrics({ register: registry });
for (const name of LINT_FAILING_DEFAULT_METRICS) registry.removeSingleMetric(name);
const families = parseExposition(await readFile(textFile, 'utf8')).filter((f) => f.name.startsWith(METRIC_PREFIX));
for (const family of families) addFamily(registry, family);

// Only pgwarden's own families are matched: the default metrics come and go with each process (a GC kind seen,
// a handle type open) the same way in both, and the bench reports both totals as scraped. The families are
// copied exactly, so the padding is a safety net that should add nothing.
const have = countPgwardenSamples(await registry.metrics());
const missing = Number(target) - have;
if (missing > 0) {
  const padding = new Gauge({ name: 'bench_padding', help: 'Series that bring the sample count to pgwarden’s.', labelNames: ['i'], registers: [registry] });
  for (let i = 0; i < missing; i++) padding.set({ i: String(i) }, i);
}

const app = express();
// As pgwarden's app: no ETag hashing of every answer, no X-Powered-By.
app.disable('etag');
app.disable('x-powered-by');
app.get('/metrics', async (_req, res) => {
  const text = await registry.metrics();
  res.set('Content-Type', registry.contentType).send(text);
});

// The same text rendered once a second: concurrent scrapes share a render, later ones get its text.
let cached: { text: string; at: number } | undefined;
let rendering: Promise<string> | undefined;
const renderCached = (): Promise<string> => {
  if (cached !== undefined && Date.now() - cached.at < 1000) return Promise.resolve(cached.text);
  rendering ??= registry
    .metrics()
    .then((text) => {
      cached = { text, at: Date.now() };
      return text;
    })
    .finally(() => {
      rendering = undefined;
    });
  return rendering;
};
app.get('/metrics-cached', async (_req, res) => {
  const text = await renderCached();
  res.set('Content-Type', registry.contentType).send(text);
});

const server = createServer(app);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
process.stdout.write(`baseline listening on http://127.0.0.1:${port} (${Math.max(missing, 0)} padding series)\n`);

// A clean exit on SIGTERM, so `node --cpu-prof` writes its profile.
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});

function countPgwardenSamples(text: string): number {
  return text.split('\n').filter((line) => line.startsWith(METRIC_PREFIX)).length;
}

/** One prom-client metric of the family's type, with its label sets and values. */
function addFamily(register: Registry, family: ExpositionFamily): void {
  const registers = [register];
  if (family.type === 'histogram') {
    addHistogram(register, family);
    return;
  }
  // A metric without label names renders a 0 sample before any is set; a family pgwarden serves without
  // samples (no standbys: no lag) must render none.
  const seen = [...new Set(family.samples.flatMap((s) => Object.keys(s.labels)))];
  const labelNames = family.samples.length === 0 ? ['database'] : seen;
  if (family.type === 'counter') {
    const counter = new Counter({ name: family.name, help: family.help, labelNames, registers });
    for (const s of family.samples) counter.inc(s.labels, s.value);
    return;
  }
  const gauge = new Gauge({ name: family.name, help: family.help, labelNames, registers });
  for (const s of family.samples) gauge.set(s.labels, s.value);
}

/** Same buckets and label sets, with observations that give the same cumulative bucket counts. */
function addHistogram(register: Registry, family: ExpositionFamily): void {
  const bucketSamples = family.samples.filter((s) => s.name.endsWith('_bucket'));
  const buckets = [...new Set(bucketSamples.map((s) => Number(s.labels['le'])))].filter(Number.isFinite).sort((a, b) => a - b);
  const seen = [...new Set(bucketSamples.flatMap((s) => Object.keys(s.labels)))].filter((l) => l !== 'le');
  const labelNames = bucketSamples.length === 0 ? ['database'] : seen;
  const histogram = new Histogram({ name: family.name, help: family.help, labelNames, buckets, registers: [register] });
  const bySeries = new Map<string, { labels: Record<string, string>; cumulative: Map<number, number> }>();
  for (const s of bucketSamples) {
    const { le, ...labels } = s.labels;
    const key = JSON.stringify(labels);
    const series = bySeries.get(key) ?? { labels, cumulative: new Map<number, number>() };
    bySeries.set(key, series);
    series.cumulative.set(Number(le), s.value);
  }
  const top = buckets.at(-1) ?? 1;
  for (const { labels, cumulative } of bySeries.values()) {
    histogram.zero(labels);
    let below = 0;
    for (const le of [...buckets, Number.POSITIVE_INFINITY]) {
      const upTo = cumulative.get(le) ?? below;
      for (let n = below; n < upTo; n++) histogram.observe(labels, Number.isFinite(le) ? le : top * 2);
      below = upTo;
    }
  }
}
