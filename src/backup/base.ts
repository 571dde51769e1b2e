// A physical base backup, the start point of point-in-time recovery: `pg_basebackup -Ft -X none` streams
// the data directory as one tar (its backup_manifest inside) through the same pipeline into storage, and every
// file is checked against that manifest as it passes (BaseStreamCheck: what pg_verifybackup checks for the
// files, with no second pass over the backup). WAL comes from the archive, so the run then waits until the WAL
// the backup needs is archived and has pg_waldump parse it, as pg_verifybackup would. `pgwarden verify` still
// reads the stored copy back and runs pg_verifybackup on it (verifyBaseArtifact).
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseConfig } from '../config/index.js';
import { PrecheckError, VerificationError } from '../errors.js';
import { sealManifest } from '../manifest/manifest.js';
import { type ArtifactInfo, type BackupManifest, MANIFEST_FORMAT_VERSION } from '../manifest/types.js';
import { backupReadOptions } from '../pipeline/artifact.js';
import { type CompressionSpec, compressionFor, compressionSuffix } from '../pipeline/compression.js';
import { unpackDirectoryArchive } from '../pipeline/unpack-directory.js';
import { toolConnection } from '../postgres/connection.js';
import { startTool, stderrSummary, type ToolProcess } from '../postgres/run-tool.js';
import { manifestCopies, settleArtifactCopies, writeManifestCopies } from '../copies/settle.js';
import { storeArtifact } from './store-artifact.js';
import { BaseStreamCheck, type BaseStreamReport, type ManifestChecksumAlgorithm, type WalRange } from './base-stream-check.js';
import { DataDirectoryBackup } from './base-files.js';
import { type ChosenBaseMethod, chooseBaseMethod } from './base-method.js';
import type { WrittenArtifact } from '../pipeline/artifact.js';
import type { TargetSetWriter } from '../storage/target-set.js';
import type { EncryptionKey } from '../crypto/keyring.js';
import type { StorageDriver } from '../storage/types.js';
import { encryptsNewArtifacts, newArtifactKey } from '../crypto/envelope.js';
import type { KeyRing } from '../crypto/keyring.js';
import { checkDiskSpace, connectSource, findToolsForServer, describeSource, expectedSize, formatBytes } from './precheck.js';
import { type RunOptions, runInFrame } from './run-frame.js';
import type { BackupContext, BackupResult } from './types.js';

/** What a base backup needs from the WAL archive. */
export interface BaseBackupWal {
  /**
   * Makes sure every WAL segment from `startLsn` to `endLsn` on `timeline` is archived (switching the
   * server's segment if the last one is still open), then restores them into `dir` for pg_verifybackup.
   */
  collect(input: { database: DatabaseConfig; startLsn: string; endLsn: string; timeline: number; dir: string; signal?: AbortSignal | undefined }): Promise<string[]>;
}

export interface BaseBackupContext extends BackupContext {
  wal: BaseBackupWal;
}

// Named explicitly (it is the server's default) because the stream check computes the files' sums as they pass.
const MANIFEST_CHECKSUMS: ManifestChecksumAlgorithm = 'CRC32C';

