// One streamed S3 write: bytes go through lib-storage's Upload (a multipart upload of unknown length, or one
// PutObject when the object fits in a part) with backpressure, so memory stays about partSize × (queueSize + 1).
// The stream finishes only when the object is complete in the bucket, so a failed upload fails the pipeline.
import { AbortMultipartUploadCommand, DeleteObjectCommand, type S3Client, type ServerSideEncryption } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough, Writable } from 'node:stream';
import { StorageError } from '../../errors.js';
import type { StorageWriter } from '../types.js';
import { type S3Target, s3Failure } from './errors.js';

export interface S3WriteOptions {
  client: S3Client;
  target: S3Target;
  partSize: number;
  queueSize: number;
  /** SSE-KMS with this key; otherwise SSE-S3 (AES256). */
  kmsKeyId?: string | undefined;
}

export function serverSideEncryption(kmsKeyId: string | undefined): { ServerSideEncryption: ServerSideEncryption; SSEKMSKeyId?: string } {
  return kmsKeyId === undefined ? { ServerSideEncryption: 'AES256' } : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId };
}

export function createS3Writer(options: S3WriteOptions, path: string): StorageWriter {
  const { client, target } = options;
  const Bucket = target.bucket;
  const fail = (operation: string, error: unknown) => s3Failure(target, operation, path, error);

  // Upload reads `body` as it needs parts; a full body is the backpressure that pauses the producer.
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  // Errors reach Upload through its iterator; this only keeps an early destroy from being "unhandled".
  body.on('error', () => {});
  const upload = new Upload({
    client,
    params: { Bucket, Key: path, Body: body, ...serverSideEncryption(options.kmsKeyId) },
    partSize: options.partSize,
    queueSize: options.queueSize,
  });
  let completed = false;
  let committed = false;
  // Settles once every request of the upload has ended (Upload aborts its multipart upload on failure itself).
  const outcome: Promise<StorageError | undefined> = upload.done().then(
    () => {
      completed = true;
      return undefined;
    },
    (error: unknown) => fail('write', error),
  );
  // Upload reports a failed part only when all its part uploaders stopped; end the producer's stream then.
  void outcome.then((error) => {
    if (error && !stream.destroyed) stream.destroy(error);
  });

  const stream = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (body.write(chunk)) callback();
      else body.once('drain', () => callback());
    },
    final(callback) {
      body.end();
      outcome.then((error) => callback(error ?? null));
    },
    destroy(error, callback) {
      // Upload sees the body fail, stops reading, waits for parts in flight and aborts the multipart upload.
      if (!completed && !body.destroyed) body.destroy(error ?? new Error('write aborted'));
      callback(error);
    },
  });

  let aborting: Promise<void> | undefined;
  return {
    stream,
    async commit() {
      if (!stream.writableFinished) {
        throw new StorageError(`storage target ${target.name}: cannot commit ${path} in ${target.location}: not all bytes were written`);
      }
      const error = await outcome;
      if (error) throw error;
      committed = true;
    },
    abort() {
      aborting ??= (async () => {
        if (committed) return;
        if (!stream.destroyed) stream.destroy();
        const error = await outcome;
        // Completed before the producer failed: the object is visible and must go.
        if (error === undefined) await client.send(new DeleteObjectCommand({ Bucket, Key: path })).catch(() => {});
        // Upload aborted it already unless the endpoint was down then; "no such upload" is fine.
        else if (upload.uploadId !== undefined) {
          await client.send(new AbortMultipartUploadCommand({ Bucket, Key: path, UploadId: upload.uploadId })).catch(() => {});
        }
      })();
      return aborting;
    },
  };
}
