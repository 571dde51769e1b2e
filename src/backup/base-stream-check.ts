// Checks pg_basebackup's tar stream against the backup_manifest inside it while the bytes pass on their way to
// storage — what pg_verifybackup checks for the files, without unpacking the backup and reading it again: the
// manifest's own SHA-256, every file it lists present with its size and checksum, no file it does not list
// (outside the paths pg_verifybackup ignores), pg_control's system identifier (manifest version 2). Like
// pgBackRest, which checksums each file while it copies it. The WAL half of pg_verifybackup (pg_waldump over the
// backup's WAL range) is the caller's: it needs the archive.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { VerificationError } from '../errors.js';
import { crc32c, crc32cManifestHex } from '../pipeline/crc32c.js';

/** pg_basebackup's --manifest-checksums choices. */
export type ManifestChecksumAlgorithm = 'CRC32C' | 'SHA224' | 'SHA256' | 'SHA384' | 'SHA512' | 'NONE';

export interface WalRange {
  timeline: number;
  startLsn: string;
  endLsn: string;
}

export interface BaseStreamReport {
  /** Files checked against the manifest (the ignored ones not counted). */
  files: number;
  /** Their bytes, every one checksummed. */
  bytes: number;
  /** The manifest's WAL-Ranges, in its order. */
  walRanges: WalRange[];
  checksumAlgorithm: ManifestChecksumAlgorithm;
}

// What pg_verifybackup skips by default, each with everything under it: the manifest itself, WAL (checked
// separately), and the files pg_basebackup -R may rewrite.
const IGNORED = ['backup_manifest', 'pg_wal', 'postgresql.auto.conf', 'recovery.signal', 'standby.signal'];
const isIgnored = (path: string) => IGNORED.some((i) => path === i || path.startsWith(`${i}/`));
// A message names at most this many problems (pg_verifybackup prints them all; one line must stay readable).
const LISTED_PROBLEMS = 5;

/** A running checksum of one file, in the manifest's spelling. */
interface FileSum {
  update(bytes: Buffer): void;
  hex(): string;
}

function fileSum(algorithm: ManifestChecksumAlgorithm): FileSum | undefined {
  if (algorithm === 'NONE') return undefined;
  if (algorithm === 'CRC32C') {
    let crc = 0;
    return {
      update: (bytes) => {
        crc = crc32c(bytes, crc);
      },
      hex: () => crc32cManifestHex(crc),
    };
  }
  const hash: Hash = createHash(algorithm.toLowerCase());
  return {
    update: (bytes) => {
      hash.update(bytes);
    },
    hex: () => hash.digest('hex'),
  };
}

interface Entry {
  path: string;
  size: number;
  sum: FileSum | undefined;
  /** The bytes kept: backup_manifest whole, pg_control's first 8 (its system identifier). */
  keep: Buffer[] | undefined;
}

// Paths are compared as byte strings (latin1): a tar name and a manifest's Encoded-Path are bytes, not UTF-8.
const bytePath = (bytes: Buffer) => bytes.toString('latin1');
const shown = (path: string) => Buffer.from(path, 'latin1').toString('utf8');

/**
 * A pass-through stage for pg_basebackup's tar stream. It fails the stream at once on a damaged or unexpected
 * tar entry, and at its end on a truncated archive or any difference from the manifest (VerificationError);
 * `report()` then says what was checked.
 */
export class BaseStreamCheck extends Transform {
  private readonly algorithm: ManifestChecksumAlgorithm;
  private readonly header = Buffer.alloc(512);
  private headerFill = 0;
  private state: 'header' | 'data' | 'padding' | 'end' = 'header';
  private remaining = 0;
  private padding = 0;
  private zeroBlocks = 0;
  private entries = 0;
  private current: Entry | undefined;
  private readonly files = new Map<string, { size: number; checksum: string | undefined }>();
  private readonly notFiles: string[] = [];
  private manifest: Buffer | undefined;
  private controlHead: Buffer | undefined;
  private result: BaseStreamReport | undefined;

