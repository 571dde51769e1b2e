// Runs a kind of backup for every configured database (or one named), one after another.
import type { Pgwarden } from '../app/open.js';
import { UsageError } from '../errors.js';
import { runFullBackup } from './full.js';
import type { BackupResult } from './types.js';

export async function runBackups(app: Pgwarden, options: { kind: 'full'; database?: string | undefined; signal?: AbortSignal | undefined; actor?: string | undefined }): Promise<BackupResult[]> {
  const databases = options.database ? app.config.databases.filter((d) => d.name === options.database) : app.config.databases;
  if (databases.length === 0) {
    throw new UsageError(`no database named "${options.database}" in the config`, {
      hints: [`configured: ${app.config.databases.map((d) => d.name).join(', ')}`],
    });
  }
  const results: BackupResult[] = [];
  for (const db of databases) {
    if (options.signal?.aborted) break;
    results.push(await runFullBackup({ ...app, signal: options.signal }, db, { actor: options.actor }));
  }
  return results;
}
