// The scheduler on a real catalog, driven by per-second cron patterns: slots run once across replicas,
// overdue jobs catch up at start, no run overlaps another, and stop() aborts after its grace period.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino } from 'pino';
import { migrateCatalog } from '../../../src/catalog/migrate.js';
import { connect } from '../../../src/postgres/connection.js';
import { createCatalogCoordinator } from '../../../src/scheduler/coordinator.js';
import { createJobLocks } from '../../../src/scheduler/locks.js';
import { createScheduler, type Scheduler } from '../../../src/scheduler/scheduler.js';
import type { JobSpec } from '../../../src/scheduler/types.js';
import { clusterForSuite } from '../../helpers/postgres.js';

const logger = pino({ level: 'silent' });

describe('scheduler', () => {
  const cluster = clusterForSuite();

  async function catalog(t: { after(fn: () => unknown): unknown }, name: string) {
    const url = await cluster().createDatabase(name);
    const client = await connect(url, { purpose: 'catalog' });
    await migrateCatalog(client);
    await client.end();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    t.after(() => pool.end());
    return { url, pool };
  }

  function replica(url: string, pool: pg.Pool, owner: string, jobs: JobSpec[]): Scheduler {
    return createScheduler({
      jobs,
      timezone: 'UTC',
      coordinator: createCatalogCoordinator(pool),
      locks: createJobLocks(() => connect(url, { purpose: 'catalog' })),
      owner,
      logger,
    });
  }

  async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  it('runs each per-second slot exactly once across two replicas sharing a catalog', async (t) => {
    const { url, pool } = await catalog(t, 'sched_once');
    const runs: { owner: string; slot: number }[] = [];
    const job = (owner: string): JobSpec => ({
      name: 'tick',
      schedule: '* * * * * *',
      run: async ({ scheduledFor }) => {
        runs.push({ owner, slot: scheduledFor.getTime() });
      },
    });
    const a = replica(url, pool, 'a', [job('a')]);
    const b = replica(url, pool, 'b', [job('b')]);
    await Promise.all([a.start(), b.start()]);
    await until(() => runs.length >= 4, 10_000, 'four runs');
    await Promise.all([a.stop(1000), b.stop(1000)]);
    const slots = runs.map((r) => r.slot);
    assert.equal(new Set(slots).size, slots.length, `a slot ran twice: ${JSON.stringify(runs)}`);
    const { rows } = await pool.query<{ n: number; dup: number }>(
      `SELECT count(*)::int AS n, (count(*) - count(DISTINCT scheduled_for))::int AS dup FROM pgwarden.job_runs WHERE job = 'tick'`,
    );
    assert.equal(rows[0]?.dup, 0);
    assert.ok(rows[0]!.n >= 4);
  });

  it('runs an overdue job at start, once, even with two replicas starting together', async (t) => {
    const { url, pool } = await catalog(t, 'sched_catchup');
    let catchUps = 0;
    const job: JobSpec = {
      name: 'nightly',
      schedule: '0 2 * * *',
      run: async ({ reason }) => {
        if (reason === 'catch-up') catchUps++;
      },
      overdue: async (interval) => {
        assert.equal(interval, 24 * 3600 * 1000);
        return true;
      },
    };
    const a = replica(url, pool, 'a', [job]);
    const b = replica(url, pool, 'b', [job]);
    await Promise.all([a.start(), b.start()]);
    await until(() => catchUps === 1, 5000, 'the catch-up run');
    await sleep(200);
    await Promise.all([a.stop(1000), b.stop(1000)]);
    assert.equal(catchUps, 1);
    const { rows } = await pool.query<{ scheduled_for: Date }>(`SELECT scheduled_for FROM pgwarden.job_runs WHERE job = 'nightly'`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.scheduled_for.toISOString().slice(11, 19), '02:00:00', 'the missed slot is the previous 02:00');
  });

  it('never overlaps runs of one job: a manual run while it runs is refused as busy', async (t) => {
    const { url, pool } = await catalog(t, 'sched_busy');
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    const job: JobSpec = {
      name: 'slow',
      schedule: '0 0 1 1 *',
      run: async () => {
        started++;
        await gate;
      },
    };
    const a = replica(url, pool, 'a', [job]);
    const b = replica(url, pool, 'b', [job]);
    await Promise.all([a.start(), b.start()]);
    assert.equal(await a.runNow('slow'), 'started');
    await until(() => started === 1, 5000, 'the first run');
    assert.equal(await a.runNow('slow'), 'busy');
    assert.equal(await b.runNow('slow'), 'busy', 'the other replica sees the lock too');
    assert.equal(await a.runNow('nope'), 'unknown-job');
    release();
    await until(() => a.active().length === 0, 5000, 'the run to end');
    assert.equal(await b.runNow('slow'), 'started');
    await Promise.all([a.stop(1000), b.stop(1000)]);
    assert.equal(started, 2);
  });

  it('stop() waits for a running job within the grace period, then aborts it', async (t) => {
    const { url, pool } = await catalog(t, 'sched_stop');
    let sawAbort = false;
    const job: JobSpec = {
      name: 'long',
      schedule: '0 0 1 1 *',
      run: ({ signal }) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new Error('aborted'));
          });
        }),
    };
    const s = replica(url, pool, 'a', [job]);
    await s.start();
    assert.equal(await s.runNow('long'), 'started');
    const t0 = Date.now();
    await s.stop(300);
    assert.ok(Date.now() - t0 >= 290, 'waited for the grace period');
    assert.equal(sawAbort, true);
    assert.equal(s.running, false);
    assert.equal(await s.runNow('long'), 'stopping');
  });
});
