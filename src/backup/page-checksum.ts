// PostgreSQL's data page checksum (src/include/storage/checksum_impl.h): FNV-1a-like, 32 lanes of 32-bit words
// over the page with pd_checksum taken as zero, two rounds of zeros, folded by xor, the block number mixed in and
// reduced to 16 bits. A base backup read from the data directory checks every page with it, as pg_basebackup does
// when the cluster has data_checksums on: a corrupt page on disk fails the backup instead of being archived as good.

const N_SUMS = 32;
const FNV_PRIME = 16777619;
const BASE_OFFSETS = Uint32Array.of(
  0x5b1f36e9, 0xb8525960, 0x02ab50aa, 0x1de66d2a, 0x79ff467a, 0x9bb9f8a3, 0x217e7cd2, 0x83e13d2c,
  0xf8d4474f, 0xe39eb970, 0x42c6ae16, 0x993216fa, 0x7b093b5d, 0x98daff3c, 0xf718902a, 0x0b1c9cdb,
  0xe58f764b, 0x187636bc, 0x5d7b3bb1, 0xe73de7de, 0x92bec979, 0xcca6c0b2, 0x304a0979, 0x85aa43d4,
  0x783125bb, 0x6ca8eaa2, 0xe407eac6, 0x4b5cfc3e, 0x9fbf8c76, 0x15ca20be, 0xf2ca9fd3, 0x959bd756,
);
// The page header: pd_lsn (8 bytes: two 32-bit halves), pd_checksum (2), pd_flags (2), pd_lower (2), pd_upper (2), …
const CHECKSUM_WORD = 2; // pd_checksum is the low half of the third 32-bit word (little-endian)
const UPPER_OFFSET = 14;

/**
 * The checksum PostgreSQL stores in pd_checksum for the page at word `at` of `words` (one block), at block
 * number `block`. Lane by lane (the lanes are independent): the lane's state stays in a register.
 */
export function pageChecksum(words: Uint32Array, at: number, block: number, blockSize: number): number {
  const end = at + blockSize / 4;
  let result = 0;
  for (let lane = 0; lane < N_SUMS; lane++) {
    let sum = BASE_OFFSETS[lane]!;
    let i = at + lane;
    if (lane === CHECKSUM_WORD) {
      // pd_checksum counts as zero (the page itself is not ours to change: its bytes may be in a write).
      const tmp = (sum ^ (words[i]! & 0xffff0000)) >>> 0;
      sum = Math.imul(tmp, FNV_PRIME) ^ (tmp >>> 17);
      i += N_SUMS;
    }
    for (; i < end; i += N_SUMS) {
      const tmp = sum ^ words[i]!;
      sum = Math.imul(tmp, FNV_PRIME) ^ (tmp >>> 17);
    }
    // Two rounds of zeros, for mixing.
    sum = Math.imul(sum, FNV_PRIME) ^ (sum >>> 17);
    sum = Math.imul(sum, FNV_PRIME) ^ (sum >>> 17);
    result ^= sum;
  }
  return (((result ^ block) >>> 0) % 65535) + 1;
}

export interface PageFailure {
  block: number;
  calculated: number;
  stored: number;
}

export interface PageCheckOptions {
  blockSize: number;
  /** Blocks per segment file (RELSEG_SIZE): block numbers run on across a relation's segments. */
  segmentBlocks: number;
  /** The backup's start LSN: a page written since may be torn in the copy and is rebuilt from the WAL. */
  startLsn: bigint;
}

/**
 * Checks the whole blocks of `bytes`, which start at byte `offset` of segment `segment` of a relation file.
 * New pages (pd_upper 0) and pages changed since the backup started are not checked, as in basebackup.c.
 * Returns the blocks whose checksum does not match; the caller reads those again before calling them corrupt.
 */
export function checkPages(bytes: Buffer, offset: number, segment: number, options: PageCheckOptions): { checked: number; failures: PageFailure[] } {
  const { blockSize } = options;
  const whole = bytes.length - (bytes.length % blockSize);
  const words = wordsOf(bytes.subarray(0, whole));
  const startHigh = Number(options.startLsn >> 32n);
  const startLow = Number(options.startLsn & 0xffffffffn);
  const failures: PageFailure[] = [];
  let checked = 0;
  for (let at = 0; at < whole; at += blockSize) {
    if (bytes.readUInt16LE(at + UPPER_OFFSET) === 0) continue; // a new page
    const lsnHigh = bytes.readUInt32LE(at);
    if (lsnHigh > startHigh || (lsnHigh === startHigh && bytes.readUInt32LE(at + 4) >= startLow)) continue;
    checked += 1;
    const block = segment * options.segmentBlocks + (offset + at) / blockSize;
    const calculated = pageChecksum(words, at / 4, block, blockSize);
    const stored = bytes.readUInt16LE(at + 8);
    if (calculated !== stored) failures.push({ block, calculated, stored });
  }
  return { checked, failures };
}

/** One block: 'ok', 'skipped' (new, or changed after the backup started), or the mismatch. */
export function checkPage(page: Buffer, block: number, startLsn: bigint): 'ok' | 'skipped' | PageFailure {
  // At byte block × size of segment 0: checkPages numbers it `block`.
  const { checked, failures } = checkPages(page, block * page.length, 0, { blockSize: page.length, segmentBlocks: 0, startLsn });
  return checked === 0 ? 'skipped' : (failures[0] ?? 'ok');
}

/** The bytes as 32-bit words (a copy only when they do not start on a 4-byte boundary). */
function wordsOf(bytes: Buffer): Uint32Array {
  return bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : new Uint32Array(Uint8Array.from(bytes).buffer);
}
