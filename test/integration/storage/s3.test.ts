// The S3 target through the real AWS SDK over HTTP on loopback (s3rver, a fault proxy, tiny fake endpoints):
// multipart round trips, paging, aborts that leave nothing, endpoints dying mid-upload, crashed writers'
// uploads cleaned up, check() telling each misconfiguration apart, SSE headers, lifecycle rules.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { CreateMultipartUploadCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseConfig } from '../../../src/config/index.js';
import { StorageError } from '../../../src/errors.js';
import { createS3Driver } from '../../../src/storage/s3/driver.js';
import { s3TargetsFromConfig } from '../../../src/storage/s3/from-config.js';
import { readTextObject, writeTextObject } from '../../../src/storage/text.js';
import type { StorageDriver } from '../../../src/storage/types.js';
import { startFaultProxy } from '../../helpers/fault-proxy.js';
import { startS3Server } from '../../helpers/s3.js';

const MiB = 1024 * 1024;

/** `total` random bytes in 1 MiB chunks, replayable, and their SHA-256. */
function patterned(total: number): { source: () => Readable; sha256: string } {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < total; offset += MiB) chunks.push(randomBytes(Math.min(MiB, total - offset)));
  const sha256 = createHash('sha256');
  for (const chunk of chunks) sha256.update(chunk);
  return { source: () => Readable.from(chunks), sha256: sha256.digest('hex') };
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function writeObject(driver: StorageDriver, path: string, source: Readable): Promise<void> {
  const writer = driver.write(path);
  try {
    await pipeline(source, writer.stream);
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** A source that yields `bytes` bytes, then (once `until` holds) fails like a producer that died. */
function failingSource(bytes: number, until: () => boolean = () => true): Readable {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < bytes; sent += MiB) yield Buffer.alloc(Math.min(MiB, bytes - sent), 7);
      while (!until()) await new Promise((r) => setTimeout(r, 10));
      throw new Error('pg_dump exited with code 1');
    })(),
  );
}

test('a 40 MiB object goes up in 5 MiB parts and reads back byte for byte, invisible until complete', async (t) => {
  const s3 = await startS3Server(t);
  const driver = createS3Driver(s3.driverOptions());
  const { source, sha256 } = patterned(40 * MiB);
  const path = 'shop/full/20261125T020000Z-full-1a2b3c/dump.pgc.gz';

  const writer = driver.write(path);
  const feeding = pipeline(source(), writer.stream);
  // Parts are going up, but the object does not exist yet.
  while (!s3.requests.some((r) => r.method === 'PUT' && r.query.partNumber === '2')) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await driver.stat(path), undefined);
  await feeding;
  await writer.commit();

  const parts = s3.requests.filter((r) => r.method === 'PUT' && r.query.uploadId !== undefined);
  assert.equal(parts.length, 8, '40 MiB in 5 MiB parts');
  assert.equal(s3.requests.filter((r) => r.method === 'POST' && 'uploads' in r.query).length, 1);
  assert.equal((await driver.stat(path))?.size, 40 * MiB);
  assert.deepEqual(await sha256Of(driver.read(path)), { sha256, bytes: 40 * MiB });
  // Read as ranged GETs of one part size each, all pinned to the object's ETag.
  const gets = s3.requests.filter((r) => r.method === 'GET' && r.path === `/primary/${path}`);
  assert.equal(gets.length, 8);
  assert.ok(gets.every((r) => typeof r.headers.range === 'string' && typeof r.headers['if-match'] === 'string'));
  assert.deepEqual(await s3.pendingUploads('primary'), []);
});

