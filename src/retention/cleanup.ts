// `pgwarden cleanup` and the scheduled cleanup job: gathers what the catalog and every storage target hold,
// plans retention (plan.ts), and — unless it is a dry run — removes each expired copy from its target
// (manifest first, so a crash leaves nothing that looks complete), marks it in the catalog, logs it, and
// finally checks the WAL chain from every retained base backup again. A target that cannot be reached is
// skipped and reported; the next run retries it.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Pgwarden } from '../app/open.js';
import type { WalAccess } from '../backup/wal-access.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config/index.js';
import type { KeyRing } from '../crypto/keyring.js';
import { AbortedError, UsageError, errorMessage } from '../errors.js';
import { parseBackupId, rootPrefix } from '../manifest/layout.js';
import { parseManifest } from '../manifest/manifest.js';
import { readTextObject } from '../storage/text.js';
import type { ObjectInfo, StorageDriver } from '../storage/types.js';
import { archivedWalOf, readTimelineHistories } from '../wal/archive.js';
import type { TimelineHistoryEntry } from '../wal/names.js';
import { planRetention, planTotals } from './plan.js';
import { loadRetainedBackups, markCopyRemoved } from './record.js';
import type { PlannedDatabase, RetainedBackup, RetentionPlan, RetentionPolicy, TargetState } from './types.js';
import { backupHoldings, brokenChains, hasManifest, isUsable } from './window.js';

export interface CleanupContext {
  pool: pg.Pool;
  catalog: Catalog;
  /** Every configured storage target, each planned on its own (a cloud copy keeps longer than a local one). */
  targets: readonly StorageDriver[];
  prefix: string;
  policy: RetentionPolicy;
  keyring: KeyRing | undefined;
  logger: Logger;
  now: () => Date;
  /** The WAL segment size of a database's server; when it fails, that database's WAL is all kept. */
  segmentSize(database: string): Promise<number>;
  signal?: AbortSignal | undefined;
}

export interface CleanupOptions {
  databases: readonly string[];
  dryRun: boolean;
  /** Who runs it, for the access log: `cli:<user>`, `scheduler`. */
  actor: string;
}

export interface CleanupFailure {
  target: string;
  /** What was not removed: a backup id, `WAL of <database>`, or `everything` for an unreachable target. */
  what: string;
  error: string;
}

export interface BrokenChain {
  database: string;
  target: string;
  backupId: string;
  missing: string[];
  /** The hole was there before this cleanup ran (it did not cause it). */
  before: boolean;
}

export interface CleanupReport {
  dryRun: boolean;
  plan: RetentionPlan;
  /** What was actually removed (a dry run removes nothing). */
  removed: { copies: number; walFiles: number; bytes: number };
  failures: CleanupFailure[];
  /** After a real run: retained base backups whose WAL chain to the newest archived segment has a hole. */
  brokenChains: BrokenChain[];
  ok: boolean;
}

