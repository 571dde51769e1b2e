// Part sizes of the S3 multipart writer: the configured size for the first 2 000 parts, doubling every 2 000
// after, so an object far larger than its size hint still fits in S3's 10 000 parts; never above 5 GiB.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { partSizeFor } from '../../../src/storage/s3/driver.js';
import { partSizeOf } from '../../../src/storage/s3/write.js';

const MiB = 1024 * 1024;

test('parts keep the configured size, then double every 2 000 parts', () => {
  assert.equal(partSizeOf(8 * MiB, 1), 8 * MiB);
  assert.equal(partSizeOf(8 * MiB, 2000), 8 * MiB);
  assert.equal(partSizeOf(8 * MiB, 2001), 16 * MiB);
  assert.equal(partSizeOf(8 * MiB, 10_000), 128 * MiB);
  // 10 000 parts of 8 MiB doubling every 2 000: 2 000 × (8 + 16 + 32 + 64 + 128) MiB = 496 000 MiB.
  let total = 0;
  for (let part = 1; part <= 10_000; part++) total += partSizeOf(8 * MiB, part);
  assert.equal(total, 496_000 * MiB);
});

test('a part never exceeds S3’s 5 GiB', () => {
  assert.equal(partSizeOf(4096 * MiB, 2001), 5 * 1024 * MiB);
});

test('the size hint grows the first parts so the expected size (3× misestimated) fits in 10 000 parts', () => {
  assert.equal(partSizeFor(8 * MiB, undefined), 8 * MiB);
  assert.equal(partSizeFor(8 * MiB, 1e9), 8 * MiB);
  assert.equal(partSizeFor(8 * MiB, 100e9), 29 * MiB);
});
