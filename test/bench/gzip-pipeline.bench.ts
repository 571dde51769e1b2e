// How fast Node can gzip a pg_dump stream arriving on a pipe, and why: the pipeline's compressor as it is
// (one zlib stream fed the pipe's 64 KiB reads), the same fed 1 MiB pieces, independent gzip members compressed
// two at a time on the libuv pool (pigz-style), and `gzip -N` itself; then gunzip as verification does it.
// Input: a `pg_dump -Fc -Z0` file, streamed through `cat` so it arrives in pipe-sized reads as from pg_dump;
// or, with --command, the stdout of a shell command (pg_dump itself: then the compressors compete for the cores
// with pg_dump and its server backend, as in a real backup).
// Usage: node dist/test/bench/gzip-pipeline.bench.js (DUMP_FILE | --command 'pg_dump -Fc -Z0 -d URL') [level ...]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { createCompressor, createDecompressor } from '../../src/pipeline/compression.js';

const gzipBlock = promisify(gzipCallback);
const argv = process.argv.slice(2);
const command = argv[0] === '--command' ? argv[1] : undefined;
const file = command === undefined ? argv[0] : undefined;
const levelArgs = argv.slice(command === undefined ? 1 : 2);
if (!file && !command) {
  console.error("usage: node dist/test/bench/gzip-pipeline.bench.js (DUMP_FILE | --command 'pg_dump …') [level ...]");
  process.exit(2);
}
const levels = levelArgs.length > 0 ? levelArgs.map(Number) : [1, 6];
/** The input as a shell command writing it to stdout. */
const source = command ?? `cat ${JSON.stringify(file)}`;
// One untimed pass: the input's size and hash (and a warm page cache). A command's output may differ between
// runs (pg_dump stamps its archives) and is only measured for its size.
const { inputBytes, inputSha256 } = await (async () => {
  if (file) return { inputBytes: statSync(file).size, inputSha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
  const hash = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      callback();
    },
  });
  await pipeline(fromSource(), sink);
  return { inputBytes: bytes, inputSha256: hash.digest('hex') };
})();

interface Measured {
  seconds: number;
  outBytes: number;
  /** CPU seconds of this process: its main thread, and its other threads (the libuv pool running zlib). */
  main: number;
  threads: number;
  /** Pieces the (de)compressor was handed, and their total size. */
  writes: number;
  piecesBytes: number;
}

/** A sink that counts bytes. */
function counter(): Writable & { bytes: number } {
  const sink = new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      sink.bytes += chunk.length;
      callback();
    },
  }) as Writable & { bytes: number };
  sink.bytes = 0;
  return sink;
}

/** Counts the pieces passing through, and optionally coalesces them into pieces of at least `size` bytes. */
function pieces(size = 0): Transform & { count: number } {
  let held: Buffer[] = [];
  let heldBytes = 0;
  const stage = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (size === 0) {
        stage.count++;
        return callback(null, chunk);
      }
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes >= size) {
        stage.count++;
        stage.push(Buffer.concat(held, heldBytes));
        held = [];
        heldBytes = 0;
      }
      callback();
    },
    flush(callback) {
      if (heldBytes > 0) {
        stage.count++;
        stage.push(Buffer.concat(held, heldBytes));
      }
      callback();
    },
  }) as Transform & { count: number };
  stage.count = 0;
  return stage;
}

/**
 * Independent gzip members of `blockSize` input bytes, `parallel` compressed at once on the libuv pool and
 * emitted in order: a valid multi-member gzip stream (gunzip and `gzip -t` accept it).
 */
function parallelGzip(level: number, blockSize: number, parallel: number): Transform {
  let held: Buffer[] = [];
  let heldBytes = 0;
  const inFlight: Promise<Buffer>[] = [];
  const stage = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes < blockSize) return callback();
      inFlight.push(gzipBlock(Buffer.concat(held, heldBytes), { level }));
      held = [];
      heldBytes = 0;
      if (inFlight.length < parallel) return callback();
      inFlight.shift()!.then((out) => callback(null, out), callback);
    },
    flush(callback) {
      if (heldBytes > 0) inFlight.push(gzipBlock(Buffer.concat(held, heldBytes), { level }));
      (async () => {
        for (const job of inFlight) stage.push(await job);
      })().then(() => callback(), callback);
    },
  });
  return stage;
}

async function measure(run: () => Promise<{ outBytes: number; writes: number; piecesBytes?: number }>): Promise<Measured> {
  const before = threadCpu();
  const started = performance.now();
  const { outBytes, writes, piecesBytes = inputBytes } = await run();
  const seconds = (performance.now() - started) / 1000;
  const after = threadCpu();
  return { seconds, outBytes, main: after.main - before.main, threads: after.threads - before.threads, writes, piecesBytes };
}

