// Runs jobs on their cron schedules. Every run is first claimed in the catalog for its slot (one replica
// runs it), then takes the job's advisory lock (no two runs of one job at once, on any replica). On start,
// an overdue job runs at once. stop() stops scheduling, lets running jobs finish within a grace period,
// then aborts them — they record themselves as aborted.
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { JobLocks } from './locks.js';
import type { JobSpec, RunCoordinator } from './types.js';

export interface SchedulerOptions {
  jobs: JobSpec[];
  timezone: string;
  coordinator: RunCoordinator;
  locks: JobLocks;
  /** Names this replica in job_runs.claimed_by: `host:pid`. */
  owner: string;
  logger: Logger;
  now?: () => Date;
}

export type RunNowOutcome = 'started' | 'busy' | 'unknown-job' | 'stopping';

export interface Scheduler {
  start(): Promise<void>;
  /** Stops scheduling; waits up to `graceMs` for running jobs, then aborts them and waits for them to record it. */
  stop(graceMs: number): Promise<void>;
  /** Starts a job now, outside its schedule; resolves once it started (not when it finished). */
  runNow(name: string, params?: Record<string, string>): Promise<RunNowOutcome>;
  /** Names of the jobs running in this process. */
  active(): string[];
  readonly running: boolean;
  /** When each job runs next, for status pages and readiness. */
  nextRuns(): { job: string; next: Date | null }[];
}

interface ActiveRun {
  controller: AbortController;
  done: Promise<void>;
}

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { coordinator, locks, owner, logger } = options;
  const now = options.now ?? (() => new Date());
  const byName = new Map(options.jobs.map((j) => [j.name, j]));
  const tasks = new Map<string, ScheduledTask>();
  const active = new Map<string, ActiveRun>();
  let running = false;
  let stopping = false;

  /** Claims the slot, takes the lock, runs. Resolves with the run's completion promise, or why it did not start. */
  async function launch(job: JobSpec, slot: Date, reason: 'scheduled' | 'catch-up' | 'manual', params: Record<string, string> = {}): Promise<RunNowOutcome> {
    if (stopping) return 'stopping';
    if (reason !== 'manual') {
      let claimed: boolean;
      try {
        claimed = await coordinator.claim(job.name, slot, owner);
      } catch (error) {
        logger.error({ err: error, job: job.name }, 'cannot claim the job slot in the catalog; skipping this run');
        return 'busy';
      }
      if (!claimed) {
        logger.debug({ job: job.name, slot }, 'another replica runs this slot');
        return 'busy';
      }
    }
    const release = await locks.tryLock(job.name).catch((error: unknown) => {
      logger.error({ err: error, job: job.name }, 'cannot take the job lock in the catalog');
      return undefined;
    });
    if (!release) {
      logger.warn({ job: job.name }, 'the previous run of this job is still in progress; skipping');
      if (reason !== 'manual') await coordinator.finish(job.name, slot, 'skipped', 'previous run still in progress').catch(() => {});
      return 'busy';
    }
    const controller = new AbortController();
    const done = (async () => {
      const started = performance.now();
      logger.info({ job: job.name, reason, slot }, 'job started');
      let outcome: 'succeeded' | 'failed' | 'aborted' = 'succeeded';
      let detail: string | undefined;
      try {
        await job.run({ signal: controller.signal, scheduledFor: slot, reason, params });
      } catch (error) {
        outcome = controller.signal.aborted ? 'aborted' : 'failed';
        detail = errorMessage(error);
        logger.error({ job: job.name, err: error }, `job ${outcome}`);
      } finally {
        await release().catch(() => {});
        active.delete(job.name);
      }
      if (reason !== 'manual') await coordinator.finish(job.name, slot, outcome, detail).catch(() => {});
      logger.info({ job: job.name, outcome, seconds: Math.round(performance.now() - started) / 1000 }, 'job finished');
    })();
    active.set(job.name, { controller, done });
    return 'started';
  }

  function intervalOf(task: ScheduledTask): number | undefined {
    const [a, b] = task.getNextRuns(2);
    return a && b ? b.getTime() - a.getTime() : undefined;
  }

  return {
    get running() {
      return running;
    },

    async start() {
      running = true;
      for (const job of options.jobs) {
        const task = cron.createTask(
          job.schedule,
          async (ctx) => {
            // The slot is the nominal fire time, identical on every replica: it keys the election.
            const slot = new Date(Math.floor(ctx.date.getTime() / 1000) * 1000);
            await launch(job, slot, 'scheduled');
          },
          { name: job.name, timezone: options.timezone, noOverlap: false },
        );
        tasks.set(job.name, task);
        await task.start();
      }
      for (const job of options.jobs) {
        const task = tasks.get(job.name)!;
        const interval = intervalOf(task);
        if (interval === undefined || !job.overdue) continue;
        try {
          if (await job.overdue(interval)) {
            // The missed slot (the previous occurrence) is the same on every replica, so only one catches up.
            const next = task.getNextRun() ?? now();
            const missedSlot = new Date(Math.floor((next.getTime() - interval) / 1000) * 1000);
            logger.info({ job: job.name, missedSlot }, 'job is overdue: running it now');
            await launch(job, missedSlot, 'catch-up');
          }
        } catch (error) {
          logger.error({ err: error, job: job.name }, 'cannot tell whether the job is overdue');
        }
      }
    },

    async stop(graceMs) {
      stopping = true;
      for (const task of tasks.values()) await task.destroy();
      tasks.clear();
      const runs = [...active.values()];
      if (runs.length > 0) {
        logger.info({ jobs: [...active.keys()], graceMs }, 'waiting for running jobs to finish');
        const finished = await Promise.race([
          Promise.all(runs.map((r) => r.done)).then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), graceMs).unref()),
        ]);
        if (!finished) {
          logger.warn({ jobs: [...active.keys()] }, 'grace period over: aborting running jobs');
          for (const run of active.values()) run.controller.abort(new Error('pgwarden is shutting down'));
          await Promise.all([...active.values()].map((r) => r.done));
        }
      }
      running = false;
    },

    async runNow(name, params) {
      const job = byName.get(name);
      if (!job) return 'unknown-job';
      return launch(job, now(), 'manual', params);
    },

    active: () => [...active.keys()],

    nextRuns: () => options.jobs.map((j) => ({ job: j.name, next: tasks.get(j.name)?.getNextRun() ?? null })),
  };
}
