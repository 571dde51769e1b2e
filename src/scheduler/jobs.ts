// The jobs `pgwarden serve` schedules, built from the config: a full backup per database (its own schedule
// or the global one) and the health check. Kinds that arrive with later issues (base, incremental,
// cleanup) join this list when they exist.
import type { Pgwarden } from '../app/open.js';
import { runFullBackup } from '../backup/full.js';
import { PgwardenError } from '../errors.js';
import type { JobSpec } from './types.js';

export interface JobHooks {
  /** After every job: refresh cached metrics (and evaluate alerts, once they exist). */
  afterJob(): Promise<void>;
  healthCheck(signal: AbortSignal): Promise<void>;
}

export function fullBackupJobName(database: string): string {
  return `full:${database}`;
}

export function buildJobs(app: Pgwarden, hooks: JobHooks): JobSpec[] {
  const { config } = app;
  const jobs: JobSpec[] = [];
  for (const db of config.databases) {
    jobs.push({
      name: fullBackupJobName(db.name),
      schedule: db.schedules?.full ?? config.schedules.full,
      async run({ signal, params, reason }) {
        try {
          const actor = params['actor'] ?? (reason === 'manual' ? undefined : 'scheduler');
          const result = await runFullBackup({ ...app, signal }, db, { backupId: params['backupId'], actor });
          if (result.status !== 'succeeded') throw new PgwardenError(`full backup ${result.backup_id} of "${db.name}" failed: ${result.error}`);
        } finally {
          await hooks.afterJob();
        }
      },
      async overdue(interval) {
        const [last] = await app.catalog.listBackups({ database: db.name, type: 'full', status: 'succeeded', limit: 1 });
        const at = last?.finishedAt ?? null;
        return at === null || app.now().getTime() - at.getTime() > interval;
      },
    });
  }
  jobs.push({
    name: 'health-check',
    schedule: config.schedules.healthCheck,
    run: async ({ signal }) => {
      await hooks.healthCheck(signal);
    },
  });
  return jobs;
}
