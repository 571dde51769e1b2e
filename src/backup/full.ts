// A full logical backup of one database: pre-checks, pg_dump in an exported snapshot (so the table count we
// record is the dump's own), the streamed pipeline into storage, read-back verification, then the manifest
// (the commit point) and the catalog row. Any failure removes what was written and records the reason.
import type pg from 'pg';
import type { DatabaseConfig } from '../config/index.js';
import { AbortedError, PrecheckError, ToolError, UsageError, errorMessage, isPgwardenError } from '../errors.js';
import { backupDir, newBackupId, parseBackupId } from '../manifest/layout.js';
import { sealManifest } from '../manifest/manifest.js';
import { type ArtifactFormat, type BackupManifest, MANIFEST_FORMAT_VERSION } from '../manifest/types.js';
import { writeArtifact } from '../pipeline/artifact.js';
import { compressionSuffix } from '../pipeline/compression.js';
import { toolConnection } from '../postgres/connection.js';
import { findPgTool, type PgTool } from '../postgres/tools.js';
import { verifyArtifact } from '../verify/verify-artifact.js';
import { type DumpSource, startDump } from './dump-source.js';
import { checkDiskSpace, checkReadable, connectSource, describeSource, expectedSize, formatBytes } from './precheck.js';
import { createRunLog } from './run-log.js';
import type { BackupContext, BackupResult } from './types.js';
import { writeTextObject } from '../storage/text.js';