test('a stalled endpoint holds the producer back (no object is buffered), and the upload completes when it recovers', async (t) => {
  const s3 = await startS3Server(t);
  const proxy = await startFaultProxy(t, { port: s3.port });
  const driver = createS3Driver(s3.driverOptions('primary', { endpoint: proxy.url, partSizeMiB: 5, queueSize: 2, idleTimeoutMs: 10_000 }));
  const chunks: Buffer[] = [];
  for (let i = 0; i < 60; i++) chunks.push(randomBytes(MiB));
  let produced = 0;
  const source = Readable.from(
    (function* () {
      for (const chunk of chunks) {
        produced += chunk.length;
        yield chunk;
      }
    })(),
  );
  proxy.stall();
  const writer = driver.write('shop/base/id/base.tar.gz');
  const writing = pipeline(source, writer.stream);
  // Wait until the producer is held back: its count stops moving.
  for (let last = -1; produced !== last; ) {
    last = produced;
    await new Promise((r) => setTimeout(r, 300));
  }
  // Parts in flight and the one being filled, plus the stream buffers: nowhere near the 60 MiB object.
  assert.ok(produced <= (2 + 1) * 5 * MiB + 4 * MiB, `${produced / MiB} MiB taken from the producer while the endpoint hung`);
  proxy.up();
  await writing;
  await writer.commit();
  const whole = createHash('sha256');
  for (const chunk of chunks) whole.update(chunk);
  assert.deepEqual(await sha256Of(driver.read('shop/base/id/base.tar.gz')), { sha256: whole.digest('hex'), bytes: 60 * MiB });
});

test('small and empty objects are one PutObject each and read back', async (t) => {
  const s3 = await startS3Server(t);
  const driver = createS3Driver(s3.driverOptions());
  await writeTextObject(driver, 'shop/full/id1/manifest.json', '{"kind":"full"}');
  await writeObject(driver, 'shop/full/id1/empty', Readable.from([]));
  assert.equal(await readTextObject(driver, 'shop/full/id1/manifest.json'), '{"kind":"full"}');
  assert.deepEqual(await sha256Of(driver.read('shop/full/id1/empty')), { sha256: createHash('sha256').digest('hex'), bytes: 0 });
  assert.equal(s3.requests.filter((r) => 'uploads' in r.query).length, 0, 'no multipart upload for objects under a part');
  assert.equal((await driver.stat('shop/full/id1/empty'))?.size, 0);
});

test('every object is encrypted at rest: SSE-S3 by default, SSE-KMS with the configured key', async (t) => {
  const s3 = await startS3Server(t);
  const plain = createS3Driver(s3.driverOptions());
  const kms = createS3Driver(s3.driverOptions('primary', { kmsKeyId: 'alias/backups' }));
  await writeTextObject(plain, 'a/small', 'x');
  await writeObject(plain, 'a/large', patterned(6 * MiB).source());
  await writeTextObject(kms, 'b/small', 'x');
  await writeObject(kms, 'b/large', patterned(6 * MiB).source());

  const starts = (prefix: string) =>
    s3.requests.filter((r) => r.path.startsWith(`/primary/${prefix}`) && ((r.method === 'PUT' && r.query.uploadId === undefined) || (r.method === 'POST' && 'uploads' in r.query)));
  for (const request of starts('a/')) {
    assert.equal(request.headers['x-amz-server-side-encryption'], 'AES256', `${request.method} ${request.path}`);
    assert.equal(request.headers['x-amz-server-side-encryption-aws-kms-key-id'], undefined);
  }
  for (const request of starts('b/')) {
    assert.equal(request.headers['x-amz-server-side-encryption'], 'aws:kms', `${request.method} ${request.path}`);
    assert.equal(request.headers['x-amz-server-side-encryption-aws-kms-key-id'], 'alias/backups');
  }
  assert.equal(starts('a/').length, 2);
  assert.equal(starts('b/').length, 2);
});

test('list pages through every key under the prefix, and only those', async (t) => {
  const s3 = await startS3Server(t);
  const driver = createS3Driver(s3.driverOptions('primary', { listPageSize: 10 }));
  const client = s3.client();
  const keys = Array.from({ length: 25 }, (_, i) => `shop/wal/00000001/0000000100000000000000${String(i).padStart(2, '0')}`);
  for (const Key of [...keys, 'shopping/wal/x', 'crm/wal/y']) await client.send(new PutObjectCommand({ Bucket: 'primary', Key, Body: 'wal' }));
  const before = s3.requests.length;

  const listed = await driver.list('shop/');
  assert.deepEqual(listed.map((o) => o.path).sort(), keys);
  assert.ok(listed.every((o) => o.size === 3 && o.modifiedAt instanceof Date && !Number.isNaN(o.modifiedAt.getTime())));
  assert.equal(s3.requests.slice(before).filter((r) => r.query['list-type'] === '2').length, 3, '25 keys in pages of 10');
  assert.deepEqual(await driver.list('nothing/'), []);
});

