// Keys, data and stream plumbing shared by the encryption tests (not a test file itself).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EncryptionError } from '../../../src/errors.js';
import { createKeyRing } from '../../../src/crypto/keyring.js';
import { createDecryptStream, createEncryptStream } from '../../../src/crypto/stream.js';
import type { EncryptionKey, KeyRing } from '../../../src/crypto/types.js';

/** Deterministic, so a failing case reproduces; derived from a label, so keys differ from each other. */
export function base64Key(label: string): string {
  return createHash('sha256').update(label).digest('base64');
}

export const K2025 = { id: 'k2025', key: base64Key('key of 2025') };
export const K2026 = { id: 'k2026', key: base64Key('key of 2026') };

export function keyOf(entry: { id: string; key: string }): EncryptionKey {
  return { id: entry.id, key: Buffer.from(entry.key, 'base64') };
}

export const ring2026: KeyRing = createKeyRing([K2026]);

/** Splits `data` into writes whose sizes cycle through `sizes`, as a producer with odd buffer sizes would. */
export function* pieces(data: Buffer, sizes: readonly number[] = [data.length || 1]): Generator<Buffer> {
  for (let at = 0, i = 0; at < data.length; i += 1) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

/** A sink that keeps what it received, so a test can see what got out before an error. */
export function collector(): Writable & { received(): Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return Object.assign(sink, { received: () => Buffer.concat(chunks) });
}

export async function encrypt(
  data: Buffer,
  options: { key?: EncryptionKey; chunkSize?: number; writeSizes?: number[] } = {},
): Promise<Buffer> {
  const sink = collector();
  const stream = createEncryptStream(options.key ?? keyOf(K2026), { chunkSize: options.chunkSize });
  await pipeline(Readable.from(pieces(data, options.writeSizes)), stream, sink);
  return sink.received();
}

export async function decrypt(data: Buffer, ring: KeyRing = ring2026, writeSizes?: number[]): Promise<Buffer> {
  const sink = collector();
  await pipeline(Readable.from(pieces(data, writeSizes)), createDecryptStream(ring), sink);
  return sink.received();
}

/** Decrypting `data` rejects through `pipeline` with exactly this EncryptionError message. */
export async function assertDecryptFails(data: Buffer, message: string, ring: KeyRing = ring2026): Promise<EncryptionError> {
  let caught: unknown;
  await assert.rejects(decrypt(data, ring), (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof EncryptionError, `expected an EncryptionError, got ${String(caught)}`);
  assert.equal(caught.message, message);
  return caught;
}

export function random(length: number): Buffer {
  return randomBytes(length);
}

/** A copy of `data` with one bit flipped at byte `offset`. */
export function flipBit(data: Buffer, offset: number, bit = 0): Buffer {
  const copy = Buffer.from(data);
  copy[offset] = copy[offset]! ^ (1 << bit);
  return copy;
}
