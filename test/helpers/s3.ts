// A real S3 API on 127.0.0.1:0: s3rver in-process with the buckets asked for, plus the few operations
// pgwarden uses that s3rver lacks or breaks (ListMultipartUploads, AbortMultipartUpload, bucket lifecycle,
// ListObjectsV2 paging), answered from s3rver's own store by a small middleware; and a log of every
// request's method, path and headers.
// Clients need forcePathStyle, the S3RVER/S3RVER keys and requestChecksumCalculation WHEN_REQUIRED
// (TESTING.md): `driverOptions()` has them, with short timeouts so a fault costs a test seconds.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver, { type S3rverContext } from 's3rver';
import S3Error from 's3rver/lib/models/error.js';
import type { S3DriverOptions } from '../../src/storage/s3/driver.js';

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface RecordedRequest {
  method: string;
  /** Decoded path: `/bucket/key`. */
  path: string;
  query: Record<string, string | undefined>;
  headers: Record<string, string | string[] | undefined>;
}

export interface S3TestServer {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  /** Options for a driver on `bucket` (default: the first bucket), through `endpoint` unless overridden. */
  driverOptions(bucket?: string, overrides?: Partial<S3DriverOptions>): S3DriverOptions;
  /** A plain SDK client straight to the server, for assertions and for setting up state. */
  client(): S3Client;
  /** Every request received so far, in order. */
  requests: RecordedRequest[];
  /** Multipart uploads started and neither completed nor aborted, asked through the S3 API. */
  pendingUploads(bucket: string, prefix?: string): Promise<{ key: string; uploadId: string }[]>;
  close(): Promise<void>;
}

export interface S3ServerOptions {
  /** Buckets created before the server answers; default ['primary', 'replica']. */
  buckets?: string[];
}

export async function startS3Server(t: { after(fn: () => Promise<void>): void } | undefined, options: S3ServerOptions = {}): Promise<S3TestServer> {
  const buckets = options.buckets ?? ['primary', 'replica'];
  const directory = await mkdtemp(join(tmpdir(), 'pgwarden-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name })) });
  const requests: RecordedRequest[] = [];
  const lifecycles = new Map<string, string>();

  // First in the stack: sees every request, whatever answers it.
  server.middleware.unshift(async (ctx, next) => {
    requests.push({ method: ctx.method, path: decodePath(ctx.path), query: { ...ctx.query }, headers: { ...ctx.headers } });
    await next();
  });
  // Just before s3rver's router (the last middleware), after its XML encoder: plain-object bodies become XML.
  server.middleware.splice(server.middleware.length - 1, 0, async (ctx, next) => {
    if (!(await answerMissingOperation(ctx, directory, lifecycles))) await next();
  });

  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const clients: S3Client[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const client of clients) client.destroy();
    // A request a stalled proxy holds half-sent would keep close() waiting forever.
    server.httpServer?.closeAllConnections();
    await server.close();
    await rm(directory, { recursive: true, force: true });
  };
  t?.after(close);

  const driverOptions = (bucket = buckets[0]!, overrides: Partial<S3DriverOptions> = {}): S3DriverOptions => ({
    bucket,
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    credentials: { ...S3_CREDENTIALS },
    partSizeMiB: 5,
    queueSize: 2,
    maxAttempts: 2,
    connectTimeoutMs: 1000,
    idleTimeoutMs: 3000,
    ...overrides,
  });
  const client = () => {
    const c = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { ...S3_CREDENTIALS }, requestChecksumCalculation: 'WHEN_REQUIRED' });
    clients.push(c);
    return c;
  };
  let assertions: S3Client | undefined;
  return {
    endpoint,
    port: address.port,
    driverOptions,
    client,
    requests,
    async pendingUploads(bucket, prefix = '') {
      assertions ??= client();
      const answer = await assertions.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
      return (answer.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
    },
    close,
  };
}

function decodePath(path: string): string {
  return path.split('/').map(decodeURIComponent).join('/');
}

/** The ListObjectsV2 parameters the helper answers itself (no delimiter: pgwarden lists flat). */
const LIST_V2_PARAMS = new Set(['list-type', 'prefix', 'max-keys', 'continuation-token', 'start-after', 'x-id']);

/** s3rver keeps a multipart upload in `<directory>/<bucket>/._S3rver_uploads/<uploadId>/` with its key in `key`. */
const uploadsDir = (directory: string, bucket: string) => join(directory, bucket, '._S3rver_uploads');

