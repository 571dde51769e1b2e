// Local-disk storage target. Objects are files under `root`; a write goes to `<name>.tmp-<random>` (mode 0600),
// is fsynced, then renamed and the directory fsynced, so a crash never leaves a file that looks complete.
// A writer can be read back while it writes: each reader has a descriptor of its own on the temporary file and
// reads only bytes whose write completed.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chown, type FileHandle, mkdir, open, readdir, rename, rm, rmdir, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { StorageError, StorageFullError } from '../../errors.js';
import type { ObjectInfo, StorageDriver, StorageFeature, StorageWriter } from '../types.js';

const TEMP_MARK = '.tmp-';

export interface LocalDriverOptions {
  root: string;
  name?: string;
  /** Overrides free-space measurement (tests of the disk-space pre-check without filling a disk). */
  freeBytes?: (path: string) => Promise<number>;
}

export function createLocalDriver(options: LocalDriverOptions): StorageDriver {
  const root = options.root;
  const name = options.name ?? 'local';
  const features: ReadonlySet<StorageFeature> = new Set(['freeSpace', 'readWhileWriting']);
  const full = (path: string) => join(root, ...path.split('/'));

  const fail = (operation: string, path: string, error: unknown): StorageError => {
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'ENOSPC' || err.code === 'EDQUOT') {
      return new StorageFullError(`storage target ${name}: no space left on ${root} while writing ${path}`, {
        hints: ['free space on that disk, or lower retention, then run the backup again'],
        cause: error,
      });
    }
    if (err instanceof StorageError) return err;
    return new StorageError(`storage target ${name}: cannot ${operation} ${path} under ${root}: ${err.message}`, {
      cause: error,
    });
  };

  async function walk(dir: string): Promise<string[]> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const files: string[] = [];
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) files.push(...(await walk(path)));
      else if (entry.isFile()) files.push(path);
    }
    return files;
  }

  const toObjectPath = (file: string) => relative(root, file).split(sep).join('/');

  async function listAll(prefix: string): Promise<string[]> {
    // Walk only the deepest directory the prefix names fully, then filter by the prefix string.
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const files = await walk(dirPart ? full(dirPart) : root);
    return files.map(toObjectPath).filter((p) => p.startsWith(prefix));
  }

  return {
    name,
    kind: 'local',
    features,
    location: root,

    async check() {
      try {
        await mkdir(root, { recursive: true });
        await access(root, constants.W_OK);
      } catch (error) {
        throw new StorageError(`storage target ${name}: ${root} is not a writable directory: ${(error as Error).message}`, {
          hints: ['create the directory and give the user pgwarden runs as write access to it'],
          cause: error,
        });
      }
    },

    async stat(path) {
      try {
        const info = await stat(full(path));
        return info.isFile() ? { path, size: info.size, modifiedAt: info.mtime } : undefined;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw fail('stat', path, error);
      }
    },

    async list(prefix) {
      try {
        const paths = (await listAll(prefix)).filter((p) => !p.includes(TEMP_MARK));
        const infos: ObjectInfo[] = [];
        for (const path of paths) {
          const info = await stat(full(path));
          infos.push({ path, size: info.size, modifiedAt: info.mtime });
        }
        return infos;
      } catch (error) {
        throw fail('list', prefix, error);
      }
    },

    read(path) {
      return Readable.from(readChunks(full(path), (error) => fail('read', path, error)), { objectMode: false });
    },

    write(path) {
      const target = full(path);
      const temp = `${target}${TEMP_MARK}${randomBytes(6).toString('hex')}`;
      let handle: FileHandle | undefined;
      let committed = false;
      const landing = new Landing();
      const readers: Promise<unknown>[] = [];
      // Opened at once, not in construct(): abort() may come before the stream constructs, and must wait for
      // the open so that no temporary file appears after it.
      const opening = makeDirs(root, dirname(target))
        .then(() => open(temp, 'wx', 0o600))
        .then(async (h) => {
          handle = h;
          await adoptOwner(root, h);
        });
      opening.catch(() => {});

      const stream = new Writable({
        highWaterMark: 1024 * 1024,
        construct(callback) {
          opening.then(
            () => callback(),
            (error: unknown) => callback(fail('write', path, error)),
          );
        },
        writev(chunks, callback) {
          handle!
            .writev(chunks.map((c) => c.chunk as Buffer))
            .then(({ bytesWritten }) => {
              landing.landed(bytesWritten);
              callback();
            })
            .catch((error) => callback(fail('write', path, error)));
        },
        final(callback) {
          // Every write completed: readers may read to the end while the file is synced.
          landing.end();
          handle!
            .sync()
            .then(() => handle!.close())
            .then(() => {
              handle = undefined;
              callback();
            })
            .catch((error) => callback(fail('write', path, error)));
        },
        destroy(error, callback) {
          if (!landing.ended) landing.fail(error ?? new StorageError(`storage target ${name}: the write of ${path} was abandoned`));
          const h = handle;
          handle = undefined;
          if (!h) return callback(error);
          h.close().then(
            () => callback(error),
            () => callback(error),
          );
        },
      });

      const writer: StorageWriter = {
        stream,
        async commit() {
          try {
            // A reader still opening must find the temporary name.
            await Promise.allSettled(readers);
            await rename(temp, target);
            committed = true;
            await syncDirectory(dirname(target));
          } catch (error) {
            throw fail('commit', path, error);
          }
        },
        async abort() {
          if (committed) return;
          landing.fail(new StorageError(`storage target ${name}: the write of ${path} was aborted`));
          stream.destroy();
          await opening.catch(() => {});
          const h = handle;
          handle = undefined;
          await h?.close().catch(() => {});
          await unlink(temp).catch(() => {});
        },
        readBack() {
          const opened = opening.then(() => open(temp, 'r'));
          readers.push(opened);
          const reader = Readable.from(readLanded(opened, landing, (error) => fail('read back', path, error)), { objectMode: false });
          // A reader destroyed before its first read never runs the generator's cleanup: close the file here too.
          reader.once('close', () => {
            opened.then((h) => h.close()).catch(() => {});
          });
          return reader;
        },
      };
      return writer;
    },

    async remove(path) {
      try {
        await rm(full(path), { force: true });
        await removeEmptyParents(root, dirname(full(path)));
      } catch (error) {
        throw fail('remove', path, error);
      }
    },

    async freeBytes(path) {
      if (options.freeBytes) return options.freeBytes(path);
      // statfs needs an existing path: climb to the nearest one that exists.
      let dir = full(path);
      for (;;) {
        try {
          const fs = await statfs(dir);
          return fs.bavail * fs.bsize;
        } catch (error) {
          const parent = dirname(dir);
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) throw fail('stat', path, error);
          dir = parent;
        }
      }
    },

    async removeIncomplete(prefix) {
      try {
        const temps = (await listAll(prefix)).filter((p) => p.includes(TEMP_MARK));
        for (const path of temps) {
          await unlink(full(path)).catch(() => {});
          await removeEmptyParents(root, dirname(full(path)));
        }
        return temps;
      } catch (error) {
        throw fail('clean up', prefix, error);
      }
    },
  };
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes now-empty directories from `dir` up to (not including) `root`. */
async function removeEmptyParents(root: string, dir: string): Promise<void> {
  while (dir.startsWith(root) && dir !== root) {
    const entries = await readdir(dir).catch(() => undefined);
    if (!entries || entries.length > 0) return;
    await rmdir(dir).catch(() => {});
    dir = dirname(dir);
  }
}

