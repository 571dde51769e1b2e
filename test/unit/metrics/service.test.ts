// The metrics service without servers: scrapes share one render and never query the catalog, a failing
// or hanging collector costs only its own series, and refreshes requested meanwhile are not lost.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createMetricsService } from '../../../src/metrics/service.js';
import { COPIES_SQL, DURATIONS_SQL, type Queryable, SUMMARY_SQL, type SummaryRow } from '../../../src/metrics/snapshot.js';
import type { MetricsProbes } from '../../../src/metrics/types.js';
import type { ReplicationReport } from '../../../src/replication/types.js';
import { find, parseExposition, promtoolCheckMetrics, sampleValue } from './exposition.js';

const NOW = new Date('2026-11-25T12:00:00Z');
const config = {
  databases: [
    { name: 'hotel', url: 'postgres://u@127.0.0.1:1/hotel', standbys: [{ name: 'replica1', url: 'postgres://u@127.0.0.1:1/hotel' }] },
  ],
};
const silent = pino({ level: 'silent' });

function fakeClock() {
  let t = NOW.getTime();
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
  };
}

const summaryRow: SummaryRow = {
  database: 'hotel',
  type: 'full',
  succeeded: 3,
  failed: 1,
  last_verified_at: new Date('2026-11-25T02:10:00Z'),
  sizes: [1000, 1000, 1000],
  last_success_at: new Date('2026-11-25T02:10:00Z'),
  last_size: 1000,
  last_status: 'succeeded',
  expected_size: 1000,
};

/** A catalog pool that answers the three metrics queries, counts them, and can be made to fail or hang. */
function fakeCatalog() {
  const state = { queries: 0, mode: 'ok' as 'ok' | 'fail' | 'hang', gate: undefined as Promise<void> | undefined };
  const result = <R extends pg.QueryResultRow>(rows: unknown[]) => ({ rows, rowCount: rows.length, command: 'SELECT', oid: 0, fields: [] }) as unknown as pg.QueryResult<R>;
  const pool: Queryable = {
    async query<R extends pg.QueryResultRow>(text: string) {
      state.queries++;
      if (state.gate) await state.gate;
      if (state.mode === 'fail') throw new Error('catalog is down');
      if (state.mode === 'hang') await new Promise(() => {});
      if (text === SUMMARY_SQL) return result<R>([summaryRow]);
      if (text === DURATIONS_SQL) return result<R>([{ database: 'hotel', type: 'full', idx: 2, n: 3, seconds: 30 }]);
      if (text === COPIES_SQL) return result<R>([{ database: 'hotel', target: 'local', stored: 3, storedBytes: 3000, degraded: 1 }]);
      throw new Error(`unexpected query: ${text}`);
    },
  };
  return { pool, state };
}

function replicationReport(): ReplicationReport {
  return {
    checkedAt: NOW,
    primaryError: null,
    primaryInRecovery: false,
    connectedCount: 1,
    standbys: [{ name: 'replica1', configured: true, connected: true, primary: null, standby: null, standbyError: null, lagSeconds: 1.5, lagBytes: 4096 }],
  };
}

const okProbes: MetricsProbes = {
  databaseUp: async (db) => ({ database: db.name, up: true, error: null }),
  replication: async () => replicationReport(),
  storageUsage: async () => [{ target: 'local', up: true, error: null, usedBytes: 10, freeBytes: 20 }],
};

function service(overrides: { probes?: Partial<MetricsProbes>; collectorTimeoutMs?: number } = {}) {
  const clock = fakeClock();
  const catalog = fakeCatalog();
  const registry = new Registry();
  let renders = 0;
  const metricsOf = registry.metrics.bind(registry);
  registry.metrics = () => {
    renders++;
    return metricsOf();
  };
  const svc = createMetricsService({
    catalogPool: catalog.pool,
    config,
    clock,
    logger: silent,
    registry,
    probes: { ...okProbes, ...overrides.probes },
    processMetrics: false,
    collectorTimeoutMs: overrides.collectorTimeoutMs,
  });
  return { svc, clock, catalog, renders: () => renders };
}

