// The CRC32C validator handed to the GCS client agrees with the client's own JavaScript CRC32C byte for byte,
// in one piece and chunked, and validates the way the client's class does.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CRC32C } from '@google-cloud/storage';
import { nativeCrc32cGenerator } from '../../../src/storage/gcs/crc32c.js';

const generator = nativeCrc32cGenerator();

test('the native binding loads on this platform', () => {
  assert.ok(generator, '@node-rs/crc32 did not load');
});

test('known value and random data, whole and in chunks, equal the client’s CRC32C', () => {
  const known = generator!();
  known.update(Buffer.from('data'));
  assert.equal(known.toString(), 'rth90Q==');

  const data = randomBytes(3 * 1024 * 1024 + 17);
  const reference = new CRC32C();
  reference.update(data);
  const chunked = generator!();
  for (let offset = 0; offset < data.length; offset += 65_537) chunked.update(data.subarray(offset, offset + 65_537));
  assert.equal(chunked.toString(), reference.toString());
  assert.ok(chunked.validate(reference.toString()));
  assert.ok(chunked.validate(reference.toBuffer() as unknown as string));
  assert.ok(!chunked.validate('AAAAAA=='));
});

test('without the binding, the client keeps its own implementation', () => {
  assert.equal(nativeCrc32cGenerator(() => undefined), undefined);
});
