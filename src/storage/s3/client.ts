// The S3 client of one target, with every request bounded: a refused or stalled endpoint fails a backup in
// seconds (connect and idle timeouts, a few attempts), never after the operating system's minutes-long defaults.
import { S3Client } from '@aws-sdk/client-s3';

export interface S3ClientOptions {
  region: string;
  /** An S3-compatible store (MinIO, Ceph, s3rver); default AWS. */
  endpoint?: string | undefined;
  forcePathStyle?: boolean | undefined;
  /** 'WHEN_REQUIRED' for stores that would store the SDK's `aws-chunked` framing as content. */
  requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED' | undefined;
  /** Static keys; default the AWS SDK credential chain (environment, profile, instance role, …). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
  /** Tries per request, the first included. */
  maxAttempts?: number | undefined;
  connectTimeoutMs?: number | undefined;
  /** A request whose socket sends and receives nothing this long fails. */
  idleTimeoutMs?: number | undefined;
}

export const S3_DEFAULTS = { maxAttempts: 3, connectTimeoutMs: 5_000, idleTimeoutMs: 60_000 } as const;

export function createS3Client(options: S3ClientOptions): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle ?? false,
    requestChecksumCalculation: options.requestChecksumCalculation ?? 'WHEN_SUPPORTED',
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: options.maxAttempts ?? S3_DEFAULTS.maxAttempts,
    // socketTimeout is an idle timeout, unlike requestTimeout, which would cap a slow but healthy part upload.
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? S3_DEFAULTS.connectTimeoutMs,
      socketTimeout: options.idleTimeoutMs ?? S3_DEFAULTS.idleTimeoutMs,
    },
  });
}
