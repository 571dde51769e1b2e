// Replication lag against a real primary and streaming standby: the probe and the metrics it feeds.
// Pausing replay while the primary writes must make the lag grow, resuming must bring it back, and a
// standby that is down must be reported as not connected. Waits poll with deadlines; nothing sleeps long.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createMetricsService, type MetricsService } from '../../../src/metrics/service.js';
import type { Queryable } from '../../../src/metrics/snapshot.js';
import { startTool } from '../../../src/postgres/run-tool.js';
import { type Standby, startStandby } from '../../../src/postgres/standby.js';
import { probeReplication } from '../../../src/replication/lag.js';
import type { StandbyReport } from '../../../src/replication/types.js';
import { clusterForSuite } from '../../helpers/postgres.js';
import { find, parseExposition, sampleValue } from '../../unit/metrics/exposition.js';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls `check` until it returns a value, or fails with the last state seen. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

// The replication collector never reads the catalog; anything that does is a bug this makes loud.
const noCatalog: Queryable = {
  query: () => Promise.reject(new Error('the replication tests have no catalog')),
};

describe('replication lag', () => {
  const primary = clusterForSuite();
  let standby: Standby | undefined;
  let service: MetricsService;

  before(async () => {
    standby = await startStandby(primary(), { name: 'replica1' });
    await primary().query('CREATE TABLE load (i int, pad text)');
    service = createMetricsService({
      catalogPool: noCatalog,
      config: {
        databases: [
          {
            name: 'hotel',
            url: primary().url(),
            standbys: [
              { name: 'replica1', url: standby.url() },
              // Configured, but never started: its URL refuses connections.
              { name: 'replica2', url: 'postgres://postgres@127.0.0.1:1/postgres' },
            ],
          },
        ],
      },
      logger: silent,
      processMetrics: false,
      probes: {},
    });
  });
  after(() => standby?.destroy());

  const write = (rows = 2000) => primary().query(`INSERT INTO load SELECT i, repeat('x', 200) FROM generate_series(1, ${rows}) i`);

  async function scrape() {
    await service.refreshReplication();
    return parseExposition(await service.render());
  }

  async function replica1(): Promise<StandbyReport> {
    const report = await probeReplication(primary().url(), [{ name: 'replica1', url: standby!.url() }]);
    assert.equal(report.primaryError, null);
    return report.standbys[0]!;
  }

  it('lists a streaming standby with lag series, and standbys_connected 1', async () => {
    await write();
    // The lag figures exist once the standby has reported its replay position (on a loaded machine, not at once).
    const deadline = Date.now() + 15_000;
    while ((await replica1()).lagBytes === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const e = await scrape();
    assert.equal(sampleValue(e, 'pgwarden_replication_standbys_connected', { database: 'hotel' }), 1);
    assert.equal(sampleValue(e, 'pgwarden_replication_standby_connected', { database: 'hotel', standby: 'replica1' }), 1);
    assert.ok(sampleValue(e, 'pgwarden_replication_lag_seconds', { database: 'hotel', standby: 'replica1' })! >= 0);
    assert.ok(sampleValue(e, 'pgwarden_replication_lag_bytes', { database: 'hotel', standby: 'replica1' })! >= 0);
    // The configured standby that is not there: connected 0, no lag figures.
    assert.equal(sampleValue(e, 'pgwarden_replication_standby_connected', { database: 'hotel', standby: 'replica2' }), 0);
    assert.deepEqual(find(e, 'pgwarden_replication_lag_seconds', { standby: 'replica2' }), []);
    assert.equal(sampleValue(e, 'pgwarden_collector_success', { collector: 'replication' }), 1);

    const report = await replica1();
    assert.equal(report.connected, true);
    assert.equal(report.primary?.state, 'streaming');
    assert.equal(report.standby?.inRecovery, true);
    assert.equal(report.standby?.replayPaused, false);
  });

  it('replay lag in seconds and bytes grows while replay is paused and the primary writes, and falls back after resuming', async () => {
    // The replay delay is measured from the last replayed commit: make sure there is one.
    await write();
    await eventually('the standby has replayed a transaction and caught up', async () => {
      const r = await replica1();
      return r.standby?.lastReplayAt !== null && r.lagBytes === 0 ? r : undefined;
    });

    await standby!.pauseReplay();
    await eventually('replay is paused', async () => ((await replica1()).standby?.replayPaused ? true : undefined));
    await write();
    const first = await scrape();
    const labels = { database: 'hotel', standby: 'replica1' };
    const secondsAtStart = sampleValue(first, 'pgwarden_replication_lag_seconds', labels)!;
    const bytesAtStart = sampleValue(first, 'pgwarden_replication_lag_bytes', labels)!;
    assert.ok(bytesAtStart > 0, `bytes behind after a write while paused: ${bytesAtStart}`);

    // Keep writing for about two seconds.
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      await write();
      await sleep(200);
    }
    const paused = await scrape();
    const secondsPaused = sampleValue(paused, 'pgwarden_replication_lag_seconds', labels)!;
    const bytesPaused = sampleValue(paused, 'pgwarden_replication_lag_bytes', labels)!;
    assert.ok(secondsPaused >= secondsAtStart + 1.5, `lag seconds grew from ${secondsAtStart} to ${secondsPaused}`);
    assert.ok(bytesPaused > bytesAtStart, `lag bytes grew from ${bytesAtStart} to ${bytesPaused}`);
    const report = await replica1();
    assert.equal(report.standby?.replayPaused, true);
    assert.ok(report.standby!.replayDelaySeconds! >= 1.5, `the standby's own delay: ${report.standby?.replayDelaySeconds}`);

    await standby!.resumeReplay();
    const caughtUp = await eventually('the lag falls back after resuming', async () => {
      const e = await scrape();
      const seconds = sampleValue(e, 'pgwarden_replication_lag_seconds', labels);
      const bytes = sampleValue(e, 'pgwarden_replication_lag_bytes', labels);
      return bytes === 0 && seconds !== undefined && seconds < secondsPaused / 2 ? { seconds, bytes } : undefined;
    });
    assert.equal(caughtUp.bytes, 0);
  });

  it('reports connected standbys that are not in the config, and does not count a WAL archiver as one', async (t) => {
    // pg_receivewal (what WAL archiving runs) streams like a standby and is listed in pg_stat_replication.
    const walDir = await mkdtemp(join(tmpdir(), 'pgwarden-receivewal-'));
    t.after(() => rm(walDir, { recursive: true, force: true }));
    const receiver = startTool(join(primary().binDir, 'pg_receivewal'), ['-D', walDir, '-d', `host=127.0.0.1 port=${primary().port} user=postgres`, '--no-loop']);
    t.after(async () => {
      receiver.kill('SIGKILL');
      await receiver.done.catch(() => {});
    });
    await eventually('pg_receivewal streams', async () => {
      const { rows } = await primary().query("SELECT 1 FROM pg_stat_replication WHERE application_name = 'pg_receivewal'");
      return rows.length > 0 ? true : undefined;
    });

    const report = await probeReplication(primary().url(), []);
    assert.equal(report.connectedCount, 1);
    assert.deepEqual(
      report.standbys.map((s) => [s.name, s.configured, s.connected]),
      [['replica1', false, true]],
    );
  });

  it('reports an unreachable primary and standby per server instead of failing the probe', async () => {
    const report = await probeReplication('postgres://postgres@127.0.0.1:1/postgres', [
      { name: 'replica1', url: standby!.url() },
      { name: 'replica2', url: 'postgres://postgres@127.0.0.1:1/postgres' },
    ]);
    assert.match(report.primaryError ?? '', /cannot connect to the primary at postgres@127\.0\.0\.1:1\/postgres: connection refused/);
    assert.equal(report.connectedCount, null);
    assert.deepEqual(report.standbys.map((s) => s.connected), [null, null], 'unknown, not disconnected');
    assert.equal(report.standbys[0]?.standby?.inRecovery, true, "the reachable standby's own view is still there");
    assert.match(report.standbys[1]?.standbyError ?? '', /connection refused/);
  });

  it('a configured standby that is down is reported as not connected', async () => {
    await standby!.stop();
    const e = await eventually('the primary no longer lists the stopped standby', async () => {
      const scraped = await scrape();
      return sampleValue(scraped, 'pgwarden_replication_standby_connected', { database: 'hotel', standby: 'replica1' }) === 0 ? scraped : undefined;
    });
    assert.equal(sampleValue(e, 'pgwarden_replication_standbys_connected', { database: 'hotel' }), 0);
    assert.deepEqual(find(e, 'pgwarden_replication_lag_seconds', { standby: 'replica1' }), []);
    assert.deepEqual(find(e, 'pgwarden_replication_lag_bytes', { standby: 'replica1' }), []);
    const report = await probeReplication(primary().url(), [{ name: 'replica1', url: standby!.url() }]);
    assert.equal(report.standbys[0]?.connected, false);
    assert.match(report.standbys[0]?.standbyError ?? '', /cannot connect to standby "replica1" .*connection refused/);
  });
});
