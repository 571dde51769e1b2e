// What an S3 failure means for the operator: the SDK's errors (service codes, bare HTTP statuses on HEAD
// requests, socket errors, timeouts) sorted into the few problems a person can fix, each with its hint.
import { STATUS_CODES } from 'node:http';
import { StorageError } from '../../errors.js';

/** The target as messages name it: which target, which bucket where, and the config keys that set them. */
export interface S3Target {
  name: string;
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  /** 'storage.s3' or 'storage.s3.replica': where hints send the operator. */
  configKey: string;
  /** 's3://bucket', or the endpoint URL and bucket for S3-compatible stores. */
  location: string;
}

export type S3Problem = 'notFound' | 'noBucket' | 'noCredentials' | 'credentials' | 'region' | 'unreachable' | 'other';

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  Region?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const CREDENTIAL_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'Forbidden']);
const REGION_CODES = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException', 'Redirect']);

export interface Classified {
  problem: S3Problem;
  /** The provider's words, short: `NoSuchKey: The specified key does not exist.` or `connect ECONNREFUSED …`. */
  detail: string;
  /** The bucket's real region, when the store said. */
  actualRegion?: string | undefined;
}

export function classifyS3Error(error: unknown, configuredRegion?: string): Classified {
  const err = (error ?? {}) as SdkError;
  const status = err.$metadata?.httpStatusCode ?? err.$response?.statusCode;
  // Answers without a body (every HEAD) leave the SDK only the status: it names them "Unknown"/"UnknownError".
  const code = err.Code ?? (err.name === 'Unknown' ? '' : (err.name ?? ''));
  const actualRegion = err.$response?.headers?.['x-amz-bucket-region'] ?? err.Region;
  const message = err.message === 'UnknownError' ? '' : (err.message ?? '');

  if (networkCode(error) !== undefined || code === 'TimeoutError' || code === 'RequestTimeout' || /socket hang up/.test(message)) {
    return { problem: 'unreachable', detail: message || code };
  }
  const detail = describe(code, status, message);
  if (code === 'CredentialsProviderError') return { problem: 'noCredentials', detail };
  const otherRegion = actualRegion !== undefined && actualRegion !== configuredRegion;
  if (status === 301 || REGION_CODES.has(code) || (status === 400 && otherRegion)) return { problem: 'region', detail, actualRegion };
  if (status === 403 || CREDENTIAL_CODES.has(code)) return { problem: 'credentials', detail };
  if (code === 'NoSuchBucket') return { problem: 'noBucket', detail };
  if (status === 404 || code === 'NoSuchKey' || code === 'NotFound') return { problem: 'notFound', detail };
  return { problem: 'other', detail };
}

function describe(code: string, status: number | undefined, message: string): string {
  if (message) return code && code !== 'Error' && !message.startsWith(code) ? `${code}: ${message}` : message;
  const http = status === undefined ? '' : `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim();
  if (code && !/^\d+$/.test(code)) return http ? `${code} (${http})` : code;
  return http || 'no answer';
}

/** A socket error code anywhere in the cause chain (the SDK sometimes wraps them). */
function networkCode(error: unknown): string | undefined {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  }
  return undefined;
}

/** Hints per problem: what to change, naming the config keys. */
export function s3Hints(target: S3Target, classified: Classified): string[] {
  const { configKey, bucket } = target;
  switch (classified.problem) {
    case 'noCredentials':
      return ['set storage.s3.accessKeyId and storage.s3.secretAccessKey, or give pgwarden credentials through the AWS credential chain (environment, profile, instance role)'];
    case 'credentials':
      return [
        'check the access key (storage.s3.accessKeyId/secretAccessKey, or the AWS credential chain: environment, profile, instance role) and its clock',
        `make sure it may list, read, write and delete objects in bucket ${bucket}${target.endpoint ? '' : ' (s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject, s3:AbortMultipartUpload; kms:GenerateDataKey and kms:Decrypt with SSE-KMS)'}`,
      ];
    case 'noBucket':
      return [`create bucket ${bucket}, or set ${configKey}.bucket to an existing one`];
    case 'region':
      return classified.actualRegion
        ? [`set ${configKey}.region: ${classified.actualRegion} (the bucket's region)`]
        : [`set ${configKey}.region to the region bucket ${bucket} was created in`];
    case 'unreachable':
      return [
        `check ${configKey}.endpoint (${target.endpoint ?? `AWS S3 in ${target.region}`}) and the network, firewall or proxy between this host and it`,
      ];
    default:
      return [];
  }
}

/** A StorageError naming the target, the bucket and the key, with the hints for what went wrong. */
export function s3Failure(target: S3Target, operation: string, path: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const classified = classifyS3Error(error, target.region);
  const what = classified.problem === 'notFound' ? 'no such object' : classified.detail;
  return new StorageError(`storage target ${target.name}: cannot ${operation} ${path} in ${target.location}: ${what}`, {
    hints: s3Hints(target, classified),
    cause: error,
  });
}
