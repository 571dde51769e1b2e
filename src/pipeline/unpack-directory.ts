// Unpacks a 'directory-tar' artifact (a pg_dump -Fd directory) into temporary space, through the same read
// stages as any artifact, so pg_restore can read the directory (it cannot read that format from a pipe).
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageFullError } from '../errors.js';
import { startTool, toolSink } from '../postgres/run-tool.js';

export interface UnpackOptions {
  source: Readable;
  stages: Transform[];
  /** The dump's size, to check the temporary space first. */
  rawBytes: number;
  tempDir?: string | undefined;
  /** Unpack into this existing directory instead of a new temporary one (which cleanup() then keeps). */
  into?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface Unpacked {
  dir: string;
  cleanup(): Promise<void>;
}

export async function unpackDirectoryArchive(options: UnpackOptions): Promise<Unpacked> {
  const base = options.into ?? options.tempDir ?? tmpdir();
  const free = await statfs(base).then((s) => s.bavail * s.bsize);
  if (free < options.rawBytes) {
    throw new StorageFullError(`unpacking this backup needs ${options.rawBytes} bytes of space in ${base}; ${free} are free`, {
      hints: [options.into ? 'restore onto a larger disk' : 'set backup.tempDir to a larger disk'],
    });
  }
  const dir = options.into ?? (await mkdtemp(join(base, 'pgwarden-unpack-')));
  const cleanup = options.into ? async () => {} : () => rm(dir, { recursive: true, force: true });
  const tar = startTool('tar', ['--extract', '--file=-', '--directory', dir, '--no-same-owner'], {
    stdin: 'pipe',
    signal: options.signal,
    label: 'tar (unpacking the dump directory)',
  });
  try {
    await Promise.all([pipeline([options.source, ...options.stages, toolSink(tar)], { signal: options.signal }), tar.done]);
    return { dir, cleanup };
  } catch (error) {
    tar.kill();
    await cleanup();
    throw error;
  }
}
