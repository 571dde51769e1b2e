// The encrypted artifact format, version 1: one header, then fixed-size AES-256-GCM records.
// This comment is the specification (DESIGN.md, "One artifact, streamed"); change it only with the version.
//
// Header (all integers big-endian):
//   offset      size  field
//   0           6     magic, ASCII "PGWENC" (50 47 57 45 4E 43)
//   6           1     format version, 0x01
//   7           1     key id length L, 1..255
//   8           L     key id, UTF-8 (the `id` of an entry in `encryption.keys`)
//   8+L         16    salt, random per file
//   24+L        7     nonce prefix, random per file
//   31+L        4     chunk size C (uint32): plaintext bytes per record, 1..4 MiB
//   header length H = 35 + L
//
// File key: K = HKDF-SHA256(ikm = master key, salt = salt, info = "pgwarden encryption v1", 32 bytes).
// Every file gets its own key, so a nonce can never repeat under one key across files, whatever the
// random nonce prefixes do; the prefix is belt and braces.
//
// Records follow the header back to back, record i (i = 0, 1, ...) starting at H + i × (C + 16):
//   ciphertext of plaintext chunk i, then its 16-byte GCM tag
//   cipher  AES-256-GCM with key K
//   nonce   nonce prefix (7) ‖ i as uint32 (4) ‖ last flag (1): 0x01 on the final record, else 0x00
//   AAD     the whole header (H bytes), so no header field can be changed without detection
// Every record but the final one holds exactly C plaintext bytes; the final one holds 0..C
// (0 only for an empty stream) and is the only one flagged last. A stream always ends with exactly one
// final record, directly followed by the end of the data. This is the STREAM construction (Hoang,
// Reyhanitabar, Rogaway, Vizár 2015): the counter in the nonce detects reordering, dropping or
// duplicating records, and the last flag detects truncation at a record boundary.
// At most 2^32 records per stream (4 PiB at the default chunk size).
//
// Records are not self-delimiting: a reader learns that a record is the final one only when the input
// ends, so it holds one record back, and it cannot tell a cut inside the final record from an altered one.

import { hkdfSync } from 'node:crypto';
import { EncryptionError } from '../errors.js';
import type { EncryptionHeader } from './types.js';

export const MAGIC = Buffer.from('PGWENC', 'ascii');
export const FORMAT_VERSION = 1;
export const KEY_BYTES = 32;
export const SALT_BYTES = 16;
export const NONCE_PREFIX_BYTES = 7;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const MAX_KEY_ID_BYTES = 255;
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024;
/**
 * 1 MiB. Throughput is flat from 64 KiB to 4 MiB (test/bench/crypto.bench.ts: about 2 GB/s each way on
 * one core, ten times what the pipeline needs), so the choice weighs the rest: against 64 KiB it makes
 * 16× fewer cipher objects and tags (16 bytes per MiB), and raises the 2^32-record cap from 256 TiB to
 * 4 PiB per artifact; against 4 MiB it keeps a stream's memory near 3 MiB (the decryptor holds one record
 * back and decrypts the next) and avoids the very large allocations that made 4 MiB runs stutter.
 */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** The counter is a uint32 in the nonce. */
export const MAX_RECORDS = 2 ** 32;

const KDF_INFO = Buffer.from('pgwarden encryption v1', 'utf8');
// Bytes of the fixed-size fields before and after the key id.
const FIXED_BEFORE_KEY_ID = MAGIC.length + 2;
const FIXED_AFTER_KEY_ID = SALT_BYTES + NONCE_PREFIX_BYTES + 4;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The parts of a parsed header the cipher needs, beside what `readHeader` reports. */
export interface HeaderCipherFields {
  /** The exact header bytes: the AAD of every record. */
  bytes: Buffer;
  salt: Buffer;
  noncePrefix: Buffer;
}

/** Header bytes for a new stream; salt and nonce prefix come from the caller (random). */
export function encodeHeader(keyId: string, salt: Buffer, noncePrefix: Buffer, chunkSize: number): Buffer {
  const id = Buffer.from(keyId, 'utf8');
  const header = Buffer.allocUnsafe(FIXED_BEFORE_KEY_ID + id.length + FIXED_AFTER_KEY_ID);
  let at = MAGIC.copy(header, 0);
  at = header.writeUInt8(FORMAT_VERSION, at);
  at = header.writeUInt8(id.length, at);
  at += id.copy(header, at);
  at += salt.copy(header, at);
  at += noncePrefix.copy(header, at);
  header.writeUInt32BE(chunkSize, at);
  return header;
}

/** True when the bytes start like an encrypted stream; fewer than 6 bytes are never enough to say so. */
export function isEncrypted(firstBytes: Buffer): boolean {
  return firstBytes.length >= MAGIC.length && firstBytes.subarray(0, MAGIC.length).equals(MAGIC);
}

