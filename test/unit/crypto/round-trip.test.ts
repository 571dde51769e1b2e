// Whatever goes into the encryptor comes out of the decryptor, byte for byte, however it is written.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createKeyRing } from '../../../src/crypto/keyring.js';
import { DEFAULT_CHUNK_SIZE, encryptedSize, readHeader } from '../../../src/crypto/stream.js';
import { decrypt, encrypt, K2025, K2026, keyOf, random } from './fixtures.js';

for (const chunkSize of [DEFAULT_CHUNK_SIZE, 1000]) {
  describe(`round trip with ${chunkSize}-byte chunks`, () => {
    const sizes = [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize];
    for (const size of sizes) {
      test(`restores ${size} bytes exactly, in a stream of the predicted size`, async () => {
        const plaintext = random(size);
        const sealed = await encrypt(plaintext, { chunkSize });
        assert.equal(sealed.length, encryptedSize(size, K2026.id.length, chunkSize));
        assert.equal(readHeader(sealed)?.chunkSize, chunkSize);
        assert.deepEqual(await decrypt(sealed), plaintext);
      });
    }
  });
}

describe('odd write sizes', () => {
  const plaintext = random(5 * 1024 * 1024 + 3);

  test('several MB written in a mix of 1-byte, 7-byte and 100 KB writes round-trip', async () => {
    const sealed = await encrypt(plaintext, { writeSizes: [1, 7, 100_000, 7, 1] });
    assert.deepEqual(await decrypt(sealed, undefined, [100_000, 1, 7]), plaintext);
  });

  for (const writeSize of [7, 100_000]) {
    test(`several MB written ${writeSize} bytes at a time round-trip`, async () => {
      const sealed = await encrypt(plaintext, { writeSizes: [writeSize] });
      assert.deepEqual(await decrypt(sealed, undefined, [writeSize]), plaintext);
    });
  }

  test('one-byte writes on both sides, across many records and through the header, round-trip', async () => {
    const small = random(20_000);
    const sealed = await encrypt(small, { chunkSize: 1000, writeSizes: [1] });
    assert.deepEqual(await decrypt(sealed, undefined, [1]), small);
  });

  test('one write much larger than a chunk round-trips', async () => {
    const sealed = await encrypt(plaintext, { chunkSize: 4096 });
    assert.deepEqual(await decrypt(sealed, undefined, [plaintext.length]), plaintext);
  });
});

describe('keys', () => {
  test('a ring holding the old key and the new one decrypts backups written with the old key', async () => {
    const plaintext = random(3000);
    const old = await encrypt(plaintext, { key: keyOf(K2025), chunkSize: 1000 });
    const rotated = createKeyRing([K2026, K2025]);
    assert.deepEqual(await decrypt(old, rotated), plaintext);
    // …and new backups name the new key.
    const fresh = await encrypt(plaintext, { key: rotated.encryptionKey()!, chunkSize: 1000 });
    assert.equal(readHeader(fresh)?.keyId, 'k2026');
    assert.deepEqual(await decrypt(fresh, rotated), plaintext);
  });

  test('two encryptions of the same data differ in every record, and both decrypt', async () => {
    const plaintext = random(2500);
    const a = await encrypt(plaintext, { chunkSize: 1000 });
    const b = await encrypt(plaintext, { chunkSize: 1000 });
    assert.equal(a.length, b.length);
    const headerLength = readHeader(a)!.headerLength;
    assert.notDeepEqual(a.subarray(0, headerLength), b.subarray(0, headerLength));
    for (let at = headerLength; at < a.length; at += 1016) {
      assert.notDeepEqual(a.subarray(at, at + 1016), b.subarray(at, at + 1016), `record at ${at} repeats`);
    }
    assert.deepEqual(await decrypt(a), plaintext);
    assert.deepEqual(await decrypt(b), plaintext);
  });

  test('a key id outside ASCII is carried through the header', async () => {
    const key = { id: 'clé-2026', key: K2026.key };
    const sealed = await encrypt(random(10), { key: keyOf(key) });
    assert.equal(readHeader(sealed)?.keyId, 'clé-2026');
    assert.equal((await decrypt(sealed, createKeyRing([key]))).length, 10);
  });
});
