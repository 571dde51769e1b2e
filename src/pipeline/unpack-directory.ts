// Unpacks a 'directory-tar' artifact (a pg_dump -Fd directory) into temporary space, through the same read
// stages as any artifact, so pg_restore can read the directory (it cannot read that format from a pipe).
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StorageFullError } from '../errors.js';
import { startTool } from '../postgres/run-tool.js';
import { type ByteProgress, type ReadStagesOptions, readAndConsume, readArtifactInto } from './artifact.js';
import type { DigestTap } from './digest.js';

export interface UnpackOptions {
  source: Readable;
  /** How the stored bytes were made: the decompressor writes straight into tar. */
  read: Omit<ReadStagesOptions, 'signal'>;
  /** The dump's size, to check the temporary space first. */
  rawBytes: number;
  tempDir?: string | undefined;
  /** Unpack into this existing directory instead of a new temporary one (which cleanup() then keeps). */
  into?: string | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ByteProgress | undefined;
}

export interface Unpacked {
  dir: string;
  /** Size and SHA-256 of the stored bytes read. */
  stored: DigestTap;
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
    const stored = await readAndConsume(
      readArtifactInto({ ...options.read, source: options.source, into: { tool: tar }, signal: options.signal, onProgress: options.onProgress }),
      tar.done,
    );
    return { dir, stored, cleanup };
  } catch (error) {
    tar.kill();
    await cleanup();
    throw error;
  }
}
