// The WAL archive on a storage target: push one WAL file (idempotent: an identical copy already archived is
// success, a different one an error), fetch one back for restore_command, list what is archived, and find
// the gaps between two points of the WAL, following timeline switches.
//
// Layout (DESIGN.md "Storage layout"), one folder per timeline, history files in their own timeline's folder:
//   <prefix>/<database>/wal/<timeline>/<segment>[.zst|.gz|.lz4][.enc]       000000010000000A000000FF.zst.enc
//   <prefix>/<database>/wal/<timeline>/<segment>.partial[.zst…][.enc]       last segment of a promoted standby
//   <prefix>/<database>/wal/<timeline>/<segment>.<offset>.backup[.zst…][.enc] backup history file
//   <prefix>/<database>/wal/<timeline>/<timeline>.history[.zst…][.enc]      00000002/00000002.history.zst
// The suffixes say how the stored bytes were made, so a reader needs no manifest, and a change of compression
// or encryption in config never makes an archived file unreadable or archivable twice under two names.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { KeyRing, KeySource } from '../crypto/keyring.js';
import { errorMessage } from '../errors.js';
import { artifactReadStages, writeArtifact } from '../pipeline/artifact.js';
import { algorithmOfSuffix, COMPRESSION_ALGORITHMS, type CompressionAlgorithm, type CompressionSpec, compressionSuffix } from '../pipeline/compression.js';
import type { ObjectInfo, StorageDriver } from '../storage/types.js';
import { WalArchiveError, WalConflictError, WalFileError, WalHistoryError } from './errors.js';
import {
  compareSegments,
  DEFAULT_SEGMENT_SIZE,
  formatTimeline,
  historyFileName,
  isValidSegmentSize,
  parseTimelineHistory,
  parseWalFileName,
  segmentName,
  segmentNumber,
  segmentNumberOfLsn,
  type TimelineHistoryEntry,
  type WalFileName,
} from './names.js';

export type PushOutcome = 'stored' | 'already-archived';
export type FetchOutcome = 'restored' | 'not-found';

/** How an archived object was stored, read from its name's suffixes. */
export interface ArchivedObject {
  /** The WAL file name PostgreSQL knows it by. */
  name: string;
  /** Its path on the storage target. */
  path: string;
  compression: CompressionAlgorithm;
  encrypted: boolean;
  size: number;
  modifiedAt: Date;
}

// Every way a WAL file may be stored: any algorithm (config may have changed since), encrypted or not.
const STORED_SUFFIXES = COMPRESSION_ALGORITHMS.flatMap((algorithm) => [compressionSuffix(algorithm), `${compressionSuffix(algorithm)}.enc`]);

function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** `<prefix>/<database>/wal`: everything the WAL archive of one database holds is below it. */
export function walRoot(prefix: string, database: string): string {
  return joinPath(prefix, database, 'wal');
}

/** Where a WAL file is stored: its timeline's folder, its own name, and the suffixes of how it was stored. */
export function walObjectPath(
  prefix: string,
  database: string,
  name: string,
  stored: { compression: CompressionAlgorithm; encrypted: boolean },
): string {
  const parsed = requireWalName(name);
  return `${joinPath(walRoot(prefix, database), formatTimeline(parsed.timeline), name)}${compressionSuffix(stored.compression)}${stored.encrypted ? '.enc' : ''}`;
}

/** Parses the last part of a stored object's path back into the WAL name and how it is stored. */
export function parseArchivedObjectName(file: string): { name: string; compression: CompressionAlgorithm; encrypted: boolean } | undefined {
  let rest = file;
  const encrypted = rest.endsWith('.enc');
  if (encrypted) rest = rest.slice(0, -'.enc'.length);
  // WAL names hold no dot before their own suffixes (.partial, .backup, .history), so the last one is ours or theirs.
  const dot = rest.lastIndexOf('.');
  const compression = dot === -1 ? undefined : algorithmOfSuffix(rest.slice(dot));
  if (compression !== undefined && compression !== 'none') rest = rest.slice(0, dot);
  return parseWalFileName(rest) ? { name: rest, compression: compression ?? 'none', encrypted } : undefined;
}

