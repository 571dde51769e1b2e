// Compression stages of the byte path. gzip output is a standard gzip stream (`gzip -t` accepts it); the
// algorithm and level are recorded in the manifest so a restore reads whatever the backup was made with.
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';

export type CompressionAlgorithm = 'gzip' | 'none';

export interface CompressionSpec {
  algorithm: CompressionAlgorithm;
  level: number;
}

// zlib runs on libuv's thread pool; large chunks keep the number of round trips to it low.
const ZLIB_CHUNK = 256 * 1024;

export function createCompressor(spec: CompressionSpec): Transform {
  switch (spec.algorithm) {
    case 'gzip':
      return createGzip({ level: spec.level, chunkSize: ZLIB_CHUNK });
    case 'none':
      return new PassThrough();
  }
}

export function createDecompressor(algorithm: CompressionAlgorithm): Transform {
  switch (algorithm) {
    case 'gzip':
      return createGunzip({ chunkSize: ZLIB_CHUNK });
    case 'none':
      return new PassThrough();
  }
}

/** The file-name suffix of an algorithm, as in DESIGN.md's storage layout. */
export function compressionSuffix(algorithm: CompressionAlgorithm): string {
  return algorithm === 'gzip' ? '.gz' : '';
}
