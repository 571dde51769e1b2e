// The local target: atomic writes (nothing visible before commit), aborts that leave nothing, mode 0600.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
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