export interface WalTarget {
  storage: StorageDriver;
  /** `storage.prefix` from config ('' for none). */
  prefix: string;
  /** The configured database name: it names the archive's folder. */
  database: string;
}

export interface PushWalFileOptions extends WalTarget {
  /** The local WAL file (archive_command's %p, relative to the current directory, or absolute). */
  path: string;
  /** The name to archive it under; default the file's base name, which is what PostgreSQL passes. */
  name?: string;
  compression: CompressionSpec;
  /**
   * Encrypts new objects when given: the key ring's first key, or (walKeySource) a KMS data key made for
   * each object written, its wrapped copy carried in the object.
   */
  encryptionKey?: KeySource | undefined;
  /** Reads back an archived encrypted copy to compare it; required when one exists. */
  keyring?: KeyRing | undefined;
  /** When known, segments must be exactly this size; otherwise any valid segment size is accepted. */
  segmentSize?: number;
  signal?: AbortSignal;
}

/**
 * Archives one WAL file. When an object of that name already exists (under any suffix), its plain bytes are
 * read back and compared with the local file: identical is 'already-archived' (PostgreSQL retries a push
 * whose success it did not see), different is a WalConflictError and the archived object stays untouched.
 * A new object is written through the artifact pipeline, visible only once whole.
 */
export async function pushWalFile(options: PushWalFileOptions): Promise<PushOutcome> {
  const name = options.name ?? basename(options.path);
  const parsed = parseWalFileName(name);
  if (!parsed) {
    throw new WalFileError(`"${name}" is not a WAL file name`, {
      hints: ['archive_command must pass %p (the path of the WAL file), e.g. pgwarden wal-push %p'],
    });
  }
  await checkLocalFile(options.path, parsed, options.segmentSize);

  const existing = await findArchivedObjects(options, name);
  if (existing.length > 0) {
    const local = await fileSha256(options.path, options.signal);
    for (const object of existing) {
      const archived = await archivedSha256(options.storage, object, options.keyring, options.signal);
      if (archived !== local) throw new WalConflictError(name, `${options.storage.name}:${object.path}`);
    }
    return 'already-archived';
  }

  const objectPath = walObjectPath(options.prefix, options.database, name, {
    compression: options.compression.algorithm,
    encrypted: options.encryptionKey !== undefined,
  });
  try {
    const key = options.encryptionKey;
    await writeArtifact({
      source: createReadStream(options.path, { highWaterMark: 1024 * 1024 }),
      compression: options.compression,
      encryptionKey: typeof key === 'function' ? await key() : key,
      writers: [options.storage.write(objectPath)],
      signal: options.signal,
    });
  } catch (error) {
    throw archiveFailure(`cannot archive ${name} to ${options.storage.name}:${objectPath}`, error, options.signal);
  }
  return 'stored';
}

export interface FetchWalFileOptions extends WalTarget {
  /** The WAL file PostgreSQL asks for (restore_command's %f). */
  name: string;
  /** Where to put it (restore_command's %p); written under a temporary name in the same folder, then renamed. */
  destination: string;
  keyring?: KeyRing | undefined;
  signal?: AbortSignal;
}

/**
 * Restores one archived WAL file (segment, history, .partial or .backup file) into `destination`.
 * 'not-found' when the archive has no such file: restore_command must then fail, so that the server tries its
 * next source or ends recovery.
 */
