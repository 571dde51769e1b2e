// Runs a kind of backup for every configured database (or one named), one after another.
import type { Pgwarden } from '../app/open.js';
import { UsageError } from '../errors.js';
import type { ProgressReporter } from '../pipeline/progress.js';
import { runBaseBackup } from './base.js';
import { runFullBackup } from './full.js';
import { runIncrementalBackup } from './incremental.js';
import type { BackupResult } from './types.js';
import type { WalAccess } from './wal-access.js';

export type BackupKindName = 'full' | 'base' | 'incremental';

export interface RunBackupsOptions {
  kind: BackupKindName;
  database?: string | undefined;
  signal?: AbortSignal | undefined;
  actor?: string | undefined;
  backupId?: string | undefined;
  /** Needed by base and incremental backups. */
  wal?: WalAccess | undefined;
  progress?: ProgressReporter | undefined;
}

export async function runBackups(app: Pgwarden, options: RunBackupsOptions): Promise<BackupResult[]> {
  const databases = options.database ? app.config.databases.filter((d) => d.name === options.database) : app.config.databases;
  if (databases.length === 0) {
    throw new UsageError(`no database named "${options.database}" in the config`, {
      hints: [`configured: ${app.config.databases.map((d) => d.name).join(', ')}`],
    });
  }
  const results: BackupResult[] = [];
  for (const db of databases) {
    if (options.signal?.aborted) break;
    const ctx = { ...app, signal: options.signal, progress: options.progress };
    const runOptions = { actor: options.actor, backupId: options.backupId };
    if (options.kind === 'full') {
      results.push(await runFullBackup(ctx, db, runOptions));
    } else {
      if (!options.wal) throw new Error(`runBackups: a ${options.kind} backup needs WAL access`);
      const walCtx = { ...ctx, wal: options.wal };
      results.push(options.kind === 'base' ? await runBaseBackup(walCtx, db, runOptions) : await runIncrementalBackup(walCtx, db, runOptions));
    }
  }
  return results;
}
