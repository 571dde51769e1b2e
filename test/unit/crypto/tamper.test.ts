// Every way an encrypted artifact can be wrong is caught, with a message that says which way and where.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before, describe, test } from 'node:test';
import { createKeyRing } from '../../../src/crypto/keyring.js';
import { createDecryptStream } from '../../../src/crypto/stream.js';
import { EncryptionError } from '../../../src/errors.js';
import { assertDecryptFails, base64Key, collector, decrypt, encrypt, flipBit, K2025, K2026, keyOf, random } from './fixtures.js';

// Layout with key id "k2026" and 1000-byte chunks: a 40-byte header, then 1016-byte records.
const CHUNK = 1000;
const HEADER = 40;
const RECORD = CHUNK + 16;
const recordAt = (index: number): number => HEADER + index * RECORD;

// 3.5 chunks: three full records, then a final one holding 500 bytes.
const shortTail = random(3 * CHUNK + 500);
// Exactly three chunks: the final record is a full one.
const exact = random(3 * CHUNK);
let sealedShort: Buffer;
let sealedExact: Buffer;

before(async () => {
  sealedShort = await encrypt(shortTail, { chunkSize: CHUNK });
  sealedExact = await encrypt(exact, { chunkSize: CHUNK });
  assert.equal(sealedShort.length, recordAt(3) + 516);
  assert.equal(sealedExact.length, recordAt(3));
});

const truncatedAfter = (bytes: number): string => `encrypted stream is truncated after ${bytes} bytes (no final chunk)`;

describe('wrong or missing key', () => {
  test('a different key under the same id fails on the first record, naming the key', async () => {
    const impostor = createKeyRing([{ id: 'k2026', key: base64Key('not the key of 2026') }]);
    const error = await assertDecryptFails(
      sealedShort,
      'decryption failed with key "k2026": wrong key, or the data was altered',
      impostor,
    );
    assert.match(error.hints.join('\n'), /a key replaced under the same id cannot decrypt older backups/);
  });

  test('a key id missing from the ring is named, with the ids the ring has and how to fix it', async () => {
    const sealed = await encrypt(random(100), { key: keyOf(K2025) });
    const error = await assertDecryptFails(
      sealed,
      'backup is encrypted with key "k2025", which is not in encryption.keys (have: k2026)',
    );
    assert.match(error.hints.join('\n'), /add the key with id "k2025" to encryption\.keys/);
  });

  test('an empty ring says it has no keys', async () => {
    await assertDecryptFails(
      sealedShort,
      'backup is encrypted with key "k2026", which is not in encryption.keys (have: none)',
      createKeyRing([]),
    );
  });

  test('no error message or hint contains key material', async () => {
    const impostor = createKeyRing([{ id: 'k2026', key: K2025.key }]);
    const error = await assertDecryptFails(
      sealedShort,
      'decryption failed with key "k2026": wrong key, or the data was altered',
      impostor,
    );
    for (const text of [error.message, ...error.hints]) {
      assert.ok(!text.includes(K2025.key) && !text.includes(K2026.key));
    }
  });
});

describe('not our format', () => {
  test('plain data is refused from its first bytes', async () => {
    await assertDecryptFails(Buffer.from([0x1f, 0x8b, 0x08, 0x00]), 'not a pgwarden encrypted stream (bad magic)');
    await assertDecryptFails(Buffer.from('PGDMP'), 'not a pgwarden encrypted stream (bad magic)');
  });

  test('a newer format version is refused, saying which versions this code reads', async () => {
    const future = Buffer.from(sealedShort);
    future[6] = 2;
    await assertDecryptFails(future, 'unsupported encryption format version 2 (this pgwarden reads version 1)');
  });
});

describe('truncation', () => {
  const cuts: [string, number][] = [
    ['to nothing', 0],
    ['inside the magic', 3],
    ['inside the key id', 10],
    ['inside the salt', 20],
    ['one byte short of a whole header', HEADER - 1],
    ['right after the header', HEADER],
    ['at the first record boundary', recordAt(1)],
    ['at a later record boundary', recordAt(2)],
    ['by dropping exactly the last record', recordAt(3)],
    ['leaving less than a tag of a record', recordAt(2) + 15],
  ];
  for (const [where, length] of cuts) {
    test(`a stream cut ${where} is reported as truncated`, async () => {
      await assertDecryptFails(sealedShort.subarray(0, length), truncatedAfter(length));
    });
  }

  test('dropping a final record that was full is reported as truncated', async () => {
    await assertDecryptFails(sealedExact.subarray(0, recordAt(2)), truncatedAfter(recordAt(2)));
  });

  test('a cut inside a record is reported at that chunk, with truncation as a cause', async () => {
    await assertDecryptFails(
      sealedShort.subarray(0, recordAt(2) + 500),
      `decryption failed at chunk 2 (byte offset ${recordAt(2)}): the data was altered, or the stream is truncated`,
    );
  });

  test('a cut inside the first record names the key and truncation as causes', async () => {
    await assertDecryptFails(
      sealedShort.subarray(0, HEADER + 500),
      'decryption failed with key "k2026": wrong key, or the data was altered, or the stream is truncated',
    );
  });
});

