// Reading an S3 object as a stream of ranged GETs, one range ahead. A single long GET would sit idle while a
// slow consumer (pg_restore building an index) holds the pipe, and the idle timeout would kill it; short ranges
// never wait on the consumer. Every range must come from the same version of the object (If-Match: ETag).
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { type S3Target, s3Failure } from './errors.js';

export interface S3ReadOptions {
  client: S3Client;
  target: S3Target;
  /** Bytes per ranged GET; at most two ranges are in memory. */
  rangeSize: number;
}

export function createS3Reader(options: S3ReadOptions, path: string): Readable {
  return Readable.from(readRanges(options, path), { objectMode: false });
}

async function* readRanges(options: S3ReadOptions, path: string): AsyncGenerator<Buffer> {
  const { client, target, rangeSize } = options;
  const Bucket = target.bucket;
  const abort = new AbortController();
  let size: number;
  let etag: string | undefined;
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: path }), { abortSignal: abort.signal });
    size = head.ContentLength ?? 0;
    etag = head.ETag;
  } catch (error) {
    throw s3Failure(target, 'read', path, error);
  }

  const fetchRange = async (start: number): Promise<Buffer> => {
    const end = Math.min(start + rangeSize, size) - 1;
    const response = await client.send(
      new GetObjectCommand({ Bucket, Key: path, Range: `bytes=${start}-${end}`, ...(etag ? { IfMatch: etag } : {}) }),
      { abortSignal: abort.signal },
    );
    const bytes = Buffer.from(await response.Body!.transformToByteArray());
    if (bytes.length !== end - start + 1) throw new Error(`expected ${end - start + 1} bytes at offset ${start}, got ${bytes.length}`);
    return bytes;
  };

  let next: Promise<Buffer> | undefined = size > 0 ? fetchRange(0) : undefined;
  try {
    for (let start = 0; next; start += rangeSize) {
      let bytes: Buffer;
      try {
        bytes = await next;
      } catch (error) {
        throw s3Failure(target, 'read', path, error);
      }
      next = start + rangeSize < size ? fetchRange(start + rangeSize) : undefined;
      // The prefetch may fail while the consumer holds this range: settle it, rethrown on the next turn.
      next?.catch(() => {});
      yield bytes;
    }
  } finally {
    abort.abort();
  }
}
