// `pgwarden verify <id>`: repeats the read-back verification of a stored backup and records the result in
// its manifest and in the catalog, and the read in backup_access_logs.
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { KeyRing } from '../crypto/keyring.js';
import { errorMessage } from '../errors.js';
import { requireArtifact, sealManifest } from '../manifest/manifest.js';
import { findPgTool } from '../postgres/tools.js';
import { type LocatedBackup, locateBackup } from '../restore/locate.js';
import { verifyBaseArtifact } from '../backup/base.js';
import type { WalAccess } from '../backup/wal-access.js';
import type { DatabaseConfig } from '../config/index.js';
import { VerificationError } from '../errors.js';
import { copiesOf } from '../storage/target-set.js';
import { writeTextObject } from '../storage/text.js';
import type { StorageDriver } from '../storage/types.js';
import { createRunLog } from '../backup/run-log.js';
import { verifyArtifact } from './verify-artifact.js';
import type { ProgressReporter, ProgressTask } from '../pipeline/progress.js';

export interface VerifyContext {
  storage: StorageDriver;
  catalog: Catalog;
  keyring: KeyRing | undefined;
  prefix: string;
  pgBinDir?: string | undefined;
  tempDir?: string | undefined;
  /** Base and incremental backups are checked against their database's WAL archive. */
  wal?: WalAccess | undefined;
  databases?: readonly DatabaseConfig[] | undefined;
  logger: Logger;
  now: () => Date;
  signal?: AbortSignal | undefined;
  /** Hears the bytes read through (the CLI progress line). */
  progress?: ProgressReporter | undefined;
}

export interface VerifyResult {
  backup_id: string;
  database: string;
  ok: boolean;
  verified_at: string;
  tables: number | null;
  duration_seconds: number | null;
  /** What was checked, in words (the kind's own checks); null when it failed. */
  summary: string | null;
  error: string | null;
}

interface Check {
  tablesInArchive: number | undefined;
  durationSeconds: number;
  summary: string;
}

/** The checks of each kind: a dump through pg_restore, a base backup through pg_verifybackup, an incremental's chain. */
async function checkBackup(ctx: VerifyContext, located: LocatedBackup): Promise<Check> {
  const { manifest } = located;
  const started = performance.now();
  const major = Number(/(\d+)/.exec(manifest.serverVersion)?.[1] ?? 0);
  if (manifest.kind === 'full') {
    const task = ctx.progress?.begin({ database: manifest.database, type: 'full', phase: 'verify', totalBytes: manifest.artifact?.storedBytes ?? null });
    try {
      return await checkFull(ctx, located, task);
    } finally {
      task?.end();
    }
  }
  return checkPhysical(ctx, located, major, started);
}

async function checkFull(ctx: VerifyContext, located: LocatedBackup, task: ProgressTask | undefined): Promise<Check> {
  const { manifest } = located;
  const pgRestore = await findPgTool('pg_restore', { binDir: ctx.pgBinDir, serverMajor: Number(/(\d+)/.exec(manifest.toolVersion)?.[1] ?? 0) });
  const check = await verifyArtifact({
    storage: ctx.storage,
    path: located.artifactPath!,
    artifact: requireArtifact(manifest, located.manifestPath),
    expectedTables: manifest.tables.count,
    keyring: ctx.keyring,
    pgRestore: pgRestore.path,
    tempDir: ctx.tempDir,
    signal: ctx.signal,
    onProgress: task && ((bytes) => task.update(bytes.storedBytes)),
  });
  return { ...check, summary: `${check.tablesInArchive} tables, every data block read` };
}

