// A full logical backup of one database: pre-checks, pg_dump in an exported snapshot (so the table count we
// record is the dump's own), the streamed pipeline into storage, read-back verification, then the manifest
// (the commit point) and the catalog row. Any failure removes what was written and records the reason.
import type pg from 'pg';
import type { DatabaseConfig } from '../config/index.js';
import { encryptsNewArtifacts, newArtifactKey } from '../crypto/envelope.js';
import type { ArtifactEncryption } from '../crypto/types.js';
import { sealManifest } from '../manifest/manifest.js';
import { type ArtifactFormat, type ArtifactInfo, type BackupManifest, MANIFEST_FORMAT_VERSION } from '../manifest/types.js';
import { compressionFor, compressionSuffix } from '../pipeline/compression.js';
import { withProgress } from '../pipeline/progress.js';
import { toolConnection } from '../postgres/connection.js';
import { type ArtifactCheck, checkReadThrough, verifyArtifact } from '../verify/verify-artifact.js';
import { type EarlyVerification, verifyWhileWriting } from '../verify/verify-while-writing.js';
import { type DumpSource, startDump } from './dump-source.js';
import { findToolsForServer, checkDiskSpace, checkReadable, connectSource, describeSource, expectedSize, formatBytes } from './precheck.js';
import { type RunFrame, type RunOptions, runInFrame } from './run-frame.js';
import type { BackupContext, BackupResult } from './types.js';
import { manifestCopies, settleArtifactCopies, writeManifestCopies } from '../copies/settle.js';
import { storeArtifact } from './store-artifact.js';
import { PgwardenError, errorMessage } from '../errors.js';