/**
 * Parses the header at the start of `buf`, or returns undefined when more bytes are needed.
 * Throws EncryptionError as soon as the bytes seen cannot start a stream this code reads.
 */
export function readHeader(buf: Buffer): EncryptionHeader | undefined {
  const parsed = parseHeader(buf);
  if (parsed === undefined) return undefined;
  const { version, keyId, chunkSize, headerLength } = parsed;
  return { version, keyId, chunkSize, headerLength };
}

/** `readHeader` plus the salt, nonce prefix and raw bytes the decryptor needs. */
export function parseHeader(buf: Buffer): (EncryptionHeader & HeaderCipherFields) | undefined {
  // Check the magic on whatever prefix has arrived, so plain data fails at once, not after 35 bytes.
  const seen = Math.min(buf.length, MAGIC.length);
  if (!buf.subarray(0, seen).equals(MAGIC.subarray(0, seen))) {
    throw new EncryptionError('not a pgwarden encrypted stream (bad magic)', {
      hints: ['the data does not start with "PGWENC": it is not encrypted, or not a pgwarden artifact'],
    });
  }
  if (buf.length <= MAGIC.length) return undefined;
  const version = buf.readUInt8(MAGIC.length);
  if (version !== FORMAT_VERSION) {
    throw new EncryptionError(
      `unsupported encryption format version ${version} (this pgwarden reads version ${FORMAT_VERSION})`,
      { hints: ['decrypt it with the pgwarden release that wrote it, or a newer one'] },
    );
  }
  if (buf.length < FIXED_BEFORE_KEY_ID) return undefined;
  const idLength = buf.readUInt8(MAGIC.length + 1);
  if (idLength === 0) throw corruptHeader('its key id is empty');
  const headerLength = FIXED_BEFORE_KEY_ID + idLength + FIXED_AFTER_KEY_ID;
  if (buf.length < headerLength) return undefined;

  const idEnd = FIXED_BEFORE_KEY_ID + idLength;
  let keyId: string;
  try {
    keyId = utf8.decode(buf.subarray(FIXED_BEFORE_KEY_ID, idEnd));
  } catch (error) {
    throw corruptHeader('its key id is not UTF-8', error);
  }
  const chunkSize = buf.readUInt32BE(headerLength - 4);
  if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
    throw corruptHeader(`its chunk size ${chunkSize} is outside 1..${MAX_CHUNK_SIZE}`);
  }
  return {
    version,
    keyId,
    chunkSize,
    headerLength,
    bytes: buf.subarray(0, headerLength),
    salt: buf.subarray(idEnd, idEnd + SALT_BYTES),
    noncePrefix: buf.subarray(idEnd + SALT_BYTES, idEnd + SALT_BYTES + NONCE_PREFIX_BYTES),
  };
}

function corruptHeader(why: string, cause?: unknown): EncryptionError {
  return new EncryptionError(`encrypted stream has a corrupt header: ${why}`, {
    cause,
    hints: ['the first bytes of the artifact were altered; restore from another copy'],
  });
}

/** The per-file key: HKDF-SHA256(master key, salt, "pgwarden encryption v1"). */
export function deriveFileKey(masterKey: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, salt, KDF_INFO, KEY_BYTES));
}

/** A 12-byte nonce buffer that starts with the prefix; `setNonceCounter` fills in the rest per record. */
export function newNonce(noncePrefix: Buffer): Buffer {
  const nonce = Buffer.alloc(NONCE_BYTES);
  noncePrefix.copy(nonce, 0);
  return nonce;
}

export function setNonceCounter(nonce: Buffer, counter: number, last: boolean): Buffer {
  nonce.writeUInt32BE(counter, NONCE_PREFIX_BYTES);
  nonce[NONCE_BYTES - 1] = last ? 1 : 0;
  return nonce;
}

/** Bytes in the header for a key id of `keyIdLength` UTF-8 bytes. */
export function headerLength(keyIdLength: number): number {
  return FIXED_BEFORE_KEY_ID + keyIdLength + FIXED_AFTER_KEY_ID;
}

/** Exact size of the encrypted stream for `plainBytes` of input: for storage pre-checks and verification. */
export function encryptedSize(plainBytes: number, keyIdLength: number, chunkSize: number = DEFAULT_CHUNK_SIZE): number {
  const records = Math.max(1, Math.ceil(plainBytes / chunkSize));
  return headerLength(keyIdLength) + plainBytes + records * TAG_BYTES;
}

/** Where record `index` starts in the encrypted stream: for error messages a person can check. */
export function recordOffset(header: EncryptionHeader, index: number): number {
  return header.headerLength + index * (header.chunkSize + TAG_BYTES);
}
