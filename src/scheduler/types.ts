// Contracts of the scheduler: a job is a name, a cron pattern and a function that honours an abort signal.

export interface JobContext {
  /** Aborted on shutdown once the grace period is over: the job must stop and record that it was aborted. */
  signal: AbortSignal;
  /** The slot this run was scheduled for (or the time it was started by hand or by catch-up). */
  scheduledFor: Date;
  reason: 'scheduled' | 'catch-up' | 'manual';
  /** Set by whoever started a manual run, e.g. `{ backupId }` chosen by the API so it can answer with it. */
  params: Record<string, string>;
}

export interface JobSpec {
  /** Unique and stable: it keys the election of the replica that runs each slot. `full:hotel`, `health-check`. */
  name: string;
  /** Cron pattern, 5 fields or 6 with seconds. */
  schedule: string;
  run(ctx: JobContext): Promise<void>;
  /** True when the job is overdue at start (its last success is older than its interval): it then runs at once. */
  overdue?(interval: number): Promise<boolean>;
}

/** Decides which replica runs a slot; backed by the catalog in production. */
export interface RunCoordinator {
  /** True for exactly one caller per (job, slot). */
  claim(job: string, slot: Date, owner: string): Promise<boolean>;
  finish(job: string, slot: Date, outcome: 'succeeded' | 'failed' | 'aborted' | 'skipped', detail?: string): Promise<void>;
}
