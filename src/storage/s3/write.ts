// One streamed S3 write as a multipart upload over a fixed pool of part buffers: bytes are copied once into a
// part buffer, a full buffer goes up as one UploadPart while the next one fills, and when every buffer is in
// flight the producer waits (backpressure). Memory is exactly partSize × (queueSize + 1) whatever the object's
// size, with no per-part allocation for the garbage collector to chase. An object smaller than one part is one
// PutObject. The stream finishes only when the object is complete in the bucket, so a failed upload fails the
// producer's pipeline; nothing is visible under the key before CompleteMultipartUpload.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
  type ServerSideEncryption,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Writable } from 'node:stream';
import { StorageError } from '../../errors.js';
import type { StorageWriter } from '../types.js';
import { type S3Target, s3Failure } from './errors.js';

export interface S3WriteOptions {
  client: S3Client;
  target: S3Target;
  partSize: number;
  /** Parts uploaded at once; one more buffer fills meanwhile. */
  queueSize: number;
  /** SSE-KMS with this key; otherwise SSE-S3 (AES256). */
  kmsKeyId?: string | undefined;
}

const MiB = 1024 * 1024;
/** S3's limits: at most 10 000 parts of at most 5 GiB. */
const MAX_PARTS = 10_000;
const MAX_PART_SIZE = 5 * 1024 * MiB;
/** Parts per size step: past each 2 000 parts the part size doubles, so an object larger than the size hint said
 * still fits in 10 000 parts (up to 31 × 2 000 × the part size) instead of failing at the last part. */
const PARTS_PER_STEP = 2_000;

export function serverSideEncryption(kmsKeyId: string | undefined): { ServerSideEncryption: ServerSideEncryption; SSEKMSKeyId?: string } {
  return kmsKeyId === undefined ? { ServerSideEncryption: 'AES256' } : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId };
}

/** The size of part `partNumber` (1-based): the configured size, doubled every PARTS_PER_STEP parts. */
export function partSizeOf(partSize: number, partNumber: number): number {
  return Math.min(partSize * 2 ** Math.floor((partNumber - 1) / PARTS_PER_STEP), MAX_PART_SIZE);
}

