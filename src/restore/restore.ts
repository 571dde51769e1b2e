// Restores a full backup by id into a target database. The stored bytes are checked against the manifest
// first (a restore never loads data that fails its checksum), then streamed through decrypt + decompress
// into pg_restore. One job: a single transaction, so a failure leaves the target as it was. Several jobs:
// pg_restore needs a seekable archive, so the plain dump is first written to a temporary file, and the data
// offsets pg_dump could not write into a pipe are filled into its table of contents.
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import { missingKeyHint } from '../crypto/envelope.js';
import type { KeyRing } from '../crypto/keyring.js';
import { RestoreError, StorageFullError, VerificationError, errorMessage } from '../errors.js';
import { backupReadOptions, readAndConsume, readArtifactInto } from '../pipeline/artifact.js';
import { type ProgressReporter, withProgress } from '../pipeline/progress.js';
import { DigestTap } from '../pipeline/digest.js';
import { connect, describeUrl, toolConnection } from '../postgres/connection.js';
import { startTool, type ToolProcess } from '../postgres/run-tool.js';
import { unpackDirectoryArchive } from '../pipeline/unpack-directory.js';
import { findPgTool } from '../postgres/tools.js';
import { writeDataOffsets } from '../postgres/dump-data-offsets.js';
import { copiesOf } from '../storage/target-set.js';
import type { StorageDriver } from '../storage/types.js';
import { formatBytes } from '../backup/precheck.js';
import { requireArtifact } from '../manifest/manifest.js';
import { locateBackup } from './locate.js';

export interface RestoreOptions {
  backupId: string;
  targetUrl: string;
  jobs: number;
  clean: boolean;
  noOwner: boolean;
  actor: string;
}

export interface RestoreContext {
  storage: StorageDriver;
  catalog: Catalog | undefined;
  keyring: KeyRing | undefined;
  prefix: string;
  pgBinDir?: string | undefined;
  tempDir?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Hears the stored bytes read (progress line). */
  progress?: ProgressReporter | undefined;
  logger?: Logger | undefined;
}

export interface RestoredTable {
  table: string;
  rows: number;
}

export interface RestoreResult {
  backup_id: string;
  database: string;
  target: string;
  tables: number;
  rows: number;
  duration_seconds: number;
  per_table: RestoredTable[];
}

