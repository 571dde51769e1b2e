// Compression of the byte path by the system compressors, as child processes: they use every core and keep
// the work off Node's event loop, and a producer's pipe (pg_dump, pg_basebackup) can be handed to them so
// the plain bytes never pass through Node. gzip is pigz: a standard gzip stream (`gzip -t` accepts it).
// The algorithm and level are recorded in the manifest, so a restore reads whatever a backup was made with.
import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Duplex, PassThrough, type Readable, type Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ToolError } from '../errors.js';
import { startTool, type ToolProcess } from '../postgres/run-tool.js';
import { processOutput, processStage } from './process-stage.js';

export const COMPRESSION_ALGORITHMS = ['zstd', 'gzip', 'lz4', 'none'] as const;
export type CompressionAlgorithm = (typeof COMPRESSION_ALGORITHMS)[number];

export interface CompressionSpec {
  algorithm: CompressionAlgorithm;
  level: number;
}

/** The level used when the config names none: the algorithm's own default. */
export const DEFAULT_LEVELS: Readonly<Record<CompressionAlgorithm, number>> = { zstd: 3, gzip: 6, lz4: 1, none: 0 };

/** The levels each compressor accepts (zstd above 19 needs --ultra and gigabytes of memory: not offered). */
export const LEVEL_RANGES: Readonly<Record<CompressionAlgorithm, readonly [number, number]>> = {
  zstd: [1, 19],
  gzip: [0, 9],
  lz4: [1, 12],
  none: [0, 0],
};

/** The binary each algorithm runs, to compress and to decompress. */
export const COMPRESSOR_BINARIES: Readonly<Record<Exclude<CompressionAlgorithm, 'none'>, string>> = { zstd: 'zstd', gzip: 'pigz', lz4: 'lz4' };

/**
 * The program that decompresses gzip: ISA-L's igzip where installed (Debian package `isal`; it inflates 862 MB
 * in 0.74 s here against pigz's 2.2 s, at a third of the CPU, and checks every member's CRC and length the
 * same way), else pigz. Looked up on PATH once per process.
 */
let gzipDecompressor: string | undefined;
export function gzipDecompressorBinary(): string {
  gzipDecompressor ??= onPath('igzip', process.env.PATH ?? '') ? 'igzip' : 'pigz';
  return gzipDecompressor;
}

