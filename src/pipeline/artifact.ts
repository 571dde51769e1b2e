// The byte path of one backup artifact: source → compress → encrypt → stored tap → storage, and back again
// for verify and restore. The compressor is a child process: a producer's pipe (pg_dump, pg_basebackup) is
// handed to it directly when it can count the plain bytes itself, so Node only sees the compressed stream
// (encrypting and hashing it). The stored tap gives the size and the SHA-256 the manifest keeps.
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Socket } from 'node:net';
import { type Duplex, PassThrough, type Readable, type Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { manifestWrappedKey } from '../crypto/envelope.js';
import { EncryptionError } from '../errors.js';
import type { EncryptionKey, KeyRing } from '../crypto/keyring.js';
import { createDecryptStream, createEncryptStream } from '../crypto/stream.js';
import type { WrappedKey } from '../crypto/types.js';
import type { ArtifactInfo } from '../manifest/types.js';
import { ToolError } from '../errors.js';
import { type ToolProcess, toolSink } from '../postgres/run-tool.js';
import type { StorageWriter } from '../storage/types.js';
import {
  type CompressionAlgorithm,
  type CompressionSpec,
  type Compressor,
  compressionThreads,
  countsPlainBytes,
  createDecompressor,
  startCompressor,
  startDecompressor,
} from './compression.js';
import { DigestTap } from './digest.js';
import { FanOut } from './fan-out.js';

export interface WrittenArtifact {
  rawBytes: number;
  storedBytes: number;
  /** SHA-256 (hex) of the stored bytes: what verify checks without decrypting. */
  sha256: string;
}

/** Bytes so far, for progress lines and the in-progress metric; called often, so it must be cheap. */
export type ByteProgress = (bytes: { storedBytes: number }) => void;

/**
 * A source that writes its plain bytes itself, into the compressor's stdin when there is one. Writing into a
 * pipe, its write callbacks say when the kernel has the bytes, so it may reuse its buffers (`reuseBuffers`).
 * It ends the sink when done; its promise says whether all went well.
 */
export interface PlainProducer {
  /** Resolves with the plain bytes written. */
  writeTo(sink: Writable, options: { reuseBuffers: boolean }): Promise<number>;
}

export interface WriteArtifactOptions {
  /** The plain bytes. A program's stdout pipe may be handed to the compressor directly; don't read it elsewhere. */
  source: Readable | PlainProducer;
  /** Settles when the producer of `source` exited: a dump whose process failed is never committed. */
  sourceDone?: Promise<void>;
  compression: CompressionSpec;
  /** Compressor threads; default every core. */
  threads?: number | undefined;
  encryptionKey?: EncryptionKey | undefined;
  writers: StorageWriter[];
  signal?: AbortSignal | undefined;
  onProgress?: ByteProgress | undefined;
}

/**
 * Streams `source` through the pipeline into every writer and commits them once all bytes landed.
 * On any failure every writer is aborted, so no target keeps a partial object.
 */
export async function writeArtifact(options: WriteArtifactOptions): Promise<WrittenArtifact> {
  const { algorithm } = options.compression;
  const stored = new DigestTap({ hash: true, onBytes: options.onProgress && ((n) => options.onProgress!({ storedBytes: n })) });
  const raw = new DigestTap({ hash: false });
  const producer = isProducer(options.source) ? options.source : undefined;
  // Handing over needs a pipe (a Socket) and a compressor that reports how much it read.
  const handOver = options.source instanceof Socket && algorithm !== 'none' && countsPlainBytes(algorithm);
  let compressor: Compressor | undefined;
  let produced: Promise<number> | undefined;
  let producedBytes: number | undefined;
  const head: (Readable | Duplex)[] = [];
  if (algorithm === 'none') {
    if (producer) {
      const plain = new PassThrough({ highWaterMark: 1024 * 1024 });
      produced = producer.writeTo(plain, { reuseBuffers: false });
      head.push(plain, raw);
    } else {
      head.push(options.source as Readable, raw);
    }
  } else {
    compressor = startCompressor(options.compression, {
      threads: options.threads ?? compressionThreads(),
      input: handOver ? (options.source as Readable) : undefined,
      signal: options.signal,
      writtenByCaller: producer !== undefined,
    });
    if (producer) {
      // The producer writes into the compressor's stdin itself (no stream stage between) and counts the bytes.
      produced = producer.writeTo(compressor.process.stdin!, { reuseBuffers: true });
      head.push(compressor.stage);
    } else {
      head.push(...(handOver ? [compressor.stage] : [options.source as Readable, raw, compressor.stage]));
    }
  }
  // A producer that fails stops the compressor, so the pipeline ends; its error is then the cause.
  let producerError: unknown;
  const producerDone = produced?.then((bytes) => {
    producedBytes = bytes;
  }, (error: unknown) => {
    producerError = error;
    compressor?.process.kill();
    for (const stage of head) stage.destroy(error as Error);
  });
  const stages: Transform[] = options.encryptionKey ? [createEncryptStream(options.encryptionKey), stored] : [stored];
  const sink: Writable =
    options.writers.length === 1 ? options.writers[0]!.stream : new FanOut(options.writers.map((w) => w.stream));
  // Awaited only after the pipeline: until then a failed producer must not count as unhandled.
  options.sourceDone?.catch(() => {});
  try {
    // The pipeline's error is the cause (a compressor or a target failing); the producer's failure shows
    // when the pipeline ended cleanly on its early EOF.
    try {
      await pipeline([...head, ...stages, sink] as [Readable, ...Transform[], Writable], { signal: options.signal });
    } finally {
      await producerDone;
    }
    if (producerError !== undefined) throw producerError;
    await options.sourceDone;
    for (const writer of options.writers) await writer.commit();
  } catch (error) {
    compressor?.process.kill();
    await Promise.all(options.writers.map((w) => w.abort()));
    throw producerError ?? error;
  }
  let rawBytes = producer && algorithm !== 'none' ? producedBytes! : raw.bytes;
  if (handOver) {
    const counted = compressor!.plainBytes();
    if (counted === undefined) {
      await Promise.all(options.writers.map((w) => w.abort()));
      throw new ToolError(`${compressor!.process.child.spawnfile} did not report how many bytes it compressed; the artifact is not kept`);
    }
    rawBytes = counted;
  }
  return { rawBytes, storedBytes: stored.bytes, sha256: stored.sha256() };
}

function isProducer(source: Readable | PlainProducer): source is PlainProducer {
  return typeof (source as PlainProducer).writeTo === 'function';
}

export interface ReadStagesOptions {
  compression: CompressionAlgorithm;
  /** The keyring to decrypt with; required when the artifact is encrypted. */
  keyring?: KeyRing | undefined;
  encrypted: boolean;
  /** The artifact's KMS-wrapped data key (from its manifest), unwrapped when the stream starts. */
  envelope?: WrappedKey | undefined;
  signal?: AbortSignal | undefined;
}

export interface ReadStages {
  /** Put these between the storage read stream and the consumer of the plain dump. */
  stages: Duplex[];
  /** Counts and hashes the stored bytes as they are read. */
  stored: DigestTap;
}

/** Stages that read an artifact back in Node (WAL, checksums); see readArtifactInto for the bulk paths. */
export function artifactReadStages(options: ReadStagesOptions): ReadStages {
  const { stored, stages } = storedStages(options);
  stages.push(createDecompressor(options.compression, options.signal));
  return { stages, stored };
}

function storedStages(options: ReadStagesOptions & { onProgress?: ByteProgress | undefined }): ReadStages {
  const stored = new DigestTap({ hash: true, onBytes: options.onProgress && ((n) => options.onProgress!({ storedBytes: n })) });
  const stages: Duplex[] = [stored];
  if (options.encrypted) {
    if (!options.keyring) {
      throw new EncryptionError('the artifact is encrypted, and no encryption is configured', {
        hints: [options.envelope ? `set encryption.kms: its data key is wrapped by KMS key ${options.envelope.kmsKeyId}` : 'add the key it was encrypted with to encryption.keys'],
      });
    }
    stages.push(createDecryptStream(options.keyring, { envelope: options.envelope }));
  }
  return { stages, stored };
}

/** How to read a backup's artifact as its manifest describes it, KMS-wrapped data key included. */
export function backupReadOptions(artifact: Pick<ArtifactInfo, 'compression' | 'encryption'>, keyring: KeyRing | undefined, signal?: AbortSignal): ReadStagesOptions {
  return {
    compression: artifact.compression.algorithm,
    keyring,
    encrypted: artifact.encryption !== null,
    envelope: manifestWrappedKey(artifact.encryption),
    signal,
  };
}

/**
 * The read stages of a backup's artifact as its manifest describes it: every read of a stored backup in Node
 * (checksums, small artifacts) goes through here or through readArtifactInto with backupReadOptions, so a
 * KMS-wrapped data key in the manifest is unwrapped in one place, once per parsed manifest.
 */
export function backupReadStages(artifact: ArtifactInfo, keyring: KeyRing | undefined, signal?: AbortSignal): ReadStages {
  return artifactReadStages(backupReadOptions(artifact, keyring, signal));
}

/** Where the plain bytes of an artifact go: a program's stdin (pg_restore, tar) or a new file. */
export type ArtifactDestination = { tool: ToolProcess } | { file: string };

export interface ReadIntoOptions extends ReadStagesOptions {
  source: Readable;
  into: ArtifactDestination;
  onProgress?: ByteProgress | undefined;
}

/**
 * Reads an artifact into a program or a file: Node hashes and decrypts the stored bytes, and the decompressor
 * writes the plain bytes straight into the destination (no copy through Node). Resolves with the stored tap
 * once every stored byte was read and the decompressor finished; the destination program's exit is the
 * caller's to await. A program that stops reading early (pg_restore --list) is not an error here.
 */
export async function readArtifactInto(options: ReadIntoOptions): Promise<DigestTap> {
  const { stored, stages } = storedStages(options);
  const { algorithm, into } = { algorithm: options.compression, into: options.into };
  if ('file' in into) {
    if (algorithm === 'none') {
      await pipeline([options.source, ...stages, createWriteStream(into.file, { flags: 'wx', mode: 0o600, highWaterMark: 1024 * 1024 })], { signal: options.signal });
      return stored;
    }
    const handle = await open(into.file, 'wx', 0o600);
    try {
      await decompressInto(options.source, stages, startDecompressor(algorithm, { output: handle.fd, signal: options.signal }), options.signal);
    } finally {
      await handle.close();
    }
    return stored;
  }
  if (algorithm === 'none') {
    await pipeline([options.source, ...stages, toolSink(into.tool)], { signal: options.signal });
  } else {
    await decompressInto(options.source, stages, startDecompressor(algorithm, { output: into.tool.stdin!, signal: options.signal }), options.signal);
  }
  return stored;
}

async function decompressInto(source: Readable, stages: Duplex[], decompressor: ToolProcess, signal: AbortSignal | undefined): Promise<void> {
  try {
    // toolSink: when the decompressor's reader stopped early, the rest is still read (and hashed) and dropped;
    // when the decompressor itself failed, its exit status below says why.
    await pipeline([source, ...stages, toolSink(decompressor)], { signal });
  } catch (error) {
    decompressor.kill();
    await decompressor.done.catch(() => {});
    throw error;
  }
  await decompressor.done;
}

/**
 * Waits for an artifact read and the program consuming it. When both fail, the read's error is the cause
 * (a wrong key, a corrupt stream): the program only saw its input end early.
 */
export async function readAndConsume<T>(reading: Promise<T>, consumer: Promise<void>): Promise<T> {
  const [read, consumed] = await Promise.allSettled([reading, consumer]);
  if (read.status === 'rejected') throw read.reason;
  if (consumed.status === 'rejected') throw consumed.reason;
  return read.value;
}
