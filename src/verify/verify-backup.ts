// `pgwarden verify <id>`: repeats the read-back verification of a stored backup and records the result in
// its manifest and in the catalog, and the read in backup_access_logs.
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { KeyRing } from '../crypto/keyring.js';
import { errorMessage } from '../errors.js';
import { requireArtifact, sealManifest } from '../manifest/manifest.js';
import { findPgTool } from '../postgres/tools.js';
import { locateBackup } from '../restore/locate.js';
import { writeTextObject } from '../storage/text.js';
import type { StorageDriver } from '../storage/types.js';
import { createRunLog } from '../backup/run-log.js';
import { verifyArtifact } from './verify-artifact.js';

export interface VerifyContext {
  storage: StorageDriver;
  catalog: Catalog;
  keyring: KeyRing | undefined;
  prefix: string;
  pgBinDir?: string | undefined;
  tempDir?: string | undefined;
  logger: Logger;
  now: () => Date;
  signal?: AbortSignal | undefined;
}

export interface VerifyResult {
  backup_id: string;
  database: string;
  ok: boolean;
  verified_at: string;
  tables: number | null;
  duration_seconds: number | null;
  error: string | null;
}

/** Verifies one backup. Resolves with ok=false (and records it) when the backup is bad. */
export async function verifyBackup(ctx: VerifyContext, backupId: string, actor: string): Promise<VerifyResult> {
  const at = ctx.now();
  const row = await ctx.catalog.getBackup(backupId);
  const log = createRunLog({ catalog: ctx.catalog, logger: ctx.logger, backupId, database: row?.database, operation: 'verify' });
  let database = row?.database ?? '';
  try {
    const located = await locateBackup(ctx.storage, ctx.catalog, ctx.prefix, backupId);
    const { manifest } = located;
    database = manifest.database;
    const dumpMajor = Number(/(\d+)/.exec(manifest.toolVersion)?.[1] ?? 0);
    const pgRestore = await findPgTool('pg_restore', { binDir: ctx.pgBinDir, serverMajor: dumpMajor });
    const check = await verifyArtifact({
      storage: ctx.storage,
      path: located.artifactPath!,
      artifact: requireArtifact(manifest, located.manifestPath),
      expectedTables: manifest.tables.count,
      keyring: ctx.keyring,
      pgRestore: pgRestore.path,
      tempDir: ctx.tempDir,
      signal: ctx.signal,
    });
    const { checksum: _old, ...rest } = manifest;
    const sealed = sealManifest({
      ...rest,
      verification: { ok: true, at: at.toISOString(), error: null, tablesInArchive: check.tablesInArchive, durationSeconds: check.durationSeconds },
    });
    await writeTextObject(ctx.storage, located.manifestPath, sealed.text);
    if (row) await ctx.catalog.setVerification(backupId, { status: 'ok', at, error: null });
    await log('verify', 'info', `backup ${backupId} verified: ${check.tablesInArchive} tables, every data block read`, { ...check });
    await ctx.catalog.access({ backupId, database, action: 'verify', actor, result: 'ok' });
    return {
      backup_id: backupId,
      database,
      ok: true,
      verified_at: at.toISOString(),
      tables: check.tablesInArchive,
      duration_seconds: Math.round(check.durationSeconds * 100) / 100,
      error: null,
    };
  } catch (error) {
    const message = errorMessage(error);
    // The stored manifest is left as it is: a damaged one must not be rewritten into a valid-looking one.
    if (row) await ctx.catalog.setVerification(backupId, { status: 'failed', at, error: message });
    await log('verify', 'error', `verification of ${backupId} failed: ${message}`);
    await ctx.catalog.access({ backupId, database: database || undefined, action: 'verify', actor, result: 'failed', details: { error: message } });
    const failure = { backup_id: backupId, database, ok: false, verified_at: at.toISOString(), tables: null, duration_seconds: null, error: message };
    Object.defineProperty(failure, 'cause', { value: error, enumerable: false });
    return failure;
  }
}