export async function fetchWalFile(options: FetchWalFileOptions): Promise<FetchOutcome> {
  const parsed = parseWalFileName(options.name);
  if (!parsed) {
    throw new WalFileError(`"${options.name}" is not a WAL file name`, {
      hints: ['restore_command must pass %f and %p, e.g. pgwarden wal-fetch %f %p'],
    });
  }
  const [object] = await findArchivedObjects(options, options.name);
  if (!object) return 'not-found';

  const temp = join(dirname(options.destination), `${basename(options.destination)}.pgwarden-${randomBytes(6).toString('hex')}`);
  let handle: FileHandle;
  try {
    handle = await open(temp, 'wx', 0o600);
  } catch (error) {
    throw new WalArchiveError(`cannot write ${temp}: ${errorMessage(error)}`, { cause: error });
  }
  let bytes = 0;
  try {
    const { stages } = readStagesFor(object, options.keyring);
    const sink = new Writable({
      highWaterMark: 1024 * 1024,
      writev(chunks, callback) {
        const buffers = chunks.map((c) => c.chunk as Buffer);
        for (const b of buffers) bytes += b.length;
        handle.writev(buffers).then(() => callback(), callback);
      },
    });
    await pipeline([options.storage.read(object.path), ...stages, sink], { signal: options.signal });
    if ((parsed.kind === 'segment' || parsed.kind === 'partial') && !isValidSegmentSize(bytes)) {
      throw new WalArchiveError(`archived ${options.name} at ${options.storage.name}:${object.path} holds ${bytes} bytes, not a whole WAL segment`, {
        hints: ['the archived copy is damaged: restore this segment from another storage target'],
      });
    }
    await handle.sync();
    await handle.close();
    await rename(temp, options.destination);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    if (error instanceof WalArchiveError) throw error;
    throw archiveFailure(`cannot restore ${options.name} from ${options.storage.name}:${object.path}`, error, options.signal);
  }
  return 'restored';
}

/** What the archive of one database holds, sorted. */
export interface ArchivedWal {
  /** timeline → its segment names, in WAL order. */
  segments: ReadonlyMap<number, readonly string[]>;
  /** `.history` file names, by timeline. */
  histories: readonly string[];
  partials: readonly string[];
  backupFiles: readonly string[];
  /** Every archived WAL file by name (the first found when a name is stored under two suffixes). */
  objects: ReadonlyMap<string, ArchivedObject>;
}

export async function listArchivedWal(storage: StorageDriver, prefix: string, database: string): Promise<ArchivedWal> {
  return archivedWalOf(await storage.list(`${walRoot(prefix, database)}/`), prefix, database);
}

/** The archive of one database as a listing shows it (objects outside its WAL folder are ignored): no I/O. */
export function archivedWalOf(infos: readonly ObjectInfo[], prefix: string, database: string): ArchivedWal {
  const root = `${walRoot(prefix, database)}/`;
  const objects = new Map<string, ArchivedObject>();
  const segments = new Map<number, string[]>();
  const histories: string[] = [];
  const partials: string[] = [];
  const backupFiles: string[] = [];
  for (const info of [...infos].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (!info.path.startsWith(root)) continue;
    const object = archivedObjectOf(info, root);
    if (!object || objects.has(object.name)) continue;
    objects.set(object.name, object);
    const parsed = parseWalFileName(object.name)!;
    if (parsed.kind === 'segment') {
      const list = segments.get(parsed.timeline) ?? [];
      list.push(object.name);
      segments.set(parsed.timeline, list);
    } else if (parsed.kind === 'history') histories.push(object.name);
    else if (parsed.kind === 'partial') partials.push(object.name);
    else backupFiles.push(object.name);
  }
  for (const list of segments.values()) list.sort(compareSegments);
  return {
    segments: new Map([...segments].sort(([a], [b]) => a - b)),
    histories: histories.sort(),
    partials: partials.sort(),
    backupFiles: backupFiles.sort(),
    objects,
  };
}

/** Every archived history file, parsed: timeline → its ancestry (the `histories` findWalGaps follows). */
export async function readTimelineHistories(
  target: WalTarget & { keyring?: KeyRing | undefined; signal?: AbortSignal },
  archive: ArchivedWal,
): Promise<Map<number, TimelineHistoryEntry[]>> {
  const result = new Map<number, TimelineHistoryEntry[]>();
  for (const name of archive.histories) {
    const object = archive.objects.get(name)!;
    const text = await readArchivedText(target.storage, object, target.keyring, target.signal);
    try {
      result.set(parseWalFileName(name)!.timeline, parseTimelineHistory(text));
    } catch (error) {
      throw new WalHistoryError(`archived history file ${name} cannot be parsed: ${errorMessage(error)}`, { cause: error });
    }
  }
  return result;
}

export interface FindWalGapsOptions {
  /** The first segment the chain must hold (e.g. where a base backup starts). */
  from: string;
  /** The last segment the chain must hold. Its timeline decides which timeline path is followed. */
  to: string;
  /** timeline → parsed history file (readTimelineHistories); needed when `to` is on a later timeline than `from`. */
  histories?: ReadonlyMap<number, readonly TimelineHistoryEntry[]>;
  segmentSize?: number;
}

