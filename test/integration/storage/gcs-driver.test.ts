// The GCS target against the fake GCS server through the real client: chunked resumable uploads that stay
// invisible until commit, reads checked against SHA-256, listing across pages, stat/remove, customer-managed keys.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { createGcsDriver, type GcsDriverOptions } from '../../../src/storage/gcs/driver.js';
import { gcsTargetFromConfig } from '../../../src/storage/gcs/from-config.js';
import { readTextObject, writeTextObject } from '../../../src/storage/text.js';
import type { StorageDriver } from '../../../src/storage/types.js';
import { crc32c, crc32cBase64, type FakeGcs, startFakeGcs } from '../../helpers/fake-gcs.js';

const KiB = 1024;
const BUCKET = 'backups';

function driverFor(fake: FakeGcs, options: Partial<GcsDriverOptions> = {}): StorageDriver {
  return createGcsDriver({ bucket: BUCKET, apiEndpoint: fake.url, projectId: 'test', chunkSize: 256 * KiB, maxRetries: 0, timeoutSeconds: 10, ...options });
}

/** `size` random bytes in 64 KiB pieces, and their SHA-256 once consumed. */
function source(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  async function* pieces() {
    for (let left = size; left > 0; left -= 64 * KiB) {
      const piece = randomBytes(Math.min(64 * KiB, left));
      hash.update(piece);
      yield piece;
    }
  }
  let digest: string | undefined;
  return { stream: Readable.from(pieces()), sha256: () => (digest ??= hash.digest('hex')) };
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

test('the fake computes CRC-32C as GCS spells it', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.from('56789'), crc32c(Buffer.from('1234'))), 0xe3069283, 'continues across pieces');
  assert.equal(crc32cBase64(0xe3069283), '4waSgw==');
});

test('a large object goes up in several resumable chunks, stays invisible until commit, and reads back identical', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const driver = driverFor(fake);
  const size = 3 * 1024 * KiB + 12_345;
  const data = source(size);
  const writer = driver.write('prod/shop/full/20260101T000000Z-full-aaaaaa/dump.pgc.gz');
  await pipeline(data.stream, writer.stream);
  assert.equal(await driver.stat('prod/shop/full/20260101T000000Z-full-aaaaaa/dump.pgc.gz'), undefined, 'not visible before commit');
  assert.deepEqual(await driver.list('prod/'), []);
  assert.equal(fake.sessions().length, 1, 'the upload session is open');
  await writer.commit();

  const info = await driver.stat('prod/shop/full/20260101T000000Z-full-aaaaaa/dump.pgc.gz');
  assert.equal(info?.size, size);
  assert.ok(info && Math.abs(info.modifiedAt.getTime() - Date.now()) < 60_000);
  const chunks = fake.requests.filter((r) => r.method === 'PUT' && r.query.upload_id !== undefined);
  assert.equal(chunks.length, Math.ceil(size / (256 * KiB)), 'one request per 256 KiB chunk');
  assert.ok(chunks.every((r) => Number(r.headers['content-length']) <= 256 * KiB));
  assert.match(String(chunks.at(-1)?.headers['content-range']), new RegExp(`/${size}$`), 'the last chunk announces the total');
  assert.deepEqual(fake.sessions(), [], 'the session is finished');
  assert.equal(await sha256Of(driver.read('prod/shop/full/20260101T000000Z-full-aaaaaa/dump.pgc.gz')), data.sha256());
  assert.equal(createHash('sha256').update(await fake.readObject(BUCKET, 'prod/shop/full/20260101T000000Z-full-aaaaaa/dump.pgc.gz')).digest('hex'), data.sha256());
});

test('the config target uses storage.gcs: chunk size, endpoint, bucket, customer-managed key on every upload', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const kmsKeyName = 'projects/p/locations/europe-west1/keyRings/backups/cryptoKeys/pgwarden';
  const config = parseConfig(`
catalog: { url: "postgres://pgwarden@127.0.0.1:5432/pgwarden" }
databases: [ { name: shop, url: "postgres://backup@127.0.0.1:5432/shop" } ]
storage:
  gcs: { bucket: ${BUCKET}, apiEndpoint: "${fake.url}", projectId: test, kmsKeyName: "${kmsKeyName}", chunkSizeMiB: 1, maxRetries: 0, timeoutSeconds: 5 }
`);
  const driver = gcsTargetFromConfig(config.storage);
  assert.ok(driver);
  assert.equal(driver.kind, 'gcs');
  assert.equal(driver.name, 'gcs');
  assert.equal(driver.location, `gs://${BUCKET}`);
  assert.equal(gcsTargetFromConfig({ ...config.storage, gcs: undefined }), undefined);

  const data = source(2 * 1024 * KiB + 1);
  const writer = driver.write('shop/full/b1/dump.pgc.gz');
  await pipeline(data.stream, writer.stream);
  await writer.commit();
  await writeTextObject(driver, 'shop/full/b1/manifest.json', '{"ok":true}');
  await writeTextObject(driver, 'shop/full/b1/empty', '');

  const chunks = fake.requests.filter((r) => r.method === 'PUT' && r.query.upload_id !== undefined && r.path.includes('/upload/'));
  assert.ok(chunks.some((r) => r.headers['content-range'] === 'bytes 0-1048575/*'), 'chunks of chunkSizeMiB');
  const starts = fake.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/upload/'));
  assert.equal(starts.length, 3, 'two resumable sessions and one simple upload (the empty object)');
  assert.ok(starts.every((r) => r.query.kmsKeyName === kmsKeyName), 'every upload names the key');
  assert.deepEqual(
    fake.objects(BUCKET).map((o) => [o.name, o.size, o.kmsKeyName]),
    [
      ['shop/full/b1/dump.pgc.gz', 2 * 1024 * KiB + 1, kmsKeyName],
      ['shop/full/b1/empty', 0, kmsKeyName],
      ['shop/full/b1/manifest.json', 11, kmsKeyName],
    ],
  );
  assert.equal(await readTextObject(driver, 'shop/full/b1/manifest.json'), '{"ok":true}');
  assert.equal(await readTextObject(driver, 'shop/full/b1/empty'), '');
  assert.equal(await sha256Of(driver.read('shop/full/b1/dump.pgc.gz')), data.sha256());
});