  /** `algorithm`: the --manifest-checksums pg_basebackup was started with (the files' sums are taken as they pass). */
  constructor(options: { algorithm?: ManifestChecksumAlgorithm } = {}) {
    super({ highWaterMark: 1024 * 1024 });
    this.algorithm = options.algorithm ?? 'CRC32C';
  }

  /** What was checked; after the stream ended without error. */
  report(): BaseStreamReport {
    if (!this.result) throw new Error('BaseStreamCheck.report() before the stream was checked to its end');
    return this.result;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.state !== 'end') {
        const where = this.state === 'data' && this.current ? ` inside "${shown(this.current.path)}" (${this.remaining} of its ${this.current.size} bytes missing)` : '';
        throw new VerificationError('archive', `the base backup stream is truncated: it ended${where} before the end of its tar archive`);
      }
      this.result = this.compare();
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.state) {
        case 'header': {
          const n = Math.min(512 - this.headerFill, chunk.length - offset);
          chunk.copy(this.header, this.headerFill, offset, offset + n);
          this.headerFill += n;
          offset += n;
          if (this.headerFill === 512) {
            this.headerFill = 0;
            this.onHeader();
          }
          break;
        }
        case 'data': {
          const entry = this.current!;
          const n = Math.min(this.remaining, chunk.length - offset);
          const piece = chunk.subarray(offset, offset + n);
          entry.sum?.update(piece);
          if (entry.keep) entry.keep.push(Buffer.from(piece));
          this.remaining -= n;
          offset += n;
          if (this.remaining === 0) this.endEntry();
          break;
        }
        case 'padding': {
          const n = Math.min(this.padding, chunk.length - offset);
          this.padding -= n;
          offset += n;
          if (this.padding === 0) this.state = 'header';
          break;
        }
        case 'end': {
          // Only zero padding may follow the end-of-archive blocks.
          for (; offset < chunk.length; offset++) {
            if (chunk[offset] !== 0) throw new VerificationError('archive', 'the base backup stream has data after the end of its tar archive');
          }
          break;
        }
      }
    }
  }

  private onHeader(): void {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      this.zeroBlocks++;
      if (this.zeroBlocks === 2) this.state = 'end';
      return;
    }
    if (this.zeroBlocks > 0) throw new VerificationError('archive', `the base backup's tar archive is damaged: an end-of-archive block before entry ${this.entries + 1}`);
    this.entries++;
    const stored = readOctal(h, 148, 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (stored !== sum) throw new VerificationError('archive', `the base backup's tar archive is damaged: the header of entry ${this.entries} fails its checksum`);
    const name = cString(h, 0, 100);
    const prefix = h.toString('latin1', 257, 262) === 'ustar' ? cString(h, 345, 155) : Buffer.alloc(0);
    let path = bytePath(prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), name]) : name);
    path = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    const type = String.fromCharCode(h[156]!);
    const size = readSize(h);
    if (type === '0' || type === '\0') {
      if (this.files.has(path) || path === 'backup_manifest' && this.manifest) {
        throw new VerificationError('archive', `the base backup's tar archive holds "${shown(path)}" twice`);
      }
      const keep = path === 'backup_manifest' || path === 'global/pg_control' ? [] : undefined;
      this.current = { path, size, sum: isIgnored(path) ? undefined : fileSum(this.algorithm), keep };
      this.remaining = size;
      this.padding = (512 - (size % 512)) % 512;
      if (size === 0) this.endEntry();
      else this.state = 'data';
      return;
    }
    if (type === '5' && size === 0) return;
    if (type === '2' && size === 0) {
      this.notFiles.push(path);
      return;
    }
    throw new VerificationError('archive', `the base backup's tar archive holds "${shown(path)}" as an entry of type '${type}', which pg_basebackup does not write`);
  }

  private endEntry(): void {
    const entry = this.current!;
    this.current = undefined;
    this.state = this.padding > 0 ? 'padding' : 'header';
    if (entry.path === 'backup_manifest') this.manifest = Buffer.concat(entry.keep!);
    else if (entry.keep) this.controlHead = Buffer.concat(entry.keep).subarray(0, 8);
    if (!isIgnored(entry.path)) this.files.set(entry.path, { size: entry.size, checksum: entry.sum?.hex() });
  }

  /** The backup against its manifest: pg_verifybackup's checks of the files, in its words where it has some. */
  private compare(): BaseStreamReport {
    const manifest = parseBackupManifest(this.manifest);
    const problems: string[] = [];
    for (const path of this.notFiles) if (!isIgnored(path)) problems.push(`"${shown(path)}" is not a regular file or directory`);
    let bytes = 0;
    for (const [path, seen] of this.files) {
      const listed = manifest.files.get(path);
      if (!listed) {
        problems.push(`"${shown(path)}" is present in the backup but not in the manifest`);
        continue;
      }
      if (listed.size !== seen.size) {
        problems.push(`"${shown(path)}" has size ${seen.size} in the backup but size ${listed.size} in the manifest`);
        continue;
      }
      bytes += seen.size;
      if (listed.algorithm === 'NONE') continue;
      if (listed.algorithm !== this.algorithm) {
        problems.push(`"${shown(path)}" has a ${listed.algorithm} checksum in the manifest, but the backup was checked with ${this.algorithm}`);
      } else if (listed.checksum !== seen.checksum) {
        problems.push(`checksum mismatch for file "${shown(path)}"`);
      }
    }
    for (const path of manifest.files.keys()) {
      if (!isIgnored(path) && !this.files.has(path)) problems.push(`"${shown(path)}" is present in the manifest but not in the backup`);
    }
    if (manifest.systemIdentifier !== undefined) {
      const actual = this.controlHead?.length === 8 ? this.controlHead.readBigUInt64LE(0).toString() : undefined;
      if (actual !== manifest.systemIdentifier) {
        problems.push(`the manifest's system identifier ${manifest.systemIdentifier} is not pg_control's (${actual ?? 'no global/pg_control'})`);
      }
    }
    if (problems.length > 0) {
      const more = problems.length > LISTED_PROBLEMS ? `; and ${problems.length - LISTED_PROBLEMS} more` : '';
      const check = problems.every((p) => p.startsWith('checksum mismatch')) ? 'checksum' : 'archive';
      throw new VerificationError(check, `the base backup does not match its backup_manifest: ${problems.slice(0, LISTED_PROBLEMS).join('; ')}${more}`);
    }
    return { files: this.files.size, bytes, walRanges: manifest.walRanges, checksumAlgorithm: this.algorithm };
  }
}

