// The dump phase every backup kind shares: the producer's bytes through compression and encryption to every
// storage target at once, sized for the expected bytes, with progress reported as they flow.
import type { EncryptionKey } from '../crypto/keyring.js';
import { type PlainProducer, type WrittenArtifact, writeArtifact } from '../pipeline/artifact.js';
import { type CompressionSpec, compressionThreads } from '../pipeline/compression.js';
import { withProgress } from '../pipeline/progress.js';
import type { TargetSetWriter } from '../storage/target-set.js';
import type { Readable } from 'node:stream';
import type { BackupContext } from './types.js';

export interface StoreArtifactOptions {
  database: string;
  type: 'full' | 'base';
  path: string;
  expectedBytes: number;
  source: Readable | PlainProducer;
  /** Settles when the producer of a Readable source exited. */
  sourceDone?: Promise<void> | undefined;
  compression: CompressionSpec;
  encryptionKey: EncryptionKey | undefined;
}

/** Starts the write; `writer.outcomes()` says which targets took the artifact once `written` settled. */
export function storeArtifact(ctx: BackupContext, options: StoreArtifactOptions): { writer: TargetSetWriter; written: Promise<WrittenArtifact> } {
  const writer = ctx.storage.write(options.path, { expectedBytes: options.expectedBytes });
  const written = withProgress(ctx.progress, { database: options.database, type: options.type, phase: 'dump', totalBytes: options.expectedBytes }, (onProgress) =>
    writeArtifact({
      source: options.source,
      sourceDone: options.sourceDone,
      compression: options.compression,
      threads: compressionThreads(ctx.config.backup.jobs),
      encryptionKey: options.encryptionKey,
      writers: [writer],
      signal: ctx.signal,
      onProgress,
    }),
  );
  return { writer, written };
}
