// A run whose process died (kill -9, power loss) leaves a 'running' row and maybe temporary files. Its run
// lock died with its catalog session, so a free lock means nobody is working on it: mark it failed
// ('interrupted') and remove what it wrote. Rows whose lock is held belong to live runs and are left alone.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import { backupDir } from '../manifest/layout.js';
import type { StorageDriver } from '../storage/types.js';
import { createRunLog } from './run-log.js';

export interface RecoverContext {
  catalog: Catalog;
  catalogClient: () => Promise<pg.Client>;
  storage: StorageDriver;
  prefix: string;
  logger: Logger;
}

/** Returns the ids of the runs it marked interrupted. */
export async function recoverInterruptedRuns(ctx: RecoverContext): Promise<string[]> {
  const running = await ctx.catalog.runningBackups();
  if (running.length === 0) return [];
  const client = await ctx.catalogClient();
  const recovered: string[] = [];
  try {
    for (const run of running) {
      if (!(await ctx.catalog.tryLockRun(client, run.backupId))) continue;
      try {
        const kind = run.type === 'wal' ? 'full' : run.type;
        const dir = backupDir(ctx.prefix, run.database, kind, run.backupId);
        const removed = await ctx.storage.removeIncomplete(`${dir}/`);
        // No manifest means the run never committed: whatever else it wrote is not a backup.
        if (!(await ctx.storage.stat(`${dir}/manifest.json`))) {
          for (const object of await ctx.storage.list(`${dir}/`)) {
            await ctx.storage.remove(object.path);
            removed.push(object.path);
          }
        }
        const who = run.host ? ` (host ${run.host}, pid ${run.pid})` : '';
        const message = `interrupted: the process running this backup${who} stopped before it finished`;
        await ctx.catalog.finishRun(run.backupId, { status: 'failed', error: message });
        const log = createRunLog({ catalog: ctx.catalog, logger: ctx.logger, backupId: run.backupId, database: run.database, operation: 'recover' });
        await log('interrupted', 'warn', message, { removed });
        recovered.push(run.backupId);
      } finally {
        await ctx.catalog.unlockRun(client, run.backupId);
      }
    }
  } finally {
    await client.end().catch(() => {});
  }
  return recovered;
}
