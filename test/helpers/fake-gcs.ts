// A Google Cloud Storage stand-in on 127.0.0.1:0 for the real @google-cloud/storage client (no emulator
// exists on npm). It speaks the JSON API routes the client uses, keeps object bytes in files under a temp
// directory (large uploads never sit in memory), and has fault switches for failure tests.
//
// Routes (bucket and object names URL-encoded, as the client sends them):
//   GET    /storage/v1/b/{bucket}                      bucket metadata (incl. lifecycle)
//   PATCH  /storage/v1/b/{bucket}                      merge metadata (a null value removes the key)
//   GET    /storage/v1/b/{bucket}/o?prefix&maxResults&pageToken   list, pages of at most `pageSize`
//   GET    /storage/v1/b/{bucket}/o/{object}           object metadata; `?alt=media` the bytes (Range honoured)
//   DELETE /storage/v1/b/{bucket}/o/{object}           204
//   POST   /upload/storage/v1/b/{bucket}/o?uploadType=multipart&name=…   simple upload (held in memory: small objects)
//   POST   /upload/storage/v1/b/{bucket}/o?uploadType=resumable&name=…   starts a session → 200 + Location
//   PUT    <Location>  Content-Range `bytes a-b/*` a chunk (308 + Range), `bytes a-b/N` or `bytes a-*/*` the
//          last one (200 + object JSON, X-Goog-Hash crc32c checked), `bytes */*` asks how far it got
//   DELETE <Location>  cancels the session (499)
// Errors use GCS's JSON shape `{ error: { code, message, errors: [{ reason, message }] } }`; objects carry a
// correct crc32c (Castagnoli) and md5Hash, without which the client deletes what it just uploaded.
// `kmsKeyName` from an upload's query is stored on the object, and every request is recorded in `requests`.
//
// Fault switches: `down('refuse')` stops listening (connections refused), `down('unavailable')` answers 503
// to everything and `down('hang')` reads requests but never answers, until `up()`; `failUploadsAfter(bytes)` drops the connection once that many upload bytes
// arrived (optionally only `times` times); `loseFinalResponses(times)` stores the next finished uploads but
// drops the connection instead of answering (a response lost on the way back); `requireToken(token)` answers 401 to requests without
// `Authorization: Bearer <token>` (the client sends none to a non-Google endpoint); `denyAccess(bucket)`
// answers 403 for that bucket; `corrupt(bucket, name)` flips a stored byte (the recorded hashes stay).
// `sessions()` lists unfinished resumable uploads, `objects(bucket)` what is stored.
import { createHash, type Hash, randomBytes } from 'node:crypto';
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface FakeGcsOptions {
  /** Buckets that exist from the start (more with `createBucket`). */
  buckets?: string[];
  /** Largest page a list answers (GCS: 1000); small values make pagination testable. */
  pageSize?: number;
}

export interface FakeObject {
  bucket: string;
  name: string;
  size: number;
  generation: number;
  crc32c: string;
  md5Hash: string;
  contentType: string;
  kmsKeyName?: string | undefined;
  timeCreated: string;
}

export interface FakeSession {
  id: string;
  bucket: string;
  name: string;
  /** Bytes persisted so far (whole chunks only). */
  received: number;
  kmsKeyName?: string | undefined;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
}

export interface FakeGcs {
  /** `http://127.0.0.1:PORT`, the client's `apiEndpoint`. */
  url: string;
  port: number;
  requests: FakeRequest[];
  createBucket(name: string): void;
  /** The bucket's metadata as the API returns it, or undefined. */
  bucket(name: string): Record<string, unknown> | undefined;
  objects(bucket: string): FakeObject[];
  readObject(bucket: string, name: string): Promise<Buffer>;
  corrupt(bucket: string, name: string): Promise<void>;
  sessions(): FakeSession[];
  down(mode?: 'refuse' | 'unavailable' | 'hang'): Promise<void>;
  up(): Promise<void>;
  failUploadsAfter(bytes: number | undefined, options?: { times?: number }): void;
  loseFinalResponses(times: number): void;
  requireToken(token: string | undefined): void;
  denyAccess(bucket: string | undefined): void;
  close(): Promise<void>;
}

interface StoredObject extends FakeObject {
  file: string;
  metadata?: Record<string, string> | undefined;
}

interface Session extends FakeSession {
  file: string;
  contentType: string;
  crc: number;
  md5: Hash;
  cancelled: boolean;
  /** The in-flight chunk request, answered 499 when the session is cancelled under it. */
  active?: ServerResponse | undefined;
  finished?: StoredObject | undefined;
}