// Tables pg_dump writes a TABLE entry for: ordinary and partitioned tables (partitions included) outside the
// system schemas, except those an extension owns.
const DUMPED_TABLES = `
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;
const TABLE_COUNT_SQL = `SELECT count(*)::int AS tables ${DUMPED_TABLES}`;

export type FullBackupOptions = RunOptions;

export async function runFullBackup(ctx: BackupContext, db: DatabaseConfig, options: FullBackupOptions = {}): Promise<BackupResult> {
  const { config, catalog, storage } = ctx;
  const compression = compressionFor(config.backup, db);
  const format: ArtifactFormat = config.backup.jobs > 1 ? 'directory-tar' : 'custom';
  const artifactFile = `${format === 'custom' ? 'dump.pgc' : 'dump.tar'}${compressionSuffix(compression.algorithm)}${encryptsNewArtifacts(ctx.keyring) ? '.enc' : ''}`;
  let source: pg.Client | undefined;
  let dump: DumpSource | undefined;
  let early: EarlyVerification | undefined;

  return runInFrame(
    ctx,
    db,
    'full',
    options,
    async ({ backupId, dir, createdAt, log, setExpectedSize }) => {
      const artifactPath = `${dir}/${artifactFile}`;
      source = await connectSource(db.url, db.name);
      const info = await describeSource(source);
      await checkReadable(source, db.name, info.role);
      const expected = expectedSize(await catalog.recentSizes(db.name, 'full', 7), info.databaseBytes, compression.algorithm !== 'none');
      setExpectedSize(expected);
      await checkDiskSpace(storage, dir, expected);
      const [pgDump, pgRestore] = await findToolsForServer(['pg_dump', 'pg_restore'], config.backup.pgBinDir, info.serverMajor);
      await log('precheck', 'info', `pre-checks passed: PostgreSQL ${info.serverVersion}, role ${info.role}, expected size ${formatBytes(expected)}`, {
        serverVersion: info.serverVersion,
        pgDump: pgDump.path,
        expectedBytes: expected,
      });

      // Under KMS a data key of this backup's own (before pg_dump starts: KMS down fails the run at once).
      const encryption = await newArtifactKey(ctx.keyring);

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
      // The exact row counts run on this connection, in the snapshot pg_dump reads, while it streams. A failed
      // count stops the dump; a failed dump stops the counts after the table being counted.
      const counting = countRowsInSnapshot(source);
      const { writer, written: dumping } = storeArtifact(ctx, {
        database: db.name,
        type: 'full',
        path: artifactPath,
        expectedBytes: expected,
        source: dump.stream,
        sourceDone: dump.done,
        compression,
        encryptionKey: encryption?.key,
      });
      // The read-back verification starts now when a target can be read as the dump lands on it (local disk).
      early = verifyWhileWriting(writer, {
        path: artifactPath,
        // A directory dump is unpacked beside the dump directory still in temporary space: room for the same
        // bound the dump checked, or this read fails at once and the stored copy is read once that is gone.
        artifact: { format, compression, encryption: encryption?.encryption ?? null, rawBytes: info.databaseBytes },
        keyring: ctx.keyring,
        pgRestore: pgRestore.path,
        tempDir: config.backup.tempDir,
        signal: ctx.signal,
      });
      void counting.done.catch(() => dump?.kill());
      void dumping.catch(() => counting.stop());
      const [wrote, counted] = await Promise.allSettled([dumping, counting.done]);
      if (counted.status === 'rejected') throw counted.reason;
      if (wrote.status === 'rejected') throw wrote.reason;
      const written = wrote.value;
      const rows = counted.value;
      await dump.cleanup();
      await source.query('COMMIT');
      await source.end();
      source = undefined;
      const dumpedAt = ctx.now();
      const totalRows = Object.values(rows).reduce((sum, n) => sum + n, 0);
      await log('dump', 'info', `dumped ${tables} tables (${totalRows} rows): ${formatBytes(written.rawBytes)} raw, ${formatBytes(written.storedBytes)} stored`, {
        ...written,
        tables,
        rows: totalRows,
      });

      const artifact = artifactInfo(artifactFile, format, compression, encryption?.encryption, written);
      const settled = await settleArtifactCopies(ctx, writer, artifactPath, written, log);
      const verifiedAt = ctx.now();
      const readBack = early && (await earlyCheck(early, settled.holders, artifact, tables, log));
      early = undefined;
      const check =
        readBack ??
        (await withProgress(ctx.progress, { database: db.name, type: 'full', phase: 'verify', totalBytes: artifact.storedBytes }, (onProgress) =>
          verifyArtifact({
            storage: storage.only(settled.holders),
            path: artifactPath,
            artifact,
            expectedTables: tables,
            keyring: ctx.keyring,
            pgRestore: pgRestore.path,
            tempDir: config.backup.tempDir,
            signal: ctx.signal,
            onProgress,
          }),
        ));
      const how = readBack ? ` (read back from ${readBack.target} as it was written)` : '';
      await log('verify', 'info', `verified: checksum, every data block read through pg_restore, ${check.tablesInArchive} tables${how}`, { ...check });

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
        artifact,
        tables: { count: tables, rows },
        expectedBytes: expected,
        verification: { ok: true, at: verifiedAt.toISOString(), error: null, tablesInArchive: check.tablesInArchive, durationSeconds: check.durationSeconds },
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
        tableCount: tables,
        storage: stored.copies,
        verification: { status: 'ok', at: verifiedAt, error: null },
        manifest,
        summary: formatBytes(written.storedBytes),
      };
    },
    async () => {
      dump?.kill();
      await early?.stop();
      await dump?.cleanup().catch(() => {});
      await source?.query('ROLLBACK').catch(() => {});
      await source?.end().catch(() => {});
    },
  );
}

/**
 * The verification read while the dump was written, once the write completed: it stands when its target holds
 * the artifact and it read exactly the bytes written. Otherwise (the target dropped out, or the read-through
 * failed) undefined: the caller reads a holder back as before, which also names what is wrong.
 */
async function earlyCheck(
  early: EarlyVerification,
  holders: readonly string[],
  artifact: ArtifactInfo,
  tables: number,
  log: RunFrame['log'],
): Promise<(ArtifactCheck & { target: string }) | undefined> {
  if (!holders.includes(early.target)) {
    await early.stop();
    return undefined;
  }
  const outcome = await early.outcome;
  let problem: string;
  if ('read' in outcome) {
    try {
      checkReadThrough(outcome.read, { ...artifact, tables }, early.name);
      return { tablesInArchive: outcome.read.tablesInArchive, durationSeconds: outcome.durationSeconds, target: early.target };
    } catch (error) {
      problem = errorMessage(error);
    }
  } else problem = outcome.error;
  await log('verify', 'warn', `the read-back while writing failed (${problem}); reading the stored copy back again`);
  return undefined;
}

function artifactInfo(
  file: string,
  format: ArtifactFormat,
  compression: ArtifactInfo['compression'],
  encryption: ArtifactEncryption | undefined,
  written: { rawBytes: number; storedBytes: number; sha256: string },
): ArtifactInfo {
  return {
    file,
    format,
    compression,
    encryption: encryption ?? null,
    rawBytes: written.rawBytes,
    storedBytes: written.storedBytes,
    sha256: written.sha256,
  };
}

/**
 * Exact row counts of every table the dump contains, in the snapshot the connection's transaction holds
 * (the one pg_dump imports), keyed `schema.table` like the restore's counts. row_security off: a table
 * the role cannot read whole fails the backup instead of being undercounted (the pre-check names those).
 * stop() ends the loop after the table being counted (the dump failed; the counts are moot).
 */
function countRowsInSnapshot(client: pg.Client): { done: Promise<Record<string, number>>; stop(): void } {
  let stopped = false;
  const done = (async () => {
    await client.query('SET row_security = off');
    // One process per count: parallel workers would take slots the application's queries may need, and
    // starting two per table cost more than they saved (43 tables of 1 GB: 540 CPU-ms in parallel, 310 alone).
    await client.query('SET max_parallel_workers_per_gather = 0');
    const { rows: list } = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name ${DUMPED_TABLES} ORDER BY 1, 2`,
    );
    const counts: Record<string, number> = {};
    for (const t of list) {
      if (stopped) break;
      const qualified = `${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)}`;
      try {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${qualified}`);
        counts[`${t.schema}.${t.name}`] = Number(rows[0]!.n);
      } catch (error) {
        throw new PgwardenError(`counting the rows of ${qualified} in the dump's snapshot failed: ${errorMessage(error)}`, { cause: error });
      }
    }
    return counts;
  })();
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}
