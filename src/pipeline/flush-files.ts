// Makes files that another program (tar) writes durable while it is still writing the next ones, so the disk
// writes back the first files while the rest are decompressed. A restored data directory must be on disk
// before its server starts; PostgreSQL fsyncs it at start-up itself, but then nothing overlaps those writes
// (1 GB: ~1 s here, the whole gap to pgBackRest, which fsyncs every file it restores as it goes).
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';

/** fdatasync calls at a time: each holds one libuv thread, and tar's input needs the others. */
const CONCURRENCY = 2;

export class FileFlusher {
  private readonly queue: string[] = [];
  private readonly directories = new Set<string>();
  private running = 0;
  private readonly synced = { files: 0, directories: 0 };
  private failure: Error | undefined;
  private idle: (() => void) | undefined;

  constructor(private readonly root: string) {}

  /** A path (relative to the root, as tar names it) that is completely written; a trailing '/' marks a directory. */
  written(name: string): void {
    if (isAbsolute(name) || name.split('/').includes('..')) return;
    if (name.endsWith('/')) {
      this.directories.add(normalize(name).replace(/\/$/, '')); // './' and '.' are the root, synced anyway
      return;
    }
    this.queue.push(name);
    this.pump();
  }

  /** Waits for every queued file, then syncs the directories (their entries); throws the first failure. */
  async finish(): Promise<{ files: number; directories: number }> {
    await new Promise<void>((resolve) => {
      if (this.running === 0 && this.queue.length === 0) resolve();
      else this.idle = resolve;
    });
    if (!this.failure) {
      for (const dir of new Set(['.', ...this.directories])) await this.sync(dir, 'directory').catch((error: Error) => (this.failure ??= error));
    }
    if (this.failure) throw this.failure;
    return this.synced;
  }

  private pump(): void {
    while (this.running < CONCURRENCY && this.queue.length > 0) {
      const name = this.queue.shift()!;
      this.running += 1;
      this.sync(name, 'file')
        .catch((error: Error) => (this.failure ??= error))
        .finally(() => {
          this.running -= 1;
          if (this.running === 0 && this.queue.length === 0) this.idle?.();
          else this.pump();
        });
    }
  }

  private async sync(name: string, kind: 'file' | 'directory'): Promise<void> {
    const path = join(this.root, name);
    // O_NOFOLLOW: a symbolic link in the archive (pg_wal, a tablespace) is not ours to flush; O_NONBLOCK: nor
    // does opening a FIFO wait for a writer. A name tar could not create is reported by tar itself.
    const flags = constants.O_RDONLY | constants.O_NONBLOCK | (kind === 'file' ? constants.O_NOFOLLOW : constants.O_DIRECTORY);
    const handle = await open(path, flags).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ELOOP' || error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!handle) return;
    try {
      if (kind === 'directory') {
        await handle.sync();
        this.synced.directories += 1;
      } else if ((await handle.stat()).isFile()) {
        await handle.datasync();
        this.synced.files += 1;
      }
    } finally {
      await handle.close();
    }
  }
}

/**
 * Decodes a name as GNU tar prints it with --quoting-style=escape (its default): C escapes and \ooo octal
 * bytes for anything not printable, so a name with a newline or non-ASCII bytes reads back exactly.
 */
export function decodeTarName(printed: string): string {
  if (!printed.includes('\\')) return printed;
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39, '?': 63, ' ': 32 };
  for (let i = 0; i < printed.length; i++) {
    const char = printed[i]!;
    if (char !== '\\') {
      bytes.push(...Buffer.from(char, 'utf8'));
      continue;
    }
    const octal = /^[0-7]{3}/.exec(printed.slice(i + 1, i + 4));
    if (octal) {
      bytes.push(Number.parseInt(octal[0], 8));
      i += 3;
    } else {
      const next = printed[i + 1] ?? '';
      bytes.push(simple[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
