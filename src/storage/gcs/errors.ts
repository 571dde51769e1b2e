// Turns what the GCS client throws (API errors with an HTTP status, network errors from its HTTP stacks,
// "Retry limit exceeded - status: 503 …" strings from resumable uploads) into one StorageError that names the
// target, the bucket and the object, and says what to fix.
import { StorageError } from '../../errors.js';

export interface GcsTarget {
  /** The target's name in config and messages ('gcs'). */
  name: string;
  bucket: string;
  /** The API endpoint, for "cannot reach" messages. */
  endpoint: string;
}

type Failure =
  | { kind: 'status'; status: number; message: string }
  | { kind: 'network'; code: string }
  | { kind: 'noCredentials' }
  | { kind: 'checksum'; direction: 'download' | 'upload' }
  | { kind: 'other'; message: string };

const NETWORK_CODES = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|ECONNABORTED|UND_ERR_CONNECT_TIMEOUT)\b/;

/** The HTTP status or network failure behind `error`, looking through causes and the client's wrappers. */
export function classifyGcsError(error: unknown): Failure {
  const seen = new Set<unknown>();
  let message = '';
  for (let e = error as Record<string, unknown> | undefined; e && typeof e === 'object' && !seen.has(e); e = e.cause as Record<string, unknown> | undefined) {
    seen.add(e);
    const text = typeof e.message === 'string' ? e.message : '';
    message ||= text;
    const response = e.response as { status?: unknown } | undefined;
    const status = [e.code, e.status, response?.status]
      .map((s) => (typeof s === 'string' && /^\d{3}$/.test(s) ? Number(s) : s))
      .find((s) => typeof s === 'number' && s >= 400 && s < 600) as number | undefined;
    if (status !== undefined) return { kind: 'status', status, message: apiMessage(text) };
    const code = typeof e.code === 'string' ? e.code : '';
    if (code === 'CONTENT_DOWNLOAD_MISMATCH') return { kind: 'checksum', direction: 'download' };
    if (code === 'FILE_NO_UPLOAD' || code === 'FILE_NO_UPLOAD_DELETE') return { kind: 'checksum', direction: 'upload' };
    if (NETWORK_CODES.test(code)) return { kind: 'network', code };
    if (e.type === 'request-timeout' || /network timeout|socket connection timeout/i.test(text)) return { kind: 'network', code: 'timeout' };
    // Resumable uploads fold the last response into a plain Error's message.
    const folded = /\bstatus: ([45]\d\d)\b/.exec(text);
    if (folded) return { kind: 'status', status: Number(folded[1]), message: apiMessage(text) };
    const network = NETWORK_CODES.exec(text);
    if (network) return { kind: 'network', code: network[1]! };
    if (/could not load the default credentials|invalid_grant|unable to detect a project id/i.test(text)) return { kind: 'noCredentials' };
  }
  return { kind: 'other', message: message || String(error) };
}

/** GCS's error text without the JSON wrapping the client sometimes leaves around it. */
function apiMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (parsed.error?.message) return parsed.error.message;
  } catch {
    // not JSON: the message as it is
  }
  return text;
}

/** True when a 404 is about the bucket rather than the object. */
function isMissingBucket(message: string): boolean {
  return /bucket does not exist|no such bucket/i.test(message);
}

/** True when GCS says the object (not the bucket) does not exist. */
export function isMissingObject(error: unknown): boolean {
  const failure = classifyGcsError(error);
  return failure.kind === 'status' && failure.status === 404 && !isMissingBucket(failure.message);
}

/**
 * `storage target gcs: cannot <action> <object> in bucket <bucket>: <reason>` with hints; without an object
 * (bucket-level operations) `cannot <action> bucket <bucket>: <reason>`.
 */
export function gcsStorageError(target: GcsTarget, action: string, object: string | undefined, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const { reason, hints } = describe(target, classifyGcsError(error), object !== undefined);
  const what = object === undefined ? `${action} bucket ${target.bucket}` : `${action} ${object} in bucket ${target.bucket}`;
  return new StorageError(`storage target ${target.name}: cannot ${what}: ${reason}`, { hints, cause: error });
}

function describe(target: GcsTarget, failure: Failure, aboutObject: boolean): { reason: string; hints: string[] } {
  const credentialHint = 'set storage.gcs.keyFilename to a valid service-account key file, or provide Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, or the instance service account)';
  switch (failure.kind) {
    case 'noCredentials':
      return { reason: 'no Google Cloud credentials were found', hints: [credentialHint] };
    case 'network':
      return {
        reason: `cannot reach ${target.endpoint} (${failure.code})`,
        hints: ['check storage.gcs.apiEndpoint and the network path to it (DNS, firewall, proxy); pgwarden retries at the next run'],
      };
    case 'checksum':
      return failure.direction === 'download'
        ? {
            reason: 'the bytes received do not match the object’s crc32c',
            hints: ['read it again; if this repeats, the stored object is damaged: restore from another target'],
          }
        : { reason: 'GCS stored bytes that do not match the crc32c of what was sent; the upload was discarded', hints: ['run the operation again'] };
    case 'other':
      return { reason: failure.message, hints: [] };
    case 'status':
      break;
  }
  const { status, message } = failure;
  if (status === 401) return { reason: 'the credentials were rejected (401)', hints: [credentialHint] };
  if (status === 403) {
    return {
      reason: `access denied (403): ${message}`,
      hints: [`grant the service account roles/storage.objectAdmin on bucket ${target.bucket} (lifecycle rules also need roles/storage.admin)`],
    };
  }
  if (status === 404 && (!aboutObject || isMissingBucket(message))) {
    return {
      reason: 'the bucket does not exist (404)',
      hints: [`create it (gcloud storage buckets create gs://${target.bucket}) or correct storage.gcs.bucket`],
    };
  }
  if (status === 404) return { reason: 'no such object (404)', hints: [] };
  if (status === 429 || status >= 500) {
    return { reason: `GCS answered ${status}${message ? `: ${message}` : ''}`, hints: ['GCS is failing or throttling requests; if this repeats, raise storage.gcs.maxRetries to wait longer for it'] };
  }
  return { reason: `GCS answered ${status}${message ? `: ${message}` : ''}`, hints: [] };
}