export async function runCleanup(ctx: CleanupContext, options: CleanupOptions): Promise<CleanupReport> {
  const now = ctx.now();
  const databases: PlannedDatabase[] = [];
  for (const name of options.databases) {
    try {
      databases.push({ name, segmentSize: await ctx.segmentSize(name) });
    } catch (error) {
      databases.push({ name, segmentSizeError: errorMessage(error) });
    }
  }
  const catalogued = await loadRetainedBackups(ctx.pool, options.databases);
  const targets = await Promise.all(ctx.targets.map((t) => targetState(ctx, t, options.databases)));
  const backups = [...catalogued, ...(await uncatalogued(ctx, targets, catalogued, options.databases))];
  const plan = planRetention({ prefix: ctx.prefix, policy: ctx.policy, databases, backups, targets }, now);
  const failures: CleanupFailure[] = plan.unreachable.map((u) => ({ target: u.target, what: 'everything', error: u.error }));
  const report: CleanupReport = { dryRun: options.dryRun, plan, removed: { copies: 0, walFiles: 0, bytes: 0 }, failures, brokenChains: [], ok: true };
  if (options.dryRun) {
    report.ok = failures.length === 0;
    return report;
  }

  for (const driver of ctx.targets) {
    if (plan.unreachable.some((u) => u.target === driver.name)) continue;
    for (const db of plan.databases) {
      for (const copy of db.copies.filter((c) => c.target === driver.name && c.action === 'remove')) {
        checkAborted(ctx.signal);
        const log = { backupId: copy.backupId, database: copy.database, operation: 'cleanup' as const };
        try {
          for (const path of copy.paths) await driver.remove(path);
        } catch (error) {
          const message = errorMessage(error);
          failures.push({ target: driver.name, what: copy.backupId, error: message });
          await ctx.catalog.log({ ...log, step: 'remove', level: 'error', message: `cannot remove ${copy.kind} ${copy.backupId} from ${driver.name}: ${message}`, details: { target: driver.name } });
          await ctx.catalog.access({ ...log, action: 'delete', actor: options.actor, result: 'failed', details: { target: driver.name, reason: copy.reason, error: message } });
          continue;
        }
        const status = await markCopyRemoved(ctx.pool, copy.backupId, driver.name, copy.catalogPath);
        report.removed.copies++;
        report.removed.bytes += copy.bytes;
        const what = copy.paths.length > 0 ? `removed ${copy.kind} ${copy.backupId} from ${driver.name}` : `marked ${copy.kind} ${copy.backupId} removed on ${driver.name} (it held nothing)`;
        await ctx.catalog.log({
          ...log,
          step: 'remove',
          level: 'info',
          message: `${what}: ${copy.reason}${status === 'expired' ? '; no copy is left: expired' : ''}`,
          details: { target: driver.name, paths: copy.paths, bytes: copy.bytes, status },
        });
        await ctx.catalog.access({ ...log, action: 'delete', actor: options.actor, result: 'ok', details: { target: driver.name, reason: copy.reason, paths: copy.paths } });
      }
      for (const wal of db.wal.filter((w) => w.target === driver.name)) {
        let removed = 0;
        let bytes = 0;
        try {
          for (const object of wal.objects) {
            checkAborted(ctx.signal);
            await driver.remove(object.path);
            removed++;
            bytes += object.size;
          }
        } catch (error) {
          if (error instanceof AbortedError) throw error;
          failures.push({ target: driver.name, what: `WAL of ${wal.database}`, error: errorMessage(error) });
        }
        report.removed.walFiles += removed;
        report.removed.bytes += bytes;
        const last = removed > 0 ? wal.objects[removed - 1]!.name : undefined;
        await ctx.catalog.log({
          database: wal.database,
          operation: 'cleanup',
          step: 'remove-wal',
          level: removed === wal.objects.length ? 'info' : 'error',
          message: `removed ${removed} of ${wal.objects.length} WAL files of "${wal.database}" from ${driver.name}${last ? ` (${wal.first}..${last})` : ''}: ${wal.reason}`,
          details: { target: driver.name, first: wal.first, last: last ?? null, files: removed, bytes },
        });
      }
    }
  }

  report.brokenChains = await checkChains(ctx, plan, targets, backups, databases);
  report.ok = failures.length === 0 && report.brokenChains.length === 0;
  const totals = planTotals(plan);
  await ctx.catalog.log({
    operation: 'cleanup',
    step: 'finish',
    level: report.ok ? 'info' : 'error',
    message: `cleanup by ${options.actor}: removed ${report.removed.copies} of ${totals.copies} backup copies and ${report.removed.walFiles} of ${totals.walFiles} WAL files${summarizeProblems(report)}`,
    details: { removed: report.removed, failures, brokenChains: report.brokenChains },
  });
  return report;
}

/** One line on what went wrong, for logs and the scheduled job's error. */
export function summarizeProblems(report: CleanupReport): string {
  const parts = [
    ...report.failures.map((f) => `${f.target}: ${f.what} not removed (${f.error})`),
    ...report.brokenChains.filter((c) => !c.before).map((c) => `the WAL chain of base ${c.backupId} on ${c.target} is broken: missing ${c.missing.join(', ')}`),
    ...report.brokenChains.filter((c) => c.before).map((c) => `the WAL chain of base ${c.backupId} on ${c.target} was already broken: missing ${c.missing.join(', ')}`),
  ];
  return parts.length === 0 ? '' : `; ${parts.join('; ')}`;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(`cleanup aborted: ${errorMessage(signal.reason)}`, { hints: ['run it again: what was not removed yet is planned again'] });
}

async function listDatabases(target: StorageDriver, prefix: string, databases: readonly string[]): Promise<ObjectInfo[]> {
  return (await Promise.all(databases.map((db) => target.list(`${rootPrefix(prefix)}${db}/`)))).flat();
}

async function targetState(ctx: CleanupContext, target: StorageDriver, databases: readonly string[]): Promise<TargetState> {
  let objects: ObjectInfo[];
  try {
    objects = await listDatabases(target, ctx.prefix, databases);
  } catch (error) {
    ctx.logger.warn({ err: error, target: target.name }, 'cleanup: storage target unreachable, skipped');
    return { name: target.name, kind: target.kind, error: errorMessage(error) };
  }
  const histories = new Map<string, ReadonlyMap<number, readonly TimelineHistoryEntry[]>>();
  for (const database of databases) {
    const archive = archivedWalOf(objects, ctx.prefix, database);
    if (archive.histories.length === 0) continue;
    try {
      histories.set(database, await readTimelineHistories({ storage: target, prefix: ctx.prefix, database, keyring: ctx.keyring, signal: ctx.signal }, archive));
    } catch (error) {
      // Only the recovery window needs them (it then names the problem); removals go by WAL position.
      ctx.logger.warn({ err: error, target: target.name, database }, 'cleanup: cannot read timeline history files');
    }
  }
  return { name: target.name, kind: target.kind, objects, histories };
}