export async function runBaseBackup(ctx: BaseBackupContext, db: DatabaseConfig, options: RunOptions = {}): Promise<BackupResult> {
  const { config, catalog, storage } = ctx;
  const compression = compressionFor(config.backup, db);
  const artifactFile = `base.tar${compressionSuffix(compression.algorithm)}${encryptsNewArtifacts(ctx.keyring) ? '.enc' : ''}`;
  let basebackup: ToolProcess | undefined;

  return runInFrame(
    ctx,
    db,
    'base',
    options,
    async ({ backupId, dir, createdAt, log, setExpectedSize }) => {
      if (!db.pitr) {
        throw new PrecheckError('config', `database "${db.name}" has no WAL archiving: a base backup alone cannot be recovered`, {
          hints: [`set pitr: true for "${db.name}" (pgwarden serve then archives its WAL), or use wal-push as its archive_command`],
        });
      }
      const replicationUrl = db.replicationUrl ?? db.url;
      const source = await connectSource(replicationUrl, db.name);
      let info: Awaited<ReturnType<typeof describeSource>>;
      let clusterBytes: number;
      let chosen: ChosenBaseMethod;
      try {
        info = await describeSource(source);
        const { rows } = await source.query<{ can: boolean; bytes: string }>(
          `SELECT (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can,
                  (SELECT sum(pg_database_size(oid)) FROM pg_database)::bigint AS bytes`,
        );
        clusterBytes = Number(rows[0]!.bytes);
        chosen = await chooseBaseMethod(source, config.backup.baseMethod, info.serverMajor);
        if (chosen.method === 'stream' && !rows[0]?.can) {
          throw new PrecheckError('read', `role ${info.role} cannot take base backups of "${db.name}": it lacks the REPLICATION attribute`, {
            hints: ['ALTER ROLE … REPLICATION (see `pgwarden sql backup-role --replication`) and allow it in pg_hba.conf'],
          });
        }
      } finally {
        await source.end().catch(() => {});
      }
      const expected = expectedSize(await catalog.recentSizes(db.name, 'base', 7), clusterBytes, compression.algorithm !== 'none');
      setExpectedSize(expected);
      await checkDiskSpace(storage, dir, expected);
      const [pgWaldump, pgBasebackup] =
        chosen.method === 'files'
          ? [...(await findToolsForServer(['pg_waldump'], config.backup.pgBinDir, info.serverMajor)), undefined]
          : await findToolsForServer(['pg_waldump', 'pg_basebackup'], config.backup.pgBinDir, info.serverMajor);
      const how =
        chosen.method === 'files'
          ? `reading the data directory ${chosen.dataDir} here`
          : `streaming with pg_basebackup${chosen.reason ? ` (not reading the data directory here: ${chosen.reason})` : ''}`;
      await log('precheck', 'info', `pre-checks passed: PostgreSQL ${info.serverVersion}, role ${info.role}, expected size ${formatBytes(expected)}; ${how}`, {
        method: chosen.method,
      });

      // Under KMS a data key of this backup's own (before pg_basebackup starts: KMS down fails the run at once).
      const encryption = await newArtifactKey(ctx.keyring);
      const artifactPath = `${dir}/${artifactFile}`;
      const label = `pgwarden ${backupId}`;
      const read =
        chosen.method === 'files'
          ? await readDataDirectory({ ctx, db, url: replicationUrl, label, chosen, serverMajor: info.serverMajor, artifactPath, expected, compression, encryptionKey: encryption?.key })
          : await streamBasebackup({ ctx, db, url: replicationUrl, label, pgBasebackup: pgBasebackup!.path, artifactPath, expected, compression, encryptionKey: encryption?.key, started: (tool) => {
              basebackup = tool;
            } });
      const { writer, written, streamed, pagesChecked } = read;
      const finishedAt = ctx.now();
      await log('dump', 'info', `base backup ${chosen.method === 'files' ? 'read' : 'streamed'}: ${formatBytes(written.rawBytes)} raw, ${formatBytes(written.storedBytes)} stored`, { ...written });

      const artifact: ArtifactInfo = {
        file: artifactFile,
        format: 'tar',
        compression,
        encryption: encryption?.encryption ?? null,
        rawBytes: written.rawBytes,
        storedBytes: written.storedBytes,
        sha256: written.sha256,
      };
      const settled = await settleArtifactCopies(ctx, writer, artifactPath, written, log);
      const verifiedAt = ctx.now();
      const check = await checkBaseWal({
        ranges: streamed.walRanges,
        pgWaldump: pgWaldump.path,
        tempDir: config.backup.tempDir,
        signal: ctx.signal,
        collectWal: (range, walDir) => ctx.wal.collect({ database: db, ...range, dir: walDir, signal: ctx.signal }),
      });
      await log(
        'verify',
        'info',
        (chosen.method === 'files'
          ? `read ${streamed.files} files (${formatBytes(streamed.bytes)}) with their ${streamed.checksumAlgorithm} in backup_manifest, ` +
            `${pagesChecked == null ? 'no page checksums (data_checksums is off)' : `${pagesChecked} page checksums checked`}; `
          : `verified while streaming: ${streamed.files} files (${formatBytes(streamed.bytes)}) against backup_manifest (${streamed.checksumAlgorithm}); `) +
          `WAL ${check.range.startLsn}..${check.range.endLsn} parsed by pg_waldump (${check.segments.length} segments)`,
        { ...check.range, segments: check.segments, files: streamed.files, checksumAlgorithm: streamed.checksumAlgorithm, pagesChecked },
      );

      const { manifest, text } = sealManifest({
        formatVersion: MANIFEST_FORMAT_VERSION,
        backupId,
        kind: 'base',
        database: db.name,
        serverVersion: info.serverVersion,
        toolVersion: chosen.method === 'files' ? `pgwarden (data directory, pg_backup_start/pg_backup_stop)` : `pg_basebackup ${pgBasebackup!.version}`,
        startedAt: createdAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        startLsn: check.range.startLsn,
        endLsn: check.range.endLsn,
        timeline: check.range.timeline,
        artifact,
        tables: { count: 0 },
        expectedBytes: expected,
        verification: { ok: true, at: verifiedAt.toISOString(), error: null, durationSeconds: check.durationSeconds },
        copies: manifestCopies(settled),
      } satisfies Omit<BackupManifest, 'checksum'>);
      const stored = await writeManifestCopies({ storage, dir, artifactPath, text, ...settled, log });
      return {
        fileSize: written.storedBytes,
        rawSize: written.rawBytes,
        checksumSha256: written.sha256,
        compression: `${compression.algorithm}:${compression.level}`,
        encryptionKeyId: encryption?.key.id ?? null,
        serverVersion: info.serverVersion,
        storage: stored.copies,
        verification: { status: 'ok', at: verifiedAt, error: null },
        manifest,
        summary: `${formatBytes(written.storedBytes)}, WAL ${check.range.startLsn}..${check.range.endLsn} on timeline ${check.range.timeline}`,
      };
    },
    async () => {
      basebackup?.kill();
    },
  );
}