interface ParsedManifest {
  files: Map<string, { size: number; algorithm: ManifestChecksumAlgorithm; checksum: string | undefined }>;
  walRanges: WalRange[];
  systemIdentifier: string | undefined;
}

/** backup_manifest as pg_verifybackup reads it: its SHA-256 over everything up to the last line, version 1 or 2, no path twice. */
export function parseBackupManifest(text: Buffer | undefined): ParsedManifest {
  const bad = (why: string) => new VerificationError('manifest', `the base backup's backup_manifest ${why}`);
  if (!text) throw new VerificationError('manifest', 'the base backup stream holds no backup_manifest (was the server older than PostgreSQL 13, or the manifest turned off?)');
  // The checksum covers the bytes up to and including the second-to-last newline.
  let newlines = 0;
  let cut = text.length - 1;
  for (; cut > 0; cut--) {
    if (text[cut] === 0x0a && ++newlines === 2) break;
  }
  if (newlines < 2) throw bad('has fewer than two lines');
  let json: {
    'PostgreSQL-Backup-Manifest-Version'?: unknown;
    'System-Identifier'?: unknown;
    Files?: unknown;
    'WAL-Ranges'?: unknown;
    'Manifest-Checksum'?: unknown;
  };
  try {
    // System-Identifier is a 64-bit integer: keep its digits, not a rounded double.
    json = JSON.parse(text.toString('utf8').replace(/("System-Identifier"\s*:\s*)(\d+)/, '$1"$2"'));
  } catch (error) {
    throw bad(`is not JSON: ${(error as Error).message}`);
  }
  const expected = createHash('sha256').update(text.subarray(0, cut + 1)).digest('hex');
  if (typeof json['Manifest-Checksum'] !== 'string' || json['Manifest-Checksum'].toLowerCase() !== expected) {
    throw bad(`fails its own checksum: it records ${String(json['Manifest-Checksum'])}, its content hashes to ${expected}`);
  }
  const version = json['PostgreSQL-Backup-Manifest-Version'];
  if (version !== 1 && version !== 2) throw bad(`has version ${String(version)}; pgwarden reads versions 1 and 2`);
  if (!Array.isArray(json.Files)) throw bad('lists no files');
  const files: ParsedManifest['files'] = new Map();
  for (const file of json.Files as Record<string, unknown>[]) {
    const path =
      typeof file.Path === 'string'
        ? bytePath(Buffer.from(file.Path, 'utf8'))
        : typeof file['Encoded-Path'] === 'string'
          ? bytePath(Buffer.from(file['Encoded-Path'], 'hex'))
          : undefined;
    if (path === undefined || !Number.isSafeInteger(file.Size)) throw bad(`has a file entry without a path or size: ${JSON.stringify(file).slice(0, 200)}`);
    if (files.has(path)) throw bad(`has a duplicate path name: "${shown(path)}"`);
    const algorithm = typeof file['Checksum-Algorithm'] === 'string' ? (file['Checksum-Algorithm'].toUpperCase() as ManifestChecksumAlgorithm) : 'NONE';
    const checksum = typeof file.Checksum === 'string' ? file.Checksum.toLowerCase() : undefined;
    if (algorithm !== 'NONE' && checksum === undefined) throw bad(`gives "${shown(path)}" a ${algorithm} checksum without its value`);
    files.set(path, { size: file.Size as number, algorithm, checksum });
  }
  const ranges = Array.isArray(json['WAL-Ranges']) ? (json['WAL-Ranges'] as Record<string, unknown>[]) : [];
  const walRanges = ranges.map((r) => ({ timeline: Number(r.Timeline), startLsn: String(r['Start-LSN']), endLsn: String(r['End-LSN']) }));
  if (walRanges.length === 0 || walRanges.some((r) => !(r.timeline > 0) || !/^[0-9A-F]+\/[0-9A-F]+$/i.test(r.startLsn) || !/^[0-9A-F]+\/[0-9A-F]+$/i.test(r.endLsn))) {
    throw bad('has no valid WAL range');
  }
  const systemIdentifier = version === 2 ? String(json['System-Identifier']) : undefined;
  return { files, walRanges, systemIdentifier };
}

function cString(buffer: Buffer, start: number, length: number): Buffer {
  const field = buffer.subarray(start, start + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

function readOctal(buffer: Buffer, start: number, length: number): number {
  const text = buffer.toString('latin1', start, start + length).replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(text)) return -1;
  return Number.parseInt(text, 8);
}

/** A tar size field: octal, or base-256 (high bit set) for sizes beyond 8 GiB. */
function readSize(h: Buffer): number {
  if (h[124]! & 0x80) {
    let value = 0;
    for (let i = 125; i < 136; i++) value = value * 256 + h[i]!;
    return value;
  }
  const size = readOctal(h, 124, 12);
  if (size < 0) throw new VerificationError('archive', "the base backup's tar archive is damaged: an entry's size is not a number");
  return size;
}
