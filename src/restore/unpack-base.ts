// Lays out a base backup's tar in a data directory. A gzip base written as indexed members (pipeline/gzip-members.ts)
// is inflated in Node on every core, members in order into tar — one pigz stream inflates on one core, which bounded
// gzip restores. Any other artifact (zstd, lz4, an older gzip base without the index) goes the common way: its
// decompressor writes straight into tar.
import { statfs } from 'node:fs/promises';
import type { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RestoreError, StorageFullError } from '../errors.js';
import type { KeyRing } from '../crypto/keyring.js';
import type { ArtifactInfo } from '../manifest/types.js';
import { artifactReadStages, backupReadOptions, readAndConsume } from '../pipeline/artifact.js';
import { GzipMemberReader } from '../pipeline/gzip-members.js';
import { unpackDirectoryArchive } from '../pipeline/unpack-directory.js';
import { startTool, toolSink } from '../postgres/run-tool.js';

export interface UnpackBaseOptions {
  source: Readable;
  artifact: ArtifactInfo;
  keyring: KeyRing | undefined;
  /** An existing (empty) directory. */
  into: string;
  signal?: AbortSignal | undefined;
}

/** Unpacks the artifact into `into`; returns the SHA-256 of the stored bytes read (the caller compares it with the manifest). */
export async function unpackBaseArchive(options: UnpackBaseOptions): Promise<{ sha256: string }> {
  const { artifact, signal } = options;
  const read = backupReadOptions(artifact, options.keyring, signal);
  if (artifact.compression.algorithm !== 'gzip') {
    const unpacked = await unpackDirectoryArchive({ source: options.source, read, rawBytes: artifact.rawBytes, into: options.into, signal });
    return { sha256: unpacked.stored.sha256() };
  }
  const free = await statfs(options.into).then((s) => s.bavail * s.bsize);
  if (free < artifact.rawBytes) {
    throw new StorageFullError(`unpacking this backup needs ${artifact.rawBytes} bytes of space in ${options.into}; ${free} are free`, { hints: ['restore onto a larger disk'] });
  }
  const tar = startTool('tar', ['--extract', '--file=-', '--directory', options.into, '--no-same-owner'], { stdin: 'pipe', signal, label: 'tar (unpacking the base backup)' });
  // The stored tap and the decryption, without a decompressor: the member reader is the decompressor.
  const { stages, stored } = artifactReadStages({ ...read, compression: 'none' });
  const inflate = new GzipMemberReader();
  // A failed read must stop tar, which would otherwise wait for the rest of its input forever.
  const reading = pipeline([options.source, ...stages, inflate, toolSink(tar)] as [Readable, ...Duplex[], Writable], { signal }).catch((error: unknown) => {
    tar.kill();
    throw error;
  });
  await readAndConsume(reading, tar.done);
  if (inflate.plainBytes !== artifact.rawBytes) {
    throw new RestoreError(`the base backup inflated to ${inflate.plainBytes} bytes; its manifest records ${artifact.rawBytes}`, { hints: ['restore from another copy or an older base backup'] });
  }
  return { sha256: stored.sha256() };
}
