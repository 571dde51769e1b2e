// The frame every backup kind runs in: pick the id, hold the run lock (so a crash is detectable), record
// the run as running, then either record success with what the body returns, or — on any failure or abort —
// let the body clean up, remove what it wrote, and record the failure with its reason.
import type { FinishRun } from '../catalog/catalog.js';
import type { DatabaseConfig } from '../config/index.js';
import { AbortedError, UsageError, errorMessage, isPgwardenError } from '../errors.js';
import { type BackupKind, backupDir, newBackupId, parseBackupId } from '../manifest/layout.js';
import { createRunLog, type RunLog } from './run-log.js';
import type { BackupContext, BackupResult } from './types.js';

export interface RunOptions {
  /** A backup id chosen by the caller (the API answers with it before the run ends). */
  backupId?: string | undefined;
  /** Who started it, for the log: `api:<token name>`, `cli:<user>`, `scheduler`. */
  actor?: string | undefined;
}

export interface RunFrame {
  backupId: string;
  /** The backup's directory on storage: `<prefix>/<database>/<kind>/<backupId>`. */
  dir: string;
  createdAt: Date;
  log: RunLog;
  /** Records the expected size once the pre-checks know it (kept on failure too). */
  setExpectedSize(bytes: number): void;
}

export interface RunSuccess extends Omit<FinishRun, 'status' | 'error'> {
  fileSize: number | null;
  checksumSha256: string | null;
  /** For the finish log line. */
  summary: string;
}

export async function runInFrame(
  ctx: BackupContext,
  db: DatabaseConfig,
  kind: BackupKind,
  options: RunOptions,
  body: (frame: RunFrame) => Promise<RunSuccess>,
  /** Undoes what the body started (processes, temporary space, committed objects); must not throw. */
  cleanup: (frame: RunFrame) => Promise<void>,
): Promise<BackupResult> {
  const { catalog, storage } = ctx;
  const createdAt = ctx.now();
  if (options.backupId !== undefined && parseBackupId(options.backupId)?.kind !== kind) {
    throw new UsageError(`"${options.backupId}" is not a ${kind}-backup id`);
  }
  const backupId = options.backupId ?? newBackupId(kind, createdAt);
  const dir = backupDir(ctx.config.storage.prefix, db.name, kind, backupId);
  const log = createRunLog({ catalog, logger: ctx.logger, backupId, database: db.name, operation: 'backup' });
  let expected: number | null = null;
  const frame: RunFrame = { backupId, dir, createdAt, log, setExpectedSize: (bytes) => (expected = bytes) };
  const result = (status: BackupResult['status'], fileSize: number | null, sha256: string | null, error: string | null): BackupResult => ({
    backup_id: backupId,
    database: db.name,
    type: kind,
    status,
    file_size: fileSize,
    checksum_sha256: sha256,
    created_at: createdAt.toISOString(),
    finished_at: ctx.now().toISOString(),
    error,
  });

  const lockClient = await ctx.catalogClient();
  try {
    await catalog.tryLockRun(lockClient, backupId);
    await catalog.startRun({ backupId, database: db.name, type: kind, expectedSize: null, host: ctx.host, pid: process.pid });
    await log('start', 'info', `${kind} backup ${backupId} of database "${db.name}" started by ${options.actor ?? 'cli'}`);
    try {
      const success = await body(frame);
      const { summary, ...finish } = success;
      await catalog.finishRun(backupId, { ...finish, status: 'succeeded', expectedSize: expected });
      await log('finish', 'info', `${kind} backup ${backupId} succeeded${summary ? ` (${summary})` : ''}`);
      return result('succeeded', success.fileSize, success.checksumSha256, null);
    } catch (error) {
      const failure = ctx.signal?.aborted ? new AbortedError(`backup aborted: ${errorMessage(ctx.signal.reason ?? error)}`) : error;
      const message = errorMessage(failure);
      await cleanup(frame);
      // Nothing of a failed run may look like a backup: whatever is left under its directory goes.
      await storage.removeIncomplete(`${dir}/`).catch(() => {});
      for (const object of await storage.list(`${dir}/`).catch(() => [])) await storage.remove(object.path).catch(() => {});
      await log('failed', 'error', message, isPgwardenError(failure) ? { code: failure.code, hints: failure.hints } : undefined);
      const verificationFailed = isPgwardenError(failure) && failure.code === 'VERIFICATION_FAILED';
      await catalog.finishRun(backupId, {
        status: 'failed',
        error: message,
        expectedSize: expected,
        verification: verificationFailed ? { status: 'failed', at: ctx.now(), error: message } : null,
      });
      const failed = result('failed', null, null, message);
      Object.defineProperty(failed, 'cause', { value: failure, enumerable: false });
      return failed;
    }
  } finally {
    await catalog.unlockRun(lockClient, backupId).catch(() => {});
    await lockClient.end().catch(() => {});
  }
}

