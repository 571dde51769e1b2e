// The GCS target when things go wrong: producer aborts, the server dying or dropping connections mid-upload,
// lost responses, missing buckets, rejected credentials and unreachable endpoints. Every failure is a
// StorageError naming the target and bucket (and object), and a failed write leaves no object behind.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { createGcsDriver, type GcsDriverOptions } from '../../../src/storage/gcs/driver.js';
import type { StorageDriver, StorageWriter } from '../../../src/storage/types.js';
import { type FakeGcs, startFakeGcs } from '../../helpers/fake-gcs.js';

const KiB = 1024;
const BUCKET = 'backups';
const PATH = 'prod/shop/full/20260101T000000Z-full-aaaaaa/dump.pgc.gz';

function driverFor(fake: FakeGcs, options: Partial<GcsDriverOptions> = {}): StorageDriver {
  return createGcsDriver({ bucket: BUCKET, apiEndpoint: fake.url, projectId: 'test', chunkSize: 256 * KiB, maxRetries: 0, timeoutSeconds: 5, ...options });
}

/** 64 KiB pieces of random bytes; `failAt` makes the producer itself fail after that many bytes. */
function source(size: number, options: { failAt?: number; onPiece?: (sent: number) => Promise<void> } = {}) {
  const hash = createHash('sha256');
  async function* pieces() {
    let sent = 0;
    while (sent < size) {
      if (options.failAt !== undefined && sent >= options.failAt) throw new Error('pg_dump exited with status 1');
      const piece = randomBytes(Math.min(64 * KiB, size - sent));
      hash.update(piece);
      sent += piece.length;
      yield piece;
      await options.onPiece?.(sent);
    }
  }
  return { stream: Readable.from(pieces()), sha256: () => hash.digest('hex') };
}

/** What a backup does with a writer: stream, commit, and abort on any failure (the error is rethrown). */
async function writeOrAbort(writer: StorageWriter, stream: Readable): Promise<void> {
  try {
    await pipeline(stream, writer.stream);
    await writer.commit();
  } catch (error) {
    await writer.abort();
    await writer.abort();
    throw error;
  }
}

test('a writer aborted by its producer mid-upload cancels the session and leaves nothing', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const driver = driverFor(fake);
  const writer = driver.write(PATH);
  await assert.rejects(writeOrAbort(writer, source(4 * 1024 * KiB, { failAt: 1024 * KiB + 5 }).stream), /pg_dump exited with status 1/);
  assert.deepEqual(fake.sessions(), [], 'the session was cancelled');
  assert.ok(fake.requests.some((r) => r.method === 'DELETE' && r.query.upload_id !== undefined));
  assert.deepEqual(fake.objects(BUCKET), []);
  assert.equal(await driver.stat(PATH), undefined);
  await assert.rejects(writer.commit(), /storage target gcs: cannot write .* in bucket backups: the upload was aborted/);

  // An abort while commit() sends the last chunk: the commit fails, nothing is left.
  const racing = driver.write(`${PATH}.3`);
  await pipeline(source(600 * KiB).stream, racing.stream);
  const committing = assert.rejects(racing.commit(), /cannot write .*\.3 in bucket backups: the upload was aborted/);
  await racing.abort();
  await committing;
  assert.deepEqual(fake.objects(BUCKET), []);
  assert.deepEqual(fake.sessions(), []);

  const unused = driver.write(`${PATH}.2`);
  await unused.abort();
  await unused.abort();
  assert.equal(fake.requests.filter((r) => r.path.startsWith('/upload/') && r.method === 'POST').length, 2, 'an unused writer opens no session');
});

test('the server dying mid-upload fails the write with a clear error and leaves no object', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const driver = driverFor(fake);
  fake.failUploadsAfter(700 * KiB);
  const started = Date.now();
  await assert.rejects(writeOrAbort(driver.write(PATH), source(3 * 1024 * KiB).stream), (error: Error) => {
    assert.equal(error.name, 'StorageError');
    assert.match(error.message, new RegExp(`^storage target gcs: cannot write ${PATH} in bucket ${BUCKET}: cannot reach ${fake.url} \\((ECONNRESET|EPIPE)\\)$`));
    return true;
  });
  assert.ok(Date.now() - started < 5000, 'no retries with maxRetries 0');
  assert.deepEqual(fake.objects(BUCKET), []);
  assert.deepEqual(fake.sessions(), [], 'abort cancelled the half-done session');

  // The endpoint going away entirely between two chunks.
  fake.failUploadsAfter(undefined);
  const writer = driver.write(`${PATH}.2`);
  const data = source(2 * 1024 * KiB, {
    onPiece: async (sent) => {
      if (sent === 512 * KiB) await fake.down('refuse');
    },
  });
  await assert.rejects(writeOrAbort(writer, data.stream), new RegExp(`^StorageError: storage target gcs: cannot write ${PATH}.2 in bucket ${BUCKET}: cannot reach ${fake.url} \\((ECONNRESET|ECONNREFUSED|EPIPE)\\)$`));
  await fake.up();
  await writer.abort();
  assert.deepEqual(fake.objects(BUCKET), []);
});

