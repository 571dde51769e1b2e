// The compressors of the byte path, run for real (zstd, pigz, lz4): round trips at several levels, with and
// without encryption and with a producer's pipe handed over; a standard gzip stream; a missing binary and a
// compressor that dies mid-stream fail clearly and leave nothing stored.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { createKeyRing } from '../../../src/crypto/keyring.js';
import { ToolError } from '../../../src/errors.js';
import { artifactReadStages, readArtifactInto, writeArtifact } from '../../../src/pipeline/artifact.js';
import {
  type CompressionAlgorithm,
  checkCompressors,
  compressionFor,
  gzipDecompressorBinary,
  parseCompressorSummary,
  startDecompressor,
} from '../../../src/pipeline/compression.js';
import { startTool } from '../../../src/postgres/run-tool.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';

const keyring = createKeyRing([{ id: 'k1', key: Buffer.alloc(32, 3).toString('base64') }]);

/** Compressible like a dump (repeated words) with some incompressible bytes mixed in. */
function dumpLike(bytes: number): Buffer {
  const words = Buffer.from('hotel room booking guest review 2026-11-25 paid cancelled '.repeat(64));
  const out = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at += words.length + 512) {
    words.copy(out, at);
    randomBytes(512).copy(out, Math.min(at + words.length, bytes));
  }
  return out;
}

async function tempRoot(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pgwarden-compress-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return root;
}

async function collect(source: Readable, stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline([source, ...stages, new Writable({
        write: (c: Buffer, _e, cb) => {
          chunks.push(c);
          cb();
        },
      }),]);
  return Buffer.concat(chunks);
}

const CASES: { algorithm: CompressionAlgorithm; level: number }[] = [
  { algorithm: 'zstd', level: 1 },
  { algorithm: 'zstd', level: 3 },
  { algorithm: 'zstd', level: 19 },
  { algorithm: 'gzip', level: 1 },
  { algorithm: 'gzip', level: 6 },
  { algorithm: 'lz4', level: 1 },
  { algorithm: 'lz4', level: 9 },
  { algorithm: 'none', level: 0 },
];

for (const spec of CASES) {
  for (const encrypted of [false, true]) {
    test(`${spec.algorithm} level ${spec.level}${encrypted ? ' + encryption' : ''}: bytes round-trip through storage, sizes and checksum recorded`, async (t) => {
      const root = await tempRoot(t);
      const storage = createLocalDriver({ root });
      const data = dumpLike(3 * 1024 * 1024 + 17);
      const written = await writeArtifact({
        source: Readable.from([data.subarray(0, 1_000_000), data.subarray(1_000_000)]),
        compression: spec,
        encryptionKey: encrypted ? keyring.encryptionKey() : undefined,
        writers: [storage.write('a')],
      });
      assert.equal(written.rawBytes, data.length);
      const stored = await readFile(join(root, 'a'));
      assert.equal(written.storedBytes, stored.length);
      if (spec.algorithm !== 'none') assert.ok(stored.length < data.length * 0.8, `${stored.length} bytes stored from ${data.length}`);

      // In Node (WAL, checksums) and straight into a file (parallel restore).
      const read = artifactReadStages({ compression: spec.algorithm, keyring, encrypted });
      assert.ok((await collect(storage.read('a'), read.stages)).equals(data));
      assert.equal(read.stored.sha256(), written.sha256);
      const tap = await readArtifactInto({ compression: spec.algorithm, keyring, encrypted, source: storage.read('a'), into: { file: join(root, 'plain') } });
      assert.ok((await readFile(join(root, 'plain'))).equals(data));
      assert.equal(tap.sha256(), written.sha256);
    });
  }
}

for (const algorithm of ['zstd', 'lz4'] as const) {
  test(`${algorithm}: a producer's pipe handed to the compressor is stored whole, its size from the compressor's count`, async (t) => {
    const root = await tempRoot(t);
    const storage = createLocalDriver({ root });
    const data = dumpLike(5 * 1024 * 1024);
    await writeFile(join(root, 'dump'), data);
    const producer = startTool('cat', [join(root, 'dump')], { stdout: 'pipe' });
    const written = await writeArtifact({
      source: producer.stdout!,
      sourceDone: producer.done,
      compression: { algorithm, level: 1 },
      encryptionKey: keyring.encryptionKey(),
      writers: [storage.write('b')],
    });
    assert.equal(written.rawBytes, data.length);
    const consumer = startTool('sha256sum', [], { stdin: 'pipe', stdout: 'pipe' });
    let digest = '';
    consumer.stdout!.on('data', (c: Buffer) => {
      digest += c.toString();
    });
    await Promise.all([readArtifactInto({ compression: algorithm, keyring, encrypted: true, source: storage.read('b'), into: { tool: consumer } }), consumer.done]);
    assert.equal(digest.split(' ')[0], execFileSync('sha256sum', [join(root, 'dump')], { encoding: 'utf8' }).split(' ')[0]);
  });
}

test('gzip output is a standard gzip stream: gzip -t accepts it and gunzip restores the bytes', async (t) => {
  const root = await tempRoot(t);
  const storage = createLocalDriver({ root });
  const data = dumpLike(2 * 1024 * 1024);
  await writeArtifact({ source: Readable.from([data]), compression: { algorithm: 'gzip', level: 6 }, writers: [storage.write('c.gz')] });
  execFileSync('gzip', ['-t', join(root, 'c.gz')]);
  assert.ok(execFileSync('gzip', ['-dc', join(root, 'c.gz')], { maxBuffer: 16 * 1024 * 1024 }).equals(data));
});