describe('altered bytes', () => {
  test('a flipped bit in the header is caught by the first record', async () => {
    await assertDecryptFails(
      flipBit(sealedShort, 20),
      'decryption failed with key "k2026": wrong key, or the data was altered',
    );
  });

  test('a flipped bit in the key id makes the header name a key the ring lacks', async () => {
    // "k2026" → "k2027"
    await assertDecryptFails(
      flipBit(sealedShort, 12),
      'backup is encrypted with key "k2027", which is not in encryption.keys (have: k2026)',
    );
  });

  test('a chunk size outside the format is reported as a corrupt header', async () => {
    await assertDecryptFails(
      flipBit(sealedShort, HEADER - 4, 7),
      'encrypted stream has a corrupt header: its chunk size 2147484648 is outside 1..4194304',
    );
  });

  test('a flipped bit in the first record fails it as wrong key or altered data', async () => {
    await assertDecryptFails(
      flipBit(sealedShort, HEADER + 10),
      'decryption failed with key "k2026": wrong key, or the data was altered',
    );
  });

  test('a flipped bit in a middle record is reported at that chunk and byte offset', async () => {
    await assertDecryptFails(
      flipBit(sealedShort, recordAt(2) + 123, 5),
      `decryption failed at chunk 2 (byte offset ${recordAt(2)}): the data was altered or reordered`,
    );
  });

  test('a flipped bit in the tag of a short last record is reported at that chunk', async () => {
    await assertDecryptFails(
      flipBit(sealedShort, sealedShort.length - 1),
      `decryption failed at chunk 3 (byte offset ${recordAt(3)}): the data was altered, or the stream is truncated`,
    );
  });

  test('a flipped bit in the tag of a full last record is reported at that chunk', async () => {
    await assertDecryptFails(
      flipBit(sealedExact, sealedExact.length - 1),
      `decryption failed at chunk 2 (byte offset ${recordAt(2)}): the data was altered or reordered`,
    );
  });

  test('every single flipped bit of a small stream is detected', async () => {
    const sealed = await encrypt(random(150), { chunkSize: 64 });
    for (let offset = 0; offset < sealed.length; offset += 1) {
      for (let bit = 0; bit < 8; bit += 1) {
        await assert.rejects(decrypt(flipBit(sealed, offset, bit)), EncryptionError, `bit ${bit} of byte ${offset}`);
      }
    }
  });

  test('plaintext of an altered record never leaves the decryptor; the records before it do', async () => {
    const sink = collector();
    const altered = flipBit(sealedShort, recordAt(2) + 7);
    await assert.rejects(pipeline(Readable.from([altered]), createDecryptStream(createKeyRing([K2026])), sink), EncryptionError);
    assert.deepEqual(sink.received(), shortTail.subarray(0, 2 * CHUNK));
  });

  test('a 1 MiB record opened in parts leaves nothing when its last part is altered', async () => {
    // The default chunk size: a record is decrypted in 256 KiB parts, all held until its tag checks out.
    const big = 1024 * 1024;
    const plaintext = random(3 * big);
    const sealed = await encrypt(plaintext, { chunkSize: big });
    const secondRecordEnd = HEADER + 2 * (big + 16);
    const sink = collector();
    const altered = flipBit(sealed, secondRecordEnd - 16 - 100);
    await assert.rejects(pipeline(Readable.from([altered]), createDecryptStream(createKeyRing([K2026])), sink), {
      message: `decryption failed at chunk 1 (byte offset ${HEADER + big + 16}): the data was altered or reordered`,
    });
    assert.deepEqual(sink.received(), plaintext.subarray(0, big));
  });
});

describe('reordered and extra records', () => {
  test('two swapped records are reported at the first out-of-place chunk', async () => {
    const swapped = Buffer.concat([
      sealedShort.subarray(0, recordAt(1)),
      sealedShort.subarray(recordAt(2), recordAt(3)),
      sealedShort.subarray(recordAt(1), recordAt(2)),
      sealedShort.subarray(recordAt(3)),
    ]);
    await assertDecryptFails(
      swapped,
      `decryption failed at chunk 1 (byte offset ${recordAt(1)}): the data was altered or reordered`,
    );
  });

  test('a duplicated record is reported where the copy sits', async () => {
    const duplicated = Buffer.concat([sealedShort.subarray(0, recordAt(2)), sealedShort.subarray(recordAt(1))]);
    await assertDecryptFails(
      duplicated,
      `decryption failed at chunk 2 (byte offset ${recordAt(2)}): the data was altered or reordered`,
    );
  });

  test('garbage after a full final record is reported as trailing data', async () => {
    await assertDecryptFails(
      Buffer.concat([sealedExact, Buffer.from('garbage')]),
      `encrypted stream has trailing data after its final chunk (chunk 2, which ends at byte offset ${recordAt(3)})`,
    );
  });

  test('a second stream appended after the first is reported as trailing data', async () => {
    await assertDecryptFails(
      Buffer.concat([sealedExact, sealedShort]),
      `encrypted stream has trailing data after its final chunk (chunk 2, which ends at byte offset ${recordAt(3)})`,
    );
  });

  test('garbage after a short final record is caught at that record', async () => {
    // Records do not carry their length, so the final record's end cannot be told from the garbage.
    await assertDecryptFails(
      Buffer.concat([sealedShort, Buffer.from('garbage')]),
      `decryption failed at chunk 3 (byte offset ${recordAt(3)}): the data was altered, or the stream is truncated`,
    );
  });
});

test('an empty encrypted stream still needs its final record', async () => {
  const sealed = await encrypt(Buffer.alloc(0));
  assert.equal(sealed.length, HEADER + 16);
  assert.equal((await decrypt(sealed)).length, 0);
  await assertDecryptFails(sealed.subarray(0, HEADER + 15), truncatedAfter(HEADER + 15));
});