// Tables pg_dump writes a TABLE entry for: ordinary and partitioned tables (partitions included) outside the
// system schemas, except those an extension owns.
const TABLE_COUNT_SQL = `
  SELECT count(*)::int AS tables
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

export interface FullBackupOptions {
  /** A backup id chosen by the caller (the API answers with it before the run ends); must be a full-backup id. */
  backupId?: string | undefined;
  /** Who started it, for the log: `api:<token name>`, `cli:<user>`, `scheduler`. */
  actor?: string | undefined;
}

export async function runFullBackup(ctx: BackupContext, db: DatabaseConfig, options: FullBackupOptions = {}): Promise<BackupResult> {
  const { config, catalog, storage } = ctx;
  const createdAt = ctx.now();
  if (options.backupId !== undefined && parseBackupId(options.backupId)?.kind !== 'full') {
    throw new UsageError(`"${options.backupId}" is not a full-backup id`);
  }
  const backupId = options.backupId ?? newBackupId('full', createdAt);
  const prefix = config.storage.prefix;
  const dir = backupDir(prefix, db.name, 'full', backupId);
  const compression = { algorithm: config.backup.compression, level: config.backup.compressionLevel };
  const encryptionKey = ctx.keyring?.encryptionKey();
  const format: ArtifactFormat = config.backup.jobs > 1 ? 'directory-tar' : 'custom';
  const artifactFile = `${format === 'custom' ? 'dump.pgc' : 'dump.tar'}${compressionSuffix(compression.algorithm)}${encryptionKey ? '.enc' : ''}`;
  const artifactPath = `${dir}/${artifactFile}`;
  const log = createRunLog({ catalog, logger: ctx.logger, backupId, database: db.name, operation: 'backup' });

  const lockClient = await ctx.catalogClient();
  let source: pg.Client | undefined;
  let dump: DumpSource | undefined;
  let expected: number | null = null;
  let artifactCommitted = false;
  try {
    await catalog.tryLockRun(lockClient, backupId);
    await catalog.startRun({ backupId, database: db.name, type: 'full', expectedSize: null, host: ctx.host, pid: process.pid });
    await log('start', 'info', `full backup ${backupId} of database "${db.name}" started by ${options.actor ?? 'cli'}`);

    source = await connectSource(db.url, db.name);
    const info = await describeSource(source);
    await checkReadable(source, db.name, info.role);
    expected = expectedSize(await catalog.recentSizes(db.name, 'full', 7), info.databaseBytes, compression.algorithm !== 'none');
    await checkDiskSpace(storage, dir, expected);
    const [pgDump, pgRestore] = await findTools(config.backup.pgBinDir, info.serverMajor);
    await log('precheck', 'info', `pre-checks passed: PostgreSQL ${info.serverVersion}, role ${info.role}, expected size ${formatBytes(expected)}`, {
      serverVersion: info.serverVersion,
      pgDump: pgDump.path,
      expectedBytes: expected,
    });

    // Hold the snapshot open while pg_dump imports it: the table count and the dump see the same data.
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const snap = await source.query<{ snapshot: string; tables: number; lsn: string | null }>(
      `SELECT pg_export_snapshot() AS snapshot, (${TABLE_COUNT_SQL}) AS tables,
              CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text AS lsn`,
    );
    const { snapshot, tables, lsn } = snap.rows[0]!;

    dump = await startDump({
      pgDump: pgDump.path,
      connection: toolConnection(db.url),
      snapshot,
      jobs: config.backup.jobs,
      database: db.name,
      databaseBytes: info.databaseBytes,
      tempDir: config.backup.tempDir,
      signal: ctx.signal,
    });
    const written = await writeArtifact({
      source: dump.stream,
      sourceDone: dump.done,
      compression,
      encryptionKey,
      writers: [storage.write(artifactPath)],
      signal: ctx.signal,
    });
    await dump.cleanup();
    artifactCommitted = true;
    await source.query('COMMIT');
    await source.end();
    source = undefined;
    const dumpedAt = ctx.now();
    await log('dump', 'info', `dumped ${tables} tables: ${formatBytes(written.rawBytes)} raw, ${formatBytes(written.storedBytes)} stored`, {
      ...written,
      tables,
    });

    const verifiedAt = ctx.now();
    const check = await verifyArtifact({
      storage,
      path: artifactPath,
      artifact: artifactInfo(artifactFile, format, compression, encryptionKey?.id, written),
      expectedTables: tables,
      keyring: ctx.keyring,
      pgRestore: pgRestore.path,
      tempDir: config.backup.tempDir,
      signal: ctx.signal,
    });
    await log('verify', 'info', `verified: checksum, every data block read through pg_restore, ${check.tablesInArchive} tables`, { ...check });

    const { manifest, text } = sealManifest({
      formatVersion: MANIFEST_FORMAT_VERSION,
      backupId,
      kind: 'full',
      database: db.name,
      serverVersion: info.serverVersion,
      toolVersion: `pg_dump ${pgDump.version}`,
      startedAt: createdAt.toISOString(),
      finishedAt: dumpedAt.toISOString(),
      startLsn: lsn,
      artifact: artifactInfo(artifactFile, format, compression, encryptionKey?.id, written),
      tables: { count: tables },
      expectedBytes: expected,
      verification: { ok: true, at: verifiedAt.toISOString(), error: null, tablesInArchive: check.tablesInArchive, durationSeconds: check.durationSeconds },
    } satisfies Omit<BackupManifest, 'checksum'>);
    await writeTextObject(storage, `${dir}/manifest.json`, text);

    await catalog.finishRun(backupId, {
      status: 'succeeded',
      fileSize: written.storedBytes,
      rawSize: written.rawBytes,
      expectedSize: expected,
      checksumSha256: written.sha256,
      compression: `${compression.algorithm}:${compression.level}`,
      encryptionKeyId: encryptionKey?.id ?? null,
      serverVersion: info.serverVersion,
      tableCount: tables,
      storage: { [storage.name]: { status: 'stored', path: artifactPath } },
      verification: { status: 'ok', at: verifiedAt, error: null },
      manifest,
    });
    await log('finish', 'info', `full backup ${backupId} succeeded (${formatBytes(written.storedBytes)})`);
    return result(backupId, db.name, 'succeeded', createdAt, ctx.now(), written.storedBytes, written.sha256, null);
  } catch (error) {
    dump?.kill();
    await dump?.cleanup();
    await source?.query('ROLLBACK').catch(() => {});
    const failure = ctx.signal?.aborted ? new AbortedError(`backup aborted: ${errorMessage(ctx.signal.reason ?? error)}`) : error;
    const message = errorMessage(failure);
    // Nothing of a failed run may look like a backup: remove the artifact (and any temporary file).
    if (artifactCommitted) await storage.remove(artifactPath).catch(() => {});
    await storage.removeIncomplete(`${dir}/`).catch(() => {});
    await log('failed', 'error', message, isPgwardenError(failure) ? { code: failure.code, hints: failure.hints } : undefined);
    const verificationFailed = isPgwardenError(failure) && failure.code === 'VERIFICATION_FAILED';
    await catalog.finishRun(backupId, {
      status: 'failed',
      error: message,
      expectedSize: expected,
      verification: verificationFailed ? { status: 'failed', at: ctx.now(), error: message } : null,
    });
    return result(backupId, db.name, 'failed', createdAt, ctx.now(), null, null, message, failure);
  } finally {
    await source?.end().catch(() => {});
    await catalog.unlockRun(lockClient, backupId).catch(() => {});
    await lockClient.end().catch(() => {});
  }
}

async function findTools(binDir: string | undefined, serverMajor: number): Promise<[PgTool, PgTool]> {
  try {
    return [await findPgTool('pg_dump', { binDir, serverMajor }), await findPgTool('pg_restore', { binDir, serverMajor })];
  } catch (error) {
    if (error instanceof ToolError) throw new PrecheckError('tools', error.message, { hints: error.hints, cause: error });
    throw error;
  }
}

function artifactInfo(
  file: string,
  format: ArtifactFormat,
  compression: BackupManifest['artifact']['compression'],
  keyId: string | undefined,
  written: { rawBytes: number; storedBytes: number; sha256: string },
): BackupManifest['artifact'] {
  return {
    file,
    format,
    compression,
    encryption: keyId ? { keyId, format: 'pgwenc-1' } : null,
    rawBytes: written.rawBytes,
    storedBytes: written.storedBytes,
    sha256: written.sha256,
  };
}

function result(
  backupId: string,
  database: string,
  status: BackupResult['status'],
  createdAt: Date,
  finishedAt: Date,
  fileSize: number | null,
  sha256: string | null,
  error: string | null,
  cause?: unknown,
): BackupResult {
  const r: BackupResult = {
    backup_id: backupId,
    database,
    type: 'full',
    status,
    file_size: fileSize,
    checksum_sha256: sha256,
    created_at: createdAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    error,
  };
  if (cause !== undefined) Object.defineProperty(r, 'cause', { value: cause, enumerable: false });
  return r;
}
