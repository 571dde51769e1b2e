// The page checksum's properties (its values are checked against PostgreSQL's in base-files.test.ts: a backup
// of a cluster with data_checksums passes every page, and a damaged page gets the checksum pg_basebackup reports):
// pd_checksum itself is left out, the block number is mixed in, one flipped bit shows, new pages and pages
// written after the backup started are not checked, and an unaligned buffer checks like an aligned one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPage, checkPages, pageChecksum } from '../../../src/backup/page-checksum.js';

const BLOCK = 8192;

/** A page with some content, pd_lsn `lsn`, pd_upper set, and its correct checksum for `block`. */
function page(block: number, lsn = 0x1_0000_0000n, seed = 7): Buffer {
  const bytes = Buffer.alloc(BLOCK);
  for (let i = 24; i < BLOCK; i++) bytes[i] = (i * 31 + seed) % 251;
  bytes.writeUInt32LE(Number(lsn >> 32n), 0);
  bytes.writeUInt32LE(Number(lsn & 0xffffffffn), 4);
  bytes.writeUInt16LE(40, 12); // pd_lower
  bytes.writeUInt16LE(4096, 14); // pd_upper
  bytes.writeUInt16LE(sum(bytes, block), 8);
  return bytes;
}

const words = (bytes: Buffer) => new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
const sum = (bytes: Buffer, block: number) => pageChecksum(words(bytes), 0, block, BLOCK);
const start = 0x2_0000_0000n;

describe('pageChecksum', () => {
  it('is 1..65535 and leaves pd_checksum out', () => {
    const p = page(0);
    const first = sum(p, 0);
    assert.ok(first >= 1 && first <= 65535);
    p.writeUInt16LE(0xbeef, 8);
    assert.equal(sum(p, 0), first);
  });

  it('mixes in the block number and shows a single flipped bit anywhere', () => {
    const p = page(5);
    assert.notEqual(sum(p, 5), sum(p, 6));
    for (const at of [0, 10, 4000, BLOCK - 1]) {
      const flipped = Buffer.from(p);
      flipped[at]! ^= 0x10;
      assert.notEqual(sum(flipped, 5), sum(p, 5), `bit flipped at byte ${at}`);
    }
  });
});

describe('checkPage / checkPages', () => {
  it('passes a sound page and names the stored and calculated checksums of a damaged one', () => {
    assert.equal(checkPage(page(3), 3, start), 'ok');
    const damaged = page(3);
    damaged.write('dead', 4000, 'latin1');
    const failure = checkPage(damaged, 3, start);
    assert.ok(failure !== 'ok' && failure !== 'skipped');
    assert.equal(failure.stored, damaged.readUInt16LE(8));
    assert.equal(failure.calculated, sum(damaged, 3));
    // A page moved to another place in the file fails too.
    assert.notEqual(checkPage(page(3), 4, start), 'ok');
  });

  it('skips new pages and pages written since the backup started', () => {
    assert.equal(checkPage(Buffer.alloc(BLOCK), 0, start), 'skipped');
    const late = page(0, start + 1n);
    late.write('dead', 4000, 'latin1'); // torn in the copy; the WAL since the start repairs it
    assert.equal(checkPage(late, 0, start), 'skipped');
  });

  it('numbers blocks across segments and offsets, and checks an unaligned buffer alike', () => {
    const segmentBlocks = 131072;
    // Blocks 2 and 3 of segment 1: block numbers 131074 and 131075.
    const two = Buffer.concat([page(segmentBlocks + 2), page(segmentBlocks + 3)]);
    assert.deepEqual(checkPages(two, 2 * BLOCK, 1, { blockSize: BLOCK, segmentBlocks, startLsn: start }), { checked: 2, failures: [] });
    const unaligned = Buffer.alloc(BLOCK + 1).subarray(1);
    page(9).copy(unaligned);
    assert.equal(checkPage(unaligned, 9, start), 'ok');
    // A trailing partial block is not checked.
    const partial = Buffer.concat([page(0), Buffer.alloc(100, 1)]);
    assert.deepEqual(checkPages(partial, 0, 0, { blockSize: BLOCK, segmentBlocks, startLsn: start }), { checked: 1, failures: [] });
  });
});