test('list returns every object under a prefix across pages, stat and remove behave on absent objects', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET], pageSize: 3 });
  const driver = driverFor(fake);
  const names = Array.from({ length: 8 }, (_, i) => `prod/shop/wal/00000001000000000000000${i}.zst`);
  for (const name of names) await writeTextObject(driver, name, `segment ${name}`);
  await writeTextObject(driver, 'prod/crm/wal/000000010000000000000001.zst', 'other database');
  await writeTextObject(driver, 'prodx/shop/wal/x', 'not under prod/');

  const listed = await driver.list('prod/shop/');
  assert.deepEqual(listed.map((o) => o.path).sort(), names);
  assert.ok(listed.every((o) => o.size === `segment ${o.path}`.length && o.modifiedAt instanceof Date));
  const listCalls = fake.requests.filter((r) => r.method === 'GET' && r.path === `/storage/v1/b/${BUCKET}/o` && r.query.prefix === 'prod/shop/');
  assert.equal(listCalls.length, 3, 'eight objects in pages of three');
  assert.equal((await driver.list('prod/')).length, 9);
  assert.equal((await driver.list('')).length, 10);
  assert.deepEqual(await driver.list('nothing/'), []);

  assert.equal(await driver.stat('prod/shop/wal/missing'), undefined);
  await driver.remove(names[0]!);
  await driver.remove(names[0]!);
  await driver.remove('prod/never-written');
  assert.equal(await driver.stat(names[0]!), undefined);
  assert.equal((await driver.list('prod/shop/')).length, 7);
  assert.deepEqual(await driver.removeIncomplete('prod/'), []);
  await driver.check();
});

test('reading a missing object fails with a message naming the target, object and bucket', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const driver = driverFor(fake);
  const stream = driver.read('prod/shop/full/nope/dump.pgc.gz');
  assert.ok(stream instanceof Readable, 'returned at once, fails when read');
  await assert.rejects(sha256Of(stream), (error: Error) => {
    assert.equal(error.name, 'StorageError');
    assert.equal(error.message, `storage target gcs: cannot read prod/shop/full/nope/dump.pgc.gz in bucket ${BUCKET}: no such object (404)`);
    return true;
  });
});

test('a stored object whose bytes no longer match its crc32c fails the read', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const driver = driverFor(fake);
  await writeTextObject(driver, 'prod/shop/full/b1/manifest.json', '{"backup":"b1"}');
  await fake.corrupt(BUCKET, 'prod/shop/full/b1/manifest.json');
  await assert.rejects(sha256Of(driver.read('prod/shop/full/b1/manifest.json')), (error: Error) => {
    assert.equal(error.name, 'StorageError');
    assert.match(error.message, new RegExp(`^storage target gcs: cannot read prod/shop/full/b1/manifest.json in bucket ${BUCKET}: the bytes received do not match the object’s crc32c$`));
    return true;
  });
});

test('the fake serves byte ranges and object metadata as the JSON API does', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  await writeTextObject(driverFor(fake), 'a/b c', '0123456789');
  const media = `${fake.url}/storage/v1/b/${BUCKET}/o/${encodeURIComponent('a/b c')}?alt=media`;
  const part = await fetch(media, { headers: { range: 'bytes=2-5' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), 'bytes 2-5/10');
  assert.equal(await part.text(), '2345');
  const tail = await fetch(media, { headers: { range: 'bytes=-3' } });
  assert.equal(await tail.text(), '789');
  const whole = await fetch(media);
  assert.equal(whole.headers.get('x-goog-hash'), `crc32c=${crc32cBase64(crc32c(Buffer.from('0123456789')))},md5=${createHash('md5').update('0123456789').digest('base64')}`);
  assert.equal(await whole.text(), '0123456789');
  const metadata = (await (await fetch(`${fake.url}/storage/v1/b/${BUCKET}/o/${encodeURIComponent('a/b c')}`)).json()) as Record<string, unknown>;
  assert.equal(metadata.size, '10');
  assert.equal(metadata.name, 'a/b c');
  const missing = await fetch(`${fake.url}/storage/v1/b/${BUCKET}/o/nope`);
  assert.equal(missing.status, 404);
  assert.deepEqual(((await missing.json()) as { error: { code: number } }).error.code, 404);
});
