// The jobs `pgwarden serve` schedules, built from the config: backups per database and kind (their own
// schedule or the global one), restore drills, retention cleanup and the health check.
import type { Pgwarden } from '../app/open.js';
import { runBaseBackup } from '../backup/base.js';
import { runFullBackup } from '../backup/full.js';
import { runIncrementalBackup } from '../backup/incremental.js';
import type { BackupResult } from '../backup/types.js';
import type { WalAccess } from '../backup/wal-access.js';
import type { BackupType } from '../catalog/types.js';
import type { DatabaseConfig } from '../config/index.js';
import { syncCopies } from '../copies/sync.js';
import { runRestoreDrill } from '../drill/drill.js';
import { lastSuccessfulDrill } from '../drill/record.js';
import { PgwardenError } from '../errors.js';
import { cleanupContextFor, cleanupDatabases, runCleanup, summarizeProblems } from '../retention/cleanup.js';
import type { ProgressReporter } from '../pipeline/progress.js';
import type { JobSpec } from './types.js';

export interface JobHooks {
  /** After every job: refresh cached metrics (and evaluate alerts, once they exist). */
  afterJob(): Promise<void>;
  healthCheck(signal: AbortSignal): Promise<void>;
  /** Hears the bytes of running backups (the in-progress metric). */
  progress?: ProgressReporter | undefined;
}

export function backupJobName(kind: 'full' | 'base' | 'incremental', database: string): string {
  return `${kind}:${database}`;
}

export function fullBackupJobName(database: string): string {
  return backupJobName('full', database);
}

/** The cleanup job's name, also the lock `pgwarden cleanup` takes so the two never run side by side. */
export const CLEANUP_JOB = 'cleanup';

export function drillJobName(database: string): string {
  return `drill:${database}`;
}

type Runner = (db: DatabaseConfig, signal: AbortSignal, options: { backupId?: string | undefined; actor?: string | undefined }) => Promise<BackupResult>;

/** Full backups for every database; base and incremental for those with WAL archiving (pitr: true). */
export function buildJobs(app: Pgwarden, hooks: JobHooks, wal: WalAccess): JobSpec[] {
  const { config } = app;
  const jobs: JobSpec[] = [];
  const runners: Record<'full' | 'base' | 'incremental', Runner> = {
    full: (db, signal, options) => runFullBackup({ ...app, signal, progress: hooks.progress }, db, options),
    base: (db, signal, options) => runBaseBackup({ ...app, signal, wal, progress: hooks.progress }, db, options),
    incremental: (db, signal, options) => runIncrementalBackup({ ...app, signal, wal }, db, options),
  };
  for (const db of config.databases) {
    const kinds = db.pitr ? (['full', 'base', 'incremental'] as const) : (['full'] as const);
    for (const kind of kinds) {
      jobs.push({
        name: backupJobName(kind, db.name),
        schedule: db.schedules?.[kind] ?? config.schedules[kind],
        async run({ signal, params, reason }) {
          try {
            const actor = params['actor'] ?? (reason === 'manual' ? undefined : 'scheduler');
            const result = await runners[kind](db, signal, { backupId: params['backupId'], actor });
            if (result.status !== 'succeeded') throw new PgwardenError(`${kind} backup ${result.backup_id} of "${db.name}" failed: ${result.error}`);
          } finally {
            await hooks.afterJob();
          }
        },
        async overdue(interval) {
          // An incremental seals WAL since a base backup: with none yet, the base job's catch-up comes first.
          if (kind === 'incremental') {
            const bases = await app.catalog.listBackups({ database: db.name, type: 'base', status: 'succeeded', limit: 1 });
            if (bases.length === 0) return false;
          }
          const [last] = await app.catalog.listBackups({ database: db.name, type: kind as BackupType, status: 'succeeded', limit: 1 });
          const at = last?.finishedAt ?? null;
          return at === null || app.now().getTime() - at.getTime() > interval;
        },
      });
    }
  }
  // Restore drills (drills.enabled): the newest full backup of each database restored, compared and dropped.
  for (const db of config.drills.enabled ? config.databases : []) {
    jobs.push({
      name: drillJobName(db.name),
      schedule: config.drills.schedule,
      async run({ signal, params, reason }) {
        try {
          const actor = params['actor'] ?? (reason === 'manual' ? 'api' : 'scheduler');
          const [result] = await runRestoreDrill({ ...app, signal }, { database: db.name, actor });
          if (result?.status === 'failed') throw new PgwardenError(`restore drill of "${db.name}" failed: ${result.error}`);
        } finally {
          await hooks.afterJob();
        }
      },
      async overdue(interval) {
        // Nothing to drill before the first full backup: its own catch-up comes first, the next slot drills it.
        const [full] = await app.catalog.listBackups({ database: db.name, type: 'full', status: 'succeeded', limit: 1 });
        if (!full) return false;
        const at = await lastSuccessfulDrill(app.pool, db.name);
        return at === null || app.now().getTime() - at.getTime() > interval;
      },
    });
  }
  // Retention (schedules.cleanup): the same code as `pgwarden cleanup`, over every database and target.
  jobs.push({
    name: CLEANUP_JOB,
    schedule: config.schedules.cleanup,
    async run({ signal, params, reason }) {
      try {
        const actor = params['actor'] ?? (reason === 'manual' ? 'api' : 'scheduler');
        const report = await runCleanup(cleanupContextFor(app, wal, signal), { databases: cleanupDatabases(config, undefined), dryRun: false, actor });
        if (!report.ok) throw new PgwardenError(`cleanup finished with problems${summarizeProblems(report)}`);
      } finally {
        await hooks.afterJob();
      }
    },
  });
  // With several targets, what one missed while down is copied over once it is back.
  if (app.storage.targets.length > 1) {
    jobs.push({
      name: 'storage-sync',
      schedule: config.schedules.storageSync,
      async run({ signal }) {
        try {
          const report = await syncCopies({ ...app, prefix: config.storage.prefix, walDatabases: config.databases.filter((d) => d.pitr).map((d) => d.name), signal });
          if (report.failed.length > 0 || report.walFailed.length > 0) {
            throw new PgwardenError(`storage sync left ${report.failed.length} backup copies and ${report.walFailed.length} WAL copies missing: ${[...report.failed, ...report.walFailed].map((f) => `${f.target}: ${f.error}`).join('; ')}`);
          }
        } finally {
          await hooks.afterJob();
        }
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