interface ReadClusterInput {
  ctx: BaseBackupContext;
  db: DatabaseConfig;
  url: string;
  label: string;
  artifactPath: string;
  expected: number;
  compression: CompressionSpec;
  encryptionKey: EncryptionKey | undefined;
}

interface ReadCluster {
  writer: TargetSetWriter;
  written: WrittenArtifact;
  streamed: BaseStreamReport;
  /** Files method: the pages whose checksum was checked (null: the cluster has no data checksums). */
  pagesChecked?: number | null;
}

/**
 * `pg_basebackup -Ft -X none -D -`: its tar passes through Node (BaseStreamCheck, against the backup_manifest
 * pg_basebackup appends) on its way to the compressor.
 */
async function streamBasebackup(input: ReadClusterInput & { pgBasebackup: string; started(tool: ToolProcess): void }): Promise<ReadCluster> {
  const { ctx, db } = input;
  let archivingStuck: string | undefined;
  const conn = toolConnection(input.url);
  const basebackup: ToolProcess = startTool(
    input.pgBasebackup,
    [
      '--pgdata=-',
      '--format=tar',
      '--wal-method=none',
      '--checkpoint=fast',
      `--manifest-checksums=${MANIFEST_CHECKSUMS}`,
      '--no-password',
      `--label=${input.label}`,
      `--dbname=${conn.dbname}`,
    ],
    {
      stdout: 'pipe',
      env: conn.env,
      signal: ctx.signal,
      label: `pg_basebackup of "${db.name}"`,
      // With -X none the server waits until the backup's WAL is archived; broken archiving would hang us forever.
      onStderrLine: (line) => {
        if (/still waiting for all required WAL segments to be archived/.test(line)) {
          archivingStuck = line.replace(/^.*?WARNING:\s*/, '');
          basebackup.kill();
        }
      },
    },
  );
  input.started(basebackup);
  const streamCheck = new BaseStreamCheck({ algorithm: MANIFEST_CHECKSUMS });
  basebackup.stdout!.once('error', (error) => streamCheck.destroy(error));
  basebackup.stdout!.pipe(streamCheck);
  const producer = basebackup.done.then(
    () => undefined,
    (error: unknown) => error,
  );
  const storing = storeArtifact(ctx, {
    database: db.name,
    type: 'base',
    path: input.artifactPath,
    expectedBytes: input.expected,
    source: streamCheck,
    sourceDone: basebackup.done,
    compression: input.compression,
    encryptionKey: input.encryptionKey,
  });
  const written = await storing.written.catch(async (error: unknown) => {
    if (archivingStuck) {
      throw new PrecheckError('config', `WAL archiving of "${db.name}" is not working: ${archivingStuck}`, {
        hints: ['check archive_command (pgwarden wal-push) and pg_stat_archiver on the server, or that pgwarden serve archives this database'],
      });
    }
    // A stream cut short because pg_basebackup failed: its own message says why.
    const failed = error instanceof VerificationError && error.check === 'archive' ? await producer : undefined;
    throw failed ?? error;
  });
  return { writer: storing.writer, written, streamed: streamCheck.report() };
}