const READ_CHUNK = 1024 * 1024;

/** How far a write has landed in its file, for the readers that follow it. */
class Landing {
  bytes = 0;
  ended = false;
  failure: Error | undefined;
  private waiters: (() => void)[] = [];

  landed(bytes: number): void {
    this.bytes += bytes;
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  /** Settles at the next change. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Reads a file being written, up to the bytes whose write completed, until the write ends or fails. */
async function* readLanded(opened: Promise<FileHandle>, landing: Landing, mapError: (error: unknown) => Error): AsyncGenerator<Buffer> {
  let handle: FileHandle;
  try {
    handle = await opened;
  } catch (error) {
    throw landing.failure ?? mapError(error);
  }
  try {
    let position = 0;
    for (;;) {
      if (landing.failure) throw landing.failure;
      if (position === landing.bytes) {
        if (landing.ended) return;
        await landing.changed();
        continue;
      }
      const length = Math.min(READ_CHUNK, landing.bytes - position);
      const buffer = Buffer.allocUnsafe(length);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, length, position));
      } catch (error) {
        throw mapError(error);
      }
      // The bytes were written: a short read means the file changed under the writer.
      if (bytesRead === 0) throw mapError(new Error(`the file ends at ${position} bytes, ${landing.bytes} were written`));
      position += bytesRead;
      yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** Reads a file in large chunks, mapping open/read errors (a missing object) to the caller's error. */
async function* readChunks(file: string, mapError: (error: unknown) => Error): AsyncGenerator<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw mapError(error);
  }
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(READ_CHUNK);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null));
      } catch (error) {
        throw mapError(error);
      }
      if (bytesRead === 0) return;
      yield bytesRead === READ_CHUNK ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * As root, new directories and files take the owner of the storage root: `pgwarden` run as root (CLI, serve)
 * and `wal-push` run by the database server's user then share one tree, as long as that user owns the root.
 */
async function ownerOfRoot(root: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const info = await stat(root).catch(() => undefined);
  return info && info.uid !== 0 ? { uid: info.uid, gid: info.gid } : undefined;
}

async function makeDirs(root: string, dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  const owner = first === undefined ? undefined : await ownerOfRoot(root);
  if (!owner || first === undefined) return;
  for (let d = dir; d.length >= first.length && d.startsWith(root); d = dirname(d)) {
    await chown(d, owner.uid, owner.gid).catch(() => {});
    if (d === first) break;
  }
}

async function adoptOwner(root: string, handle: FileHandle): Promise<void> {
  const owner = await ownerOfRoot(root);
  if (owner) await handle.chown(owner.uid, owner.gid).catch(() => {});
}
