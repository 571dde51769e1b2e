// A custom-format dump written to a pipe has no data offsets in its table of contents; writeDataOffsets fills
// them in so `pg_restore --jobs` can seek. Checked against real pg_dump output: the patched file must equal,
// byte for byte past the header's creation time, what pg_dump writes when it can seek, and must restore.
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { writeDataOffsets } from '../../../src/postgres/dump-data-offsets.js';
import { startTool } from '../../../src/postgres/run-tool.js';
import { clusterForSuite, fingerprintDiff, loadFixture, tableFingerprints } from '../../helpers/postgres.js';

/** The header's creation time lies in the first 64 bytes; every other byte of two dumps of one snapshot agrees. */
const HEADER_TIME_END = 64;

/** Writes `bytes` to a new file in small pieces with pauses; rejects after `upTo` bytes when that is fewer. */
async function writeSlowly(file: string, bytes: Buffer, upTo: number): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    const piece = Math.ceil(bytes.length / 40);
    for (let at = 0; at < upTo; at += piece) {
      await handle.write(bytes, at, Math.min(piece, upTo - at), at);
      await sleep(3);
    }
  } finally {
    await handle.close();
  }
  if (upTo < bytes.length) throw new Error('the writer failed half-way');
}

/** Half of `bytes`, a pause long enough for a reader to catch up and wait, then the rest and the end at once. */
async function writeInTwo(file: string, bytes: Buffer): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    const half = Math.floor(bytes.length / 2);
    await handle.write(bytes, 0, half, 0);
    await sleep(100);
    await handle.write(bytes, half, bytes.length - half, half);
  } finally {
    await handle.close();
  }
}