test('a connection dropped mid-upload is resumed from what the server kept when retries are allowed', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const driver = driverFor(fake, { maxRetries: 2 });
  fake.failUploadsAfter(900 * KiB, { times: 1 });
  const data = source(2 * 1024 * KiB + 100);
  const writer = driver.write(PATH);
  await writeOrAbort(writer, data.stream);
  assert.ok(
    fake.requests.some((r) => r.headers['content-range'] === 'bytes */*'),
    'the client asked how far the upload got',
  );
  assert.equal(createHash('sha256').update(await fake.readObject(BUCKET, PATH)).digest('hex'), data.sha256());
});

test('a final response lost on the way back fails the commit, and abort deletes the object it finalized', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const driver = driverFor(fake);
  await writeOrAbort(driver.write(PATH), source(10).stream);
  const before = fake.objects(BUCKET);
  fake.loseFinalResponses(1);
  await assert.rejects(writeOrAbort(driver.write(`${PATH}.2`), source(300 * KiB).stream), new RegExp(`cannot write ${PATH}.2 in bucket ${BUCKET}: cannot reach`));
  assert.deepEqual(fake.objects(BUCKET), before, 'only the object written earlier is left');
  const deletes = fake.requests.filter((r) => r.method === 'DELETE' && r.path.endsWith(encodeURIComponent(`${PATH}.2`)));
  assert.equal(deletes.length, 1);
  assert.match(String(deletes[0]?.query.ifGenerationMatch), /^\d+$/, 'only the generation this writer finalized');
});

test('check() names the target and bucket: missing bucket, rejected credentials, denied access, unreachable endpoint', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  await driverFor(fake).check();

  await assert.rejects(driverFor(fake, { bucket: 'no-such-bucket' }).check(), (error: Error & { hints: string[] }) => {
    assert.equal(error.message, 'storage target gcs: cannot use bucket no-such-bucket: the bucket does not exist (404)');
    assert.match(error.hints.join('\n'), /gcloud storage buckets create gs:\/\/no-such-bucket|storage\.gcs\.bucket/);
    return true;
  });

  fake.requireToken('the-right-token');
  await assert.rejects(driverFor(fake).check(), (error: Error & { hints: string[] }) => {
    assert.equal(error.message, `storage target gcs: cannot use bucket ${BUCKET}: the credentials were rejected (401)`);
    assert.match(error.hints.join('\n'), /storage\.gcs\.keyFilename/);
    return true;
  });
  await assert.rejects(driverFor(fake).stat(PATH), /cannot stat .* in bucket backups: the credentials were rejected \(401\)/, 'a 401 is never "absent"');
  fake.requireToken(undefined);

  fake.denyAccess(BUCKET);
  await assert.rejects(driverFor(fake).check(), (error: Error & { hints: string[] }) => {
    assert.match(error.message, new RegExp(`^storage target gcs: cannot use bucket ${BUCKET}: access denied \\(403\\): caller does not have storage.objects.list access`));
    assert.match(error.hints.join('\n'), new RegExp(`roles/storage.objectAdmin on bucket ${BUCKET}`));
    return true;
  });
  await assert.rejects(writeOrAbort(driverFor(fake).write(PATH), source(10).stream), /cannot write .* in bucket backups: access denied \(403\)/);
  fake.denyAccess(undefined);

  await fake.down('refuse');
  const started = Date.now();
  await assert.rejects(driverFor(fake, { maxRetries: 1 }).check(), (error: Error & { hints: string[] }) => {
    assert.equal(error.message, `storage target gcs: cannot use bucket ${BUCKET}: cannot reach ${fake.url} (ECONNREFUSED)`);
    assert.match(error.hints.join('\n'), /storage\.gcs\.apiEndpoint/);
    return true;
  });
  assert.ok(Date.now() - started < 10_000, `a dead endpoint fails in seconds (took ${Date.now() - started} ms)`);
  await assert.rejects(
    async () => {
      for await (const _ of driverFor(fake).read(PATH));
    },
    new RegExp(`cannot read ${PATH} in bucket ${BUCKET}: cannot reach`),
  );
  await fake.up();

  await fake.down('unavailable');
  await assert.rejects(driverFor(fake).check(), /cannot use bucket backups: GCS answered 503: Service Unavailable/);
  await fake.up();
  await driverFor(fake).check();
});

test('an endpoint that accepts connections but never answers fails check, write and read within timeoutSeconds', async (t) => {
  const fake = await startFakeGcs(t, { buckets: [BUCKET] });
  const driver = driverFor(fake, { timeoutSeconds: 1 });
  await fake.down('hang');
  const timed = async (operation: () => Promise<unknown>, pattern: RegExp) => {
    const started = Date.now();
    await assert.rejects(operation(), pattern);
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 4000, `failed after the 1 s timeout, took ${took} ms`);
  };
  await timed(() => driver.check(), new RegExp(`^StorageError: storage target gcs: cannot use bucket ${BUCKET}: cannot reach ${fake.url} \\(timeout\\)$`));
  // The resumable-upload requests bypass the client's own timeout: without pgwarden's this one hangs forever.
  await timed(() => writeOrAbort(driver.write(PATH), source(10).stream), new RegExp(`cannot write ${PATH} in bucket ${BUCKET}: cannot reach .* \\(timeout\\)$`));
  await timed(async () => {
    for await (const _ of driver.read(PATH));
  }, new RegExp(`cannot read ${PATH} in bucket ${BUCKET}: cannot reach .* \\(timeout\\)$`));
  await fake.up();
  assert.deepEqual(fake.objects(BUCKET), []);
});
