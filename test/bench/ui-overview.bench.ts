// How long the status page's overview takes to build and serve with 20 databases and 50,000 catalog rows
// (issue #10: ≤ 100 ms server-side). A throwaway cluster (fsync on) holds the benchmark catalog of the metrics
// benchmark (test/bench/metrics-catalog.ts) plus firing alerts and one degraded storage target; the figures come
// from the real catalog collector. Measured: the overview built and rendered in-process (what the server does),
// and GET / over loopback with a session cookie through express. Prints p50/p99 and the overview queries' plans.
//   npm run bench:ui [-- --requests 300]
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import express from 'express';
import pg from 'pg';
import pino from 'pino';
import { migrateCatalog } from '../../src/catalog/migrate.js';
import { parseConfig } from '../../src/config/index.js';
import { refreshFromCatalog } from '../../src/metrics/snapshot.js';
import type { MetricsState } from '../../src/metrics/types.js';
import { startCluster } from '../../src/postgres/cluster.js';
import { createStatusSource } from '../../src/status/index.js';
import { NEWEST_COPIES_SQL } from '../../src/status/overview.js';
import { createStatusPage } from '../../src/ui/routes.js';
import { createSessionStore } from '../../src/ui/sessions.js';
import { overviewPage } from '../../src/ui/views/overview.js';
import { BENCH_DATABASES, populateCatalog } from './metrics-catalog.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '300' }, rows: { type: 'string', default: '50000' } } });
const REQUESTS = Number(values.requests);
const ROWS = Number(values.rows);
const TARGET_MS = 100;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
};
const fmt = (s: { p50: number; p99: number; max: number }) => `p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, max ${s.max.toFixed(2)} ms`;

const cluster = await startCluster({ settings: { fsync: 'on', synchronous_commit: 'on' } });
let server: import('node:http').Server | undefined;
const pool = new pg.Pool({ connectionString: cluster.url(), max: 4 });
try {
  const client = await pool.connect();
  try {
    await migrateCatalog(client);
    const catalog = await populateCatalog(client, ROWS, BENCH_DATABASES);
    console.log(`catalog: ${catalog.rows} rows, ${catalog.databases} databases, ${catalog.oldest} … ${catalog.newest}`);
    // Two firing alerts, and the newest full of one database missing from a second target.
    await client.query(`INSERT INTO pgwarden.alert_events (fingerprint, rule, severity, labels, summary, status, started_at, last_sent_at)
      VALUES ('f1', 'BackupSizeDrop', 'warning', '{"database":"billing","type":"full"}', 'the last full backup of billing is 41 % of the usual size', 'firing', now(), now()),
             ('f2', 'ReplicationLagHigh', 'critical', '{"database":"bookings","standby":"replica1"}', 'standby replica1 of bookings is 7 min behind', 'firing', now(), now())`);
    await client.query(`UPDATE pgwarden.database_backups SET storage = storage || '{"s3":{"status":"failed","path":"x","error":"503 Slow Down"}}'
      WHERE backup_id = (SELECT backup_id FROM pgwarden.database_backups WHERE database = 'guests' AND type = 'full' AND status = 'succeeded' ORDER BY created_at DESC LIMIT 1)`);
    await client.query('ANALYZE');
    for (const [name, sql, params] of [
      ['newest copies', NEWEST_COPIES_SQL, [[...BENCH_DATABASES]]],
      ['firing alerts', "SELECT id FROM pgwarden.alert_events WHERE status = 'firing' ORDER BY started_at", []],
    ] as const) {
      const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) ${sql}`, [...params])).rows.map((r) => r['QUERY PLAN']);
      console.log(`\nEXPLAIN ${name}:\n  ${plan.join('\n  ')}`);
      assert.ok(!plan.some((l) => /Seq Scan on database_backups/.test(l)), `${name} reads database_backups without an index`);
    }
  } finally {
    client.release();
  }

  const config = parseConfig(`
catalog: { url: "${cluster.url()}" }
databases:
${BENCH_DATABASES.map((d, i) => `  - { name: ${d}, url: "postgres://backup@10.0.0.${i}/${d}"${i % 4 === 0 ? ', pitr: true' : ''}${i < 5 ? ', standbys: [ { name: replica1, url: "postgres://m@10.0.1.1/x" } ]' : ''} }`).join('\n')}
storage: { local: { path: /tmp/pgwarden-bench-ui } }
server: { port: 0, tokens: [ { name: ops, token: "bench-token-0123456789abcdef" } ] }
`);
  const now = () => new Date();
  const snapshot = await refreshFromCatalog(pool, config, { now });
  const state: MetricsState = {
    catalog: snapshot,
    databases: BENCH_DATABASES.map((d) => ({ database: d, up: d !== 'spa', error: d === 'spa' ? 'connection refused' : null })),
    replication: new Map(
      BENCH_DATABASES.slice(0, 5).map((d, i) => [
        d,
        {
          checkedAt: now(),
          primaryError: null,
          primaryInRecovery: false,
          connectedCount: 1,
          standbys: [{ name: 'replica1', configured: true, connected: true, primary: null, standby: null, standbyError: null, lagSeconds: i * 40, lagBytes: i * 1e6 }],
        },
      ]),
    ),
    storage: [{ target: 'local', up: true, error: null, usedBytes: 8e11, freeBytes: 2e12 }],
    wal: BENCH_DATABASES.filter((_, i) => i % 4 === 0).map((d) => ({ database: d, lastSegmentAt: new Date(Date.now() - 90_000), lagBytes: 0 })),
  };
  const status = createStatusSource({ config, pool, catalog: { listBackups: async () => [] }, state: () => state, figuresAt: now, now });
  const viewer = { tokenName: 'ops', role: 'operate' as const, csrf: 'x' };

  const inProcess: number[] = [];
  let bytes = 0;
  for (let i = 0; i < REQUESTS + 30; i++) {
    const started = performance.now();
    const text = overviewPage(await status.overview(), viewer);
    if (i >= 30) inProcess.push(performance.now() - started);
    bytes = text.length;
  }

  const sessions = createSessionStore({ lifetimeMs: 3600_000, now });
  const { id } = sessions.create('ops');
  const app = express();
  app.use(createStatusPage({ config, logger: pino({ level: 'silent' }), status, actions: { runBackup: async () => ({ accepted: true, runs: [] }), verifyBackup: async () => assert.fail() }, sessions }));
  const listening = app.listen(0, '127.0.0.1');
  server = listening;
  await new Promise((r) => listening.once('listening', r));
  const url = `http://127.0.0.1:${(listening.address() as import('node:net').AddressInfo).port}/`;
  const overHttp: number[] = [];
  for (let i = 0; i < REQUESTS + 30; i++) {
    const started = performance.now();
    const response = await fetch(url, { headers: { accept: 'text/html', cookie: `pgwarden_session=${id}` } });
    assert.equal(response.status, 200);
    await response.text();
    if (i >= 30) overHttp.push(performance.now() - started);
  }

  const a = summary(inProcess);
  const b = summary(overHttp);
  console.log(`\noverview of ${BENCH_DATABASES.length} databases over ${ROWS} catalog rows (${(bytes / 1024).toFixed(1)} KiB of HTML), ${REQUESTS} runs each:`);
  console.log(`  built and rendered in-process: ${fmt(a)}`);
  console.log(`  GET / over loopback (session cookie, express): ${fmt(b)}`);
  console.log(`  target ≤ ${TARGET_MS} ms: ${b.p99 <= TARGET_MS ? 'met' : 'MISSED'} (p99 over HTTP)`);
} finally {
  server?.close();
  await pool.end();
  await cluster.destroy();
}