describe('data offsets of piped custom-format dumps', () => {
  const pg = clusterForSuite();

  async function scratch(t: { after(fn: () => unknown): unknown }): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-offsets-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** `pg_dump -Fc -Z0` of a database into a pipe (as a backup runs it) or straight into a file. */
  async function dump(url: string, file: string, how: 'pipe' | 'file'): Promise<void> {
    const args = ['-Fc', '-Z0', `--dbname=${url}`];
    if (how === 'file') {
      await startTool(`${pg().binDir}/pg_dump`, [...args, `--file=${file}`]).done;
      return;
    }
    const tool = startTool(`${pg().binDir}/pg_dump`, args, { stdout: 'pipe' });
    await Promise.all([pipeline(tool.stdout!, createWriteStream(file)), tool.done]);
  }

  async function listing(file: string): Promise<string> {
    const tool = startTool(`${pg().binDir}/pg_restore`, ['--list', file], { stdout: 'pipe' });
    let text = '';
    tool.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    await tool.done;
    return text;
  }

  it('writes the offsets pg_dump writes when it can seek, and the dump restores with --jobs 2', async (t) => {
    const source = await pg().createDatabase('offsets_source');
    await loadFixture(source, 'awkward');
    // Many small tables and one with many rows: blocks of every size, large objects among them.
    await pg().query(
      `${Array.from({ length: 30 }, (_, i) => `CREATE TABLE small_${i} (id int PRIMARY KEY, note text); INSERT INTO small_${i} SELECT g, md5(g::text) FROM generate_series(1, ${i * 7}) g;`).join('\n')}
       CREATE TABLE nights (id bigint PRIMARY KEY, stay daterange, price numeric, payload bytea);
       INSERT INTO nights SELECT g, daterange('2026-01-01'::date + g % 300, '2026-01-02'::date + g % 300), g * 1.25, decode(repeat(md5(g::text), 8), 'hex')
         FROM generate_series(1, 40000) g;`,
      [],
      'offsets_source',
    );
    const dir = await scratch(t);
    const piped = join(dir, 'piped.pgc');
    const seekable = join(dir, 'seekable.pgc');
    await dump(source, piped, 'pipe');
    await dump(source, seekable, 'file');
    const listedBefore = await listing(piped);

    const result = await writeDataOffsets(piped);
    assert.ok('patched' in result, `expected a patch, got ${JSON.stringify(result)}`);
    const dataEntries = listedBefore.split('\n').filter((line) => /^\d+; \d+ \d+ (TABLE DATA|BLOBS) /.test(line)).length;
    assert.equal(result.patched, dataEntries, 'one offset per TABLE DATA and BLOBS entry');
    assert.ok(result.patched >= 32);

    const [patchedBytes, seekableBytes] = [await readFile(piped), await readFile(seekable)];
    assert.equal(patchedBytes.length, seekableBytes.length);
    const differing: number[] = [];
    for (let i = 0; i < patchedBytes.length; i++) if (patchedBytes[i] !== seekableBytes[i]) differing.push(i);
    assert.ok(
      differing.every((at) => at < HEADER_TIME_END),
      `bytes differ past the header at ${differing.filter((at) => at >= HEADER_TIME_END).slice(0, 10).join(', ')}`,
    );
    assert.equal(await listing(piped), listedBefore, 'the table of contents reads as before');

    const restored = await pg().createDatabase('offsets_restored');
    await startTool(`${pg().binDir}/pg_restore`, ['--jobs=2', '--exit-on-error', `--dbname=${restored}`, piped]).done;
    assert.deepEqual(fingerprintDiff(await tableFingerprints(source), await tableFingerprints(restored)), []);

    // A second pass finds every offset set and changes nothing.
    const again = await writeDataOffsets(piped);
    assert.deepEqual(again, { patched: 0, entries: result.entries });
    assert.deepEqual(await readFile(piped), patchedBytes);

    // Following the file while it is written (as the restore's decompressor writes it) gives the same result;
    // a writer that fails leaves the file untouched.
    const unpatched = join(dir, 'unpatched.pgc');
    await dump(source, unpatched, 'pipe');
    const original = await readFile(unpatched);
    for (const outcome of ['written', 'written at once after a pause', 'failed'] as const) {
      const growing = join(dir, `growing-${outcome.replace(/\W+/g, '-')}.pgc`);
      const writing =
        outcome === 'written at once after a pause'
          ? writeInTwo(growing, original) // the reader waits at the end when the rest and the end arrive together
          : writeSlowly(growing, original, outcome === 'failed' ? Math.floor(original.length / 2) : original.length);
      const followed = await writeDataOffsets(growing, { writing });
      await writing.catch(() => {});
      if (outcome !== 'failed') {
        assert.deepEqual(followed, result);
        const reference = join(dir, 'reference.pgc');
        await writeFile(reference, original);
        await writeDataOffsets(reference);
        assert.ok((await readFile(growing)).equals(await readFile(reference)), 'the same bytes as when patched after the write');
      } else {
        assert.deepEqual(followed, { skipped: 'the dump was not written whole' });
        assert.ok((await readFile(growing)).equals(original.subarray(0, Math.floor(original.length / 2))), 'untouched');
      }
    }
  });

  it('leaves a file it cannot read as a custom-format dump untouched, saying why', async (t) => {
    const dir = await scratch(t);
    const source = await pg().createDatabase('offsets_small');
    await pg().query('CREATE TABLE rooms (id int, name text); INSERT INTO rooms SELECT g, g::text FROM generate_series(1, 5000) g;', [], 'offsets_small');
    const piped = join(dir, 'piped.pgc');
    await dump(source, piped, 'pipe');
    const pristine = await readFile(piped);

    const cases: { name: string; make: (file: string) => Promise<void>; reason: RegExp }[] = [
      { name: 'plain SQL', make: (file) => writeFile(file, 'CREATE TABLE rooms (id int);\n'), reason: /no PGDMP header/ },
      { name: 'cut inside its data', make: async (file) => {
          await copyFile(piped, file);
          await truncate(file, pristine.length - 1000);
        }, reason: /file ends inside a field/ },
      { name: 'an unknown archive version', make: async (file) => {
          const bytes = Buffer.from(pristine);
          bytes[6] = 99; // minor version
          await writeFile(file, bytes);
        }, reason: /archive version 1\.99\.\d+/ },
      { name: 'a directory-format table of contents', make: async (file) => {
          const bytes = Buffer.from(pristine);
          bytes[10] = 5; // archive format: directory
          await writeFile(file, bytes);
        }, reason: /archive format 5, not custom/ },
    ];
    for (const c of cases) {
      const file = join(dir, `${c.name.replace(/\W+/g, '-')}.pgc`);
      await c.make(file);
      const before = await readFile(file);
      const result = await writeDataOffsets(file);
      assert.ok('skipped' in result, `${c.name}: expected to be skipped, got ${JSON.stringify(result)}`);
      assert.match(result.skipped, c.reason, c.name);
      assert.deepEqual(await readFile(file), before, `${c.name}: the file is unchanged`);
    }
  });
});
