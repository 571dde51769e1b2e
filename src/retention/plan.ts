// The retention planner: from catalog rows and what each storage target holds, decides which copies of which
// backups go from which target, and which WAL, each decision with its reason. Pure, so every rule is tested
// without servers; `pgwarden cleanup` prints the plan (--dry-run) or carries it out.
//
// Rules, per storage target (a copy's period depends on where it lives):
// - full backups: fullDays; incrementals: incrementalDays; on cloud targets (s3, gcs) cloudDays, or the kind's
//   own period when that is longer.
// - base backups follow the full period, but one older than the period stays while it is the newest usable base
//   that finished at or before the window's start: recovery to the oldest point of the window starts from it.
// - whatever the age: the newest verified full backup of a database (the newest successful one when none is
//   verified), and with keepLast the N newest usable backups per database and kind, stay on every target.
// - WAL: on each target, WAL files (segments, .partial, .backup) before the segment where the oldest base kept
//   on that target starts can go; timeline history files always stay. Without a kept base, or without the
//   database's segment size, all its WAL stays.
// - leftovers of failed runs go; running backups and backups the catalog does not know are never touched.
import type { ObjectInfo, StorageKind } from '../storage/types.js';
import { parseArchivedObjectName, walRoot } from '../wal/archive.js';
import { parseWalFileName, segmentNumber } from '../wal/names.js';
import type {
  CopyDecision,
  DatabasePlan,
  PlannedDatabase,
  RetainedBackup,
  RetentionInput,
  RetentionPlan,
  RetentionPolicy,
  TargetState,
  WalKept,
  WalRemoval,
} from './types.js';
import { backupHoldings, baseStartSegment, byTime, hasManifest, isUsable, recoveryWindow } from './window.js';

const DAY_MS = 86_400_000;