/** Decompresses `input` with the gzip decompressor pgwarden picks; its output, or the error it failed with. */
async function gunzipWithTool(input: Buffer): Promise<Buffer> {
  const tool = startDecompressor('gzip', { output: 'pipe' });
  const chunks: Buffer[] = [];
  tool.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
  tool.stdin!.on('error', () => {});
  tool.stdin!.end(input);
  await tool.done;
  return Buffer.concat(chunks);
}

test('gzip is decompressed by igzip where installed: every member of a multi-member stream, and damage is an error', async () => {
  assert.equal(gzipDecompressorBinary(), 'igzip', 'the isal package (igzip) is installed here, as in CI and the image');
  const first = dumpLike(300_000);
  const second = dumpLike(200_000);
  const members = Buffer.concat([execFileSync('gzip', ['-c'], { input: first }), execFileSync('pigz', ['-6', '-c'], { input: second })]);
  assert.ok((await gunzipWithTool(members)).equals(Buffer.concat([first, second])));

  const truncated = members.subarray(0, members.length - 100);
  await assert.rejects(gunzipWithTool(truncated), (error: Error) => error instanceof ToolError && /igzip/.test(error.message));
  const corrupt = Buffer.from(members);
  corrupt[Math.floor(corrupt.length / 3)]! ^= 0xff;
  corrupt[Math.floor(corrupt.length / 3) + 1]! ^= 0xff;
  await assert.rejects(gunzipWithTool(corrupt), (error: Error) => error instanceof ToolError && /igzip/.test(error.message));
});

test('the compressors installed here pass the start-up check, and their summaries give exact counts', async () => {
  await checkCompressors(['zstd', 'gzip', 'lz4', 'none']);
  assert.deepEqual(parseCompressorSummary('zstd', '*stdin*\\  : 21.50%   (862421996 B => 185434325 B, *stdout*\\) \n'), {
    plainBytes: 862421996,
    compressedBytes: 185434325,
  });
  assert.deepEqual(parseCompressorSummary('lz4', 'Compressed 862421996 bytes into 321197094 bytes ==> 37.24%'), {
    plainBytes: 862421996,
    compressedBytes: 321197094,
  });
});

test('a missing compressor binary is a clear error at the start-up check, saying what to install', async (t) => {
  const empty = await tempRoot(t);
  const path = process.env['PATH'];
  process.env['PATH'] = empty;
  try {
    await assert.rejects(checkCompressors(['zstd']), (error: unknown) => {
      assert.ok(error instanceof ToolError);
      assert.match(error.message, /cannot run zstd/);
      assert.match(error.hints.join('\n'), /install zstd .*or choose another backup\.compression/);
      return true;
    });
  } finally {
    process.env['PATH'] = path;
  }
});

test('a compressor that dies mid-stream fails the write and leaves nothing stored', async (t) => {
  const root = await tempRoot(t);
  const bin = join(root, 'bin');
  await mkdir(bin);
  // The real zstd for the first megabyte, then a crash while input is still coming.
  await writeFile(
    join(bin, 'zstd'),
    `#!/bin/sh\nhead -c 1048576 | ${execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim()} "$@"\necho "zstd: simulated crash" >&2\nexit 1\n`,
  );
  await chmod(join(bin, 'zstd'), 0o755);
  const storage = createLocalDriver({ root: join(root, 'store') });
  const path = process.env['PATH'];
  process.env['PATH'] = `${bin}:${path}`;
  try {
    await assert.rejects(
      writeArtifact({ source: Readable.from([dumpLike(4 * 1024 * 1024)]), compression: { algorithm: 'zstd', level: 3 }, writers: [storage.write('d.zst')] }),
      /zstd \(compressing\) exited with code 1: .*simulated crash/,
    );
  } finally {
    process.env['PATH'] = path;
  }
  assert.deepEqual(await storage.list(''), []);
  assert.deepEqual(await storage.removeIncomplete(''), []);
});

test('a database names its own compression; without a level it gets that algorithm’s default', () => {
  const backup = { compression: 'zstd' as const, compressionLevel: 7 };
  assert.deepEqual(compressionFor(backup, {}), { algorithm: 'zstd', level: 7 });
  assert.deepEqual(compressionFor(backup, { compression: 'gzip' }), { algorithm: 'gzip', level: 6 });
  assert.deepEqual(compressionFor(backup, { compression: 'lz4', compressionLevel: 4 }), { algorithm: 'lz4', level: 4 });
  assert.deepEqual(compressionFor(backup, { compressionLevel: 12 }), { algorithm: 'zstd', level: 12 });
  assert.deepEqual(compressionFor(backup, { compression: 'none' }), { algorithm: 'none', level: 0 });
  // No level anywhere: the algorithm's own default.
  assert.deepEqual(compressionFor({ compression: 'zstd' }, {}), { algorithm: 'zstd', level: 3 });
  assert.deepEqual(compressionFor({ compression: 'gzip' }, {}), { algorithm: 'gzip', level: 6 });
  assert.deepEqual(compressionFor({ compression: 'gzip' }, { compression: 'lz4' }), { algorithm: 'lz4', level: 1 });
});