/** The input as pg_dump's stdout delivers it: through a pipe, in reads of up to 64 KiB. */
function fromSource(): Readable {
  return spawn('bash', ['-c', source], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout;
}

function threadCpu(): { main: number; threads: number } {
  const ticks = (path: string) => {
    const text = readFileSync(path, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  const pid = process.pid;
  const main = ticks(`/proc/${pid}/task/${pid}/stat`);
  const all = ticks(`/proc/${pid}/stat`);
  return { main, threads: all - main };
}

function line(label: string, m: Measured): string {
  const rate = inputBytes / 1e6 / m.seconds;
  const piece = m.writes > 0 ? `${Math.round(m.piecesBytes / m.writes / 1024)} KiB × ${m.writes}` : '–';
  return `| ${label} | ${m.seconds.toFixed(2)} s | ${rate.toFixed(0)} MB/s | ${(m.outBytes / 1e6).toFixed(1)} MB | ${m.main.toFixed(2)} | ${m.threads.toFixed(2)} | ${piece} |`;
}

async function viaProgram(level: number): Promise<Measured> {
  const started = performance.now();
  const child = spawn('bash', ['-c', `${source} | gzip -${level} | wc -c`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((done) => child.once('close', done));
  return { seconds: (performance.now() - started) / 1000, outBytes: Number(out.trim()), main: 0, threads: 0, writes: 0, piecesBytes: 0 };
}

console.log(`input ${(inputBytes / 1e6).toFixed(1)} MB (\`${source}\`); ${availableParallelism()} cores; CPU seconds of this node process`);
console.log('');
console.log('| run | wall | input rate | output | node main CPU | node other threads CPU | pieces handed to zlib |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const level of levels) {
  console.log(line(`gzip -${level} (the program: \`… | gzip -${level} | wc -c\`)`, await viaProgram(level)));
  console.log(
    line(
      `pipeline compressor, level ${level}, pipe reads`,
      await measure(async () => {
        const count = pieces();
        const sink = counter();
        await pipeline(fromSource(), count, createCompressor({ algorithm: 'gzip', level }), sink);
        return { outBytes: sink.bytes, writes: count.count };
      }),
    ),
  );
  console.log(
    line(
      `pipeline compressor, level ${level}, 1 MiB pieces`,
      await measure(async () => {
        const count = pieces(1024 * 1024);
        const sink = counter();
        await pipeline(fromSource(), count, createCompressor({ algorithm: 'gzip', level }), sink);
        return { outBytes: sink.bytes, writes: count.count };
      }),
    ),
  );
  for (const [blockSize, parallel] of [
    [4, 1],
    [4, 2],
    [1, 2],
  ] as const) {
    const output: Buffer[] = [];
    const measured = await measure(async () => {
      const sink = counter();
      const keep = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          output.push(chunk);
          callback(null, chunk);
        },
      });
      await pipeline(fromSource(), parallelGzip(level, blockSize * 1024 * 1024, parallel), keep, sink);
      return { outBytes: sink.bytes, writes: Math.ceil(inputBytes / (blockSize * 1024 * 1024)) };
    });
    console.log(line(`gzip members of ${blockSize} MiB, level ${level}, ${parallel} at once`, measured));
    // The members concatenated are one valid gzip stream: the pipeline's decompressor restores the input.
    // (pg_dump stamps each archive with its start time, so only a file input can be compared byte for byte.)
    if (!file) continue;
    const restored = createHash('sha256');
    const hashing = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        restored.update(chunk);
        callback();
      },
    });
    await pipeline(Readable.from(output), createDecompressor('gzip'), hashing);
    if (restored.digest('hex') !== inputSha256) throw new Error(`members of ${blockSize} MiB did not decompress to the input`);
  }
}

// Verification decompresses what was stored: time gunzip of a level-1 stream the way verify reads it.
const compressed: Buffer[] = [];
const keep = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    compressed.push(chunk);
    callback();
  },
});
await pipeline(fromSource(), createCompressor({ algorithm: 'gzip', level: levels[0]! }), keep);
console.log(
  line(
    `gunzip of the level-${levels[0]} stream (verify's decompressor, 1 MiB reads)`,
    await measure(async () => {
      const sink = counter();
      const whole = Buffer.concat(compressed);
      const reads = Array.from({ length: Math.ceil(whole.length / 1048576) }, (_, i) => whole.subarray(i * 1048576, (i + 1) * 1048576));
      await pipeline(Readable.from(reads), createDecompressor('gzip'), sink);
      return { outBytes: sink.bytes, writes: reads.length, piecesBytes: whole.length };
    }),
  ),
);