/** Days a copy of `kind` is kept on a target of `targetKind`. */
export function periodDays(policy: RetentionPolicy, kind: RetainedBackup['kind'], targetKind: StorageKind): number {
  const own = kind === 'incremental' ? policy.incrementalDays : policy.fullDays;
  return targetKind === 'local' ? own : Math.max(own, policy.cloudDays);
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function planRetention(input: RetentionInput, now: Date): RetentionPlan {
  const reachable = input.targets.filter((t): t is TargetState & { objects: readonly ObjectInfo[] } => t.objects !== undefined);
  return {
    at: iso(now),
    policy: input.policy,
    databases: input.databases.map((db) => planDatabase(input, db, reachable, now)),
    unreachable: input.targets.filter((t) => t.objects === undefined).map((t) => ({ target: t.name, error: t.error ?? 'unreachable' })),
  };
}

/** Reasons that keep a backup on every target whatever its age. */
function protections(backups: readonly RetainedBackup[], policy: RetentionPolicy): Map<string, string> {
  const reasons = new Map<string, string>();
  const fulls = backups.filter((b) => b.kind === 'full' && b.status === 'succeeded').sort(byTime);
  const verified = fulls.filter((b) => b.verification === 'ok').at(-1);
  const usable = fulls.filter(isUsable).at(-1);
  if (verified) reasons.set(verified.backupId, 'newest verified full backup');
  else if (usable ?? fulls.at(-1)) reasons.set((usable ?? fulls.at(-1))!.backupId, 'newest full backup (none is verified)');
  if (policy.keepLast !== undefined) {
    for (const kind of ['full', 'base', 'incremental'] as const) {
      const newest = backups.filter((b) => b.kind === kind && b.status === 'succeeded' && isUsable(b)).sort(byTime).slice(-policy.keepLast);
      for (const b of newest) if (!reasons.has(b.backupId)) reasons.set(b.backupId, `keepLast ${policy.keepLast}: one of the ${policy.keepLast} newest ${kind} backups`);
    }
  }
  return reasons;
}

function planDatabase(input: RetentionInput, db: PlannedDatabase, targets: readonly (TargetState & { objects: readonly ObjectInfo[] })[], now: Date): DatabasePlan {
  const backups = input.backups.filter((b) => b.database === db.name).sort(byTime);
  const protectedBy = protections(backups, input.policy);
  const plan: DatabasePlan = { database: db.name, copies: [], wal: [], walKept: [], before: [], after: [] };

  for (const target of targets) {
    const held = backupHoldings(target.objects, input.prefix, db.name);
    const decisions = decideCopies(input, db, target, backups, held, protectedBy, now);
    plan.copies.push(...decisions);

    const keptBases = decisions
      .filter((d) => d.kind === 'base' && d.action === 'keep' && hasManifest(held.get(d.backupId)?.objects ?? []))
      .map((d) => backups.find((b) => b.backupId === d.backupId)!);
    const wal = decideWal(input, db, target, keptBases);
    if (wal.removal) plan.wal.push(wal.removal);
    if (wal.kept) plan.walKept.push(wal.kept);

    const removed = new Set([...decisions.filter((d) => d.action === 'remove').flatMap((d) => d.paths), ...(wal.removal?.objects.map((o) => o.path) ?? [])]);
    const window = (objects: readonly ObjectInfo[]) => {
      const whole = backupHoldings(objects, input.prefix, db.name);
      return recoveryWindow({
        target: target.name,
        prefix: input.prefix,
        database: db.name,
        objects,
        backups: backups.filter((b) => isUsable(b) && hasManifest(whole.get(b.backupId)?.objects ?? [])),
        histories: target.histories?.get(db.name),
        segmentSize: db.segmentSize,
        segmentSizeError: db.segmentSizeError,
      });
    };
    plan.before.push(window(target.objects));
    plan.after.push(window(target.objects.filter((o) => !removed.has(o.path))));
  }
  plan.copies.sort((a, b) => a.backupId.localeCompare(b.backupId) || targets.findIndex((t) => t.name === a.target) - targets.findIndex((t) => t.name === b.target));
  return plan;
}

function decideCopies(
  input: RetentionInput,
  db: PlannedDatabase,
  target: TargetState,
  backups: readonly RetainedBackup[],
  held: Map<string, { kind: string; objects: ObjectInfo[] }>,
  protectedBy: Map<string, string>,
  now: Date,
): CopyDecision[] {
  const baseDays = periodDays(input.policy, 'base', target.kind);
  const windowStart = new Date(now.getTime() - baseDays * DAY_MS);
  // The base recovery to the window's start begins from: the newest usable one this target holds whole that
  // finished by then.
  const anchor = backups
    .filter((b) => b.kind === 'base' && isUsable(b) && b.at.getTime() <= windowStart.getTime() && hasManifest(held.get(b.backupId)?.objects ?? []))
    .at(-1);

  const decisions: CopyDecision[] = [];
  for (const backup of backups) {
    if (backup.status === 'running') continue;
    const objects = held.get(backup.backupId)?.objects ?? [];
    const recorded = backup.copies[target.name];
    // A copy the catalog still counts (stored, or failed and waiting to be copied) but the target lacks is
    // only marked removed when its backup expires here.
    const counted = recorded !== undefined && recorded.status !== 'removed';
    if (objects.length === 0 && !counted) continue;
    const ageMs = now.getTime() - backup.at.getTime();
    const ageDays = Math.floor(ageMs / DAY_MS);
    const days = periodDays(input.policy, backup.kind, target.kind);
    const decide = (action: CopyDecision['action'], reason: string, overdue = false): CopyDecision => ({
      database: db.name,
      backupId: backup.backupId,
      kind: backup.kind,
      target: target.name,
      action,
      reason,
      ageDays,
      overdue,
      paths: orderForRemoval(objects),
      bytes: objects.reduce((sum, o) => sum + o.size, 0),
      catalogPath: recorded?.path ?? objects.find((o) => !o.path.endsWith('/manifest.json'))?.path ?? objects[0]?.path ?? '',
    });

    if (backup.status === 'unknown') {
      decisions.push(decide('keep', 'not in the catalog (pgwarden catalog rebuild adds it)'));
    } else if (backup.status === 'failed') {
      if (objects.length > 0) decisions.push(decide('remove', `leftover of a failed run${backup.error ? `: ${clip(backup.error)}` : ''}`));
    } else if (backup.status === 'expired') {
      decisions.push(decide('remove', 'the backup has expired; this copy was left behind'));
    } else if (ageMs <= days * DAY_MS) {
      decisions.push(decide('keep', `within ${days} days`));
    } else if (protectedBy.has(backup.backupId)) {
      decisions.push(decide('keep', protectedBy.get(backup.backupId)!, true));
    } else if (backup.kind === 'base' && anchor?.backupId === backup.backupId) {
      decisions.push(decide('keep', `needed for PITR: recovery to the start of the ${days}-day window (${iso(windowStart)}) starts from it`, true));
    } else {
      const older = `${backup.kind} older than ${days} days (${ageDays} days)`;
      const why = backup.kind === 'base' && anchor ? `${older}; the window starts from base ${anchor.backupId}` : older;
      decisions.push(decide('remove', why));
    }
  }
  return decisions;
}

/** The manifest goes first: a half-removed backup then never looks complete. */
function orderForRemoval(objects: readonly ObjectInfo[]): string[] {
  const paths = objects.map((o) => o.path).sort();
  return [...paths.filter((p) => p.endsWith('/manifest.json')), ...paths.filter((p) => !p.endsWith('/manifest.json'))];
}

function decideWal(input: RetentionInput, db: PlannedDatabase, target: TargetState & { objects: readonly ObjectInfo[] }, keptBases: RetainedBackup[]): { removal?: WalRemoval; kept?: WalKept } {
  const root = `${walRoot(input.prefix, db.name)}/`;
  const files = target.objects.flatMap((o) => {
    if (!o.path.startsWith(root)) return [];
    const parts = o.path.slice(root.length).split('/');
    const parsed = parts.length === 2 ? parseArchivedObjectName(parts[1]!) : undefined;
    const name = parsed && parseWalFileName(parsed.name);
    return name ? [{ object: o, name }] : [];
  });
  const positioned = files.filter((f) => f.name.kind !== 'history');
  if (positioned.length === 0) return {};
  const keep = (reason: string) => ({ kept: { database: db.name, target: target.name, reason } });
  if (db.segmentSize === undefined) {
    return keep(`the WAL segment size of "${db.name}" is unknown${db.segmentSizeError ? ` (${db.segmentSizeError})` : ''}: all its WAL is kept`);
  }
  const size = db.segmentSize;
  if (keptBases.length === 0) return keep(`no base backup of "${db.name}" is kept on ${target.name}: all its WAL is kept`);
  let floor: { segment: string; segno: bigint; base: RetainedBackup } | undefined;
  for (const base of keptBases) {
    const segment = baseStartSegment(base, size);
    if (!segment) return keep(`base ${base.backupId} records no start LSN: all WAL of "${db.name}" is kept`);
    const segno = segmentNumber(segment, size);
    if (!floor || segno < floor.segno) floor = { segment, segno, base };
  }
  const { segment, segno, base } = floor!;
  // A .partial or .backup file sits at the position of the segment it names.
  const position = (n: (typeof files)[number]['name']) => segmentNumber(n.kind === 'segment' || n.kind === 'history' ? n.name : n.segment, size);
  const going = positioned
    .filter((f) => position(f.name) < segno)
    .sort((a, b) => Number(position(a.name) - position(b.name)) || a.name.timeline - b.name.timeline || a.name.name.localeCompare(b.name.name));
  if (going.length === 0) return {};
  return {
    removal: {
      database: db.name,
      target: target.name,
      reason: `before ${segment}, where base ${base.backupId} (the oldest kept on ${target.name}) starts`,
      first: going[0]!.name.name,
      last: going.at(-1)!.name.name,
      objects: going.map((f) => ({ name: f.name.name, path: f.object.path, size: f.object.size })),
      bytes: going.reduce((sum, f) => sum + f.object.size, 0),
    },
  };
}

function clip(text: string): string {
  const line = text.split('\n')[0]!;
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}

/** Everything a cleanup would remove: bytes and counts, for summaries. */
export function planTotals(plan: RetentionPlan): { copies: number; walFiles: number; bytes: number; overdueKept: number } {
  const copies = plan.databases.flatMap((d) => d.copies);
  const removing = copies.filter((c) => c.action === 'remove');
  const wal = plan.databases.flatMap((d) => d.wal);
  return {
    copies: removing.length,
    walFiles: wal.reduce((n, w) => n + w.objects.length, 0),
    bytes: removing.reduce((n, c) => n + c.bytes, 0) + wal.reduce((n, w) => n + w.bytes, 0),
    overdueKept: copies.filter((c) => c.action === 'keep' && c.overdue).length,
  };
}
