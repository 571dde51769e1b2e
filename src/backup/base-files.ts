// A base backup read from the data directory itself, as pgBackRest does when it runs on the database host:
// pg_backup_start in a session of its own, every file read here (no walsender, no pg_basebackup, one copy
// less through a pipe), pg_backup_stop. The archive is the one `pg_basebackup -Ft -D -` writes: the files
// under the same exclusions (src/backend/backup/basebackup.c), global/pg_control last, backup_label, and a
// backup_manifest in PostgreSQL's format with every file's CRC-32C taken from the very bytes stored. So
// restore, `pgwarden verify` (pg_verifybackup) and restore-pitr treat both kinds alike.
import { once } from 'node:events';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { PrecheckError, VerificationError } from '../errors.js';
import { crc32c, crc32cManifestHex } from '../pipeline/crc32c.js';
import type { PlainProducer } from '../pipeline/artifact.js';
import { tarHeader, tarPadding, tarTrailer, type TarEntry } from '../pipeline/tar-header.js';
import { parseLsn } from '../wal/names.js';
import { buildBackupManifest, type ManifestFile } from './base-manifest.js';
import type { WalRange } from './base-stream-check.js';
import { checkPage, checkPages, type PageFailure } from './page-checksum.js';

// Directories kept empty: their contents are rebuilt when the server starts.
const EMPTIED_DIRS = new Set(['pg_stat_tmp', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans']);
// Files never backed up (exact names), and pg_internal.init by prefix (the relation cache, rebuilt on start).
const EXCLUDED_FILES = new Set(['postgresql.auto.conf.tmp', 'current_logfiles.tmp', 'backup_label', 'tablespace_map', 'backup_manifest', 'postmaster.pid', 'postmaster.opts']);
const TEMP_PREFIX = 'pgsql_tmp';
// A relation file: relfilenode, optional fork, optional segment; a temporary relation's starts with t<backend>_.
const RELATION_FILE = /^(\d+)(_(fsm|vm|init))?(\.\d+)?$/;
const TEMP_RELATION_FILE = /^t\d+_\d+(_(fsm|vm|init))?(\.\d+)?$/;

const READ_SIZE = 1024 * 1024;
// Reads overlap writes: while one buffer drains into the compressor's pipe, the next one fills.
const BUFFERS = 3;

export interface DataDirectoryBackupOptions {
  /** A session of its own: the backup runs in it and is aborted by the server if the session ends early. */
  client: pg.Client;
  /** The server's data directory, readable here. */
  dataDir: string;
  label: string;
  serverMajor: number;
  /** pg_control's system identifier, for manifest version 2 (PostgreSQL 17 on). */
  systemIdentifier: string;
  /** With data_checksums on: every page of every relation file is checked as it is read. */
  pageChecksums?: PageChecksumSettings | null | undefined;
  signal?: AbortSignal | undefined;
}

export interface PageChecksumSettings {
  blockSize: number;
  /** Blocks per relation segment file (the segment_size setting). */
  segmentBlocks: number;
}

export interface DataDirectoryReport {
  files: number;
  bytes: number;
  walRanges: WalRange[];
  /** Pages whose checksum was checked; null when the cluster has no data checksums. */
  pagesChecked: number | null;
}

/** The most damaged pages a failure names; the count covers them all. */
const NAMED_FAILURES = 5;

/** One base backup from the data directory; `writeTo` runs it once. */
export class DataDirectoryBackup implements PlainProducer {
  private readonly dataDir: string;
  private readonly files: ManifestFile[] = [];
  private bytes = 0;
  private result: DataDirectoryReport | undefined;
  private sink!: Writable;
  private reuse = false;
  private readonly buffers: { buffer: Buffer; free: Promise<void> }[] = [];
  private next = 0;
  private last: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private written = 0;
  private startLsn = 0n;
  private pagesChecked = 0;
  /** `fileBlock` counts from the file's start, as pg_basebackup's messages do; `block` from the relation's. */
  private readonly pageFailures: (PageFailure & { path: string; fileBlock: number })[] = [];

  constructor(private readonly options: DataDirectoryBackupOptions) {
    // Paths are handled as byte strings (latin1): a file name need not be UTF-8.
    this.dataDir = Buffer.from(options.dataDir, 'utf8').toString('latin1');
  }

  report(): DataDirectoryReport {
    if (!this.result) throw new Error('DataDirectoryBackup.report() before the backup finished');
    return this.result;
  }

  async writeTo(sink: Writable, { reuseBuffers }: { reuseBuffers: boolean }): Promise<number> {
    this.sink = sink;
    this.reuse = reuseBuffers;
    const { client, serverMajor, label } = this.options;
    const modern = serverMajor >= 15;
    const { rows } = await client.query<{ lsn: string }>(modern ? 'SELECT pg_backup_start($1, true)::text AS lsn' : 'SELECT pg_start_backup($1, true, false)::text AS lsn', [label]);
    const startLsn = rows[0]!.lsn;
    this.startLsn = parseLsn(startLsn);
    await this.sendDir('');
    await this.sendFile('global/pg_control', await lstat(this.full('global/pg_control')));
    // Without waiting for the archive (the server would poll it once a second): the caller waits for the WAL
    // itself, and no backup counts before that WAL is archived and parsed.
    const stopped = await client.query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(
      modern ? 'SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)' : 'SELECT lsn::text, labelfile, spcmapfile FROM pg_stop_backup(false, false)',
    );
    const stop = stopped.rows[0]!;
    if (this.pageFailures.length > 0) throw this.checksumFailure();
    if (stop.spcmapfile && stop.spcmapfile.trim() !== '') {
      throw new PrecheckError('config', 'the cluster gained a tablespace during the backup; a base backup read from the data directory does not take tablespaces', {
        hints: ['set backup.baseMethod: stream for this cluster'],
      });
    }
    const timeline = /^START TIMELINE: (\d+)$/m.exec(stop.labelfile)?.[1];
    if (!timeline) throw new Error(`pg_backup_stop returned a backup_label without START TIMELINE:\n${stop.labelfile}`);
    const now = Date.now() / 1000;
    await this.sendContent('backup_label', Buffer.from(stop.labelfile), now);
    // Empty without tablespaces, and there all the same: pg_basebackup -Ft writes it so.
    await this.sendContent('tablespace_map', Buffer.from(stop.spcmapfile ?? ''), now);
    const wal: WalRange = { timeline: Number(timeline), startLsn, endLsn: stop.lsn };
    const manifest = buildBackupManifest({ files: this.files, wal, systemIdentifier: serverMajor >= 17 ? this.options.systemIdentifier : undefined });
    // The manifest is not in itself (pg_basebackup's neither), and not counted among the checked files.
    await this.write(tarHeader(entry('backup_manifest', 'file', manifest.length, now)));
    await this.write(manifest);
    await this.write(Buffer.alloc(tarPadding(manifest.length)));
    await this.write(tarTrailer());
    await this.last;
    sink.end();
    await once(sink, 'finish');
    this.result = { files: this.files.length, bytes: this.bytes, walRanges: [wal], pagesChecked: this.options.pageChecksums ? this.pagesChecked : null };
    return this.written;
  }

  private full(path: string): Buffer {
    return Buffer.from(path === '' ? this.dataDir : `${this.dataDir}/${path}`, 'latin1');
  }

  private async sendDir(dir: string): Promise<void> {
    const names = (await readdir(this.full(dir), { encoding: 'latin1' })).sort();
    const isDatabaseDir = /^base\/\d+$/.test(dir);
    const inDir = new Set(isDatabaseDir ? names : []);
    for (const name of names) {
      this.options.signal?.throwIfAborted();
      if (name.startsWith(TEMP_PREFIX) || EXCLUDED_FILES.has(name) || name.startsWith('pg_internal.init')) continue;
      if (isDatabaseDir) {
        // Of an unlogged relation only its init fork; temporary relations not at all.
        const relation = RELATION_FILE.exec(name);
        if (relation && relation[3] !== 'init' && inDir.has(`${relation[1]}_init`)) continue;
        if (TEMP_RELATION_FILE.test(name)) continue;
      }
      const path = dir === '' ? name : `${dir}/${name}`;
      if (path === 'global/pg_control') continue; // last, after everything else
      let stat: Awaited<ReturnType<typeof lstat>>;
      try {
        stat = await lstat(this.full(path));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed while we walked
        throw error;
      }
      if (dir === '' && (EMPTIED_DIRS.has(name) || name === 'pg_wal')) {
        // Kept as empty directories (a symlinked pg_wal too), for their permissions; pg_wal's archive_status with it.
        await this.write(tarHeader(entry(path, 'directory', 0, stat.mtimeMs / 1000, stat)));
        if (name === 'pg_wal') await this.write(tarHeader(entry('pg_wal/archive_status', 'directory', 0, stat.mtimeMs / 1000, stat)));
        continue;
      }
      if (stat.isSymbolicLink()) {
        const target = await readlink(this.full(path)).catch(() => '?');
        throw new PrecheckError('config', `the data directory holds a symbolic link, "${path}" → ${target}: a base backup read from the data directory takes no tablespaces or links`, {
          hints: ['set backup.baseMethod: stream (pg_basebackup) for this cluster'],
        });
      }
      if (stat.isDirectory()) {
        await this.write(tarHeader(entry(path, 'directory', 0, stat.mtimeMs / 1000, stat)));
        await this.sendDir(path);
      } else if (stat.isFile()) {
        await this.sendFile(path, stat, this.pageSegment(dir, name));
      }
      // Sockets, FIFOs and devices are skipped, as pg_basebackup does (with a warning there).
    }
  }

  /**
   * A file's `stat.size` bytes as they are now. A file that grows meanwhile is cut at that size, one that
   * shrinks is padded with zeros: WAL replay from the backup's start repairs both, as with pg_basebackup.
   */
  private async sendFile(path: string, stat: { size: number; mode: number; uid: number; gid: number; mtimeMs: number }, pageSegment?: number): Promise<void> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.full(path), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // dropped while we walked
      throw error;
    }
    try {
      await this.write(tarHeader(entry(path, 'file', stat.size, stat.mtimeMs / 1000, stat)));
      let crc = 0;
      let done = 0;
      while (done < stat.size) {
        this.options.signal?.throwIfAborted();
        const slot = await this.buffer();
        const want = Math.min(READ_SIZE, stat.size - done);
        const { bytesRead } = await handle.read(slot.buffer, 0, want, done);
        if (bytesRead === 0) {
          slot.free = Promise.resolve();
          break;
        }
        const piece = slot.buffer.subarray(0, bytesRead);
        crc = crc32c(piece, crc);
        if (pageSegment !== undefined) await this.checkPieces(handle, path, piece, done, pageSegment);
        done += bytesRead;
        const written = this.send(piece);
        if (this.reuse) slot.free = written;
        else await written;
      }
      if (done < stat.size) {
        const zeros = Buffer.alloc(stat.size - done);
        crc = crc32c(zeros, crc);
        await this.write(zeros);
      }
      await this.write(Buffer.alloc(tarPadding(stat.size)));
      this.files.push({ path, size: stat.size, mtime: stat.mtimeMs / 1000, crc32c: crc32cManifestHex(crc) });
      this.bytes += stat.size;
    } finally {
      await handle.close();
    }
  }

  /** The segment number of a relation file whose pages carry checksums; undefined for any other file. */
  private pageSegment(dir: string, name: string): number | undefined {
    if (!this.options.pageChecksums || !(dir === 'global' || /^base\/\d+$/.test(dir))) return undefined;
    const relation = RELATION_FILE.exec(name);
    return relation ? Number(relation[4]?.slice(1) ?? 0) : undefined;
  }

  /**
   * Checks the pages of `piece` (read at `offset`). A mismatch is read again: a page the server was writing
   * just then may be torn in the first read, and is only counted when the second read fails too (basebackup.c).
   */
  private async checkPieces(handle: Awaited<ReturnType<typeof open>>, path: string, piece: Buffer, offset: number, segment: number): Promise<void> {
    const { blockSize, segmentBlocks } = this.options.pageChecksums!;
    const skip = (blockSize - (offset % blockSize)) % blockSize; // whole blocks only (a short read is rare)
    const { checked, failures } = checkPages(piece.subarray(skip), offset + skip, segment, { blockSize, segmentBlocks, startLsn: this.startLsn });
    this.pagesChecked += checked;
    for (const failure of failures) {
      const again = Buffer.alloc(blockSize);
      const fileBlock = failure.block - segment * segmentBlocks;
      const { bytesRead } = await handle.read(again, 0, blockSize, fileBlock * blockSize);
      const second = bytesRead === blockSize ? checkPage(again, failure.block, this.startLsn) : 'skipped';
      if (second !== 'ok' && second !== 'skipped') this.pageFailures.push({ path, fileBlock, ...second });
    }
  }

  private checksumFailure(): VerificationError {
    const failures = this.pageFailures;
    const files = new Set(failures.map((f) => f.path));
    const hex = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;
    const named = failures.slice(0, NAMED_FAILURES).map((f) => `${f.path} block ${f.fileBlock} (stored ${hex(f.stored)}, calculated ${hex(f.calculated)})`);
    const first = /^(?:base\/(\d+)|global)\/(\d+)/.exec(failures[0]!.path);
    return new VerificationError(
      'checksum',
      `page checksum verification failed for ${failures.length} page(s) in ${files.size} file(s) of the data directory: ${named.join('; ')}${failures.length > NAMED_FAILURES ? '; …' : ''}. ` +
        'The data on disk is damaged; this base backup was not kept',
      {
        hints: [
          `find the relation: SELECT oid::regclass FROM pg_class WHERE pg_relation_filenode(oid) = ${first?.[2]}, ${first?.[1] ? `in the database whose oid is ${first[1]}` : 'in any database (a shared catalog)'}`,
          'pg_checksums --check on the stopped cluster lists every damaged page',
          'restore the damaged relation from the newest good backup; backups taken before stay as they were',
        ],
      },
    );
  }

  private async sendContent(path: string, content: Buffer, mtime: number): Promise<void> {
    await this.write(tarHeader(entry(path, 'file', content.length, mtime)));
    await this.write(content);
    await this.write(Buffer.alloc(tarPadding(content.length)));
    this.files.push({ path, size: content.length, mtime, crc32c: crc32cManifestHex(crc32c(content)) });
    this.bytes += content.length;
  }

  /** A read buffer: one of a few reused ones once its last write completed (into a pipe), else a new one. */
  private async buffer(): Promise<{ buffer: Buffer; free: Promise<void> }> {
    if (!this.reuse) return { buffer: Buffer.allocUnsafe(READ_SIZE), free: Promise.resolve() };
    if (this.buffers.length < BUFFERS) {
      const slot = { buffer: Buffer.allocUnsafeSlow(READ_SIZE), free: Promise.resolve() };
      this.buffers.push(slot);
      return slot;
    }
    const slot = this.buffers[this.next++ % BUFFERS]!;
    await slot.free;
    return slot;
  }

  /** Writes `bytes` and goes on: into a pipe, at once (the reused buffers bound what is queued); else after backpressure. */
  private async write(bytes: Buffer): Promise<void> {
    const written = this.send(bytes);
    if (!this.reuse) await written;
  }

  /**
   * Writes `bytes`; the promise settles once the sink is done with them. Into a pipe that is when the kernel
   * has them, so a read buffer may be reused then; into any other stream only the backpressure is waited for.
   */
  private send(bytes: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (bytes.length === 0) return Promise.resolve();
    this.written += bytes.length;
    if (this.reuse) {
      const written = new Promise<void>((resolve, reject) => {
        this.sink.write(bytes, (error) => (error ? reject(error) : resolve()));
      });
      // Writes complete in order: the last one settled means every earlier one did.
      written.catch((error: unknown) => {
        this.failure ??= error as Error;
      });
      this.last = written;
      return written;
    }
    return this.sink.write(bytes) ? Promise.resolve() : once(this.sink, 'drain').then(() => undefined);
  }
}

function entry(path: string, type: TarEntry['type'], size: number, mtime: number, stat?: { mode: number; uid: number; gid: number }): TarEntry {
  return { path, type, size, mtime, mode: stat ? stat.mode : type === 'directory' ? 0o700 : 0o600, uid: stat?.uid ?? 0, gid: stat?.gid ?? 0 };
}