interface Bucket {
  metadata: Record<string, unknown>;
  objects: Map<string, StoredObject>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/** `t` is a test context (or anything with `after`) that closes the server when the test ends. */
export async function startFakeGcs(t: { after(fn: () => Promise<void>): void } | undefined, options: FakeGcsOptions = {}): Promise<FakeGcs> {
  const dir = await mkdtemp(join(tmpdir(), 'pgwarden-fake-gcs-'));
  await mkdir(join(dir, 'objects'));
  await mkdir(join(dir, 'sessions'));
  const pageSize = options.pageSize ?? 1000;
  const buckets = new Map<string, Bucket>();
  const sessions = new Map<string, Session>();
  const requests: FakeRequest[] = [];
  const sockets = new Set<Socket>();
  let nextFile = 0;
  let generation = 1_700_000_000_000_000;
  let unavailable = false;
  let hanging = false;
  let token: string | undefined;
  let denied: string | undefined;
  let failAfter: { bytes: number; times: number; seen: number } | undefined;
  let loseFinal = 0;

  const createBucket = (name: string) => {
    const now = new Date().toISOString();
    buckets.set(name, {
      metadata: { kind: 'storage#bucket', id: name, name, projectNumber: '0', metageneration: '1', location: 'US', storageClass: 'STANDARD', timeCreated: now, updated: now },
      objects: new Map(),
    });
  };
  for (const name of options.buckets ?? []) createBucket(name);

  const bucketOf = (name: string): Bucket => {
    const bucket = buckets.get(name);
    if (!bucket) throw new HttpError(404, 'The specified bucket does not exist.', 'notFound');
    return bucket;
  };

  const objectJson = (o: StoredObject) => ({
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.size),
    crc32c: o.crc32c,
    md5Hash: o.md5Hash,
    timeCreated: o.timeCreated,
    updated: o.timeCreated,
    ...(o.kmsKeyName !== undefined && { kmsKeyName: o.kmsKeyName }),
    ...(o.metadata !== undefined && { metadata: o.metadata }),
  });

  /** Makes `file` the object's content, replacing (and deleting the bytes of) any older generation. */
  const store = async (bucket: string, name: string, file: string, fields: Omit<FakeObject, 'bucket' | 'name' | 'generation' | 'timeCreated'> & { metadata?: Record<string, string> | undefined }) => {
    const target = bucketOf(bucket);
    const path = join(dir, 'objects', String(nextFile++));
    await rename(file, path);
    const previous = target.objects.get(name);
    const object: StoredObject = { bucket, name, generation: ++generation, timeCreated: new Date().toISOString(), file: path, ...fields };
    target.objects.set(name, object);
    if (previous) await rm(previous.file, { force: true });
    return object;
  };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const error = (res: ServerResponse, status: number, message: string, reason: string) =>
    json(res, status, { error: { code: status, message, errors: [{ message, domain: 'global', reason }] } });