function onPath(binary: string, path: string): boolean {
  return path.split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const SUFFIXES: Readonly<Record<CompressionAlgorithm, string>> = { zstd: '.zst', gzip: '.gz', lz4: '.lz4', none: '' };

/** The file-name suffix of an algorithm, as in DESIGN.md's storage layout. */
export function compressionSuffix(algorithm: CompressionAlgorithm): string {
  return SUFFIXES[algorithm];
}

/** The algorithm a file-name suffix stands for ('' → none), or undefined for an unknown one. */
export function algorithmOfSuffix(suffix: string): CompressionAlgorithm | undefined {
  return COMPRESSION_ALGORITHMS.find((algorithm) => SUFFIXES[algorithm] === suffix);
}

/** Threads a compressor may use: every core, and at least the configured jobs. */
export function compressionThreads(jobs = 1): number {
  return Math.max(jobs, availableParallelism());
}

function missingHint(binary: string): string {
  return `install ${binary} (Debian: apt-get install ${binary}), or choose another backup.compression`;
}

function compressArgs(spec: CompressionSpec, threads: number): string[] {
  switch (spec.algorithm) {
    // -vv: the closing summary gives exact byte counts ("(N B => M B"), read when the plain bytes bypass Node.
    case 'zstd':
      return ['-vv', '--no-progress', `-${spec.level}`, `-T${threads}`, '-c'];
    case 'gzip':
      return [`-${spec.level}`, '-p', String(threads), '-c'];
    // lz4 has no threads; -v prints "Compressed N bytes into M bytes".
    case 'lz4':
      return ['-v', `-${spec.level}`, '-c'];
    case 'none':
      return [];
  }
}

/** Whether the compressor's closing summary says how many plain bytes it read (so Node need not count them). */
export function countsPlainBytes(algorithm: CompressionAlgorithm): boolean {
  return algorithm === 'zstd' || algorithm === 'lz4';
}

/** The plain and compressed byte counts from a compressor's closing summary on stderr. */
export function parseCompressorSummary(algorithm: CompressionAlgorithm, stderr: string): { plainBytes: number; compressedBytes: number } | undefined {
  const match =
    algorithm === 'zstd'
      ? /\(\s*(\d+) B =>\s*(\d+) B/.exec(stderr.replace(/\r/g, "\n"))
      : algorithm === 'lz4'
        ? /Compressed (\d+) bytes into (\d+) bytes/.exec(stderr)
        : null;
  return match ? { plainBytes: Number(match[1]), compressedBytes: Number(match[2]) } : undefined;
}

export interface Compressor {
  process: ToolProcess;
  /** Put this in the pipeline: takes plain bytes (unless the input was handed over) and yields compressed ones. */
  stage: Duplex | Readable;
  /** The plain bytes read, from the compressor's own summary; after the stage ended. */
  plainBytes(): number | undefined;
}

export interface CompressorOptions {
  threads: number;
  /** A producer's stdout handed to the compressor (its bytes then never pass through Node); default: written by the pipeline. */
  input?: Readable | undefined;
  /** The caller writes the compressor's stdin itself (a PlainProducer); the stage is then its output alone. */
  writtenByCaller?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

/** Starts the compressor of `spec` (not 'none'). */
export function startCompressor(spec: CompressionSpec, options: CompressorOptions): Compressor {
  if (spec.algorithm === 'none') throw new Error('startCompressor: nothing to start for "none"');
  const binary = COMPRESSOR_BINARIES[spec.algorithm];
  const tool = startTool(binary, compressArgs(spec, options.threads), {
    stdin: options.input ?? 'pipe',
    stdout: 'pipe',
    signal: options.signal,
    label: `${binary} (compressing)`,
    missingHint: missingHint(binary),
  });
  // Writing to a compressor that died fails with EPIPE: the writer hears it in its write callbacks, and the
  // compressor's exit status (through the stage) says why.
  if (options.writtenByCaller) tool.stdin!.on('error', () => {});
  return {
    process: tool,
    stage: options.input || options.writtenByCaller ? processOutput(tool) : processStage(tool),
    plainBytes: () => parseCompressorSummary(spec.algorithm, tool.stderrTail())?.plainBytes,
  };
}

/**
 * A stage that decompresses. gzip stays in Node's zlib (on the libuv pool): it reads every gzip stream,
 * also those older pgwarden versions wrote, without depending on a binary.
 */
export function createDecompressor(algorithm: CompressionAlgorithm, signal?: AbortSignal): Duplex {
  switch (algorithm) {
    case 'none':
      return new PassThrough({ highWaterMark: 1024 * 1024 });
    case 'gzip':
      return createGunzip({ chunkSize: 256 * 1024 });
    default:
      return processStage(startDecompressor(algorithm, { output: 'pipe', signal }));
  }
}

/**
 * Starts a decompressor (not 'none') whose output goes to `output`: 'pipe' to read it in Node, or a
 * program's stdin / a file descriptor to hand the plain bytes over directly.
 */
export function startDecompressor(
  algorithm: Exclude<CompressionAlgorithm, 'none'>,
  options: { output: 'pipe' | number | Writable; signal?: AbortSignal | undefined },
): ToolProcess {
  const binary = algorithm === 'gzip' ? gzipDecompressorBinary() : COMPRESSOR_BINARIES[algorithm];
  return startTool(binary, ['-d', '-c', ...(algorithm === 'lz4' ? [] : ['-q'])], {
    stdin: 'pipe',
    stdout: options.output,
    signal: options.signal,
    label: `${binary} (decompressing)`,
    missingHint: missingHint(binary),
    // Its reader (pg_restore --list) may stop once it has what it needs.
    pipeCloseIsSuccess: options.output !== 'pipe',
  });
}

/**
 * Checks at start that the compressors these algorithms need run and behave as pgwarden expects: a few
 * bytes round-trip, and the summary it reads byte counts from is there. Throws a ToolError saying what to install.
 */
export async function checkCompressors(algorithms: Iterable<CompressionAlgorithm>, signal?: AbortSignal): Promise<void> {
  const sample = Buffer.from('pgwarden compressor check\n'.repeat(64));
  for (const algorithm of new Set(algorithms)) {
    if (algorithm === 'none') continue;
    const binary = COMPRESSOR_BINARIES[algorithm];
    const compressor = startCompressor({ algorithm, level: DEFAULT_LEVELS[algorithm] }, { threads: 1, signal });
    const compressed = collect(compressor.stage as Duplex, sample);
    let bytes: Buffer;
    try {
      bytes = await compressed;
      await compressor.process.done;
    } catch (error) {
      throw error instanceof ToolError
        ? error
        : new ToolError(`${binary} does not work: ${(error as Error).message}`, { hints: [missingHint(binary)], cause: error });
    }
    if (countsPlainBytes(algorithm) && compressor.plainBytes() !== sample.length) {
      throw new ToolError(`${binary} did not report the bytes it compressed (its summary reads "${compressor.process.stderrTail().trim().slice(-120)}")`, {
        hints: [`pgwarden reads ${binary}'s closing summary; use the version the Dockerfile installs, or choose another backup.compression`],
      });
    }
    const decompressor = createDecompressor(algorithm, signal);
    const plain = await collect(decompressor, bytes);
    if (!plain.equals(sample)) throw new ToolError(`${binary} does not round-trip: ${plain.length} bytes back from ${sample.length}`);
  }
}

async function collect(stage: Duplex, input: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stage.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    stage.once('end', resolve);
    stage.once('error', reject);
  });
  stage.end(input);
  await ended;
  return Buffer.concat(chunks);
}

/**
 * The compression a database's artifacts and WAL use: its own `compression`/`compressionLevel` over the
 * global `backup.*` ones. A database that names only an algorithm gets that algorithm's default level.
 */
export function compressionFor(
  backup: { compression: CompressionAlgorithm; compressionLevel?: number | undefined },
  db: { compression?: CompressionAlgorithm | undefined; compressionLevel?: number | undefined },
): CompressionSpec {
  const algorithm = db.compression ?? backup.compression;
  const level = db.compressionLevel ?? (db.compression === undefined ? backup.compressionLevel : undefined) ?? DEFAULT_LEVELS[algorithm];
  return { algorithm, level: algorithm === 'none' ? 0 : level };
}
