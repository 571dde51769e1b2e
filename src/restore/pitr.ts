// `pgwarden restore-pitr`: lays out the newest base backup taken before the target in a data directory,
// configures recovery (restore_command = wal-fetch from the archive, the target, promote at the end) and,
// with --start, starts the server and waits until recovery reached the target and it accepts connections.
import { parseLsn, segmentOfLsn } from '../wal/names.js';
import { removeStagedWal, stageWal, stagedRestoreCommand } from './stage-wal.js';
import { mkdir, readdir, readFile, stat, writeFile, appendFile, chown, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../catalog/catalog.js';
import type { KeyRing } from '../crypto/keyring.js';
import { RestoreError, UsageError } from '../errors.js';
import { rootPrefix } from '../manifest/layout.js';
import { parseManifest, requireArtifact } from '../manifest/manifest.js';
import type { BackupManifest } from '../manifest/types.js';
import { backupReadOptions } from '../pipeline/artifact.js';
import { unpackDirectoryArchive } from '../pipeline/unpack-directory.js';
import { findPgBinDir } from '../postgres/bindir.js';
import { runToolForText, startTool } from '../postgres/run-tool.js';
import { readTextObject } from '../storage/text.js';
import type { StorageDriver } from '../storage/types.js';

export type PitrTarget = { kind: 'time'; time: Date } | { kind: 'lsn'; lsn: string } | { kind: 'name'; name: string } | { kind: 'latest' };

/** What restore-pitr needs from the WAL archive. */
export interface PitrWal {
  /** The restore_command the recovered server runs (absolute paths, the config path carried along). */
  restoreCommand(database: string): string;
  /** The newest segment in the archive: its name, the LSN where it ends, and when it was archived. */
  newest(database: string): Promise<{ segment: string; endLsn: string; archivedAt: Date } | undefined>;
  /** The first segment missing from the chain that starts at `startLsn` on `timeline`, with the time the segment before it was archived. */
  firstGap(database: string, startLsn: string, timeline: number): Promise<{ missing: string; lastGoodArchivedAt: Date | null } | undefined>;
}

export interface PitrContext {
  storage: StorageDriver;
  catalog: Catalog | undefined;
  keyring: KeyRing | undefined;
  prefix: string;
  wal: PitrWal;
  tempDir?: string | undefined;
  pgBinDir?: string | undefined;
  now: () => Date;
  signal?: AbortSignal | undefined;
}

export interface PitrOptions {
  database: string;
  target: PitrTarget;
  dataDir: string;
  start: boolean;
  port?: number | undefined;
  /** How long --start waits for recovery to finish. */
  timeoutSeconds: number;
  actor: string;
}

export interface PitrResult {
  database: string;
  base_backup_id: string;
  data_dir: string;
  target: string;
  started: boolean;
  port: number | null;
  /** Seconds from starting the server until recovery finished and it accepted connections. */
  recovery_seconds: number | null;
  total_seconds: number;
  /** WAL files fetched before the server started (the rest come through wal-fetch as recovery asks). */
  wal_staged: number;
}

/** Parses the compact LSN form `16/B374D848` into a comparable bigint. */
export function lsnValue(lsn: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!match) throw new UsageError(`"${lsn}" is not an LSN (they look like 0/3000060)`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

export function describeTarget(target: PitrTarget): string {
  switch (target.kind) {
    case 'time':
      return `time ${target.time.toISOString()}`;
    case 'lsn':
      return `LSN ${target.lsn}`;
    case 'name':
      return `restore point "${target.name}"`;
    case 'latest':
      return 'the latest archived WAL';
  }
}

/** Every base backup of a database on storage, oldest first (manifests checked). */
async function baseBackups(ctx: PitrContext, database: string): Promise<BackupManifest[]> {
  const prefix = `${rootPrefix(ctx.prefix)}${database}/base/`;
  const manifests: BackupManifest[] = [];
  for (const object of await ctx.storage.list(prefix)) {
    if (!object.path.endsWith('/manifest.json')) continue;
    const text = await readTextObject(ctx.storage, object.path);
    if (text === undefined) continue;
    const manifest = parseManifest(text, `${ctx.storage.name}:${object.path}`);
    if (manifest.kind === 'base' && manifest.verification?.ok !== false) manifests.push(manifest);
  }
  return manifests.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
}

export async function chooseBase(ctx: PitrContext, options: Pick<PitrOptions, 'database' | 'target'>): Promise<BackupManifest> {
  const bases = await baseBackups(ctx, options.database);
  const { target } = options;
  if (bases.length === 0) {
    throw new RestoreError(`database "${options.database}" has no base backup on storage target ${ctx.storage.name}`, {
      hints: [`take one: pgwarden backup base --database ${options.database}`],
    });
  }
  const oldest = bases[0]!;
  let candidates = bases;
  if (target.kind === 'time') {
    candidates = bases.filter((b) => new Date(b.finishedAt).getTime() <= target.time.getTime());
    if (candidates.length === 0) {
      throw new RestoreError(`${describeTarget(target)} is before the oldest base backup of "${options.database}" (${oldest.backupId}, finished ${oldest.finishedAt})`, {
        hints: ['choose a later target: a base backup can only recover to points after it finished'],
      });
    }
  } else if (target.kind === 'lsn') {
    candidates = bases.filter((b) => b.endLsn && lsnValue(b.endLsn) <= lsnValue(target.lsn));
    if (candidates.length === 0) {
      throw new RestoreError(`${describeTarget(target)} is before the end of the oldest base backup of "${options.database}" (${oldest.backupId}, consistent at ${oldest.endLsn})`);
    }
  }
  const chosen = candidates.at(-1)!;
  const newest = await ctx.wal.newest(options.database);
  if (!newest) {
    throw new RestoreError(`the WAL archive of "${options.database}" is empty: no point in time can be recovered`, {
      hints: ['check WAL archiving (pitr: true with pgwarden serve, or wal-push as archive_command)'],
    });
  }
  if (target.kind === 'time' && target.time.getTime() > newest.archivedAt.getTime()) {
    throw new RestoreError(
      `${describeTarget(target)} is after the newest archived WAL of "${options.database}" (segment ${newest.segment}, archived ${newest.archivedAt.toISOString()})`,
      { hints: ['force a segment switch (pgwarden backup incremental) so later WAL is archived, or restore to --latest'] },
    );
  }
  if (target.kind === 'lsn' && lsnValue(target.lsn) > lsnValue(newest.endLsn)) {
    throw new RestoreError(`${describeTarget(target)} is after the newest archived WAL of "${options.database}" (segment ${newest.segment} ends at ${newest.endLsn})`, {
      hints: ['force a segment switch (pgwarden backup incremental) so later WAL is archived, or restore to --latest'],
    });
  }
  // A hole in the archive ends recovery there: refuse a target beyond it rather than recover short of it.
  if (chosen.startLsn && chosen.timeline) {
    const gap = await ctx.wal.firstGap(options.database, chosen.startLsn, chosen.timeline);
    const beyond = gap && (target.kind !== 'time' || gap.lastGoodArchivedAt === null || target.time.getTime() > gap.lastGoodArchivedAt.getTime());
    if (gap && beyond) {
      throw new RestoreError(`the WAL archive of "${options.database}" lacks segment ${gap.missing}, needed to recover from base backup ${chosen.backupId} to ${describeTarget(target)}`, {
        hints: ['choose a target before the gap, or restore from a base backup taken after it'],
      });
    }
  }
  return chosen;
}

// At most this many WAL segments (2 GiB of 16 MiB ones) are staged in the data directory before the server
// starts; recovery fetches any further ones itself.
const STAGED_SEGMENTS = 128;

export async function restorePitr(ctx: PitrContext, options: PitrOptions): Promise<PitrResult> {
  const started = performance.now();
  const base = await chooseBase(ctx, options);
  const artifact = requireArtifact(base, 'restore-pitr');
  const artifactPath = `${rootPrefix(ctx.prefix)}${options.database}/base/${base.backupId}/${artifact.file}`;
  const audit = (result: 'ok' | 'failed', details: Record<string, unknown>) =>
    ctx.catalog?.access({ backupId: base.backupId, database: options.database, action: 'restore', actor: options.actor, result, details }).catch(() => {});

  await prepareDataDir(options.dataDir);
  try {
    const read = backupReadOptions(artifact, ctx.keyring, ctx.signal);
    const unpacked = await unpackDirectoryArchive({ source: ctx.storage.read(artifactPath), read, rawBytes: artifact.rawBytes, into: options.dataDir, durable: true, signal: ctx.signal });
    if (unpacked.stored.sha256() !== artifact.sha256) {
      throw new RestoreError(`base backup ${base.backupId} does not match its checksum: the stored copy was altered`, {
        hints: ['restore from another copy or an older base backup'],
      });
    }
    // The WAL the recovery reads, fetched here in one process rather than by one wal-fetch process per file.
    const { staged } = await stageWal({
      storage: ctx.storage,
      prefix: ctx.prefix,
      database: options.database,
      keyring: ctx.keyring,
      dataDir: options.dataDir,
      // The segment size is the restored cluster's own (pg_control), so the start segment is exact.
      fromSegment: segmentOfLsn(parseLsn(base.startLsn ?? '0/0'), base.timeline ?? 1, await walSegmentSize(ctx, options.dataDir, base)),
      maxSegments: STAGED_SEGMENTS,
      signal: ctx.signal,
    });
    await writeRecoveryConfig(ctx, options, base);
    await handOverToOwner(options.dataDir);
    let recoverySeconds: number | null = null;
    let port: number | null = options.port ?? null;
    if (options.start) {
      port ??= await freePort();
      recoverySeconds = await startAndWait(ctx, options.dataDir, port, options.timeoutSeconds, Number(base.serverVersion.split('.')[0]));
      await removeStagedWal(options.dataDir);
    }
    const result: PitrResult = {
      database: options.database,
      base_backup_id: base.backupId,
      data_dir: options.dataDir,
      target: describeTarget(options.target),
      started: options.start,
      port,
      recovery_seconds: recoverySeconds,
      total_seconds: Math.round((performance.now() - started) / 10) / 100,
      wal_staged: staged.length,
    };
    await audit('ok', { dataDir: options.dataDir, target: result.target, recoverySeconds });
    return result;
  } catch (error) {
    await audit('failed', { dataDir: options.dataDir, error: (error as Error).message });
    throw error;
  }
}

/** The restored cluster's WAL segment size, from its pg_control. */
async function walSegmentSize(ctx: PitrContext, dataDir: string, base: BackupManifest): Promise<number> {
  const binDir = await findPgBinDir({ binDir: ctx.pgBinDir, major: Number(base.serverVersion.split('.')[0]), tool: 'pg_controldata' });
  const control = await runToolForText(join(binDir, 'pg_controldata'), ['--pgdata', dataDir], { env: { LC_ALL: 'C' } });
  const size = Number(/Bytes per WAL segment:\s+(\d+)/.exec(control)?.[1]);
  if (!(size > 0)) throw new RestoreError(`pg_controldata of the restored base backup ${base.backupId} shows no WAL segment size`);
  return size;
}

async function prepareDataDir(dir: string): Promise<void> {
  const existing = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing && existing.length > 0) {
    throw new RestoreError(`data directory ${dir} is not empty`, { hints: ['restore into a new or empty directory'] });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

async function writeRecoveryConfig(ctx: PitrContext, options: PitrOptions, base: BackupManifest): Promise<void> {
  const { dataDir, target } = options;
  // Debian-style clusters keep postgresql.conf outside the data directory: the copy then has none.
  if (!(await stat(join(dataDir, 'postgresql.conf')).catch(() => undefined))) {
    await writeFile(join(dataDir, 'postgresql.conf'), "# Written by pgwarden restore-pitr: the backed-up data directory had no postgresql.conf.\nlisten_addresses = 'localhost'\n");
  }
  const lines = [
    '',
    `# pgwarden restore-pitr ${ctx.now().toISOString()}: base backup ${base.backupId}, target ${describeTarget(target)}`,
    `restore_command = ${quote(stagedRestoreCommand(dataDir, ctx.wal.restoreCommand(options.database)))}`,
    "recovery_target_timeline = 'latest'",
    "recovery_target_action = 'promote'",
    // A restored copy must not archive into the archive it was restored from.
    "archive_mode = 'off'",
  ];
  // PostgreSQL's check of recovery_target_time refuses ISO 8601's "T…Z" spelling: write "YYYY-MM-DD HH:MM:SS.sss+00".
  if (target.kind === 'time') lines.push(`recovery_target_time = ${quote(target.time.toISOString().replace('T', ' ').replace('Z', '+00'))}`);
  if (target.kind === 'lsn') lines.push(`recovery_target_lsn = ${quote(target.lsn)}`);
  if (target.kind === 'name') lines.push(`recovery_target_name = ${quote(target.name)}`);
  if (options.port !== undefined) lines.push(`port = ${options.port}`);
  await appendFile(join(dataDir, 'postgresql.auto.conf'), `${lines.join('\n')}\n`);
  await writeFile(join(dataDir, 'recovery.signal'), '');
}

/** The server runs as the data directory's owner: as root, that is the postgres user. */
async function handOverToOwner(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = await postgresUser();
  const walk = async (path: string): Promise<void> => {
    await chown(path, uid, gid);
    const info = await stat(path);
    if (info.isDirectory()) for (const entry of await readdir(path)) await walk(join(path, entry));
  };
  await walk(dir);
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new RestoreError('running as root, but there is no postgres user to own the restored data directory');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts the server and waits until recovery has finished (pg_control: in production) and it accepts connections. */
async function startAndWait(ctx: PitrContext, dataDir: string, port: number, timeoutSeconds: number, major: number): Promise<number> {
  const binDir = await findPgBinDir({ binDir: ctx.pgBinDir, major, tool: 'pg_ctl' });
  const asOwner = (args: string[]) => (process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', ...args]] : [args[0]!, args.slice(1)]) as [string, string[]];
  const logFile = join(dataDir, 'log', 'pgwarden-restore.log');
  await mkdir(join(dataDir, 'log'), { recursive: true });
  await handOverToOwner(join(dataDir, 'log'));
  const begin = performance.now();
  const [cmd, args] = asOwner([join(binDir, 'pg_ctl'), '--pgdata', dataDir, '--log', logFile, '--options', `-p ${port}`, 'start']);
  // pg_ctl returns once the server accepts (read-only) connections; recovery may still be going on then.
  await startTool(cmd, args, { label: 'pg_ctl start' }).done.catch(async (error: unknown) => {
    throw new RestoreError(`the restored server did not start: ${await logLines(logFile)}`, { hints: [`server log: ${logFile}`], cause: error });
  });
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    // pg_control says "in production" only once recovery ended and the promotion completed: no login needed.
    const control = await runToolForText(join(binDir, 'pg_controldata'), ['--pgdata', dataDir]).catch(() => '');
    if (/Database cluster state:\s+in production/.test(control)) {
      const ready = await runToolForText(join(binDir, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).then(() => true, () => false);
      if (ready) return Math.round((performance.now() - begin) / 10) / 100;
    }
    const alive = await runToolForText(...asOwner([join(binDir, 'pg_ctl'), '--pgdata', dataDir, 'status'])).then(() => true, () => false);
    if (!alive) {
      throw new RestoreError(`the restored server stopped during recovery: ${await logLines(logFile)}`, { hints: [`server log: ${logFile}`] });
    }
    if (Date.now() > deadline) {
      throw new RestoreError(`recovery did not finish within ${timeoutSeconds} s; the server is still running on port ${port}`, { hints: [`server log: ${logFile}`] });
    }
    await sleep(100);
  }
}

/** The lines of a server log that say why it stopped. */
async function logLines(logFile: string): Promise<string> {
  const log = await readFile(logFile, 'utf8').catch(() => '');
  const lines = log.trim().split('\n');
  const telling = lines.filter((l) => /FATAL|PANIC|ERROR|syntax error|invalid value/.test(l)).slice(-3);
  return (telling.length > 0 ? telling : lines.slice(-3)).join(' | ') || 'the log is empty';
}
