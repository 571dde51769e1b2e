// WAL file names and positions, as PostgreSQL defines them (src/include/access/xlog_internal.h): parsing and
// formatting segment, history, .partial and .backup names, LSN ↔ segment arithmetic for any segment size.
// Pure functions, no I/O. LSNs and segment numbers are bigints: they are 64-bit in PostgreSQL.

/** The segment size initdb uses unless told otherwise (`--wal-segsize`). */
export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;
/** initdb accepts powers of two from 1 MiB to 1 GiB. */
export const MIN_SEGMENT_SIZE = 1024 * 1024;
export const MAX_SEGMENT_SIZE = 1024 * 1024 * 1024;

const LOG_ID_SPAN = 0x1_0000_0000n; // bytes of WAL per "log id" (the middle 8 hex digits)
const MAX_LSN = 0xffff_ffff_ffff_ffffn;

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const PARTIAL = /^([0-9A-F]{24})\.partial$/;
const BACKUP = /^([0-9A-F]{24})\.([0-9A-F]{8})\.backup$/;
const HISTORY = /^([0-9A-F]{8})\.history$/;

/** One of the file kinds PostgreSQL archives (archive_command) and asks back (restore_command). */
export type WalFileName =
  | { kind: 'segment'; name: string; timeline: number; log: number; seg: number }
  /** The last, incomplete segment of a timeline, archived by a server promoted from standby. */
  | { kind: 'partial'; name: string; segment: string; timeline: number }
  /** A backup history file `<segment>.<offset>.backup`, written by pg_backup_stop(). */
  | { kind: 'backup'; name: string; segment: string; timeline: number; offset: number }
  /** `<timeline>.history`: the ancestry of a timeline, with the LSN where each ancestor ended. */
  | { kind: 'history'; name: string; timeline: number };

export function isValidSegmentSize(bytes: number): boolean {
  return Number.isInteger(bytes) && bytes >= MIN_SEGMENT_SIZE && bytes <= MAX_SEGMENT_SIZE && (bytes & (bytes - 1)) === 0;
}

export function assertSegmentSize(bytes: number): void {
  if (!isValidSegmentSize(bytes)) {
    throw new RangeError(`invalid WAL segment size ${bytes}: must be a power of two from 1 MiB to 1 GiB`);
  }
}