export async function restoreBackup(ctx: RestoreContext, options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const located = await locateBackup(ctx.storage, ctx.catalog, ctx.prefix, options.backupId);
  const { manifest } = located;
  const audit = (result: 'ok' | 'failed', details: Record<string, unknown>) =>
    ctx.catalog
      ?.access({ backupId: manifest.backupId, database: manifest.database, action: 'restore', actor: options.actor, result, details })
      .catch(() => {});
  const target = describeUrl(options.targetUrl);
  try {
    if (manifest.kind !== 'full') {
      throw new RestoreError(`backup ${manifest.backupId} is a ${manifest.kind} backup: restore it to a point in time with restore-pitr`, {
        hints: [`pgwarden restore-pitr --database ${manifest.database} --latest --data-dir DIR`],
      });
    }
    const artifact = requireArtifact(manifest, located.manifestPath);
    const artifactPath = located.artifactPath!;
    if (artifact.encryption && !ctx.keyring) {
      throw new RestoreError(`backup ${manifest.backupId} is encrypted with key "${artifact.encryption.keyId}" but no encryption keys are configured`, {
        hints: [missingKeyHint(artifact.encryption)],
      });
    }
    // Copies whose size matches the manifest, in read order: a lost or truncated copy is skipped up front.
    const copies = await sizedCopies(ctx.storage, artifactPath, artifact.storedBytes);

    const client = await connect(options.targetUrl, { purpose: 'restore target', applicationName: 'pgwarden restore' });
    let serverMajor: number;
    try {
      serverMajor = Math.floor(Number((await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v) / 10000);
      if (!options.clean) await assertEmpty(client, target);
    } finally {
      await client.end().catch(() => {});
    }
    const dumpMajor = Number(/(\d+)/.exec(manifest.toolVersion)?.[1] ?? serverMajor);
    const pgRestore = await findPgTool('pg_restore', { binDir: ctx.pgBinDir, serverMajor: Math.max(serverMajor, dumpMajor) });

    const conn = toolConnection(options.targetUrl);
    const args = ['--exit-on-error', `--dbname=${conn.dbname}`];
    if (options.clean) args.push('--clean', '--if-exists');
    if (options.noOwner) args.push('--no-owner', '--no-privileges');
    const read = backupReadOptions(artifact, ctx.keyring, ctx.signal);
    // Each path checks the copy's SHA-256 before pg_restore reads any of it, so a damaged copy is found before
    // the target is touched and the next copy is tried; once pg_restore started, a failure is final.
    const problems: string[] = [];
    for (const [index, storage] of copies.entries()) {
      let loading = false;
      const checked = (stored: DigestTap) => {
        assertSameChecksum(storage, artifactPath, stored.sha256(), artifact.sha256);
        loading = true;
      };
      try {
    await withProgress(ctx.progress, { database: manifest.database, type: 'full', phase: 'restore', totalBytes: artifact.storedBytes }, async (onProgress) => {
      const label = `pg_restore into ${target}`;
      if (artifact.format === 'directory-tar') {
        // Unpacked first and checked before pg_restore reads any of it.
        const unpacked = await unpackDirectoryArchive({
          source: storage.read(artifactPath),
          read,
          rawBytes: artifact.rawBytes,
          tempDir: ctx.tempDir,
          signal: ctx.signal,
          onProgress: onProgress,
        });
        try {
          checked(unpacked.stored);
          const parallel = options.jobs > 1 ? [`--jobs=${options.jobs}`] : ['--single-transaction'];
          await runRestore(startTool(pgRestore.path, [...parallel, ...args, unpacked.dir], { env: conn.env, signal: ctx.signal, label }), target);
        } finally {
          await unpacked.cleanup();
        }
      } else if (options.jobs <= 1) {
        // Streamed into pg_restore, so the whole stored copy is checked in a pass of its own first.
        checked(await hashStored(storage, artifactPath));
        const restore = startTool(pgRestore.path, ['--single-transaction', ...args], { stdin: 'pipe', env: conn.env, signal: ctx.signal, label });
        try {
          await readAndConsume(
            readArtifactInto({ ...read, source: storage.read(artifactPath), into: { tool: restore }, signal: ctx.signal, onProgress: onProgress }),
            restore.done,
          );
        } catch (error) {
          restore.kill();
          await restore.done.catch(() => {});
          throw restoreFailure(error, target, restore.stderrTail());
        }
      } else {
        // pg_restore --jobs needs a seekable archive: the plain dump goes to a temporary file first, and is
        // checked on the way, before pg_restore reads it.
        const dir = await mkdtemp(join(ctx.tempDir ?? tmpdir(), 'pgwarden-restore-'));
        try {
          const file = join(dir, 'dump.pgc');
          const free = await statfs(dir).then((s) => s.bavail * s.bsize);
          if (free < artifact.rawBytes) {
            throw new StorageFullError(`a parallel restore needs ${formatBytes(artifact.rawBytes)} of temporary space in ${dir}; ${formatBytes(free)} is free`, {
              hints: ['set backup.tempDir to a larger disk, or restore with --jobs 1 (streams, needs no temporary space)'],
            });
          }
          const written = readArtifactInto({ ...read, source: storage.read(artifactPath), into: { file }, signal: ctx.signal, onProgress: onProgress }).then(checked);
          // Without data offsets every pg_restore worker scans the file for each table it restores. The scan
          // follows the file as it is written, and patches it only once it was written whole and checked.
          const offsetsWritten = writeDataOffsets(file, { writing: written });
          try {
            await written;
          } catch (error) {
            await offsetsWritten.catch(() => {});
            throw error;
          }
          const offsets = await offsetsWritten;
          if ('skipped' in offsets) {
            ctx.logger?.warn({ backupId: manifest.backupId, reason: offsets.skipped }, `restore: the dump's data offsets were not filled in (${offsets.skipped}); pg_restore --jobs will scan for each table's data, which is slower`);
          }
          await runRestore(startTool(pgRestore.path, [`--jobs=${options.jobs}`, ...args, file], { env: conn.env, signal: ctx.signal, label }), target);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
    });
        break;
      } catch (error) {
        if (loading || ctx.signal?.aborted || index === copies.length - 1) {
          if (problems.length === 0 || loading) throw error;
          throw new VerificationError('checksum', `no copy of ${artifactPath} could be restored from: ${[...problems, `${storage.name}: ${errorMessage(error)}`].join('; ')}`, {
            hints: ['every stored copy was altered or damaged; restore another backup'],
          });
        }
        problems.push(`${storage.name}: ${errorMessage(error)}`);
      }
    }

    const perTable = await countRows(options.targetUrl, options.jobs);
    const result: RestoreResult = {
      backup_id: manifest.backupId,
      database: manifest.database,
      target,
      tables: perTable.length,
      rows: perTable.reduce((sum, t) => sum + t.rows, 0),
      duration_seconds: Math.round((performance.now() - started) / 10) / 100,
      per_table: perTable,
    };
    await audit('ok', { target, tables: result.tables, rows: result.rows, jobs: options.jobs, clean: options.clean });
    return result;
  } catch (error) {
    await audit('failed', { target, error: errorMessage(error) });
    throw error;
  }
}

async function runRestore(restore: ToolProcess, target: string): Promise<void> {
  try {
    await restore.done;
  } catch (error) {
    throw restoreFailure(error, target, restore.stderrTail());
  }
}

/** The copies of an artifact whose size matches the manifest, in target order; throws naming each when none does. */
async function sizedCopies(storage: StorageDriver, path: string, bytes: number): Promise<StorageDriver[]> {
  const copies = await copiesOf(storage, path);
  const good: StorageDriver[] = [];
  const problems: unknown[] = [];
  for (const copy of copies) {
    try {
      await assertStoredSize(copy, path, bytes);
      good.push(copy);
    } catch (error) {
      problems.push(error);
    }
  }
  if (good.length > 0) return good;
  if (problems.length === 1) throw problems[0];
  if (problems.length === 0) throw new VerificationError('missing', `artifact ${path} is on none of the storage targets (${storage.name})`);
  throw new VerificationError('size', `no copy of ${path} has the size its manifest records: ${problems.map(errorMessage).join('; ')}`);
}

async function assertStoredSize(storage: StorageDriver, path: string, bytes: number): Promise<void> {
  const info = await storage.stat(path);
  if (!info) throw new VerificationError('missing', `artifact ${storage.name}:${path} is missing`);
  if (info.size !== bytes) {
    throw new VerificationError('size', `artifact ${storage.name}:${path} has ${info.size} bytes; the manifest records ${bytes}: it was truncated or replaced`);
  }
}

async function hashStored(storage: StorageDriver, path: string): Promise<DigestTap> {
  const tap = new DigestTap({ hash: true });
  await pipeline(storage.read(path), tap, new Writable({ highWaterMark: 1024 * 1024, write: (_c, _e, cb) => cb() }));
  return tap;
}

function assertSameChecksum(storage: StorageDriver, path: string, actual: string, sha256: string): void {
  if (actual !== sha256) {
    throw new VerificationError('checksum', `artifact ${storage.name}:${path} does not match its checksum: sha256 ${actual}, the manifest records ${sha256}`, {
      hints: ['the stored copy was altered or damaged; restore another backup or another copy'],
    });
  }
}

async function assertEmpty(client: pg.Client, target: string): Promise<void> {
  const { rows } = await client.query<{ relations: number; schemas: number; los: number }>(`
    SELECT (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)') AS relations,
           (SELECT count(*)::int FROM pg_namespace
             WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND nspname !~ '^pg_') AS schemas,
           (SELECT count(*)::int FROM pg_largeobject_metadata) AS los`);
  const { relations, schemas, los } = rows[0]!;
  if (relations + schemas + los > 0) {
    const what = [relations && `${relations} tables/views/sequences`, schemas && `${schemas} schemas`, los && `${los} large objects`].filter(Boolean).join(', ');
    throw new RestoreError(`restore target ${target} is not empty (${what})`, {
      hints: ['restore into an empty database (createdb), or pass --clean to drop and replace the objects the backup contains'],
    });
  }
}

function restoreFailure(error: unknown, target: string, stderr: string): Error {
  if (error instanceof VerificationError || (error as { code?: string }).code === 'ENCRYPTION_FAILED') return error as Error;
  const detail = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ') || errorMessage(error);
  return new RestoreError(`restore into ${target} failed: ${detail}`, {
    hints: ['with --jobs 1 the restore runs in one transaction: the target is unchanged'],
    cause: error,
  });
}

/**
 * Exact row counts of every table restored; a partitioned parent counts only its own rows (none), not its
 * partitions'. With several jobs the tables are counted on that many connections at once, as pg_restore ran.
 */
async function countRows(url: string, jobs: number): Promise<RestoredTable[]> {
  const clients = [await connect(url, { purpose: 'restore target' })];
  try {
    const { rows: tables } = await clients[0]!.query<{ schema: string; name: string }>(`
      SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
       ORDER BY 1, 2`);
    while (clients.length < Math.min(jobs, tables.length)) clients.push(await connect(url, { purpose: 'restore target' }));
    const out: RestoredTable[] = new Array(tables.length);
    let next = 0;
    await Promise.all(
      clients.map(async (client) => {
        // row_security off: a table with RLS must be counted whole, or fail loudly rather than undercount.
        await client.query('SET row_security = off');
        for (let i = next++; i < tables.length; i = next++) {
          const t = tables[i]!;
          const qualified = `${client.escapeIdentifier(t.schema)}.${client.escapeIdentifier(t.name)}`;
          const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${qualified}`);
          out[i] = { table: `${t.schema}.${t.name}`, rows: Number(rows[0]!.n) };
        }
      }),
    );
    return out;
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
  }
}
