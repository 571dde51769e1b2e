// The key ring accepts exactly 32-byte base64 keys with distinct ids, and never repeats a key back.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKeyRing } from '../../../src/crypto/keyring.js';
import { EncryptionError } from '../../../src/errors.js';
import { K2025, K2026 } from './fixtures.js';

function assertRefused(keys: { id: string; key: string }[], message: string): EncryptionError {
  let caught: unknown;
  assert.throws(
    () => createKeyRing(keys),
    (error: unknown) => {
      caught = error;
      return true;
    },
  );
  assert.ok(caught instanceof EncryptionError);
  assert.equal(caught.message, message);
  return caught;
}

test('the first key encrypts and every key decrypts, by id', () => {
  const ring = createKeyRing([K2026, K2025]);
  const current = ring.encryptionKey();
  assert.equal(current?.id, 'k2026');
  assert.deepEqual(current?.key, Buffer.from(K2026.key, 'base64'));
  assert.deepEqual(ring.get('k2025'), Buffer.from(K2025.key, 'base64'));
  assert.equal(ring.get('k2024'), undefined);
  assert.deepEqual(ring.ids(), ['k2026', 'k2025']);
});

test('an empty ring has no encryption key', () => {
  const ring = createKeyRing([]);
  assert.equal(ring.encryptionKey(), undefined);
  assert.deepEqual(ring.ids(), []);
});

test('a caller that scribbles on a key it was given does not change the ring', () => {
  const ring = createKeyRing([K2026]);
  ring.get('k2026')!.fill(0);
  ring.encryptionKey()!.key.fill(0);
  assert.deepEqual(ring.get('k2026'), Buffer.from(K2026.key, 'base64'));
});

test('a key of the wrong length is refused with its id and size, never its value', () => {
  const short = Buffer.alloc(16, 7).toString('base64');
  const error = assertRefused(
    [{ id: 'k2026', key: short }],
    'encryption key "k2026" must be 32 bytes (base64 of 32 random bytes), got 16 bytes',
  );
  assert.ok(![error.message, ...error.hints].some((text) => text.includes(short)));
  assert.match(error.hints.join('\n'), /openssl rand -base64 32/);
});

test('a key that is not base64 is refused rather than decoded loosely', () => {
  // Buffer.from would skip the "!" and decode the rest to 32 bytes.
  const mangled = `${K2026.key.slice(0, 10)}!${K2026.key.slice(10)}`;
  const error = assertRefused([{ id: 'k2026', key: mangled }], 'encryption key "k2026" is not valid base64');
  assert.ok(![error.message, ...error.hints].some((text) => text.includes(mangled)));
});

test('surrounding whitespace, as a key file usually has, is ignored', () => {
  const ring = createKeyRing([{ id: 'k2026', key: `${K2026.key}\n` }]);
  assert.deepEqual(ring.get('k2026'), Buffer.from(K2026.key, 'base64'));
});

test('two keys with one id are refused', () => {
  assertRefused([K2026, { id: 'k2026', key: K2025.key }], 'encryption.keys has two keys with id "k2026"');
});

test('an id that cannot fit in a header is refused', () => {
  assertRefused([{ id: '', key: K2026.key }], 'encryption.keys[0].id must be 1..255 bytes, got 0');
  assertRefused([K2026, { id: 'é'.repeat(128), key: K2025.key }], 'encryption.keys[1].id must be 1..255 bytes, got 256');
});