test('stat, remove and read of present and absent objects', async (t) => {
  const s3 = await startS3Server(t);
  const driver = createS3Driver(s3.driverOptions());
  await writeTextObject(driver, 'shop/full/id/manifest.json', '{}');
  const info = await driver.stat('shop/full/id/manifest.json');
  assert.equal(info?.path, 'shop/full/id/manifest.json');
  assert.equal(info?.size, 2);
  assert.ok(Math.abs(info!.modifiedAt.getTime() - Date.now()) < 60_000);
  assert.equal(await driver.stat('shop/full/id/nope'), undefined);

  await driver.remove('shop/full/id/manifest.json');
  await driver.remove('shop/full/id/manifest.json');
  assert.equal(await driver.stat('shop/full/id/manifest.json'), undefined);

  await assert.rejects(sha256Of(driver.read('shop/full/id/manifest.json')), (error: Error) => {
    assert.ok(error instanceof StorageError);
    assert.equal(error.message, `storage target s3: cannot read shop/full/id/manifest.json in ${s3.endpoint}/primary: no such object`);
    return true;
  });
});

test('a write whose producer fails leaves no object and no multipart upload, however far it got', async (t) => {
  const s3 = await startS3Server(t);
  const driver = createS3Driver(s3.driverOptions());

  // Mid-way: two parts are up when the producer dies.
  const midway = driver.write('shop/full/id1/dump.pgc.gz');
  const partsUp = () => s3.requests.filter((r) => r.method === 'PUT' && r.query.uploadId !== undefined).length >= 2;
  await assert.rejects(pipeline(failingSource(12 * MiB, partsUp), midway.stream), /pg_dump exited with code 1/);
  await midway.abort();
  await midway.abort();
  assert.ok(s3.requests.some((r) => 'uploads' in r.query), 'a multipart upload had started');
  assert.equal(await driver.stat('shop/full/id1/dump.pgc.gz'), undefined);
  assert.deepEqual(await s3.pendingUploads('primary'), []);

  // After the last byte: the object was complete when the producer's exit status said it failed.
  const complete = driver.write('shop/full/id2/dump.pgc.gz');
  await pipeline(patterned(7 * MiB).source(), complete.stream);
  assert.equal((await driver.stat('shop/full/id2/dump.pgc.gz'))?.size, 7 * MiB);
  await complete.abort();
  assert.equal(await driver.stat('shop/full/id2/dump.pgc.gz'), undefined);

  // Before the first byte.
  const early = driver.write('shop/full/id3/dump.pgc.gz');
  await early.abort();
  assert.deepEqual(await driver.list('shop/'), []);
  assert.deepEqual(await s3.pendingUploads('primary'), []);
});

test('a connection cut mid-part is retried, and the object is whole', async (t) => {
  const s3 = await startS3Server(t);
  const proxy = await startFaultProxy(t, { port: s3.port });
  const driver = createS3Driver(s3.driverOptions('primary', { endpoint: proxy.url, maxAttempts: 2 }));
  const { source, sha256 } = patterned(12 * MiB);
  const cut = proxy.cutAfter(7 * MiB);
  await writeObject(driver, 'shop/base/id/base.tar.gz', source());
  await cut;
  assert.deepEqual(await sha256Of(driver.read('shop/base/id/base.tar.gz')), { sha256, bytes: 12 * MiB });
  assert.deepEqual(await s3.pendingUploads('primary'), []);
});

test('an upload whose connection is cut fails with a StorageError naming target, bucket and key, and leaves nothing', async (t) => {
  const s3 = await startS3Server(t);
  const proxy = await startFaultProxy(t, { port: s3.port });
  const driver = createS3Driver(s3.driverOptions('primary', { endpoint: proxy.url, maxAttempts: 1 }));
  void proxy.cutAfter(7 * MiB);
  const path = 'shop/full/id/dump.pgc.gz';
  await assert.rejects(writeObject(driver, path, patterned(20 * MiB).source()), (error: Error) => {
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, new RegExp(`^storage target s3: cannot write ${path} in ${proxy.url}/primary: `));
    return true;
  });
  assert.equal(await driver.stat(path), undefined);
  assert.deepEqual(await s3.pendingUploads('primary'), []);
});

