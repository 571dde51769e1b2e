// CRC-32C (Castagnoli): the checksum pg_basebackup's backup_manifest gives every file by default, and the one
// GCS checks uploads with. Node has no built-in one. Native code (@node-rs/crc32: SSE 4.2 / ARM CRC
// instructions) runs at ~9 GB/s here; where its binding cannot load, a table-driven JavaScript version
// (16 bytes per step, ~1.4 GB/s) takes over.
import { createRequire } from 'node:module';

/** Continues `crc` (0 to start) over `bytes`; the CRC of everything seen so far, as an unsigned 32-bit number. */
export type Crc32c = (bytes: Uint8Array, crc?: number) => number;

/** The native implementation, or undefined when its binding does not load on this platform. */
export function loadNativeCrc32c(): Crc32c | undefined {
  try {
    const native = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: (input: Uint8Array, initialState?: number) => number }).crc32c;
    return (bytes, crc = 0) => native(bytes, crc) >>> 0;
  } catch {
    return undefined;
  }
}

const POLY = 0x82f63b78;
const TABLE = buildTable();

function buildTable(): Int32Array {
  const table = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    table[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = table[n]!;
    for (let k = 1; k < 16; k++) {
      c = table[c & 0xff]! ^ (c >>> 8);
      table[k * 256 + n] = c;
    }
  }
  return table;
}

/** The JavaScript implementation (the fallback; also the reference the native one is tested against). */
export function crc32cJs(bytes: Uint8Array, crc = 0): number {
  const t = TABLE;
  const b = bytes;
  let c = ~crc;
  let i = 0;
  const end16 = b.length - 16;
  for (; i <= end16; i += 16) {
    c ^= b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
    c =
      t[3840 + (c & 0xff)]! ^
      t[3584 + ((c >>> 8) & 0xff)]! ^
      t[3328 + ((c >>> 16) & 0xff)]! ^
      t[3072 + (c >>> 24)]! ^
      t[2816 + b[i + 4]!]! ^
      t[2560 + b[i + 5]!]! ^
      t[2304 + b[i + 6]!]! ^
      t[2048 + b[i + 7]!]! ^
      t[1792 + b[i + 8]!]! ^
      t[1536 + b[i + 9]!]! ^
      t[1280 + b[i + 10]!]! ^
      t[1024 + b[i + 11]!]! ^
      t[768 + b[i + 12]!]! ^
      t[512 + b[i + 13]!]! ^
      t[256 + b[i + 14]!]! ^
      t[b[i + 15]!]!;
  }
  for (; i < b.length; i++) c = t[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

let chosen: Crc32c | undefined;
/** Loaded at the first checksum, not at start: loading the binding cost every command ~6 ms. */
export const crc32c: Crc32c = (bytes, crc) => {
  chosen ??= loadNativeCrc32c() ?? crc32cJs;
  return chosen(bytes, crc);
};

/** As PostgreSQL prints a CRC-32C in a backup manifest: its four bytes in memory order (little-endian), in hex. */
export function crc32cManifestHex(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(crc >>> 0);
  return bytes.toString('hex');
}
