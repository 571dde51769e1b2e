// What one storage target can restore, read from a listing: the point-in-time window (the oldest base backup
// whose WAL chain reaches the newest archived segment, to that segment) and the range of full backups; and
// the chain check cleanup runs afterwards. Pure: listings and parsed history files in, no I/O.
import { errorMessage } from '../errors.js';
import { rootPrefix } from '../manifest/layout.js';
import type { ObjectInfo } from '../storage/types.js';
import { type ArchivedWal, archivedWalOf, findWalGaps } from '../wal/archive.js';
import { formatLsn, parseLsn, segmentEndLsn, segmentNumber, segmentOfLsn, type TimelineHistoryEntry } from '../wal/names.js';
import type { RecoveryWindow, RetainedBackup } from './types.js';

/** The objects of each backup directory a listing shows: backupId → its objects. */
export function backupHoldings(objects: readonly ObjectInfo[], prefix: string, database: string): Map<string, { kind: string; objects: ObjectInfo[] }> {
  const root = `${rootPrefix(prefix)}${database}/`;
  const held = new Map<string, { kind: string; objects: ObjectInfo[] }>();
  for (const object of objects) {
    if (!object.path.startsWith(root)) continue;
    const parts = object.path.slice(root.length).split('/');
    if (parts.length !== 3 || !['full', 'base', 'incremental'].includes(parts[0]!)) continue;
    const [kind, backupId] = parts as [string, string, string];
    const entry = held.get(backupId) ?? { kind, objects: [] };
    entry.objects.push(object);
    held.set(backupId, entry);
  }
  return held;
}

export const hasManifest = (objects: readonly ObjectInfo[]) => objects.some((o) => o.path.endsWith('/manifest.json'));

/** Usable for a restore: a successful run (or one the catalog does not know) whose verification did not fail. */
export const isUsable = (b: RetainedBackup) => (b.status === 'succeeded' || b.status === 'unknown') && b.verification !== 'failed';

export interface WindowInput {
  target: string;
  prefix: string;
  database: string;
  objects: readonly ObjectInfo[];
  /** Backups of the database that the target holds whole (manifest present) and that are usable. */
  backups: readonly RetainedBackup[];
  histories?: ReadonlyMap<number, readonly TimelineHistoryEntry[]> | undefined;
  segmentSize?: number | undefined;
  segmentSizeError?: string | undefined;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The first segment recovery from a base backup reads (it holds the base's start LSN). */
export function baseStartSegment(base: RetainedBackup, segmentSize: number): string | undefined {
  if (!base.startLsn || !base.timeline) return undefined;
  return segmentOfLsn(parseLsn(base.startLsn), base.timeline, segmentSize);
}

function newestSegment(archive: ArchivedWal): string | undefined {
  const last = [...archive.segments.keys()].at(-1);
  return last === undefined ? undefined : archive.segments.get(last)!.at(-1);
}

/** The WAL files recovery from `base` to the newest archived segment needs that the archive lacks. */
function missingFor(archive: ArchivedWal, base: RetainedBackup, newest: string, input: WindowInput): string[] {
  const size = input.segmentSize!;
  const from = baseStartSegment(base, size);
  if (!from) return [`(base ${base.backupId} records no start LSN)`];
  if (segmentNumber(from, size) > segmentNumber(newest, size)) return [from];
  try {
    return findWalGaps(archive, { from, to: newest, histories: input.histories, segmentSize: size });
  } catch (error) {
    return [`(${errorMessage(error)})`];
  }
}

export function recoveryWindow(input: WindowInput): RecoveryWindow {
  const fulls = input.backups.filter((b) => b.kind === 'full').sort(byTime);
  const window: RecoveryWindow = {
    target: input.target,
    pitr: null,
    problem: null,
    fulls: fulls.length === 0 ? null : { oldest: point(fulls[0]!), newest: point(fulls.at(-1)!), count: fulls.length },
  };
  const bases = input.backups.filter((b) => b.kind === 'base').sort(byTime);
  const archive = archivedWalOf(input.objects, input.prefix, input.database);
  if (bases.length === 0 && archive.objects.size === 0) return window;
  if (bases.length === 0) return { ...window, problem: 'no base backup' };
  const newest = newestSegment(archive);
  if (!newest) return { ...window, problem: 'no WAL archived' };
  if (input.segmentSize === undefined) return { ...window, problem: `WAL segment size unknown${input.segmentSizeError ? ` (${input.segmentSizeError})` : ''}` };
  let firstProblem: string | null = null;
  for (const base of bases) {
    const missing = missingFor(archive, base, newest, input);
    if (missing.length === 0) {
      const object = archive.objects.get(newest)!;
      return {
        ...window,
        pitr: {
          from: { ...point(base), lsn: base.startLsn },
          to: { at: iso(object.modifiedAt), segment: newest, lsn: formatLsn(segmentEndLsn(newest, input.segmentSize)) },
        },
      };
    }
    firstProblem ??= `base ${base.backupId} lacks ${missing[0]}`;
  }
  return { ...window, problem: `no base backup has an unbroken WAL chain to ${newest}: ${firstProblem}` };
}

/** Base backups whose chain to the newest archived segment has a hole: each with what it lacks. */
export function brokenChains(input: WindowInput): { backupId: string; missing: string[] }[] {
  if (input.segmentSize === undefined) return [];
  const archive = archivedWalOf(input.objects, input.prefix, input.database);
  const newest = newestSegment(archive);
  if (!newest) return [];
  return input.backups
    .filter((b) => b.kind === 'base')
    .sort(byTime)
    .map((base) => ({ backupId: base.backupId, missing: missingFor(archive, base, newest, input) }))
    .filter((b) => b.missing.length > 0);
}

export function byTime(a: RetainedBackup, b: RetainedBackup): number {
  return a.at.getTime() - b.at.getTime() || a.backupId.localeCompare(b.backupId);
}

function point(b: RetainedBackup) {
  return { at: iso(b.at), backupId: b.backupId };
}
