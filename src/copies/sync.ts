// The storage-sync job: brings every reachable target back to holding what the others hold. Degraded backups
// (a copy marked failed in the catalog) get artifact then manifest copied from a target that holds them, the
// artifact checked against the catalog's size and SHA-256; WAL files archived while a target was down are
// copied the same way. A target still down is skipped and reported; the next run tries again.
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { BackupRow } from '../catalog/types.js';
import { errorMessage } from '../errors.js';
import { copyObject } from '../storage/copy.js';
import type { TargetSet } from '../storage/target-set.js';
import type { StorageDriver } from '../storage/types.js';
import { parseArchivedObjectName, walRoot } from '../wal/archive.js';
import { parseWalFileName } from '../wal/names.js';

export interface SyncContext {
  catalog: Catalog;
  storage: TargetSet;
  prefix: string;
  /** Databases whose WAL archive is kept in step across targets. */
  walDatabases: readonly string[];
  logger: Logger;
  signal?: AbortSignal | undefined;
}

export interface SyncReport {
  /** Targets that could not be reached: nothing was copied to or from them. */
  unreachable: { target: string; error: string }[];
  copied: { backupId: string; target: string; from: string }[];
  failed: { backupId: string; target: string; error: string }[];
  walCopied: { database: string; target: string; objects: number }[];
  walFailed: { database: string; target: string; error: string }[];
}

export async function syncCopies(ctx: SyncContext): Promise<SyncReport> {
  const statuses = await ctx.storage.checkEach();
  const reachable = new Set(statuses.filter((s) => s.ok).map((s) => s.target));
  const report: SyncReport = {
    unreachable: statuses.filter((s) => !s.ok).map((s) => ({ target: s.target, error: s.error ?? 'unreachable' })),
    copied: [],
    failed: [],
    walCopied: [],
    walFailed: [],
  };
  for (const backup of await ctx.catalog.degradedBackups()) {
    for (const [target, copy] of Object.entries(backup.storage)) {
      const to = ctx.storage.target(target);
      if (copy.status !== 'failed' || !reachable.has(target) || !to) continue;
      try {
        const from = await copyBackup(ctx, backup, to, reachable);
        await ctx.catalog.setCopy(backup.backupId, target, { status: 'stored', path: copy.path });
        await ctx.catalog.log({
          backupId: backup.backupId,
          database: backup.database,
          operation: 'sync',
          step: 'copy',
          level: 'info',
          message: `copied to ${target} from ${from}: the backup is no longer degraded there`,
        });
        report.copied.push({ backupId: backup.backupId, target, from });
      } catch (error) {
        const message = errorMessage(error);
        await ctx.catalog.setCopy(backup.backupId, target, { status: 'failed', path: copy.path, error: message });
        report.failed.push({ backupId: backup.backupId, target, error: message });
      }
    }
  }
  for (const database of ctx.walDatabases) await syncWal(ctx, database, reachable, report);
  if (report.copied.length + report.failed.length + report.walCopied.length + report.walFailed.length + report.unreachable.length > 0) {
    ctx.logger.info({ report }, 'storage sync finished');
  }
  return report;
}

/** Copies one backup's objects to `to`: the artifact first, the manifest last (the manifest makes it complete there). */
async function copyBackup(ctx: SyncContext, backup: BackupRow, to: StorageDriver, reachable: Set<string>): Promise<string> {
  const sources = Object.entries(backup.storage)
    .filter(([name, c]) => c.status === 'stored' && reachable.has(name))
    .map(([name]) => ctx.storage.target(name))
    .filter((t): t is StorageDriver => t !== undefined);
  if (sources.length === 0) throw new Error('no reachable target holds a good copy');
  const artifactPath = backup.storage[to.name]!.path;
  const dir = artifactPath.slice(0, artifactPath.lastIndexOf('/'));
  const manifest = `${dir}/manifest.json`;
  // A finished backup's directory has no live writer: whatever upload is still open there (aborting it failed
  // while the target was down) is a leftover, and goes before the copy.
  await to.removeIncomplete(`${dir}/`).catch(() => {});
  const problems: string[] = [];
  for (const from of sources) {
    try {
      const objects = (await from.list(`${dir}/`)).map((o) => o.path);
      if (!objects.includes(manifest)) throw new Error(`${from.name} has no manifest at ${manifest}`);
      for (const path of objects.filter((p) => p !== manifest)) {
        const expected = path === artifactPath ? { bytes: backup.fileSize ?? undefined, sha256: backup.checksumSha256 ?? undefined } : {};
        await copyObject(from, to, path, expected, ctx.signal);
      }
      await copyObject(from, to, manifest, {}, ctx.signal);
      return from.name;
    } catch (error) {
      problems.push(`from ${from.name}: ${errorMessage(error)}`);
    }
  }
  throw new Error(problems.join('; '));
}

/** WAL objects one reachable target has and another lacks are copied over (a WAL file's name fixes its bytes). */
async function syncWal(ctx: SyncContext, database: string, reachable: Set<string>, report: SyncReport): Promise<void> {
  const root = `${walRoot(ctx.prefix, database)}/`;
  const targets = ctx.storage.targets.filter((t) => reachable.has(t.name));
  if (targets.length < 2) return;
  const listings = new Map<string, Map<string, number>>();
  for (const t of targets) {
    try {
      listings.set(t.name, new Map((await t.list(root)).map((o) => [o.path, o.size])));
    } catch (error) {
      report.walFailed.push({ database, target: t.name, error: errorMessage(error) });
    }
  }
  for (const to of targets) {
    const have = listings.get(to.name);
    if (!have) continue;
    // WAL older than the oldest a target holds was removed there by retention (its period differs per target),
    // not missed while it was down: copying it back would undo the cleanup.
    const floor = [...have.keys()].map(walPosition).filter((p) => p !== undefined).sort()[0];
    let copied = 0;
    for (const from of targets) {
      const theirs = listings.get(from.name);
      if (from === to || !theirs) continue;
      for (const [path, size] of theirs) {
        if (have.has(path)) continue;
        const position = walPosition(path);
        if (floor !== undefined && position !== undefined && position < floor) continue;
        try {
          await copyObject(from, to, path, { bytes: size }, ctx.signal);
          have.set(path, size);
          copied++;
        } catch (error) {
          report.walFailed.push({ database, target: to.name, error: `${path} from ${from.name}: ${errorMessage(error)}` });
          break;
        }
      }
    }
    if (copied > 0) report.walCopied.push({ database, target: to.name, objects: copied });
  }
}

/** Where a stored WAL file sits in the WAL (log and segment of its name, as fixed-width hex); undefined for history files. */
function walPosition(path: string): string | undefined {
  const stored = parseArchivedObjectName(path.slice(path.lastIndexOf('/') + 1));
  const parsed = stored && parseWalFileName(stored.name);
  if (!parsed || parsed.kind === 'history') return undefined;
  return (parsed.kind === 'segment' ? parsed.name : parsed.segment).slice(8, 24);
}
