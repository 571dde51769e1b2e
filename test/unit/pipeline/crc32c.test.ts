// The two CRC-32C implementations (native and the JavaScript fallback) agree with each other and with the
// GCS client's own, on known values and on random data whole and in odd-sized chunks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CRC32C } from '@google-cloud/storage';
import { crc32c, crc32cJs, crc32cManifestHex, loadNativeCrc32c } from '../../../src/pipeline/crc32c.js';

const native = loadNativeCrc32c();

test('the native binding loads on this platform and is the one in use', () => {
  assert.ok(native, '@node-rs/crc32 did not load');
  assert.notEqual(crc32c, crc32cJs);
});

test('known values: "123456789" is e3069283, "data" as GCS spells it is rth90Q==', () => {
  for (const impl of [native!, crc32cJs]) {
    assert.equal(impl(Buffer.from('123456789')), 0xe3069283);
    assert.equal(impl(new Uint8Array(0)), 0);
    const data = Buffer.alloc(4);
    data.writeUInt32BE(impl(Buffer.from('data')));
    assert.equal(data.toString('base64'), 'rth90Q==');
  }
  assert.equal(crc32cManifestHex(0xe3069283), '839206e3');
});

test('random data whole and chunked: native = JavaScript = the GCS client', () => {
  const data = randomBytes(2 * 1024 * 1024 + 13);
  const reference = new CRC32C();
  reference.update(data);
  const expected = Buffer.from(reference.toString(), 'base64').readUInt32BE();
  for (const impl of [native!, crc32cJs]) {
    assert.equal(impl(data), expected);
    let crc = 0;
    for (let offset = 0; offset < data.length; offset += 40_961) crc = impl(data.subarray(offset, offset + 40_961), crc);
    assert.equal(crc, expected);
  }
});