test('an endpoint that dies mid-upload fails the write within seconds; its leftover upload is removed once it is back', async (t) => {
  const s3 = await startS3Server(t);
  const proxy = await startFaultProxy(t, { port: s3.port });
  const driver = createS3Driver(s3.driverOptions('primary', { endpoint: proxy.url, maxAttempts: 2 }));
  const path = 'shop/full/id/dump.pgc.gz';
  const died = proxy.cutAfter(8 * MiB, { thenDown: true });
  const started = Date.now();
  const writer = driver.write(path);
  await assert.rejects(pipeline(patterned(30 * MiB).source(), writer.stream), (error: Error) => {
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, new RegExp(`^storage target s3: cannot write ${path} in ${proxy.url}/primary: `));
    assert.ok(error.hints.some((h) => h.includes('storage.s3.endpoint')), error.hints.join('\n'));
    return true;
  });
  await died;
  // Cleaning up while the endpoint is still down must not throw (it would hide the real error).
  await writer.abort();
  assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);

  proxy.up();
  assert.equal(await driver.stat(path), undefined);
  const left = await s3.pendingUploads('primary');
  assert.equal(left.length, 1, 'the multipart upload could not be aborted while the endpoint was down');
  assert.deepEqual(await driver.removeIncomplete('shop/full/id/'), [path]);
  assert.deepEqual(await s3.pendingUploads('primary'), []);
});

test('an endpoint that dies mid-read fails the read stream with a StorageError', async (t) => {
  const s3 = await startS3Server(t);
  const proxy = await startFaultProxy(t, { port: s3.port });
  const driver = createS3Driver(s3.driverOptions('primary', { endpoint: proxy.url, maxAttempts: 1 }));
  await writeObject(driver, 'shop/full/id/dump', patterned(30 * MiB).source());
  const stream = driver.read('shop/full/id/dump');
  let bytes = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) {
        bytes += (chunk as Buffer).length;
        proxy.down();
      }
    })(),
    (error: Error) => {
      assert.ok(error instanceof StorageError, String(error));
      assert.match(error.message, new RegExp(`^storage target s3: cannot read shop/full/id/dump in ${proxy.url}/primary: `));
      return true;
    },
  );
  assert.ok(bytes > 0 && bytes < 30 * MiB);
});

test('removeIncomplete aborts the uploads crashed writers left under the prefix, page by page, and nothing else', async (t) => {
  const s3 = await startS3Server(t);
  const driver = createS3Driver(s3.driverOptions('primary', { listPageSize: 2 }));
  const client = s3.client();
  const crashed = ['shop/full/id1/dump.pgc.gz', 'shop/full/id1/dump.pgc.gz', 'shop/full/id1/toc', 'shop/full/id1/x/y'];
  for (const Key of [...crashed, 'shop/full/id2/dump.pgc.gz']) await client.send(new CreateMultipartUploadCommand({ Bucket: 'primary', Key }));
  await writeTextObject(driver, 'shop/full/id1/manifest.json', '{}');

  assert.deepEqual((await driver.removeIncomplete('shop/full/id1/')).sort(), crashed.sort());
  assert.deepEqual(await s3.pendingUploads('primary'), [{ key: 'shop/full/id2/dump.pgc.gz', uploadId: (await s3.pendingUploads('primary'))[0]!.uploadId }]);
  assert.ok(await driver.stat('shop/full/id1/manifest.json'), 'complete objects stay');
  assert.deepEqual(await driver.removeIncomplete('shop/full/id1/'), []);
});