async function storedUploads(directory: string, bucket: string): Promise<{ key: string; uploadId: string; initiated: Date }[]> {
  const ids = await readdir(uploadsDir(directory, bucket)).catch(() => [] as string[]);
  const uploads = [];
  for (const uploadId of ids) {
    const file = join(uploadsDir(directory, bucket), uploadId, 'key');
    const key = await readFile(file, 'utf8').catch(() => undefined);
    if (key !== undefined) uploads.push({ key, uploadId, initiated: (await stat(file)).mtime });
  }
  return uploads.sort((a, b) => (a.key === b.key ? a.uploadId.localeCompare(b.uploadId) : a.key < b.key ? -1 : 1));
}

async function bucketExists(directory: string, bucket: string): Promise<boolean> {
  return (await stat(join(directory, bucket)).catch(() => undefined))?.isDirectory() === true;
}

/** Answers the operations s3rver lacks; false for everything else. Request signatures are not checked here. */
async function answerMissingOperation(ctx: S3rverContext, directory: string, lifecycles: Map<string, string>): Promise<boolean> {
  const [, bucket = '', ...keyParts] = decodePath(ctx.path).split('/');
  const key = keyParts.join('/');
  const { method, query } = ctx;
  const bucketOperation = key === '' && bucket !== '';
  const listV2 = bucketOperation && method === 'GET' && query['list-type'] === '2' && Object.keys(query).every((q) => LIST_V2_PARAMS.has(q));
  const handled =
    listV2 ||
    (bucketOperation && 'uploads' in query && method === 'GET') ||
    (bucketOperation && 'lifecycle' in query) ||
    (!bucketOperation && query.uploadId !== undefined && method === 'DELETE');
  if (!handled) return false;
  if (!(await bucketExists(directory, bucket))) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });

  if (listV2) {
    // ListObjectsV2 paging: s3rver's own continuation tokens use DES, which Node's OpenSSL 3 no longer has.
    const prefix = query.prefix ?? '';
    const max = Math.min(Number(query['max-keys'] ?? 1000), 1000);
    const startAfter = query['continuation-token'] ? Buffer.from(query['continuation-token'], 'base64url').toString('utf8') : (query['start-after'] ?? '');
    const { objects, isTruncated } = await ctx.store.listObjects(bucket, { prefix, startAfter, maxKeys: max });
    const last = objects[objects.length - 1];
    ctx.body = {
      ListBucketResult: {
        '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
        Name: bucket,
        Prefix: prefix,
        ...(query['continuation-token'] ? { ContinuationToken: query['continuation-token'] } : {}),
        ...(isTruncated && last ? { NextContinuationToken: Buffer.from(last.key).toString('base64url') } : {}),
        KeyCount: objects.length,
        MaxKeys: max,
        IsTruncated: isTruncated,
        Contents: objects.map((o) => ({ Key: o.key, LastModified: o.lastModifiedDate.toISOString(), ETag: o.metadata.etag, Size: o.size, StorageClass: 'STANDARD' })),
      },
    };
    return true;
  }

  if ('uploads' in query) {
    // ListMultipartUploads, with S3's paging by key and upload id markers.
    const prefix = query.prefix ?? '';
    const max = Number(query['max-uploads'] ?? 1000);
    const keyMarker = query['key-marker'] ?? '';
    const idMarker = query['upload-id-marker'] ?? '';
    const after = (u: { key: string; uploadId: string }) => keyMarker === '' || u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.uploadId > idMarker);
    const matching = (await storedUploads(directory, bucket)).filter((u) => u.key.startsWith(prefix) && after(u));
    const page = matching.slice(0, max);
    const truncated = matching.length > max;
    const last = page[page.length - 1];
    ctx.body = {
      ListMultipartUploadsResult: {
        '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
        Bucket: bucket,
        KeyMarker: keyMarker,
        UploadIdMarker: idMarker,
        ...(truncated && last ? { NextKeyMarker: last.key, NextUploadIdMarker: last.uploadId } : {}),
        Prefix: prefix,
        MaxUploads: max,
        IsTruncated: truncated,
        Upload: page.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiated: u.initiated.toISOString(), StorageClass: 'STANDARD' })),
      },
    };
    return true;
  }

  if ('lifecycle' in query) {
    if (method === 'PUT') {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
      lifecycles.set(bucket, Buffer.concat(chunks).toString('utf8'));
      ctx.status = 200;
      ctx.body = '';
    } else if (method === 'DELETE') {
      lifecycles.delete(bucket);
      ctx.status = 204;
    } else {
      const xml = lifecycles.get(bucket);
      if (xml === undefined) throw new S3Error('NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist', { BucketName: bucket });
      ctx.type = 'application/xml';
      ctx.body = xml;
    }
    return true;
  }

  // AbortMultipartUpload.
  const uploadId = query.uploadId!;
  const upload = (await storedUploads(directory, bucket)).find((u) => u.uploadId === uploadId && u.key === key);
  if (!upload) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
  await rm(join(uploadsDir(directory, bucket), uploadId), { recursive: true, force: true });
  ctx.status = 204;
  return true;
}