describe('metrics service', () => {
  it('serves concurrent scrapes from one render, and re-renders after a second or a refresh', async () => {
    const { svc, clock, catalog, renders } = service();
    await svc.refresh();
    const queriesAfterRefresh = catalog.state.queries;

    const [a, b] = await Promise.all([svc.render(), svc.render()]);
    assert.equal(renders(), 1);
    assert.equal(a, b);
    await svc.render();
    assert.equal(renders(), 1, 'within a second the cached text is served');

    clock.advance(1_001);
    await svc.render();
    assert.equal(renders(), 2);

    await svc.refresh();
    await svc.render();
    assert.equal(renders(), 3, 'a refresh makes the next scrape render its figures');
    assert.equal(catalog.state.queries, queriesAfterRefresh + 3, 'scrapes never query the catalog');
  });

  it('renders what the collectors stored, with collector_success 1 and the refresh times', async () => {
    const { svc } = service();
    assert.equal(svc.lastRefresh, undefined);
    await svc.refresh();
    assert.deepEqual(svc.lastRefresh, NOW);
    const e = parseExposition(await svc.render());
    assert.equal(sampleValue(e, 'pgwarden_backup_runs_total', { database: 'hotel', type: 'full', result: 'failed' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_backup_age_seconds', { database: 'hotel', type: 'full' }), (9 * 60 + 50) * 60);
    assert.equal(sampleValue(e, 'pgwarden_replication_lag_seconds', { database: 'hotel', standby: 'replica1' }), 1.5);
    assert.equal(sampleValue(e, 'pgwarden_database_up', { database: 'hotel' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_storage_used_bytes', { target: 'local' }), 10);
    for (const collector of ['catalog', 'replication', 'database', 'storage']) {
      assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector }), 1, collector);
      assert.equal(sampleValue(e, 'pgwarden_metrics_last_refresh_timestamp_seconds', { collector }), NOW.getTime() / 1000);
    }
    assert.match(svc.contentType, /^text\/plain; version=0\.0\.4/);
  });

  it('a collector that throws loses only its own series and sets collector_success 0; the scrape still answers', async () => {
    const { svc, catalog } = service({
      probes: {
        replication: async () => {
          throw new Error('probe bug');
        },
      },
    });
    await svc.refresh();
    catalog.state.mode = 'fail';
    await svc.refresh();
    const text = await svc.render();
    const e = parseExposition(text);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'catalog' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'replication' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'database' }), 1);
    assert.deepEqual(e.samples.filter((s) => s.name.startsWith('pgwarden_backup_')), [], 'catalog series are absent, not stale');
    assert.deepEqual(e.samples.filter((s) => s.name.startsWith('pgwarden_replication_')), []);
    assert.equal(sampleValue(e, 'pgwarden_database_up', { database: 'hotel' }), 1, 'other collectors keep their series');
    // The catalog's last success is still shown, so staleness can be alerted on.
    assert.equal(sampleValue(e, 'pgwarden_metrics_last_refresh_timestamp_seconds', { collector: 'catalog' }), NOW.getTime() / 1000);
    const check = promtoolCheckMetrics(text);
    if (check.available) assert.equal(check.code, 0, check.output);
  });

  it('a collector that hangs times out and counts as failed, without holding up the others', async () => {
    const { svc, catalog } = service({ collectorTimeoutMs: 100 });
    catalog.state.mode = 'hang';
    const started = Date.now();
    await svc.refresh();
    assert.ok(Date.now() - started < 5_000);
    const e = parseExposition(await svc.render());
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'catalog' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'replication' }), 1);
  });

  it('an unreachable database is data, not a collector failure; an unreachable primary makes replication incomplete', async () => {
    const { svc } = service({
      probes: {
        databaseUp: async (db) => ({ database: db.name, up: false, error: 'connection refused' }),
        replication: async () => ({
          ...replicationReport(),
          primaryError: 'connection refused',
          connectedCount: null,
          standbys: [{ ...replicationReport().standbys[0]!, connected: null, lagSeconds: null, lagBytes: null }],
        }),
      },
    });
    await svc.refresh();
    const e = parseExposition(await svc.render());
    assert.equal(sampleValue(e, 'pgwarden_database_up', { database: 'hotel' }), 0);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'database' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'replication' }), 0);
    assert.deepEqual(find(e, 'pgwarden_replication_standbys_connected'), []);
  });

  it('a refresh asked for during a refresh runs once more afterwards, shared by every such caller', async () => {
    const { svc, catalog } = service();
    let open!: () => void;
    catalog.state.gate = new Promise((resolve) => {
      open = resolve;
    });
    const first = svc.refresh();
    const second = svc.refresh();
    const third = svc.refresh();
    assert.equal(second, third);
    catalog.state.gate = undefined;
    open();
    await Promise.all([first, second, third]);
    assert.equal(catalog.state.queries, 6, 'two refreshes of three queries each');
  });

  it('the lag loop refreshes replication alone, on its interval', async () => {
    let probes = 0;
    const clock = fakeClock();
    const catalog = fakeCatalog();
    const svc = createMetricsService({
      catalogPool: catalog.pool,
      config,
      clock,
      logger: silent,
      processMetrics: false,
      lagIntervalMs: 20,
      probes: {
        ...okProbes,
        replication: async () => {
          probes++;
          return replicationReport();
        },
      },
    });
    svc.start();
    const deadline = Date.now() + 5_000;
    while (probes < 3 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 10));
    await svc.stop();
    assert.ok(probes >= 3, `${probes} probes`);
    assert.equal(catalog.state.queries, 0, 'the lag loop does not read the catalog');
    const e = parseExposition(await svc.render());
    assert.equal(sampleValue(e, 'pgwarden_replication_lag_bytes', { database: 'hotel', standby: 'replica1' }), 4096);
  });
});