  const readBody = async (req: IncomingMessage): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  /** Counts upload bytes for `failUploadsAfter`, dropping the connection once the limit is passed. */
  const uploadTap = (req: IncomingMessage, onData: (chunk: Buffer) => void) =>
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        if (failAfter) {
          failAfter.seen += chunk.length;
          if (failAfter.seen > failAfter.bytes) {
            if (--failAfter.times <= 0) failAfter = undefined;
            else failAfter.seen = 0;
            req.socket.destroy();
            return callback(new Error('connection dropped by failUploadsAfter'));
          }
        }
        onData(chunk);
        callback(null, chunk);
      },
    });

  async function startUpload(req: IncomingMessage, res: ServerResponse, bucket: string, query: Record<string, string>) {
    bucketOf(bucket);
    const name = query.name;
    if (query.uploadType === 'resumable') {
      const body = await readBody(req);
      const metadata = body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
      const objectName = name ?? (metadata.name as string | undefined);
      if (!objectName) throw new HttpError(400, 'Required parameter: name', 'required');
      const id = randomBytes(12).toString('hex');
      const file = join(dir, 'sessions', id);
      await writeFile(file, '');
      const contentType = (req.headers['x-upload-content-type'] as string | undefined) ?? (metadata.contentType as string | undefined) ?? 'application/octet-stream';
      sessions.set(id, { id, bucket, name: objectName, received: 0, kmsKeyName: query.kmsKeyName, file, contentType, crc: 0, md5: createHash('md5'), cancelled: false });
      const location = `${fake.url}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(objectName)}&upload_id=${id}`;
      res.writeHead(200, { location, 'content-length': 0 });
      res.end();
      return;
    }
    if (query.uploadType !== 'multipart') throw new HttpError(400, `unsupported uploadType ${query.uploadType}`, 'invalid');
    let raw = Buffer.alloc(0);
    const parts: Buffer[] = [];
    await pipeline(
      req,
      uploadTap(req, () => {}),
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) parts.push(chunk);
      },
    );
    raw = Buffer.concat(parts);
    const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
    if (!boundary) throw new HttpError(400, 'multipart upload without a boundary', 'invalid');
    const [metaPart, mediaPart] = splitMultipart(raw, boundary);
    if (!metaPart || !mediaPart) throw new HttpError(400, 'multipart upload needs a metadata and a media part', 'invalid');
    const metadata = JSON.parse(metaPart.body.toString('utf8')) as Record<string, unknown>;
    const objectName = name ?? (metadata.name as string | undefined);
    if (!objectName) throw new HttpError(400, 'Required parameter: name', 'required');
    const file = join(dir, 'sessions', randomBytes(12).toString('hex'));
    await writeFile(file, mediaPart.body);
    const object = await store(bucket, objectName, file, {
      size: mediaPart.body.length,
      crc32c: crc32cBase64(crc32c(mediaPart.body)),
      md5Hash: createHash('md5').update(mediaPart.body).digest('base64'),
      contentType: (metadata.contentType as string | undefined) ?? mediaPart.headers['content-type'] ?? 'application/octet-stream',
      kmsKeyName: query.kmsKeyName,
      metadata: metadata.metadata as Record<string, string> | undefined,
    });
    json(res, 200, objectJson(object));
  }

  async function uploadChunk(req: IncomingMessage, res: ServerResponse, session: Session) {
    if (session.finished) {
      await readBody(req);
      return json(res, 200, objectJson(session.finished));
    }
    const range = /^bytes (?:\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(req.headers['content-range'] ?? '');
    if (!range) {
      await readBody(req);
      throw new HttpError(400, `bad Content-Range: ${req.headers['content-range']}`, 'invalid');
    }
    const [, startText, endText, totalText] = range;
    const total = totalText === '*' ? undefined : Number(totalText);
    if (startText === undefined) {
      // `bytes */*` asks how far the upload got; `bytes */N` also finalizes when all N bytes are there.
      await readBody(req);
      if (total !== undefined && total === session.received) return finalize(res, session, req);
      return incomplete(res, session);
    }
    const start = Number(startText);
    if (start !== session.received) {
      await readBody(req);
      throw new HttpError(400, `chunk starts at ${start} but ${session.received} bytes were received`, 'invalid');
    }
    // Bytes are appended to the session file and only counted once the whole request arrived: a dropped
    // connection loses that chunk, as it would on GCS.
    let crc = session.crc;
    const md5 = session.md5.copy();
    let count = 0;
    session.active = res;
    try {
      await pipeline(
        req,
        uploadTap(req, (chunk) => {
          crc = crc32c(chunk, crc);
          md5.update(chunk);
          count += chunk.length;
        }),
        createWriteStream(session.file, { flags: 'a' }),
      );
    } catch {
      await truncate(session.file, session.received).catch(() => {});
      return;
    } finally {
      session.active = undefined;
    }
    if (session.cancelled) return;
    if (endText !== '*' && count !== Number(endText) - start + 1) {
      await truncate(session.file, session.received);
      throw new HttpError(400, `Content-Range says ${Number(endText) - start + 1} bytes, the request had ${count}`, 'invalid');
    }
    session.received += count;
    session.crc = crc;
    session.md5 = md5;
    if (total === undefined && endText !== '*') return incomplete(res, session);
    if (total !== undefined && total !== session.received) {
      throw new HttpError(400, `the upload ended at ${session.received} bytes, Content-Range announced ${total}`, 'invalid');
    }
    return finalize(res, session, req);
  }

  function incomplete(res: ServerResponse, session: Session) {
    res.writeHead(308, { 'content-length': 0, ...(session.received > 0 && { range: `bytes=0-${session.received - 1}` }) });
    res.end();
  }

  async function finalize(res: ServerResponse, session: Session, req: IncomingMessage) {
    const crc = crc32cBase64(session.crc);
    const claimed = /crc32c=([^,]+)/.exec((req.headers['x-goog-hash'] as string | undefined) ?? '')?.[1];
    if (claimed !== undefined && claimed !== crc) {
      throw new HttpError(400, `Provided CRC32C "${claimed}" doesn't match calculated CRC32C "${crc}".`, 'invalid');
    }
    session.finished = await store(session.bucket, session.name, session.file, {
      size: session.received,
      crc32c: crc,
      md5Hash: session.md5.digest('base64'),
      contentType: session.contentType,
      kmsKeyName: session.kmsKeyName,
    });
    if (loseFinal > 0) {
      loseFinal--;
      res.socket?.destroy();
      return;
    }
    json(res, 200, objectJson(session.finished));
  }

  function cancel(res: ServerResponse, session: Session) {
    session.cancelled = true;
    sessions.delete(session.id);
    if (session.active && !session.active.headersSent) {
      error(session.active, 499, 'Client Closed Request', 'clientClosedRequest');
      session.active.socket?.destroy();
    }
    void rm(session.file, { force: true });
    res.writeHead(499, { 'content-length': 0 });
    res.end();
  }

  function list(res: ServerResponse, bucket: Bucket, query: Record<string, string>) {
    const prefix = query.prefix ?? '';
    const size = Math.min(Number(query.maxResults ?? pageSize) || pageSize, pageSize);
    const after = query.pageToken ? Buffer.from(query.pageToken, 'base64url').toString('utf8') : undefined;
    const names = [...bucket.objects.keys()].filter((n) => n.startsWith(prefix) && (after === undefined || n > after)).sort();
    const page = names.slice(0, size);
    const body: Record<string, unknown> = { kind: 'storage#objects' };
    if (page.length > 0) body.items = page.map((n) => objectJson(bucket.objects.get(n)!));
    if (names.length > size) body.nextPageToken = Buffer.from(page.at(-1)!, 'utf8').toString('base64url');
    json(res, 200, body);
  }

  function download(req: IncomingMessage, res: ServerResponse, o: StoredObject) {
    const headers: Record<string, string | number> = {
      'content-type': o.contentType,
      'x-goog-hash': `crc32c=${o.crc32c},md5=${o.md5Hash}`,
      'x-goog-generation': String(o.generation),
      'x-goog-stored-content-encoding': 'identity',
      'x-goog-stored-content-length': String(o.size),
      'accept-ranges': 'bytes',
    };
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && (range[1] || range[2])) {
      let start = range[1] ? Number(range[1]) : Math.max(0, o.size - Number(range[2]));
      let end = range[1] && range[2] ? Math.min(Number(range[2]), o.size - 1) : o.size - 1;
      if (start >= o.size) return error(res, 416, 'The requested range cannot be satisfied.', 'requestedRangeNotSatisfiable');
      start = Math.max(0, start);
      end = Math.max(start, end);
      res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${o.size}` });
      createReadStream(o.file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': o.size });
    if (o.size === 0) return res.end();
    createReadStream(o.file).pipe(res);
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? 'GET';
    requests.push({ method, path: url.pathname, query, headers: req.headers });
    if (hanging) {
      req.resume();
      return;
    }
    if (unavailable) {
      await readBody(req).catch(() => {});
      throw new HttpError(503, 'Service Unavailable', 'backendError');
    }

    const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    // A session URI carries its own authority (GCS does not ask for credentials on it).
    if (upload && query.upload_id !== undefined) {
      const session = sessions.get(query.upload_id);
      if (!session) {
        await readBody(req);
        throw new HttpError(404, 'No such upload session', 'notFound');
      }
      if (method === 'DELETE') return cancel(res, session);
      if (method === 'PUT') return uploadChunk(req, res, session);
    }
    const bucketName = decodeURIComponent((/^\/(?:upload\/)?storage\/v1\/b\/([^/]+)/.exec(url.pathname) ?? [])[1] ?? '');
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      await readBody(req).catch(() => {});
      throw new HttpError(401, 'Invalid Credentials', 'authError');
    }
    if (denied !== undefined && bucketName === denied) {
      await readBody(req).catch(() => {});
      throw new HttpError(403, `caller does not have storage.objects.list access to the Google Cloud Storage bucket ${denied}.`, 'forbidden');
    }
    if (upload && method === 'POST') return startUpload(req, res, bucketName, query);

    const object = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    if (object) {
      const bucket = bucketOf(bucketName);
      const name = decodeURIComponent(object[2]!);
      const stored = bucket.objects.get(name);
      if (method === 'GET' || method === 'DELETE') {
        if (!stored) throw new HttpError(404, `No such object: ${bucketName}/${name}`, 'notFound');
        if (method === 'DELETE') {
          bucket.objects.delete(name);
          await rm(stored.file, { force: true });
          res.writeHead(204);
          return res.end();
        }
        return query.alt === 'media' ? download(req, res, stored) : json(res, 200, objectJson(stored));
      }
    }
    if (/^\/storage\/v1\/b\/[^/]+\/o$/.test(url.pathname) && method === 'GET') return list(res, bucketOf(bucketName), query);
    if (/^\/storage\/v1\/b\/[^/]+$/.test(url.pathname)) {
      const bucket = bucketOf(bucketName);
      if (method === 'GET') return json(res, 200, bucket.metadata);
      if (method === 'PATCH' || method === 'PUT') {
        const patch = JSON.parse((await readBody(req)).toString('utf8') || '{}') as Record<string, unknown>;
        for (const [key, value] of Object.entries(patch)) {
          if (value === null) delete bucket.metadata[key];
          else bucket.metadata[key] = value;
        }
        bucket.metadata.metageneration = String(Number(bucket.metadata.metageneration) + 1);
        bucket.metadata.updated = new Date().toISOString();
        return json(res, 200, bucket.metadata);
      }
    }
    await readBody(req);
    throw new HttpError(404, `the fake GCS has no route for ${method} ${url.pathname}`, 'notFound');
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof HttpError) return error(res, err.status, err.message, err.reason);
      error(res, 500, (err as Error).message, 'backendError');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  const stop = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  const fake: FakeGcs = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    createBucket,
    bucket: (name) => buckets.get(name)?.metadata,
    objects: (bucket) =>
      [...(buckets.get(bucket)?.objects.values() ?? [])].map(({ file: _file, metadata: _metadata, ...rest }) => ({ ...rest })).sort((a, b) => (a.name < b.name ? -1 : 1)),
    async readObject(bucket, name) {
      const stored = buckets.get(bucket)?.objects.get(name);
      if (!stored) throw new Error(`fake GCS: no object ${bucket}/${name}`);
      return readFile(stored.file);
    },
    async corrupt(bucket, name) {
      const stored = buckets.get(bucket)?.objects.get(name);
      if (!stored || stored.size === 0) throw new Error(`fake GCS: no object ${bucket}/${name} to corrupt`);
      const bytes = await readFile(stored.file);
      bytes[0] = bytes[0]! ^ 0xff;
      await writeFile(stored.file, bytes);
    },
    sessions: () =>
      [...sessions.values()]
        .filter((session) => !session.finished)
        .map(({ id, bucket, name, received, kmsKeyName }) => ({ id, bucket, name, received, kmsKeyName })),
    async down(mode = 'refuse') {
      if (mode === 'unavailable') unavailable = true;
      else if (mode === 'hang') hanging = true;
      else await stop();
    },
    async up() {
      unavailable = false;
      if (hanging) {
        hanging = false;
        for (const socket of sockets) socket.destroy();
      }
      if (!listening) {
        await listen(port);
        listening = true;
      }
    },
    failUploadsAfter(bytes, opts = {}) {
      failAfter = bytes === undefined ? undefined : { bytes, times: opts.times ?? Number.POSITIVE_INFINITY, seen: 0 };
    },
    loseFinalResponses(times) {
      loseFinal = times;
    },
    requireToken(value) {
      token = value;
    },
    denyAccess(bucket) {
      denied = bucket;
    },
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  t?.after(() => fake.close());
  return fake;
}

function splitMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const part = body.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, headerEnd).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    // The part's body ends with the CRLF that precedes the next delimiter.
    parts.push({ headers, body: part.subarray(headerEnd + 4, part.length - 2) });
    at = next;
  }
  return parts;
}

/**
 * CRC-32C (Castagnoli) of `data`, continuing from `previous` (the CRC of the bytes before it). Native, as
 * pgwarden's client side is (test/unit/storage/gcs-crc32c.test.ts checks it against the GCS client's own
 * JavaScript CRC32C), so that the fake costs the multi-target benchmark little CPU on this machine's two cores.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  return nativeCrc32c(data, previous) >>> 0;
}

/** GCS spells a CRC-32C as base64 of its 4 big-endian bytes. */
export function crc32cBase64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString('base64');
}