/** Base backups through pg_verifybackup, incrementals by their WAL chain. */
async function checkPhysical(ctx: VerifyContext, located: LocatedBackup, major: number, started: number): Promise<Check> {
  const { manifest } = located;
  const db = ctx.databases?.find((d) => d.name === manifest.database);
  if (!ctx.wal || !db) {
    throw new VerificationError('manifest', `cannot verify ${manifest.kind} backup ${manifest.backupId}: database "${manifest.database}" is not in the config (its WAL archive is needed)`);
  }
  const wal = ctx.wal;
  if (manifest.kind === 'base') {
    const pgVerifyBackup = await findPgTool('pg_verifybackup', { binDir: ctx.pgBinDir, serverMajor: major });
    const check = await verifyBaseArtifact({
      storage: ctx.storage,
      path: located.artifactPath!,
      artifact: requireArtifact(manifest, located.manifestPath),
      keyring: ctx.keyring,
      pgVerifyBackup: pgVerifyBackup.path,
      tempDir: ctx.tempDir,
      signal: ctx.signal,
      collectWal: (range, dir) => wal.collect({ database: db, ...range, dir, signal: ctx.signal }),
    });
    return { tablesInArchive: undefined, durationSeconds: check.durationSeconds, summary: `pg_verifybackup passed, WAL ${check.range.startLsn}..${check.range.endLsn}` };
  }
  const range = manifest.wal;
  if (!range) throw new VerificationError('manifest', `incremental ${manifest.backupId} records no WAL range`);
  const missing = await wal.gaps(db, range.first, range.last);
  if (missing.length > 0) throw new VerificationError('missing', `the WAL archive of "${db.name}" lacks ${missing.join(', ')}, sealed by incremental ${manifest.backupId}`);
  return { tablesInArchive: undefined, durationSeconds: (performance.now() - started) / 1000, summary: `${range.segments} WAL segments ${range.first}..${range.last} present` };
}

/**
 * Checks the first copy that passes, in target order: a damaged or missing copy is logged, marked failed in the
 * catalog (the storage-sync job replaces it from a good one) and the next copy is tried.
 */
async function checkSomeCopy(ctx: VerifyContext, located: LocatedBackup, log: ReturnType<typeof createRunLog>, inCatalog: boolean): Promise<{ check: Check; copy: string | undefined }> {
  const path = located.artifactPath ?? located.manifestPath;
  const copies = located.artifactPath ? await copiesOf(ctx.storage, path) : [ctx.storage];
  if (copies.length <= 1) return { check: await checkBackup(ctx, located), copy: copies.length === 1 && copies[0] !== ctx.storage ? copies[0]!.name : undefined };
  const failures: string[] = [];
  for (const copy of copies) {
    try {
      return { check: await checkBackup({ ...ctx, storage: copy }, located), copy: copy.name };
    } catch (error) {
      const message = errorMessage(error);
      failures.push(`${copy.name}: ${message}`);
      await log('verify', 'warn', `the copy on ${copy.name} failed verification: ${message}`);
      if (inCatalog) await ctx.catalog.setCopy(located.manifest.backupId, copy.name, { status: 'failed', path, error: message }).catch(() => {});
    }
  }
  throw new VerificationError('checksum', `no copy of ${located.manifest.backupId} passed verification (${failures.join('; ')})`);
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
    const { check, copy } = await checkSomeCopy(ctx, located, log, row !== undefined);
    const { checksum: _old, ...rest } = manifest;
    const sealed = sealManifest({
      ...rest,
      verification: { ok: true, at: at.toISOString(), error: null, tablesInArchive: check.tablesInArchive, durationSeconds: check.durationSeconds },
    });
    // The new verification result goes to every copy of the manifest, never to a target that lacks the backup.
    for (const holder of await copiesOf(ctx.storage, located.manifestPath)) await writeTextObject(holder, located.manifestPath, sealed.text);
    check.summary += copy ? ` (copy on ${copy})` : '';
    if (row) await ctx.catalog.setVerification(backupId, { status: 'ok', at, error: null });
    await log('verify', 'info', `backup ${backupId} verified: ${check.summary}`, { tablesInArchive: check.tablesInArchive, durationSeconds: check.durationSeconds });
    await ctx.catalog.access({ backupId, database, action: 'verify', actor, result: 'ok' });
    return {
      backup_id: backupId,
      database,
      ok: true,
      verified_at: at.toISOString(),
      tables: check.tablesInArchive ?? null,
      duration_seconds: Math.round(check.durationSeconds * 100) / 100,
      summary: check.summary,
      error: null,
    };
  } catch (error) {
    const message = errorMessage(error);
    // The stored manifest is left as it is: a damaged one must not be rewritten into a valid-looking one.
    if (row) await ctx.catalog.setVerification(backupId, { status: 'failed', at, error: message });
    await log('verify', 'error', `verification of ${backupId} failed: ${message}`);
    await ctx.catalog.access({ backupId, database: database || undefined, action: 'verify', actor, result: 'failed', details: { error: message } });
    const failure = { backup_id: backupId, database, ok: false, verified_at: at.toISOString(), tables: null, duration_seconds: null, summary: null, error: message };
    Object.defineProperty(failure, 'cause', { value: error, enumerable: false });
    return failure;
  }
}
