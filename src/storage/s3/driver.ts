// S3 (and S3-compatible) storage target. Paths are full object keys. Writes stream as multipart uploads,
// server-side encrypted (SSE-KMS with the configured key, else SSE-S3); nothing looks complete before the
// upload is; multipart uploads a crashed writer left behind are found and aborted by removeIncomplete.
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { StorageError } from '../../errors.js';
import type { ObjectInfo, StorageDriver, StorageFeature } from '../types.js';
import { createS3Client, type S3ClientOptions } from './client.js';
import { type S3Target, classifyS3Error, s3Failure, s3Hints } from './errors.js';
import { createS3Lifecycle } from './lifecycle.js';
import { createS3Reader } from './read.js';
import { createS3Writer } from './write.js';

const MiB = 1024 * 1024;

export interface S3DriverOptions extends S3ClientOptions {
  /** 's3' or 's3-replica': the target's name in messages, manifests and metrics. */
  name?: string | undefined;
  /** Where hints point for bucket, region and endpoint: 'storage.s3' (default) or 'storage.s3.replica'. */
  configKey?: string | undefined;
  bucket: string;
  /** Multipart part size (S3: at least 5 MiB); also the size of one ranged GET when reading. */
  partSizeMiB?: number | undefined;
  /** Parts uploaded at once. */
  queueSize?: number | undefined;
  /** SSE-KMS with this key (id, ARN or alias); otherwise SSE-S3 (AES256). */
  kmsKeyId?: string | undefined;
  /** Keys per list page (S3's default and maximum: 1000); tests page with fewer. */
  listPageSize?: number | undefined;
}

export function createS3Driver(options: S3DriverOptions): StorageDriver {
  const name = options.name ?? 's3';
  const bucket = options.bucket;
  const location = options.endpoint ? `${options.endpoint.replace(/\/+$/, '')}/${bucket}` : `s3://${bucket}`;
  const target: S3Target = {
    name,
    bucket,
    region: options.region,
    endpoint: options.endpoint,
    configKey: options.configKey ?? (name === 's3-replica' ? 'storage.s3.replica' : 'storage.s3'),
    location,
  };
  const client: S3Client = createS3Client(options);
  const partSize = (options.partSizeMiB ?? 16) * MiB;
  const queueSize = options.queueSize ?? 4;
  const pageSize = options.listPageSize ?? 1000;
  const features: ReadonlySet<StorageFeature> = new Set();
  const fail = (operation: string, path: string, error: unknown) => s3Failure(target, operation, path, error);

  return {
    name,
    kind: 's3',
    features,
    location,
    lifecycle: createS3Lifecycle(client, target),

    async check() {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch (error) {
        const classified = classifyS3Error(error, options.region);
        const what = {
          noCredentials: `no credentials to reach bucket ${bucket} with (${classified.detail})`,
          credentials: `bucket ${bucket} refused the credentials (${classified.detail})`,
          noBucket: `bucket ${bucket} does not exist (${classified.detail})`,
          notFound: `bucket ${bucket} does not exist (${classified.detail})`,
          region: classified.actualRegion
            ? `bucket ${bucket} is in region ${classified.actualRegion}, not ${options.region}`
            : `bucket ${bucket} is not in region ${options.region} (${classified.detail})`,
          unreachable: `cannot reach ${options.endpoint ?? `S3 in ${options.region}`} for bucket ${bucket} (${classified.detail})`,
          other: `cannot use bucket ${bucket} (${classified.detail})`,
        }[classified.problem];
        // A HEAD 404 has no body to say "NoSuchBucket": for a bucket it can only mean that.
        const hints = s3Hints(target, classified.problem === 'notFound' ? { ...classified, problem: 'noBucket' } : classified);
        throw new StorageError(`storage target ${name}: ${what}`, { hints, cause: error });
      }
    },

    async stat(path) {
      try {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: path }));
        return { path, size: head.ContentLength ?? 0, modifiedAt: head.LastModified ?? new Date(0) };
      } catch (error) {
        if (classifyS3Error(error, options.region).problem === 'notFound') return undefined;
        throw fail('stat', path, error);
      }
    },

    async list(prefix) {
      const infos: ObjectInfo[] = [];
      try {
        const pages = paginateListObjectsV2({ client, pageSize }, { Bucket: bucket, Prefix: prefix, MaxKeys: pageSize });
        for await (const page of pages) {
          for (const object of page.Contents ?? []) {
            if (object.Key === undefined) continue;
            infos.push({ path: object.Key, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) });
          }
        }
      } catch (error) {
        throw fail('list', prefix, error);
      }
      return infos;
    },

    read(path) {
      return createS3Reader({ client, target, rangeSize: partSize }, path);
    },

    write(path, hints) {
      return createS3Writer({ client, target, partSize: partSizeFor(partSize, hints?.expectedBytes), queueSize, kmsKeyId: options.kmsKeyId }, path);
    },

    async remove(path) {
      try {
        // S3 answers a delete of an absent key with success too.
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: path }));
      } catch (error) {
        throw fail('remove', path, error);
      }
    },

    async removeIncomplete(prefix) {
      const removed: string[] = [];
      try {
        let page: ListMultipartUploadsCommandOutput | undefined;
        do {
          page = await client.send(
            new ListMultipartUploadsCommand({
              Bucket: bucket,
              Prefix: prefix,
              MaxUploads: pageSize,
              ...(page?.NextKeyMarker ? { KeyMarker: page.NextKeyMarker } : {}),
              ...(page?.NextUploadIdMarker ? { UploadIdMarker: page.NextUploadIdMarker } : {}),
            }),
          );
          for (const upload of page.Uploads ?? []) {
            if (upload.Key === undefined || upload.UploadId === undefined) continue;
            await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
            removed.push(upload.Key);
          }
        } while (page.IsTruncated);
      } catch (error) {
        throw fail('clean up', prefix, error);
      }
      return removed;
    },
  };
}

/**
 * The configured part size, or larger when the expected size (with room for a 3× misestimate) would need more
 * than S3's 10 000 parts; whole MiB, at most S3's 5 GiB.
 */
export function partSizeFor(configured: number, expectedBytes: number | undefined): number {
  if (expectedBytes === undefined || !(expectedBytes > 0)) return configured;
  const needed = Math.ceil((expectedBytes * 3) / 10_000 / MiB) * MiB;
  return Math.min(Math.max(configured, needed), 5 * 1024 * MiB);
}