/** A loopback HTTP server answering every request with `answer`, for what s3rver cannot pretend. */
async function fakeEndpoint(t: { after(fn: () => Promise<void>): void }, answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function checkFails(driver: StorageDriver): Promise<StorageError> {
  try {
    await driver.check();
  } catch (error) {
    assert.ok(error instanceof StorageError, String(error));
    return error;
  }
  assert.fail('check() passed');
}

test('check() passes on a usable bucket and tells bad credentials, a missing bucket and an unreachable endpoint apart', async (t) => {
  const s3 = await startS3Server(t);
  await createS3Driver(s3.driverOptions()).check();

  const badKey = await checkFails(createS3Driver(s3.driverOptions('primary', { credentials: { accessKeyId: 'AKIAWRONG', secretAccessKey: 'S3RVER' } })));
  assert.match(badKey.message, /^storage target s3: bucket primary refused the credentials \(/);
  assert.ok(badKey.hints.some((h) => h.includes('storage.s3.accessKeyId')), badKey.hints.join('\n'));

  const missing = await checkFails(createS3Driver(s3.driverOptions('nope')));
  assert.match(missing.message, /^storage target s3: bucket nope does not exist/);
  assert.deepEqual(missing.hints, ['create bucket nope, or set storage.s3.bucket to an existing one']);

  const proxy = await startFaultProxy(t, { port: s3.port });
  proxy.down();
  const started = Date.now();
  const refused = await checkFails(createS3Driver(s3.driverOptions('primary', { name: 's3-replica', endpoint: proxy.url, maxAttempts: 2 })));
  assert.match(refused.message, new RegExp(`^storage target s3-replica: cannot reach ${proxy.url} for bucket primary \\(`));
  assert.ok(refused.hints[0]!.startsWith(`check storage.s3.replica.endpoint (${proxy.url})`), refused.hints[0]);

  proxy.stall();
  const stalled = await checkFails(createS3Driver(s3.driverOptions('primary', { endpoint: proxy.url, maxAttempts: 1, idleTimeoutMs: 500 })));
  assert.match(stalled.message, new RegExp(`^storage target s3: cannot reach ${proxy.url} for bucket primary \\(.*timed out`));
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});

test('check() says so when no credentials are configured or found', async (t) => {
  const s3 = await startS3Server(t);
  // Keep the SDK's chain from finding any: no keys in the environment, no profile, no instance metadata.
  const saved = { ...process.env };
  t.after(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });
  for (const key of Object.keys(process.env)) if (key.startsWith('AWS_')) delete process.env[key];
  Object.assign(process.env, { AWS_EC2_METADATA_DISABLED: 'true', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_CONFIG_FILE: '/nonexistent' });
  const none = await checkFails(createS3Driver({ ...s3.driverOptions(), credentials: undefined, maxAttempts: 1 }));
  assert.match(none.message, /^storage target s3: no credentials to reach bucket primary with \(/);
  assert.match(none.hints[0]!, /^set storage\.s3\.accessKeyId and storage\.s3\.secretAccessKey/);
});

test('check() names the bucket’s real region when S3 redirects or refuses the signing region', async (t) => {
  // What AWS answers a HeadBucket signed for the wrong region (no body on HEAD, the region in a header).
  const redirect = await fakeEndpoint(t, (_req, res) => res.writeHead(301, { 'x-amz-bucket-region': 'eu-west-1' }).end());
  const malformed = await fakeEndpoint(t, (_req, res) => res.writeHead(400, { 'x-amz-bucket-region': 'eu-west-1' }).end());
  const base = { bucket: 'hotel-backups', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 };

  const moved = await checkFails(createS3Driver({ ...base, endpoint: redirect }));
  assert.equal(moved.message, 'storage target s3: bucket hotel-backups is in region eu-west-1, not us-east-1');
  assert.deepEqual(moved.hints, ["set storage.s3.region: eu-west-1 (the bucket's region)"]);

  const refused = await checkFails(createS3Driver({ ...base, name: 's3-replica', endpoint: malformed }));
  assert.equal(refused.message, 'storage target s3-replica: bucket hotel-backups is in region eu-west-1, not us-east-1');
  assert.deepEqual(refused.hints, ["set storage.s3.replica.region: eu-west-1 (the bucket's region)"]);
});

test('the lifecycle rule: Glacier after N days when asked, expiry, and abandoned multipart uploads aborted after a week', async (t) => {
  const s3 = await startS3Server(t);
  const driver = createS3Driver(s3.driverOptions());
  const lifecycle = driver.lifecycle!;
  assert.deepEqual(lifecycle.document({ prefix: 'prod', coldAfterDays: 30, expireAfterDays: 90 }), {
    Rules: [
      {
        ID: 'pgwarden-backups',
        Status: 'Enabled',
        Filter: { Prefix: 'prod/' },
        Transitions: [{ Days: 30, StorageClass: 'GLACIER' }],
        Expiration: { Days: 90 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      },
    ],
  });
  const plain = lifecycle.document({ prefix: '', expireAfterDays: 90 }) as { Rules: Record<string, unknown>[] };
  assert.deepEqual(plain.Rules[0]!.Filter, { Prefix: '' });
  assert.equal(plain.Rules[0]!.Transitions, undefined);
  assert.throws(() => lifecycle.document({ prefix: '', coldAfterDays: 90, expireAfterDays: 90 }), (error: Error) => {
    assert.ok(error instanceof StorageError);
    assert.match(error.message, /^storage target s3: a lifecycle rule cannot move objects to Glacier after 90 days and delete them after 90 days/);
    return true;
  });

  assert.equal(await lifecycle.current(), undefined);
  const policy = { prefix: 'prod', coldAfterDays: 30, expireAfterDays: 90 };
  await lifecycle.apply(policy);
  const put = s3.requests.find((r) => r.method === 'PUT' && 'lifecycle' in r.query);
  assert.ok(put, 'PutBucketLifecycleConfiguration was sent');
  assert.deepEqual(await lifecycle.current(), lifecycle.document(policy));

  const missing = createS3Driver(s3.driverOptions('nope')).lifecycle!;
  await assert.rejects(missing.apply(policy), /^StorageError: storage target s3: cannot write the lifecycle configuration of bucket nope/);
});

test('the config gives an s3 target and an s3-replica target sharing credentials and settings, each with its KMS key', async (t) => {
  const s3 = await startS3Server(t);
  const config = parseConfig(`
catalog: { url: "postgres://pgwarden@127.0.0.1:5432/pgwarden" }
databases: [ { name: shop, url: "postgres://backup@127.0.0.1:5432/shop" } ]
storage:
  prefix: prod
  s3:
    bucket: primary
    region: us-east-1
    endpoint: "${s3.endpoint}"
    forcePathStyle: true
    requestChecksumCalculation: WHEN_REQUIRED
    accessKeyId: S3RVER
    secretAccessKey: S3RVER
    kmsKeyId: alias/primary-key
    partSizeMiB: 5
    maxAttempts: 1
    replica: { bucket: replica, region: us-east-1, endpoint: "${s3.endpoint}" }
`);
  const targets = s3TargetsFromConfig(config.storage);
  assert.deepEqual(
    targets.map((d) => [d.name, d.kind, d.location]),
    [
      ['s3', 's3', `${s3.endpoint}/primary`],
      ['s3-replica', 's3', `${s3.endpoint}/replica`],
    ],
  );
  for (const target of targets) {
    await target.check();
    await writeTextObject(target, 'prod/shop/full/id/manifest.json', target.name);
    assert.equal(await readTextObject(target, 'prod/shop/full/id/manifest.json'), target.name);
  }
  const puts = s3.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/manifest.json'));
  assert.deepEqual(
    puts.map((r) => [r.path, r.headers['x-amz-server-side-encryption-aws-kms-key-id']]),
    [
      ['/primary/prod/shop/full/id/manifest.json', 'alias/primary-key'],
      ['/replica/prod/shop/full/id/manifest.json', 'alias/primary-key'],
    ],
  );

  const own = parseConfig(`
catalog: { url: "postgres://pgwarden@127.0.0.1:5432/pgwarden" }
databases: [ { name: shop, url: "postgres://backup@127.0.0.1:5432/shop" } ]
storage:
  s3: { bucket: primary, region: us-east-1, endpoint: "${s3.endpoint}", forcePathStyle: true, requestChecksumCalculation: WHEN_REQUIRED,
        accessKeyId: S3RVER, secretAccessKey: S3RVER, replica: { bucket: replica, region: us-east-1, endpoint: "${s3.endpoint}", kmsKeyId: alias/dr-key } }
`);
  const [primary, replica] = s3TargetsFromConfig(own.storage);
  await writeTextObject(primary!, 'a', 'x');
  await writeTextObject(replica!, 'a', 'x');
  const last = s3.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/a'));
  assert.deepEqual(
    last.map((r) => [r.path, r.headers['x-amz-server-side-encryption'], r.headers['x-amz-server-side-encryption-aws-kms-key-id']]),
    [
      ['/primary/a', 'AES256', undefined],
      ['/replica/a', 'aws:kms', 'alias/dr-key'],
    ],
  );
  assert.deepEqual(s3TargetsFromConfig(parseConfig(`
catalog: { url: "postgres://pgwarden@127.0.0.1:5432/pgwarden" }
databases: [ { name: shop, url: "postgres://backup@127.0.0.1:5432/shop" } ]
storage: { local: { path: /backups } }
`).storage), []);
});
