// The WAL envelope (envelope.ts): the wrapped data key in front of a pgwenc-1 stream parses back from any
// split of the input, and a damaged one is refused with a message that says so, before any KMS call.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { dataKeyId, ENVELOPE_MAGIC, encodeEnvelope, parseEnvelope, startsLikeEnvelope } from '../../../src/crypto/envelope.js';
import { createKeyRing } from '../../../src/crypto/keyring.js';
import { encrypt, keyOf, K2026 } from './fixtures.js';
import { decrypt } from './fixtures.js';

const ENVELOPE = { kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab', wrapped: randomBytes(184) };

test('an envelope parses back from every prefix length, and says when it needs more bytes', () => {
  const bytes = encodeEnvelope(ENVELOPE);
  assert.equal(bytes.length, 6 + 1 + 1 + ENVELOPE.kmsKeyId.length + 2 + 184);
  assert.ok(bytes.subarray(0, 6).equals(ENVELOPE_MAGIC));
  for (let length = 0; length < bytes.length; length++) {
    const prefix = bytes.subarray(0, length);
    assert.equal(startsLikeEnvelope(prefix), length > 0, `startsLikeEnvelope with ${length} bytes`);
    assert.equal(parseEnvelope(prefix), undefined, `with ${length} bytes`);
  }
  const parsed = parseEnvelope(Buffer.concat([bytes, Buffer.from('PGWENC…')]));
  assert.deepEqual(parsed, { envelope: ENVELOPE, length: bytes.length });
  assert.equal(startsLikeEnvelope(Buffer.from('PGWENC')), false);
  assert.equal(startsLikeEnvelope(Buffer.from('PGW')), true, 'three bytes could still be either');
});

test('a damaged envelope is refused: unknown version, empty key id, impossible wrapped-key length', () => {
  const bytes = encodeEnvelope(ENVELOPE);
  const version = Buffer.from(bytes);
  version[6] = 2;
  assert.throws(() => parseEnvelope(version), { name: 'EncryptionError', message: 'unsupported KMS envelope version 2 (this pgwarden reads version 1)' });
  const emptyId = Buffer.from(bytes);
  emptyId[7] = 0;
  assert.throws(() => parseEnvelope(emptyId), { message: 'encrypted stream has a corrupt KMS envelope: its KMS key id is empty' });
  const length = Buffer.from(bytes);
  length.writeUInt16BE(0xffff, 8 + ENVELOPE.kmsKeyId.length);
  assert.throws(() => parseEnvelope(length), { message: 'encrypted stream has a corrupt KMS envelope: its wrapped key length 65535 is outside 1..6144' });
  assert.throws(() => encodeEnvelope({ kmsKeyId: '', wrapped: ENVELOPE.wrapped }), /KMS key id must be 1\.\.255 bytes, got 0/);
  assert.throws(() => encodeEnvelope({ kmsKeyId: 'k', wrapped: Buffer.alloc(0) }), /a wrapped data key must be 1\.\.6144 bytes, got 0/);
});

test("a data key's id is derived from its wrapped copy and fits a pgwenc-1 header", () => {
  const id = dataKeyId(ENVELOPE.wrapped);
  assert.match(id, /^kms-[0-9a-f]{32}$/);
  assert.equal(dataKeyId(Buffer.from(ENVELOPE.wrapped)), id);
  const other = Buffer.from(ENVELOPE.wrapped);
  other[0]! ^= 1;
  assert.notEqual(dataKeyId(other), id);
});

test('a stream with an envelope in front needs a key ring with KMS, and says so', async () => {
  const key = { ...keyOf(K2026), id: dataKeyId(ENVELOPE.wrapped), envelope: ENVELOPE };
  const sealed = await encrypt(Buffer.from('wal bytes'), { key });
  assert.ok(sealed.subarray(0, 6).equals(ENVELOPE_MAGIC));
  await assert.rejects(decrypt(sealed, createKeyRing([K2026])), {
    name: 'EncryptionError',
    message: `the data key is wrapped by KMS key ${ENVELOPE.kmsKeyId}, and encryption.kms is not configured`,
  });
});