/** Backup directories a target holds that the catalog does not know: kept, their start LSN read from their manifest. */
async function uncatalogued(ctx: CleanupContext, targets: readonly TargetState[], known: readonly RetainedBackup[], databases: readonly string[]): Promise<RetainedBackup[]> {
  const ids = new Set(known.map((b) => b.backupId));
  const found = new Map<string, RetainedBackup>();
  for (const state of targets) {
    const driver = ctx.targets.find((t) => t.name === state.name)!;
    for (const database of databases) {
      for (const [backupId, held] of backupHoldings(state.objects ?? [], ctx.prefix, database)) {
        const parsed = parseBackupId(backupId);
        if (ids.has(backupId) || found.has(backupId) || !parsed || parsed.kind !== held.kind) continue;
        const stray: RetainedBackup = { backupId, database, kind: parsed.kind, status: 'unknown', at: parsed.time, verification: null, startLsn: null, timeline: null, error: null, copies: {} };
        const manifestPath = held.objects.find((o) => o.path.endsWith('/manifest.json'))?.path;
        if (manifestPath) {
          try {
            const manifest = parseManifest((await readTextObject(driver, manifestPath)) ?? '', `${driver.name}:${manifestPath}`);
            Object.assign(stray, { at: new Date(manifest.finishedAt), startLsn: manifest.startLsn, timeline: manifest.timeline ?? null });
          } catch (error) {
            ctx.logger.warn({ err: error, target: state.name, backupId }, 'cleanup: unreadable manifest of a backup the catalog does not know');
          }
        }
        found.set(backupId, stray);
      }
    }
  }
  return [...found.values()];
}

/** Lists every reachable target again and checks the chain from each base backup it still holds whole. */
async function checkChains(ctx: CleanupContext, plan: RetentionPlan, before: readonly TargetState[], backups: readonly RetainedBackup[], databases: readonly PlannedDatabase[]): Promise<BrokenChain[]> {
  const broken: BrokenChain[] = [];
  for (const driver of ctx.targets) {
    const previous = before.find((t) => t.name === driver.name);
    if (!previous?.objects || plan.unreachable.some((u) => u.target === driver.name)) continue;
    let objects: ObjectInfo[];
    try {
      objects = await listDatabases(driver, ctx.prefix, databases.map((d) => d.name));
    } catch (error) {
      broken.push({ database: '*', target: driver.name, backupId: '*', missing: [`(cannot list after cleanup: ${errorMessage(error)})`], before: false });
      continue;
    }
    for (const db of databases) {
      const chains = (listing: readonly ObjectInfo[]) => {
        const held = backupHoldings(listing, ctx.prefix, db.name);
        return brokenChains({
          target: driver.name,
          prefix: ctx.prefix,
          database: db.name,
          objects: listing,
          backups: backups.filter((b) => b.database === db.name && isUsable(b) && hasManifest(held.get(b.backupId)?.objects ?? [])),
          histories: previous.histories?.get(db.name),
          segmentSize: db.segmentSize,
        });
      };
      const earlier = new Set(chains(previous.objects).map((c) => c.backupId));
      for (const chain of chains(objects)) broken.push({ database: db.name, target: driver.name, ...chain, before: earlier.has(chain.backupId) });
    }
  }
  return broken;
}

/** The cleanup context of an opened pgwarden: every storage target, the configured retention, the clock. */
export function cleanupContextFor(app: Pgwarden, wal: Pick<WalAccess, 'segmentSize'>, signal?: AbortSignal): CleanupContext {
  const { config } = app;
  return {
    pool: app.pool,
    catalog: app.catalog,
    targets: app.storage.targets,
    prefix: config.storage.prefix,
    policy: config.retention,
    keyring: app.keyring,
    logger: app.logger,
    now: app.now,
    signal,
    async segmentSize(name) {
      const db = config.databases.find((d) => d.name === name);
      if (!db?.pitr) throw new UsageError(`point-in-time recovery is off for "${name}"`);
      return wal.segmentSize(db);
    },
  };
}

/** The databases a cleanup covers: every configured one, or the one named (which must be configured). */
export function cleanupDatabases(config: Config, only: string | undefined): string[] {
  const names = config.databases.map((d) => d.name);
  if (only === undefined) return names;
  if (!names.includes(only)) throw new UsageError(`no database named "${only}" in the config`, { hints: [`configured: ${names.join(', ')}`] });
  return [only];
}