export function createS3Writer(options: S3WriteOptions, path: string): StorageWriter {
  const { client, target } = options;
  const Bucket = target.bucket;
  const object = { Bucket, Key: path };
  const fail = (error: unknown) => (error instanceof StorageError ? error : s3Failure(target, 'write', path, error));
  // Cancels requests in flight when the producer gives up, so a stalled endpoint cannot hold abort() for minutes.
  const cancel = new AbortController();

  const free: Buffer[] = [];
  let buffers = 0;
  let current: Buffer | undefined;
  let filled = 0;
  let nextPart = 1;
  let uploadId: Promise<string> | undefined;
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: StorageError | undefined;
  let finishing = false;
  let completed = false;
  let committed = false;
  /** Wakes a producer waiting for a free buffer (or for a failure). */
  let wake: (() => void) | undefined;

  const fault = (error: unknown): StorageError => {
    failure ??= fail(error);
    wake?.();
    // A part failing while the producer is between writes fails its pipeline at once, not at the next write.
    queueMicrotask(() => {
      if (!stream.destroyed) stream.destroy(failure);
    });
    return failure;
  };

  /** A free part buffer of the size part `nextPart` needs; waits while all of them are in flight. */
  const takeBuffer = async (): Promise<Buffer> => {
    const size = partSizeOf(options.partSize, nextPart);
    for (;;) {
      if (failure) throw failure;
      const buffer = free.pop();
      if (buffer && buffer.length === size) return buffer;
      if (buffer) buffers -= 1; // from before a size step: dropped
      if (buffers < options.queueSize + 1) {
        buffers += 1;
        return Buffer.allocUnsafeSlow(size);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  };

  const startUpload = (): Promise<string> => {
    uploadId ??= client
      .send(new CreateMultipartUploadCommand({ ...object, ...serverSideEncryption(options.kmsKeyId) }), { abortSignal: cancel.signal })
      .then((created) => {
        if (!created.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
        return created.UploadId;
      });
    uploadId.catch(() => {}); // a failed start reaches the parts that await it
    return uploadId;
  };

  /** Sends `buffer[0, length)` as the next part; the buffer returns to the pool when the request has ended. */
  const sendPart = (buffer: Buffer, length: number): void => {
    const PartNumber = nextPart++;
    if (PartNumber > MAX_PARTS) throw fault(new Error(`the object needs more than S3's ${MAX_PARTS} parts; raise storage.s3.partSizeMiB`));
    const sending = (async () => {
      try {
        const UploadId = await startUpload();
        const body = buffer.subarray(0, length);
        const sent = await client.send(new UploadPartCommand({ ...object, UploadId, PartNumber, Body: body, ContentLength: length }), { abortSignal: cancel.signal });
        parts.push({ PartNumber, ETag: sent.ETag });
      } catch (error) {
        fault(error);
      } finally {
        free.push(buffer);
        wake?.();
      }
    })();
    inFlight.add(sending);
    void sending.then(() => inFlight.delete(sending));
  };

  const copyIn = async (chunk: Buffer): Promise<void> => {
    let offset = 0;
    while (offset < chunk.length) {
      current ??= await takeBuffer();
      const copied = chunk.copy(current, filled, offset);
      filled += copied;
      offset += copied;
      if (filled === current.length) {
        sendPart(current, filled);
        current = undefined;
        filled = 0;
      }
    }
  };

  const finish = async (): Promise<void> => {
    finishing = true;
    if (uploadId === undefined) {
      // Smaller than one part: a single PutObject.
      const body = current ? current.subarray(0, filled) : Buffer.alloc(0);
      await client.send(new PutObjectCommand({ ...object, Body: body, ContentLength: body.length, ...serverSideEncryption(options.kmsKeyId) }), {
        abortSignal: cancel.signal,
      });
    } else {
      if (current && filled > 0) sendPart(current, filled);
      current = undefined;
      while (inFlight.size > 0) await Promise.all(inFlight);
      if (failure) throw failure;
      const UploadId = await uploadId;
      parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
      await client.send(new CompleteMultipartUploadCommand({ ...object, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal: cancel.signal });
    }
    completed = true;
  };

  const stream = new Writable({
    highWaterMark: MiB,
    write(chunk: Buffer, _encoding, callback) {
      copyIn(chunk).then(
        () => callback(failure ?? null),
        (error: unknown) => callback(fault(error)),
      );
    },
    final(callback) {
      if (failure) return callback(failure);
      finish().then(
        () => callback(),
        (error: unknown) => callback(fault(error)),
      );
    },
  });

  let aborting: Promise<void> | undefined;
  return {
    stream,
    async commit() {
      if (failure) throw failure;
      if (!stream.writableFinished || !completed) {
        throw new StorageError(`storage target ${target.name}: cannot commit ${path} in ${target.location}: not all bytes were written`);
      }
      committed = true;
    },
    abort() {
      aborting ??= (async () => {
        if (committed) return;
        if (!stream.destroyed) stream.destroy();
        if (!completed) {
          cancel.abort();
          await Promise.allSettled(inFlight);
          const UploadId = await uploadId?.catch(() => undefined);
          // An endpoint that is down now keeps the upload: removeIncomplete finds it later (or the bucket's rule).
          if (UploadId !== undefined) await client.send(new AbortMultipartUploadCommand({ ...object, UploadId })).catch(() => {});
        }
        // Completed before the producer failed (or completed while its answer was lost): the object must go.
        if (finishing) await client.send(new DeleteObjectCommand(object)).catch(() => {});
      })();
      return aborting;
    },
  };
}