/**
 * The WAL files a recovery from `from` to `to` needs that the archive lacks, in WAL order. A timeline
 * switch is followed as recovery does: segments before the one holding the switch point come from the old
 * timeline, that segment and later ones from the new timeline, whose history file must be archived too.
 */
export function findWalGaps(archive: ArchivedWal, options: FindWalGapsOptions): string[] {
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const from = segmentNumber(options.from, segmentSize);
  const to = segmentNumber(options.to, segmentSize);
  const fromTimeline = parseWalFileName(options.from)!.timeline;
  const toTimeline = parseWalFileName(options.to)!.timeline;
  if (to < from) throw new RangeError(`findWalGaps: ${options.to} comes before ${options.from}`);

  const path = timelinePath(toTimeline, options.histories, segmentSize);
  const first = path.findIndex((step) => step.timeline === fromTimeline);
  if (first === -1) {
    throw new WalHistoryError(`timeline ${fromTimeline} of ${options.from} is not an ancestor of timeline ${toTimeline} of ${options.to}`);
  }
  const fromStep = path[first]!;
  if (fromStep.endSegno !== undefined && from > fromStep.endSegno) {
    throw new WalHistoryError(`${options.from} lies after timeline ${fromTimeline} ended (${options.to} is on timeline ${toTimeline})`);
  }

  const present = new Set(archive.objects.keys());
  const missing: string[] = [];
  let step = first;
  for (let segno = from; segno <= to; segno++) {
    // The newest timeline of the path that had begun by this segment (PostgreSQL's XLogFileReadAnyTLI).
    let next = path[step + 1];
    while (next !== undefined && segno >= next.beginSegno) {
      step++;
      const history = historyFileName(next.timeline);
      if (!present.has(history)) missing.push(history);
      next = path[step + 1];
    }
    const name = segmentName(path[step]!.timeline, segno, segmentSize);
    if (!present.has(name)) missing.push(name);
  }
  return missing;
}

interface PathStep {
  timeline: number;
  /** First segment read from this timeline. */
  beginSegno: bigint;
  /** Last segment this timeline holds WAL of, undefined for the newest. */
  endSegno: bigint | undefined;
}

/** The timelines leading to `timeline`, oldest first, each with the segment it takes over from its parent. */
function timelinePath(
  timeline: number,
  histories: ReadonlyMap<number, readonly TimelineHistoryEntry[]> | undefined,
  segmentSize: number,
): PathStep[] {
  if (timeline === 1) return [{ timeline, beginSegno: 0n, endSegno: undefined }];
  const entries = histories?.get(timeline);
  if (!entries) {
    throw new WalHistoryError(`no history for timeline ${timeline} (${historyFileName(timeline)}): cannot follow the timeline switch`, {
      hints: [`archive ${historyFileName(timeline)}, or pass the histories read with readTimelineHistories`],
    });
  }
  const path: PathStep[] = [];
  let begin = 0n;
  for (const entry of entries) {
    const switchSegno = segmentNumberOfLsn(entry.switchLsn, segmentSize);
    path.push({ timeline: entry.timeline, beginSegno: begin, endSegno: switchSegno });
    begin = switchSegno;
  }
  path.push({ timeline, beginSegno: begin, endSegno: undefined });
  return path;
}

// ---- reading and comparing ----

/** The archived copies of `name` under any suffix (normally one). */
async function findArchivedObjects(target: WalTarget, name: string): Promise<ArchivedObject[]> {
  const parsed = requireWalName(name);
  const base = joinPath(walRoot(target.prefix, target.database), formatTimeline(parsed.timeline), name);
  try {
    const infos = await Promise.all(STORED_SUFFIXES.map((suffix) => target.storage.stat(`${base}${suffix}`)));
    return infos.flatMap((info, index) => {
      if (!info) return [];
      const suffix = STORED_SUFFIXES[index]!;
      const stored = parseArchivedObjectName(`${name}${suffix}`)!;
      return [{ name, path: info.path, compression: stored.compression, encrypted: stored.encrypted, size: info.size, modifiedAt: info.modifiedAt }];
    });
  } catch (error) {
    throw archiveFailure(`cannot look up ${name} on ${target.storage.name}`, error);
  }
}