/**
 * The data directory read here (DataDirectoryBackup) in a session of the backup's own: if pgwarden stops
 * or fails, the session ends and the server aborts the backup. Broken archiving shows afterwards, when the
 * backup's WAL does not reach the archive (checkBaseWal).
 */
async function readDataDirectory(input: ReadClusterInput & { chosen: ChosenBaseMethod & { method: 'files' }; serverMajor: number }): Promise<ReadCluster> {
  const { ctx, db } = input;
  const session = await connectSource(input.url, db.name);
  const endSession = () => {
    session.end().catch(() => {});
  };
  session.on('error', () => {}); // a session ended on purpose; the query in flight reports it
  ctx.signal?.addEventListener('abort', endSession, { once: true });
  try {
    const { dataDir, systemIdentifier, pageChecksums } = input.chosen;
    const backup = new DataDirectoryBackup({ client: session, dataDir, label: input.label, serverMajor: input.serverMajor, systemIdentifier, pageChecksums, signal: ctx.signal });
    const storing = storeArtifact(ctx, {
      database: db.name,
      type: 'base',
      path: input.artifactPath,
      expectedBytes: input.expected,
      source: backup,
      compression: input.compression,
      encryptionKey: input.encryptionKey,
    });
    const written = await storing.written;
    const report = backup.report();
    return { writer: storing.writer, written, streamed: { ...report, checksumAlgorithm: 'CRC32C' }, pagesChecked: report.pagesChecked };
  } finally {
    ctx.signal?.removeEventListener('abort', endSession);
    endSession();
  }
}

/** The WAL span of a backup's WAL-Ranges: from the first start to the last end, on the last timeline. */
function spanOf(ranges: WalRange[]): WalRange {
  const first = ranges[0]!;
  const last = ranges.at(-1)!;
  return { timeline: last.timeline, startLsn: first.startLsn, endLsn: last.endLsn };
}

/**
 * The WAL half of pg_verifybackup, run as it runs it: the backup's WAL restored from the archive into a temporary
 * directory, and `pg_waldump --quiet` over each WAL range of the manifest (every record from start to end readable).
 */
export async function checkBaseWal(options: {
  ranges: WalRange[];
  pgWaldump: string;
  tempDir?: string | undefined;
  signal?: AbortSignal | undefined;
  collectWal(range: WalRange, dir: string): Promise<string[]>;
}): Promise<{ range: WalRange; segments: string[]; durationSeconds: number }> {
  const started = performance.now();
  const range = spanOf(options.ranges);
  const walDir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'pgwarden-wal-check-'));
  try {
    const segments = await options.collectWal(range, walDir);
    for (const r of options.ranges) {
      const waldump = startTool(options.pgWaldump, ['--quiet', `--path=${walDir}`, `--timeline=${r.timeline}`, `--start=${r.startLsn}`, `--end=${r.endLsn}`], {
        signal: options.signal,
        label: 'pg_waldump',
      });
      try {
        await waldump.done;
      } catch (error) {
        throw new VerificationError('archive', `the WAL this base backup needs does not parse (timeline ${r.timeline}, ${r.startLsn}..${r.endLsn}): ${stderrSummary(waldump.stderrTail())}`, {
          cause: error,
        });
      }
    }
    return { range, segments, durationSeconds: (performance.now() - started) / 1000 };
  } finally {
    await rm(walDir, { recursive: true, force: true });
  }
}

