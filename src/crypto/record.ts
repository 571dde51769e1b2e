// Sealing and opening one record (AES-256-GCM of one chunk) as format.ts specifies.

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_BYTES } from './format.js';

/**
 * Plaintext is produced in parts of this size: each `update` allocates its output, and outputs of 1 MiB are
 * fresh memory every time (page faults, zeroing) while 256 KiB ones are reused by the allocator. Opening 186
 * records of 1 MiB took 137 ms in one update each and 67 ms in parts (Node 20, AES-NI); 16 KiB–256 KiB parts
 * cost the same.
 */
const OPEN_PART_BYTES = 256 * 1024;

/** Encrypts `plaintext` into ciphertext and tag, two buffers so the record is never copied to join them. */
export function sealRecord(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): [Buffer, Buffer] {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  return [ciphertext, cipher.getAuthTag()];
}

/**
 * Decrypts and authenticates one record (ciphertext ‖ tag, at least TAG_BYTES long). Returns the
 * plaintext, in parts, only once the tag checks out, so unauthenticated bytes never leave; undefined when it fails.
 */
export function openRecord(key: Buffer, nonce: Buffer, aad: Buffer, record: Buffer): Buffer[] | undefined {
  const tagAt = record.length - TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(record.subarray(tagAt));
  const parts: Buffer[] = [];
  for (let at = 0; at < tagAt; at += OPEN_PART_BYTES) parts.push(decipher.update(record.subarray(at, Math.min(at + OPEN_PART_BYTES, tagAt))));
  try {
    decipher.final();
  } catch {
    // OpenSSL says only "unable to authenticate data"; the caller knows which record and why it matters.
    return undefined;
  }
  return parts;
}
