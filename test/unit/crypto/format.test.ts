// The bytes on disk are exactly what the comment in src/crypto/format.ts specifies: checked here with a
// decoder written from that comment alone, so a change to the format cannot pass unnoticed.

import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { createEncryptStream, encryptedSize, isEncrypted, readHeader } from '../../../src/crypto/stream.js';
import { EncryptionError } from '../../../src/errors.js';
import { encrypt, K2026, keyOf, random } from './fixtures.js';

/** Opens record `index` of a v1 stream by the specification, without the code under test. */
function openBySpec(sealed: Buffer, masterKey: Buffer, index: number, last: boolean): Buffer {
  const idLength = sealed[7]!;
  const headerLength = 35 + idLength;
  const salt = sealed.subarray(8 + idLength, 24 + idLength);
  const prefix = sealed.subarray(24 + idLength, 31 + idLength);
  const chunkSize = sealed.readUInt32BE(31 + idLength);
  const fileKey = Buffer.from(hkdfSync('sha256', masterKey, salt, 'pgwarden encryption v1', 32));
  const nonce = Buffer.concat([prefix, Buffer.from([0, 0, 0, 0, last ? 1 : 0])]);
  nonce.writeUInt32BE(index, 7);
  const start = headerLength + index * (chunkSize + 16);
  const end = last ? sealed.length : start + chunkSize + 16;
  const decipher = createDecipheriv('aes-256-gcm', fileKey, nonce);
  decipher.setAAD(sealed.subarray(0, headerLength));
  decipher.setAuthTag(sealed.subarray(end - 16, end));
  return Buffer.concat([decipher.update(sealed.subarray(start, end - 16)), decipher.final()]);
}

describe('format v1 on disk', () => {
  test('the header is magic, version, key id length, key id, salt, nonce prefix, chunk size', async () => {
    const sealed = await encrypt(random(10), { chunkSize: 4096 });
    assert.equal(sealed.subarray(0, 6).toString('ascii'), 'PGWENC');
    assert.equal(sealed[6], 1);
    assert.equal(sealed[7], 5);
    assert.equal(sealed.subarray(8, 13).toString('utf8'), 'k2026');
    assert.equal(sealed.readUInt32BE(36), 4096);
    assert.deepEqual(readHeader(sealed), { version: 1, keyId: 'k2026', chunkSize: 4096, headerLength: 40 });
  });

  test('records are sealed under the per-file HKDF key with nonce = prefix ‖ counter ‖ last flag', async () => {
    const plaintext = random(2500);
    const sealed = await encrypt(plaintext, { chunkSize: 1000 });
    const masterKey = keyOf(K2026).key;
    const opened = [0, 1].map((i) => openBySpec(sealed, masterKey, i, false));
    opened.push(openBySpec(sealed, masterKey, 2, true));
    assert.deepEqual(Buffer.concat(opened), plaintext);
    // The flag is part of the nonce: the final record does not open as a middle one.
    assert.throws(() => openBySpec(sealed, masterKey, 2, false));
  });

  test('a stream that is an exact number of chunks ends with a full record flagged last', async () => {
    const plaintext = random(2000);
    const sealed = await encrypt(plaintext, { chunkSize: 1000 });
    assert.equal(sealed.length, 40 + 2 * 1016);
    assert.deepEqual(openBySpec(sealed, keyOf(K2026).key, 1, true), plaintext.subarray(1000));
  });

  test('an empty input becomes a header and one empty record flagged last', async () => {
    const sealed = await encrypt(Buffer.alloc(0));
    assert.equal(sealed.length, 40 + 16);
    assert.equal(openBySpec(sealed, keyOf(K2026).key, 0, true).length, 0);
  });
});

describe('readHeader', () => {
  test('asks for more bytes until the whole header is there', async () => {
    const sealed = await encrypt(random(10));
    for (let length = 0; length < 40; length += 1) {
      assert.equal(readHeader(sealed.subarray(0, length)), undefined, `with ${length} bytes`);
    }
    assert.equal(readHeader(sealed.subarray(0, 40))?.headerLength, 40);
  });

  test('refuses non-matching bytes as soon as they differ from the magic', () => {
    assert.equal(readHeader(Buffer.from('PGW')), undefined);
    assert.throws(() => readHeader(Buffer.from([0x1f])), { message: 'not a pgwarden encrypted stream (bad magic)' });
    assert.throws(() => readHeader(Buffer.from('PGX')), { name: 'EncryptionError', message: 'not a pgwarden encrypted stream (bad magic)' });
  });

  test('refuses a header with an empty key id', () => {
    const header = Buffer.from([...Buffer.from('PGWENC'), 1, 0]);
    assert.throws(() => readHeader(header), { message: 'encrypted stream has a corrupt header: its key id is empty' });
  });
});

test('isEncrypted recognises the magic and nothing shorter', async () => {
  const sealed = await encrypt(random(10));
  assert.equal(isEncrypted(sealed), true);
  assert.equal(isEncrypted(sealed.subarray(0, 6)), true);
  assert.equal(isEncrypted(sealed.subarray(0, 5)), false);
  assert.equal(isEncrypted(Buffer.from('PGDMP custom-format dump')), false);
  assert.equal(isEncrypted(Buffer.alloc(0)), false);
});

test('encryptedSize counts the header, one tag per record and the final record', () => {
  assert.equal(encryptedSize(0, 5, 1000), 40 + 16);
  assert.equal(encryptedSize(1, 5, 1000), 40 + 1 + 16);
  assert.equal(encryptedSize(1000, 5, 1000), 40 + 1000 + 16);
  assert.equal(encryptedSize(1001, 5, 1000), 40 + 1001 + 32);
});

describe('createEncryptStream refuses arguments it cannot honour', () => {
  const key = keyOf(K2026);
  const cases: [string, () => unknown, string][] = [
    ['a key that is not 32 bytes', () => createEncryptStream({ id: 'k', key: Buffer.alloc(16) }), 'encryption key "k" must be 32 bytes, got 16'],
    ['an empty key id', () => createEncryptStream({ id: '', key: key.key }), 'encryption key id must be 1..255 bytes, got 0'],
    ['a key id over 255 bytes', () => createEncryptStream({ id: 'k'.repeat(256), key: key.key }), 'encryption key id must be 1..255 bytes, got 256'],
    ['a zero chunk size', () => createEncryptStream(key, { chunkSize: 0 }), 'encryption chunk size must be an integer in 1..4194304, got 0'],
    ['a chunk size over 4 MiB', () => createEncryptStream(key, { chunkSize: 4194305 }), 'encryption chunk size must be an integer in 1..4194304, got 4194305'],
  ];
  for (const [what, create, message] of cases) {
    test(`such as ${what}`, () => {
      assert.throws(create, (error: unknown) => error instanceof EncryptionError && error.message === message);
    });
  }
});
