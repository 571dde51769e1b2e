// Google Cloud Storage target, through the official client. Object names are the paths callers pass (the
// storage prefix is already in them). Uploads are resumable and crc32c-checked (see writer.ts).
import { IdempotencyStrategy, Storage, type StorageOptions } from '@google-cloud/storage';
import { Readable } from 'node:stream';
import type { ObjectInfo, StorageDriver, StorageFeature } from '../types.js';
import { nativeCrc32cGenerator } from './crc32c.js';
import { gcsStorageError, type GcsTarget, isMissingObject } from './errors.js';
import { gcsLifecycle } from './lifecycle.js';
import { gcsWriter } from './writer.js';

export interface GcsDriverOptions {
  bucket: string;
  /** The target's name in messages and manifests; 'gcs' unless set. */
  name?: string | undefined;
  /** `http(s)://host[:port]` of an emulator or private endpoint; default Google's. */
  apiEndpoint?: string | undefined;
  projectId?: string | undefined;
  /** Service-account key file; default Application Default Credentials. */
  keyFilename?: string | undefined;
  /** Cloud KMS key every uploaded object is encrypted with (customer-managed encryption). */
  kmsKeyName?: string | undefined;
  /** Bytes per resumable-upload request, a multiple of 256 KiB; default 16 MiB. */
  chunkSize?: number | undefined;
  /** Retries of a failed request; 0 fails at the first error. Default 3. */
  maxRetries?: number | undefined;
  /** Time limit of one request, an upload chunk included; default 60. */
  timeoutSeconds?: number | undefined;
}

const CHUNK_ALIGNMENT = 256 * 1024;
const PAGE_SIZE = 1000;