export interface VerifyBaseOptions {
  storage: StorageDriver;
  path: string;
  artifact: ArtifactInfo;
  keyring: KeyRing | undefined;
  pgVerifyBackup: string;
  tempDir?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Restores the WAL the backup needs into the given directory; returns the segment names. */
  collectWal(range: WalRange, dir: string): Promise<string[]>;
}

/**
 * Unpacks the stored tar (checking its SHA-256 on the way) and runs pg_verifybackup on it: every file
 * against backup_manifest, and the WAL from the start to the end LSN parsed from the archive.
 */
export async function verifyBaseArtifact(options: VerifyBaseOptions): Promise<{ range: WalRange; segments: string[]; durationSeconds: number }> {
  const started = performance.now();
  const { storage, path, artifact } = options;
  const name = `${storage.name}:${path}`;
  const info = await storage.stat(path);
  if (!info) throw new VerificationError('missing', `artifact ${name} is missing`);
  if (info.size !== artifact.storedBytes) {
    throw new VerificationError('size', `artifact ${name} is ${info.size < artifact.storedBytes ? 'truncated' : 'longer than recorded'}: ${info.size} bytes stored, the manifest records ${artifact.storedBytes}`);
  }
  const read = backupReadOptions(artifact, options.keyring, options.signal);
  const unpacked = await unpackDirectoryArchive({ source: storage.read(path), read, rawBytes: artifact.rawBytes, tempDir: options.tempDir, signal: options.signal }).catch(
    (error: unknown) => {
      throw new VerificationError('archive', `artifact ${name} could not be unpacked: ${(error as Error).message}`, { cause: error });
    },
  );
  try {
    const sha = unpacked.stored.sha256();
    if (sha !== artifact.sha256) {
      throw new VerificationError('checksum', `artifact ${name} does not match its checksum: sha256 ${sha}, the manifest records ${artifact.sha256}`);
    }
    const range = await readWalRange(join(unpacked.dir, 'backup_manifest'), name);
    const walDir = join(unpacked.dir, '.pgwarden-wal');
    await mkdir(walDir, { mode: 0o700 });
    const segments = await options.collectWal(range, walDir);
    const verify = startTool(options.pgVerifyBackup, [`--wal-directory=${walDir}`, '--ignore=.pgwarden-wal', unpacked.dir], {
      signal: options.signal,
      label: 'pg_verifybackup',
    });
    try {
      await verify.done;
    } catch (error) {
      throw new VerificationError('archive', `pg_verifybackup rejected ${name}: ${stderrSummary(verify.stderrTail())}`, { cause: error });
    }
    return { range, segments, durationSeconds: (performance.now() - started) / 1000 };
  } finally {
    await unpacked.cleanup();
  }
}

/** The WAL range from pg_basebackup's backup_manifest (`WAL-Ranges`). */
async function readWalRange(manifestFile: string, name: string): Promise<WalRange> {
  let parsed: { 'WAL-Ranges'?: { Timeline: number; 'Start-LSN': string; 'End-LSN': string }[] };
  try {
    parsed = JSON.parse(await readFile(manifestFile, 'utf8'));
  } catch (error) {
    throw new VerificationError('manifest', `artifact ${name} holds no readable backup_manifest: ${(error as Error).message}`);
  }
  const ranges = parsed['WAL-Ranges'] ?? [];
  if (ranges.length === 0) throw new VerificationError('manifest', `the backup_manifest in ${name} has no WAL range`);
  return spanOf(ranges.map((r) => ({ timeline: r.Timeline, startLsn: r['Start-LSN'], endLsn: r['End-LSN'] })));
}