function archivedObjectOf(info: ObjectInfo, root: string): ArchivedObject | undefined {
  const rest = info.path.slice(root.length).split('/');
  if (rest.length !== 2) return undefined;
  const [timelineDir, file] = rest as [string, string];
  const parsed = parseArchivedObjectName(file);
  if (!parsed) return undefined;
  // A file in another timeline's folder was not put there by pgwarden: not part of the archive.
  if (formatTimeline(parseWalFileName(parsed.name)!.timeline) !== timelineDir) return undefined;
  return { ...parsed, path: info.path, size: info.size, modifiedAt: info.modifiedAt };
}

function readStagesFor(object: ArchivedObject, keyring: KeyRing | undefined) {
  if (object.encrypted && !keyring) {
    throw new WalArchiveError(`archived ${object.name} (${object.path}) is encrypted, and no encryption keys are configured`, {
      hints: ['add the key it was encrypted with to encryption.keys'],
    });
  }
  return artifactReadStages({ compression: object.compression, keyring, encrypted: object.encrypted });
}

/** SHA-256 of an archived object's plain bytes (decrypted, decompressed). */
async function archivedSha256(storage: StorageDriver, object: ArchivedObject, keyring: KeyRing | undefined, signal?: AbortSignal): Promise<string> {
  const { stages } = readStagesFor(object, keyring);
  const hash = createHash('sha256');
  try {
    await pipeline([storage.read(object.path), ...stages, hashSink(hash)], { signal });
  } catch (error) {
    throw archiveFailure(`cannot read back archived ${object.name} (${storage.name}:${object.path}) to compare it`, error, signal, [
      'an unreadable archived copy is never overwritten automatically: check it, and remove it only if it is damaged',
    ]);
  }
  return hash.digest('hex');
}

async function readArchivedText(storage: StorageDriver, object: ArchivedObject, keyring: KeyRing | undefined, signal?: AbortSignal): Promise<string> {
  const { stages } = readStagesFor(object, keyring);
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  try {
    await pipeline([storage.read(object.path), ...stages, sink], { signal });
  } catch (error) {
    throw archiveFailure(`cannot read archived ${object.name} (${storage.name}:${object.path})`, error, signal);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function fileSha256(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  try {
    await pipeline([createReadStream(path, { highWaterMark: 1024 * 1024 }), hashSink(hash)], { signal });
  } catch (error) {
    throw archiveFailure(`cannot read ${path}`, error, signal);
  }
  return hash.digest('hex');
}

function hashSink(hash: ReturnType<typeof createHash>): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback();
    },
  });
}

async function checkLocalFile(path: string, parsed: WalFileName, segmentSize: number | undefined): Promise<void> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new WalFileError(`${path} is not a regular file`);
    size = info.size;
  } catch (error) {
    if (error instanceof WalFileError) throw error;
    throw new WalFileError(`cannot read WAL file ${path}: ${errorMessage(error)}`, { cause: error });
  }
  if (parsed.kind !== 'segment' && parsed.kind !== 'partial') return;
  // A segment is always written at its full size; anything else is a truncated copy, never archived.
  const ok = segmentSize === undefined ? isValidSegmentSize(size) : size === segmentSize;
  if (!ok) {
    throw new WalFileError(`WAL file ${path} is ${size} bytes, not a whole segment${segmentSize === undefined ? '' : ` of ${segmentSize} bytes`}`);
  }
}

function requireWalName(name: string): WalFileName {
  const parsed = parseWalFileName(name);
  if (!parsed) throw new WalFileError(`"${name}" is not a WAL file name`);
  return parsed;
}

/** Wraps a storage/stream failure in one message; an abort (timeout, stop) keeps its own reason. */
function archiveFailure(what: string, error: unknown, signal?: AbortSignal, hints: string[] = []): Error {
  if (signal?.aborted && signal.reason instanceof Error) return signal.reason;
  if (error instanceof WalArchiveError || error instanceof WalConflictError) return error;
  const cause = error as { hints?: string[] };
  return new WalArchiveError(`${what}: ${errorMessage(error)}`, { cause: error, hints: [...hints, ...(cause.hints ?? [])] });
}
