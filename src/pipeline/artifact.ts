// The byte path of one backup artifact: source → raw tap → compress → encrypt → stored tap → storage, and
// back again for verify and restore. Both taps give sizes; the stored one gives the SHA-256 the manifest keeps.
import type { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { manifestWrappedKey } from '../crypto/envelope.js';
import { EncryptionError } from '../errors.js';
import type { EncryptionKey, KeyRing } from '../crypto/keyring.js';
import { createDecryptStream, createEncryptStream } from '../crypto/stream.js';
import type { WrappedKey } from '../crypto/types.js';
import type { ArtifactInfo } from '../manifest/types.js';
import type { StorageWriter } from '../storage/types.js';
import { type CompressionSpec, createCompressor, createDecompressor } from './compression.js';
import { DigestTap } from './digest.js';
import { FanOut } from './fan-out.js';

export interface WrittenArtifact {
  rawBytes: number;
  storedBytes: number;
  /** SHA-256 (hex) of the stored bytes: what verify checks without decrypting. */
  sha256: string;
}

export interface WriteArtifactOptions {
  source: Readable;
  /** Settles when the producer of `source` exited: a dump whose process failed is never committed. */
  sourceDone?: Promise<void>;
  compression: CompressionSpec;
  encryptionKey?: EncryptionKey | undefined;
  writers: StorageWriter[];
  signal?: AbortSignal;
}

/**
 * Streams `source` through the pipeline into every writer and commits them once all bytes landed.
 * On any failure every writer is aborted, so no target keeps a partial object.
 */
export async function writeArtifact(options: WriteArtifactOptions): Promise<WrittenArtifact> {
  const raw = new DigestTap({ hash: false });
  const stored = new DigestTap({ hash: true });
  const stages: Transform[] = [raw, createCompressor(options.compression)];
  if (options.encryptionKey) stages.push(createEncryptStream(options.encryptionKey));
  stages.push(stored);
  const sink: Writable =
    options.writers.length === 1 ? options.writers[0]!.stream : new FanOut(options.writers.map((w) => w.stream));
  try {
    await Promise.all([pipeline([options.source, ...stages, sink], { signal: options.signal }), options.sourceDone]);
    for (const writer of options.writers) await writer.commit();
  } catch (error) {
    await Promise.all(options.writers.map((w) => w.abort()));
    throw error;
  }
  return { rawBytes: raw.bytes, storedBytes: stored.bytes, sha256: stored.sha256() };
}

export interface ReadStagesOptions {
  compression: CompressionSpec['algorithm'];
  /** The keyring to decrypt with; required when the artifact is encrypted. */
  keyring?: KeyRing | undefined;
  encrypted: boolean;
  /** The artifact's KMS-wrapped data key (from its manifest), unwrapped when the stream starts. */
  envelope?: WrappedKey | undefined;
}

export interface ReadStages {
  /** Put these between the storage read stream and the consumer of the plain dump. */
  stages: Transform[];
  /** Counts and hashes the stored bytes as they are read. */
  stored: DigestTap;
}

export function artifactReadStages(options: ReadStagesOptions): ReadStages {
  const stored = new DigestTap({ hash: true });
  const stages: Transform[] = [stored];
  if (options.encrypted) {
    if (!options.keyring) {
      throw new EncryptionError('the artifact is encrypted, and no encryption is configured', {
        hints: [options.envelope ? `set encryption.kms: its data key is wrapped by KMS key ${options.envelope.kmsKeyId}` : 'add the key it was encrypted with to encryption.keys'],
      });
    }
    stages.push(createDecryptStream(options.keyring, { envelope: options.envelope }));
  }
  stages.push(createDecompressor(options.compression));
  return { stages, stored };
}

/**
 * The read stages of a backup's artifact as its manifest describes it: every read of a stored backup
 * (verify, restore, restore-pitr, drills) goes through here, so a KMS-wrapped data key in the manifest is
 * unwrapped in this one place, once per parsed manifest however often the artifact is read.
 */
export function backupReadStages(artifact: ArtifactInfo, keyring: KeyRing | undefined): ReadStages {
  return artifactReadStages({
    compression: artifact.compression.algorithm,
    keyring,
    encrypted: artifact.encryption !== null,
    envelope: manifestWrappedKey(artifact.encryption),
  });
}
