// The encrypting stage of the backup pipeline: plaintext in, format v1 (format.ts) out, memory flat; a KMS data
// key that must travel with the stream puts its WAL envelope (envelope.ts) first.

import { randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { EncryptionError } from '../errors.js';
import { encodeEnvelope } from './envelope.js';
import {
  DEFAULT_CHUNK_SIZE,
  deriveFileKey,
  encodeHeader,
  KEY_BYTES,
  MAX_CHUNK_SIZE,
  MAX_KEY_ID_BYTES,
  MAX_RECORDS,
  NONCE_PREFIX_BYTES,
  newNonce,
  SALT_BYTES,
  setNonceCounter,
} from './format.js';
import { createFramer } from './framer.js';
import { sealRecord } from './record.js';
import type { EncryptionKey, EncryptStreamOptions } from './types.js';

export function createEncryptStream(key: EncryptionKey, options: EncryptStreamOptions = {}): Transform {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  checkArguments(key, chunkSize);

  const random = randomBytes(SALT_BYTES + NONCE_PREFIX_BYTES);
  const salt = random.subarray(0, SALT_BYTES);
  const header = encodeHeader(key.id, salt, random.subarray(SALT_BYTES), chunkSize);
  const fileKey = deriveFileKey(key.key, salt);
  const nonce = newNonce(random.subarray(SALT_BYTES));
  // A chunk is sealed only once it is known whether it is the last, so the framer holds one back.
  const framer = createFramer(chunkSize);
  let counter = 0;

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        framer.write(chunk, (plaintext) => sealChunk(plaintext, false));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        sealChunk(framer.rest(), true);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });

  function sealChunk(plaintext: Buffer, last: boolean): void {
    if (counter >= MAX_RECORDS) {
      throw new EncryptionError(`stream is too long to encrypt: more than ${MAX_RECORDS} chunks of ${chunkSize} bytes`, {
        hints: ['use a larger chunk size'],
      });
    }
    const [ciphertext, tag] = sealRecord(fileKey, setNonceCounter(nonce, counter, last), header, plaintext);
    stream.push(ciphertext);
    stream.push(tag);
    counter += 1;
  }

  if (key.envelope) stream.push(encodeEnvelope(key.envelope));
  stream.push(header);
  return stream;
}

function checkArguments(key: EncryptionKey, chunkSize: number): void {
  if (key.key.length !== KEY_BYTES) {
    throw new EncryptionError(`encryption key "${key.id}" must be ${KEY_BYTES} bytes, got ${key.key.length}`);
  }
  const idBytes = Buffer.byteLength(key.id, 'utf8');
  if (idBytes === 0 || idBytes > MAX_KEY_ID_BYTES) {
    throw new EncryptionError(`encryption key id must be 1..${MAX_KEY_ID_BYTES} bytes, got ${idBytes}`);
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw new EncryptionError(`encryption chunk size must be an integer in 1..${MAX_CHUNK_SIZE}, got ${chunkSize}`);
  }
}
