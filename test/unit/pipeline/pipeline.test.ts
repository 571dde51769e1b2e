// The byte path without PostgreSQL: compress → encrypt → hash into storage, and back.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createKeyRing } from '../../../src/crypto/keyring.js';
import { artifactReadStages, writeArtifact } from '../../../src/pipeline/artifact.js';
import { FanOut } from '../../../src/pipeline/fan-out.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';

const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(700_000, 'pgwarden ')]);

async function collect(stream: Readable, stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline([stream, ...stages, new Writable({ write: (c, _e, cb) => { chunks.push(c); cb(); } })] as never);
  return Buffer.concat(chunks);
}

test('an artifact written gzip + encrypted reads back identical, with sizes and the stored sha256', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'pgwarden-pipe-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const storage = createLocalDriver({ root });
  const keyring = createKeyRing([{ id: 'k1', key: randomBytes(32).toString('base64') }]);
  const written = await writeArtifact({
    source: Readable.from([data.subarray(0, 12345), data.subarray(12345)]),
    compression: { algorithm: 'gzip', level: 1 },
    encryptionKey: keyring.encryptionKey(),
    writers: [storage.write('a/dump')],
  });
  const stored = await readFile(join(root, 'a/dump'));
  assert.equal(written.rawBytes, data.length);
  assert.equal(written.storedBytes, stored.length);
  assert.equal(written.sha256, createHash('sha256').update(stored).digest('hex'));
  const read = artifactReadStages({ compression: 'gzip', keyring, encrypted: true });
  assert.deepEqual(await collect(storage.read('a/dump'), read.stages), data);
  assert.equal(read.stored.sha256(), written.sha256);
});

test('plain gzip output is a standard gzip stream', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'pgwarden-pipe-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const storage = createLocalDriver({ root });
  await writeArtifact({ source: Readable.from([data]), compression: { algorithm: 'gzip', level: 6 }, writers: [storage.write('b')] });
  assert.deepEqual(gunzipSync(await readFile(join(root, 'b'))), data);
});

test('a producer that fails after its output ended is never committed', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'pgwarden-pipe-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const storage = createLocalDriver({ root });
  await assert.rejects(
    writeArtifact({
      source: Readable.from([data]),
      sourceDone: Promise.reject(new Error('pg_dump exited with code 1')),
      compression: { algorithm: 'none', level: 0 },
      writers: [storage.write('c')],
    }),
    /pg_dump exited with code 1/,
  );
  assert.deepEqual(await storage.list(''), []);
  assert.deepEqual(await storage.removeIncomplete(''), []);
});

test('fan-out waits for the slowest destination and delivers every byte to each', async () => {
  const fast: Buffer[] = [];
  const slow: Buffer[] = [];
  const a = new Writable({ write: (c, _e, cb) => { fast.push(c); cb(); } });
  const b = new Writable({ highWaterMark: 16, write: (c, _e, cb) => { slow.push(c); setTimeout(cb, 1); } });
  await pipeline(Readable.from(Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i))), new FanOut([a, b]));
  assert.equal(Buffer.concat(fast).length, 50_000);
  assert.deepEqual(Buffer.concat(slow), Buffer.concat(fast));
});

test('fan-out fails when one destination fails', async () => {
  const ok = new PassThrough();
  ok.resume();
  const broken = new Writable({ write: (_c, _e, cb) => cb(new Error('disk on fire')) });
  await assert.rejects(pipeline(Readable.from([Buffer.alloc(10), Buffer.alloc(10)]), new FanOut([ok, broken])), /disk on fire/);
});
