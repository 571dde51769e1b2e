// The multi-target layer over real local directories: one stream lands on every target, a target that fails
// mid-stream drops out (its partial object removed) while the others commit, reads fall through to a target
// that still holds the object, and a write fails only when no target is left.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { StorageError } from '../../../src/errors.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';
import { copiesOf, TargetSet } from '../../../src/storage/target-set.js';
import type { StorageDriver } from '../../../src/storage/types.js';

/** A real local target whose writes fail after `failAfter` bytes, like a bucket whose endpoint dies mid-upload. */
function failingAfter(driver: StorageDriver, failAfter: number): StorageDriver {
  return {
    ...driver,
    name: `${driver.name}`,
    write(path) {
      const inner = driver.write(path);
      let seen = 0;
      const stream = new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _e, cb) {
          seen += chunk.length;
          if (seen > failAfter) return cb(new StorageError(`${driver.name}: connection reset after ${failAfter} bytes`));
          if (!inner.stream.write(chunk)) inner.stream.once('drain', () => cb());
          else cb();
        },
        final(cb) {
          inner.stream.end(cb);
        },
      });
      return { stream, commit: () => inner.commit(), abort: () => inner.abort() };
    },
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

describe('TargetSet', () => {
  let root: string;
  const dirs = (n: number) => Array.from({ length: n }, (_, i) => join(root, `t${i}`));
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pgwarden-targets-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('one stream lands whole on every target, with per-target outcomes', async () => {
    const [a, b, c] = dirs(3).map((d) => join(d, 'all'));
    const set = new TargetSet([createLocalDriver({ root: a!, name: 'local' }), createLocalDriver({ root: b!, name: 's3' }), createLocalDriver({ root: c!, name: 'gcs' })]);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const writer = set.write('db/full/x/dump');
    await pipeline(Readable.from([data.subarray(0, 1_000_000), data.subarray(1_000_000)]), writer.stream);
    await writer.commit();
    assert.deepEqual(writer.outcomes(), [
      { target: 'local', ok: true },
      { target: 's3', ok: true },
      { target: 'gcs', ok: true },
    ]);
    for (const dir of [a!, b!, c!]) assert.equal(sha(await readFile(join(dir, 'db/full/x/dump'))), sha(data));
  });

  test('a target failing mid-stream is dropped and cleaned up; the others commit', async () => {
    const [a, b] = dirs(2).map((d) => join(d, 'midway'));
    const set = new TargetSet([createLocalDriver({ root: a!, name: 'local' }), failingAfter(createLocalDriver({ root: b!, name: 's3' }), 500_000)]);
    const data = randomBytes(2 * 1024 * 1024);
    const writer = set.write('db/full/y/dump');
    await pipeline(Readable.from([data.subarray(0, 400_000), data.subarray(400_000, 800_000), data.subarray(800_000)]), writer.stream);
    await writer.commit();
    const [local, s3] = writer.outcomes();
    assert.deepEqual(local, { target: 'local', ok: true });
    assert.equal(s3!.ok, false);
    assert.match(s3!.error!, /s3: connection reset after 500000 bytes/);
    assert.equal(sha(await readFile(join(a!, 'db/full/y/dump'))), sha(data));
    assert.deepEqual(await filesUnder(b!).catch(() => []), [], 'no partial object or temp file on the failed target');
  });

  test('when every target fails, the write fails naming each', async () => {
    const [a, b] = dirs(2).map((d) => join(d, 'none'));
    const set = new TargetSet([failingAfter(createLocalDriver({ root: a!, name: 'local' }), 10), failingAfter(createLocalDriver({ root: b!, name: 'gcs' }), 10)]);
    const writer = set.write('db/full/z/dump');
    await assert.rejects(pipeline(Readable.from([randomBytes(1000), randomBytes(1000)]), writer.stream), (error: Error) => {
      assert.ok(error instanceof StorageError);
      assert.match(error.message, /no storage target could store db\/full\/z\/dump/);
      assert.match(error.message, /local: local: connection reset/);
      assert.match(error.message, /gcs: gcs: connection reset/);
      return true;
    });
    await writer.abort();
    assert.deepEqual(await filesUnder(a!).catch(() => []), []);
    assert.deepEqual(await filesUnder(b!).catch(() => []), []);
  });

  test('reads come from the first target that still holds the object; list is the union', async () => {
    const [a, b] = dirs(2).map((d) => join(d, 'read'));
    const local = createLocalDriver({ root: a!, name: 'local' });
    const s3 = createLocalDriver({ root: b!, name: 's3' });
    const set = new TargetSet([local, s3]);
    for (const [path, text] of [
      ['p/one', 'first'],
      ['p/two', 'second'],
    ] as const) {
      const w = set.write(path);
      await pipeline(Readable.from([Buffer.from(text)]), w.stream);
      await w.commit();
    }
    await local.remove('p/one'); // "the data center is lost" for this object
    assert.equal((await readAll(set.read('p/one'))).toString(), 'first');
    assert.deepEqual(
      (await copiesOf(set, 'p/one')).map((d) => d.name),
      ['s3'],
    );
    assert.deepEqual(
      (await copiesOf(set, 'p/two')).map((d) => d.name),
      ['local', 's3'],
    );
    const listed = (await set.list('p/')).map((o) => o.path).sort();
    assert.deepEqual(listed, ['p/one', 'p/two']);
    await set.remove('p/two');
    assert.equal(await set.stat('p/two'), undefined);
    await assert.rejects(readAll(set.read('p/none')), /p\/none is on none of the storage targets \(local, s3\)/);
  });

  test('only() picks targets by name and refuses an unknown one', () => {
    const set = new TargetSet([createLocalDriver({ root: join(root, 'o1'), name: 'local' }), createLocalDriver({ root: join(root, 'o2'), name: 's3' })]);
    assert.deepEqual(
      set.only(['s3']).targets.map((t) => t.name),
      ['s3'],
    );
    assert.throws(() => set.only(['gcs']), /no storage target named gcs: configured targets are local, s3/);
  });
});

describe('S3 part size', () => {
  test('stays as configured for small objects, and grows so a large backup fits in 10 000 parts with room for 3×', async () => {
    const { partSizeFor } = await import('../../../src/storage/s3/driver.js');
    const MiB = 1024 * 1024;
    assert.equal(partSizeFor(8 * MiB, undefined), 8 * MiB);
    assert.equal(partSizeFor(8 * MiB, 1e9), 8 * MiB);
    // 100 GB expected: 300 GB / 10 000 = 30 MB → 29 MiB parts (rounded up to whole MiB).
    assert.equal(partSizeFor(8 * MiB, 100e9), Math.ceil(300e9 / 10_000 / MiB) * MiB);
    assert.ok((partSizeFor(8 * MiB, 100e9) * 10_000) / 3 >= 100e9);
    assert.equal(partSizeFor(8 * MiB, 1e15), 5 * 1024 * MiB, 'never above S3’s 5 GiB');
  });
});