export function createGcsDriver(options: GcsDriverOptions): StorageDriver {
  const name = options.name ?? 'gcs';
  const chunkSize = options.chunkSize ?? 16 * 1024 * 1024;
  if (chunkSize <= 0 || chunkSize % CHUNK_ALIGNMENT !== 0) throw new RangeError(`GCS upload chunk size must be a positive multiple of 256 KiB, got ${chunkSize}`);
  const maxRetries = options.maxRetries ?? 3;
  const timeoutMs = (options.timeoutSeconds ?? 60) * 1000;
  const endpoint = options.apiEndpoint?.replace(/\/+$/, '') ?? 'https://storage.googleapis.com';
  const target: GcsTarget = { name, bucket: options.bucket, endpoint };

  const crc32cGenerator = nativeCrc32cGenerator();
  const storageOptions: StorageOptions = {
    apiEndpoint: options.apiEndpoint,
    ...(crc32cGenerator !== undefined && { crc32cGenerator }),
    timeout: timeoutMs,
    // The client only sends credentials to its default endpoint unless told otherwise; regional and private
    // Google endpoints need them too, emulators must not get them (no credentials exist there).
    useAuthWithCustomEndpoint: options.apiEndpoint !== undefined && isGoogleHost(endpoint),
    retryOptions: {
      // The client reads maxRetries 0 as "default (3)": no retries is autoRetry off.
      autoRetry: maxRetries > 0,
      maxRetries: Math.max(maxRetries, 1),
      maxRetryDelay: 8,
      // A resumable upload counts totalTimeout from its first request: the default 600 s would stop retries
      // in any upload longer than ten minutes. Retries are bounded by maxRetries instead.
      totalTimeout: 24 * 3600,
      // Uploads and deletes carry no generation preconditions, so the default strategy never retries them.
      // For pgwarden both are safe to repeat: a path is always written with the same bytes, a delete of an
      // absent object is fine.
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    },
    ...(options.projectId !== undefined && { projectId: options.projectId }),
    ...(options.keyFilename !== undefined && { keyFilename: options.keyFilename }),
  };
  const storage = new Storage(storageOptions);
  // The per-request timeout of the resumable-upload requests, which bypass the client's `timeout`.
  storage.interceptors.push({
    // (The client's own types disagree between what an interceptor gets and returns; it is the same object.)
    request: (reqOpts) => Object.assign(reqOpts, { timeout: timeoutMs }) as ReturnType<Storage['interceptors'][number]['request']>,
  });
  const bucket = storage.bucket(options.bucket);
  const file = (path: string) => bucket.file(path, options.kmsKeyName === undefined ? {} : { kmsKeyName: options.kmsKeyName });
  const fail = (action: string, path: string | undefined, error: unknown) => gcsStorageError(target, action, path, error);

  async function cancelSession(sessionUri: string): Promise<{ finalizedGeneration?: string | undefined }> {
    // A session URI is its own credential: no Authorization header, on GCS as on emulators.
    const status = await fetch(sessionUri, {
      method: 'PUT',
      headers: { 'content-range': 'bytes */*', 'content-length': '0' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (status.ok) {
      const object = (await status.json()) as { generation?: string };
      return { finalizedGeneration: object.generation };
    }
    await status.body?.cancel();
    const cancelled = await fetch(sessionUri, { method: 'DELETE', headers: { 'content-length': '0' }, signal: AbortSignal.timeout(timeoutMs) });
    await cancelled.body?.cancel();
    return {};
  }

  const features: ReadonlySet<StorageFeature> = new Set();
  return {
    name,
    kind: 'gcs',
    features,
    location: `gs://${options.bucket}`,
    lifecycle: gcsLifecycle(bucket, (action, error) => fail(action, undefined, error)),

    async check() {
      // Listing needs only storage.objects.list, which backups need anyway; reading the bucket's metadata
      // would need storage.buckets.get, which an object-admin service account does not have.
      try {
        await bucket.getFiles({ maxResults: 1, autoPaginate: false });
      } catch (error) {
        throw fail('use', undefined, error);
      }
    },

    async stat(path) {
      try {
        const [metadata] = await file(path).getMetadata();
        return toObjectInfo(path, metadata);
      } catch (error) {
        if (isMissingObject(error)) return undefined;
        throw fail('stat', path, error);
      }
    },

    async list(prefix) {
      const infos: ObjectInfo[] = [];
      let pageToken: string | undefined;
      try {
        do {
          const [files, next] = await bucket.getFiles({ prefix, autoPaginate: false, maxResults: PAGE_SIZE, ...(pageToken !== undefined && { pageToken }) });
          for (const f of files) {
            // Names ending in '/' are the console's folder placeholders, not objects anyone wrote.
            if (!f.name.endsWith('/')) infos.push(toObjectInfo(f.name, f.metadata));
          }
          pageToken = next && 'pageToken' in next ? next.pageToken : undefined;
        } while (pageToken);
      } catch (error) {
        throw fail('list', prefix === '' ? '(everything)' : `${prefix}*`, error);
      }
      return infos;
    },

    read(path) {
      const source = file(path).createReadStream({ validation: 'crc32c' });
      return Readable.from(mapReadErrors(source, (error) => fail('read', path, error)), { objectMode: false });
    },

    write(path) {
      return gcsWriter({ file: file(path), chunkSize, fail: (error) => fail('write', path, error), cancelSession });
    },

    async remove(path) {
      try {
        await file(path).delete({ ignoreNotFound: true });
      } catch (error) {
        throw fail('remove', path, error);
      }
    },

    // An upload is invisible until its last chunk arrives, and GCS drops abandoned sessions after a week by
    // itself: no half-written object can be listed, so there is nothing to clean.
    async removeIncomplete() {
      return [];
    },
  };
}

function toObjectInfo(path: string, metadata: { size?: string | number | undefined; updated?: string | undefined; timeCreated?: string | undefined }): ObjectInfo {
  return { path, size: Number(metadata.size ?? 0), modifiedAt: new Date(metadata.updated ?? metadata.timeCreated ?? 0) };
}

function isGoogleHost(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'googleapis.com' || host.endsWith('.googleapis.com');
}

async function* mapReadErrors(source: Readable, mapError: (error: unknown) => Error): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of source) yield chunk as Buffer;
  } catch (error) {
    throw mapError(error);
  } finally {
    source.destroy();
  }
}
