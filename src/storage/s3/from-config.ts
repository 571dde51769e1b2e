// The S3 targets a config names: 's3', and 's3-replica' when a replica bucket is set (its own bucket, region,
// endpoint and KMS key; the credentials and every other setting shared with 's3').
import type { Config } from '../../config/index.js';
import type { StorageDriver } from '../types.js';
import { createS3Driver, type S3DriverOptions } from './driver.js';

export function s3TargetsFromConfig(storage: Config['storage']): StorageDriver[] {
  const s3 = storage.s3;
  if (!s3) return [];
  const shared: Omit<S3DriverOptions, 'bucket' | 'region'> = {
    forcePathStyle: s3.forcePathStyle,
    requestChecksumCalculation: s3.requestChecksumCalculation,
    partSizeMiB: s3.partSizeMiB,
    queueSize: s3.queueSize,
    credentials:
      s3.accessKeyId !== undefined && s3.secretAccessKey !== undefined
        ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey }
        : undefined,
    maxAttempts: s3.maxAttempts,
    connectTimeoutMs: s3.connectTimeoutSeconds * 1000,
    idleTimeoutMs: s3.idleTimeoutSeconds * 1000,
  };
  const targets = [
    createS3Driver({
      ...shared,
      name: 's3',
      configKey: 'storage.s3',
      bucket: s3.bucket,
      region: s3.region,
      endpoint: s3.endpoint,
      kmsKeyId: s3.kmsKeyId,
    }),
  ];
  if (s3.replica) {
    targets.push(
      createS3Driver({
        ...shared,
        name: 's3-replica',
        configKey: 'storage.s3.replica',
        bucket: s3.replica.bucket,
        region: s3.replica.region,
        endpoint: s3.replica.endpoint,
        kmsKeyId: s3.replica.kmsKeyId ?? s3.kmsKeyId,
      }),
    );
  }
  return targets;
}