const UNITS: Record<string, number> = { '': 1, B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/**
 * Reads `SHOW wal_segment_size` output ("16MB", "1GB", "512kB") or a plain byte count, as
 * `pg_settings.setting` gives it. Throws on anything that is not a valid segment size.
 */
export function parseSegmentSize(text: string): number {
  const match = /^\s*(\d+)\s*(B|kB|MB|GB)?\s*$/.exec(text);
  const bytes = match ? Number(match[1]) * UNITS[match[2] ?? '']! : Number.NaN;
  if (!isValidSegmentSize(bytes)) throw new RangeError(`invalid WAL segment size "${text}"`);
  return bytes;
}

/** The segment size from `pg_controldata` output ("Bytes per WAL segment:   16777216"). */
export function parseControlDataSegmentSize(output: string): number {
  const match = /^Bytes per WAL segment:\s*(\d+)\s*$/m.exec(output);
  if (!match) throw new RangeError('pg_controldata output has no "Bytes per WAL segment" line');
  return parseSegmentSize(match[1]!);
}

/** Parses "16/B374D848" (as pg_current_wal_lsn() prints it). */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new RangeError(`invalid LSN "${text}": expected two hex numbers like 16/B374D848`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(lsn: bigint): string {
  checkLsn(lsn);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

export function formatTimeline(timeline: number): string {
  checkTimeline(timeline);
  return timeline.toString(16).toUpperCase().padStart(8, '0');
}

export function historyFileName(timeline: number): string {
  return `${formatTimeline(timeline)}.history`;
}

export function parseWalFileName(name: string): WalFileName | undefined {
  let match = SEGMENT.exec(name);
  if (match) {
    const timeline = hex(match[1]!);
    if (timeline === 0) return undefined;
    return { kind: 'segment', name, timeline, log: hex(match[2]!), seg: hex(match[3]!) };
  }
  match = PARTIAL.exec(name);
  if (match) {
    const segment = parseWalFileName(match[1]!);
    return segment?.kind === 'segment' ? { kind: 'partial', name, segment: segment.name, timeline: segment.timeline } : undefined;
  }
  match = BACKUP.exec(name);
  if (match) {
    const segment = parseWalFileName(match[1]!);
    if (segment?.kind !== 'segment') return undefined;
    return { kind: 'backup', name, segment: segment.name, timeline: segment.timeline, offset: hex(match[2]!) };
  }
  match = HISTORY.exec(name);
  if (match) {
    const timeline = hex(match[1]!);
    return timeline === 0 ? undefined : { kind: 'history', name, timeline };
  }
  return undefined;
}

export function isSegmentName(name: string): boolean {
  return parseWalFileName(name)?.kind === 'segment';
}

/** How many segments one log id (the middle 8 hex digits of a name) spans: 256 for 16 MiB segments. */
export function segmentsPerLogId(segmentSize: number): bigint {
  assertSegmentSize(segmentSize);
  return LOG_ID_SPAN / BigInt(segmentSize);
}

/** The position of a segment in the WAL (its start LSN ÷ segment size), whatever its timeline. */
export function segmentNumber(name: string, segmentSize: number): bigint {
  const parsed = requireSegment(name);
  const perLogId = segmentsPerLogId(segmentSize);
  if (BigInt(parsed.seg) >= perLogId) {
    throw new RangeError(`WAL segment name ${name} is impossible with ${segmentSize}-byte segments`);
  }
  return BigInt(parsed.log) * perLogId + BigInt(parsed.seg);
}

export function segmentName(timeline: number, segno: bigint, segmentSize: number): string {
  const perLogId = segmentsPerLogId(segmentSize);
  if (segno < 0n || segno * BigInt(segmentSize) > MAX_LSN) throw new RangeError(`segment number ${segno} is out of range`);
  const log = segno / perLogId;
  const seg = segno % perLogId;
  return `${formatTimeline(timeline)}${hex8(log)}${hex8(seg)}`;
}

export function segmentNumberOfLsn(lsn: bigint, segmentSize: number): bigint {
  checkLsn(lsn);
  assertSegmentSize(segmentSize);
  return lsn / BigInt(segmentSize);
}

/** The segment holding the byte at `lsn` (what pg_walfile_name() returns, except exactly at a boundary). */
export function segmentOfLsn(lsn: bigint, timeline: number, segmentSize: number): string {
  return segmentName(timeline, segmentNumberOfLsn(lsn, segmentSize), segmentSize);
}

export function segmentStartLsn(name: string, segmentSize: number): bigint {
  return segmentNumber(name, segmentSize) * BigInt(segmentSize);
}

/** The LSN just past the segment's last byte: the start of the next one. */
export function segmentEndLsn(name: string, segmentSize: number): bigint {
  return segmentStartLsn(name, segmentSize) + BigInt(segmentSize);
}

/** The following segment on the same timeline: …000000FF → …0000000100000000 for 16 MiB segments. */
export function nextSegment(name: string, segmentSize: number): string {
  return segmentName(requireSegment(name).timeline, segmentNumber(name, segmentSize) + 1n, segmentSize);
}

export function previousSegment(name: string, segmentSize: number): string {
  const segno = segmentNumber(name, segmentSize);
  if (segno === 0n) throw new RangeError(`${name} is the first possible segment`);
  return segmentName(requireSegment(name).timeline, segno - 1n, segmentSize);
}

/** Orders segment names by position, then timeline (names alone sort by timeline first). */
export function compareSegments(a: string, b: string): number {
  const pa = requireSegment(a);
  const pb = requireSegment(b);
  return pa.log - pb.log || pa.seg - pb.seg || pa.timeline - pb.timeline;
}

/** One line of a timeline history file: `timeline` was left for its child at `switchLsn`. */
export interface TimelineHistoryEntry {
  timeline: number;
  switchLsn: bigint;
  reason: string;
}

/**
 * Parses a `.history` file: one line per ancestor, `<parent tli>\t<switch LSN>\t<reason>`, oldest first
 * (PostgreSQL's readTimeLineHistory; '#' comments and blank lines are skipped).
 */
export function parseTimelineHistory(text: string): TimelineHistoryEntry[] {
  const entries: TimelineHistoryEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)\s*(.*)$/.exec(line);
    if (!match) throw new RangeError(`invalid timeline history line "${line}"`);
    const timeline = Number(match[1]);
    checkTimeline(timeline);
    const previous = entries.at(-1);
    if (previous && timeline <= previous.timeline) {
      throw new RangeError(`timeline history is not in increasing order at "${line}"`);
    }
    entries.push({ timeline, switchLsn: parseLsn(match[2]!), reason: match[3]!.trim() });
  }
  return entries;
}

function requireSegment(name: string): Extract<WalFileName, { kind: 'segment' }> {
  const parsed = parseWalFileName(name);
  if (parsed?.kind !== 'segment') throw new RangeError(`"${name}" is not a WAL segment name`);
  return parsed;
}

function checkLsn(lsn: bigint): void {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`LSN ${lsn} is out of range`);
}

function checkTimeline(timeline: number): void {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffff_ffff) {
    throw new RangeError(`invalid timeline ${timeline}: must be 1 to FFFFFFFF`);
  }
}

function hex(text: string): number {
  return Number.parseInt(text, 16);
}

function hex8(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}
