// The local target: atomic writes (nothing visible before commit), aborts that leave nothing, mode 0600.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { createLocalDriver } from '../../../src/storage/local/driver.js';
import { readTextObject, writeTextObject } from '../../../src/storage/text.js';

async function tempRoot(t: { after(fn: () => unknown): unknown }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pgwarden-local-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return root;
}

test('a write is invisible until commit, then durable under its name with mode 0600', async (t) => {
  const root = await tempRoot(t);
  const driver = createLocalDriver({ root });
  const writer = driver.write('db/full/id1/dump.pgc.gz');
  await pipeline(Readable.from([Buffer.from('hello '), Buffer.from('world')]), writer.stream);
  assert.equal(await driver.stat('db/full/id1/dump.pgc.gz'), undefined);
  assert.deepEqual(await driver.list('db/'), [], 'temporary files are not listed');
  await writer.commit();
  const info = await driver.stat('db/full/id1/dump.pgc.gz');
  assert.equal(info?.size, 11);
  assert.equal((await stat(join(root, 'db/full/id1/dump.pgc.gz'))).mode & 0o777, 0o600);
  assert.equal(await readFile(join(root, 'db/full/id1/dump.pgc.gz'), 'utf8'), 'hello world');
  assert.deepEqual((await driver.list('db/full/')).map((o) => o.path), ['db/full/id1/dump.pgc.gz']);
});

test('an aborted write leaves nothing, and removeIncomplete cleans up after a crash', async (t) => {
  const root = await tempRoot(t);
  const driver = createLocalDriver({ root });
  const aborted = driver.write('db/full/id2/dump.pgc.gz');
  aborted.stream.write(Buffer.alloc(1000));
  await new Promise((r) => setTimeout(r, 20));
  await aborted.abort();
  assert.equal((await driver.removeIncomplete('db/')).length, 0);

  const crashed = driver.write('db/full/id3/dump.pgc.gz');
  await new Promise<void>((resolve) => crashed.stream.write(Buffer.alloc(10), () => resolve()));
  // The process "dies" here: no commit, no abort.
  const removed = await driver.removeIncomplete('db/full/id3/');
  assert.equal(removed.length, 1);
  assert.match(removed[0]!, /^db\/full\/id3\/dump\.pgc\.gz\.tmp-[0-9a-f]{12}$/);
  await assert.rejects(stat(join(root, 'db/full/id3')), /ENOENT/, 'empty directories are removed too');
});

test('reading a missing object fails with a message naming the target', async (t) => {
  const root = await tempRoot(t);
  const driver = createLocalDriver({ root });
  await assert.rejects(readTextObject(driver, 'nope/manifest.json').then(() => pipeline(driver.read('nope'), async function* (s) {
    for await (const _ of s) yield _;
  })), /storage target local: cannot read nope under /);
  assert.equal(await readTextObject(driver, 'nope/manifest.json'), undefined);
  await writeTextObject(driver, 'a/manifest.json', '{"x":1}');
  assert.equal(await readTextObject(driver, 'a/manifest.json'), '{"x":1}');
  await driver.remove('a/manifest.json');
  await assert.rejects(stat(join(root, 'a')), /ENOENT/);
});

test('free space is measured on the nearest existing directory', async (t) => {
  const root = await tempRoot(t);
  const driver = createLocalDriver({ root });
  assert.ok((await driver.freeBytes!('not/yet/created')) > 0);
  const fixed = createLocalDriver({ root, freeBytes: async () => 42 });
  assert.equal(await fixed.freeBytes!('x'), 42);
});

/** Collects a stream's chunks, resolving when it ends (or rejecting when it fails). */
async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test('readers follow a write as it lands, each on its own, and end with it', async (t) => {
  const root = await tempRoot(t);
  const driver = createLocalDriver({ root });
  assert.ok(driver.features.has('readWhileWriting'));
  const writer = driver.write('db/full/id1/dump.pgc');
  const early = writer.readBack!();
  const first = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  const firstRead = new Promise<Buffer>((resolve, reject) => {
    early.once('data', (chunk: Buffer) => resolve(chunk));
    early.once('error', reject);
  });
  const rest: Buffer[] = [];
  early.on('data', (chunk: Buffer) => rest.push(chunk));
  await new Promise<void>((resolve, reject) => writer.stream.write(first, (error) => (error ? reject(error) : resolve())));
  // The reader has bytes while the write is still open: it reads what landed, not what ends up there.
  const seen = await firstRead;
  assert.ok(seen.length > 0 && seen.every((b) => b === 7));
  const second = Buffer.from('the end');
  const late = writer.readBack!();
  const ended = new Promise<void>((resolve, reject) => {
    early.once('end', resolve);
    early.once('error', reject);
  });
  writer.stream.end(second);
  await ended;
  await writer.commit();
  const written = Buffer.concat([first, second]);
  assert.ok(Buffer.concat(rest).equals(written), 'the first reader read every byte, in order');
  assert.ok((await collect(late)).equals(written), 'a reader opened after the first chunk starts from the beginning');
  assert.ok((await readFile(join(root, 'db/full/id1/dump.pgc'))).equals(written));
});

test('a reader not yet read when the write commits still reads the whole object', async (t) => {
  const root = await tempRoot(t);
  const driver = createLocalDriver({ root });
  const writer = driver.write('a/b.bin');
  const reader = writer.readBack!();
  await pipeline(Readable.from([Buffer.from('hello '), Buffer.from('world')]), writer.stream);
  await writer.commit();
  assert.equal((await collect(reader)).toString(), 'hello world');
});

test('readers fail when the write fails or is aborted, naming the object', async (t) => {
  const root = await tempRoot(t);
  const driver = createLocalDriver({ root });

  const aborted = driver.write('a/aborted.bin');
  const reading = collect(aborted.readBack!());
  await new Promise<void>((resolve, reject) => aborted.stream.write(Buffer.from('partial'), (error) => (error ? reject(error) : resolve())));
  await aborted.abort();
  await assert.rejects(reading, /storage target local: the write of a\/aborted\.bin was aborted/);

  const failed = driver.write('a/failed.bin');
  const following = collect(failed.readBack!());
  failed.stream.on('error', () => {});
  failed.stream.destroy(new Error('pg_dump exited with code 1'));
  await assert.rejects(following, /pg_dump exited with code 1/);
  await failed.abort();
  assert.deepEqual(await driver.list('a/'), []);
});

test('a reader destroyed before it read anything closes its file', async (t) => {
  const root = await tempRoot(t);
  const driver = createLocalDriver({ root });
  const before = (await readdir('/proc/self/fd')).length;
  const writer = driver.write('a/c.bin');
  const reader = writer.readBack!();
  await new Promise((resolve) => setTimeout(resolve, 20));
  reader.destroy();
  await new Promise((resolve) => reader.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
  await pipeline(Readable.from([Buffer.from('x')]), writer.stream);
  await writer.commit();
  assert.equal((await readdir('/proc/self/fd')).length, before, 'no descriptor is left open');
});
