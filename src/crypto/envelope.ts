// Envelope encryption with KMS: every backup artifact and every WAL object gets a data key of its own from KMS
// GenerateDataKey; the pgwenc-1 stream (format.ts) is encrypted under it, and only its wrapped copy is kept:
//   backups   in the manifest, `artifact.encryption.kms = { keyId: <KMS key ARN>, wrappedKey: <base64> }`
//   WAL       in front of the object (below), since WAL has no manifest and wal-fetch reads one object alone
// Reading costs one KMS Decrypt per artifact or WAL object; writing one GenerateDataKey.
//
// Why a data key per WAL object rather than one shared by many: archive_command runs one process per segment,
// which could only share a key by storing it somewhere between runs, in plaintext (unacceptable) or wrapped
// (a KMS Decrypt per push, no fewer calls). One GenerateDataKey per segment is bounded by the WAL rate
// (a busy server archiving a segment a second makes 86 400 calls a day, well within KMS quotas).
//
// The data key's id in the pgwenc-1 header is `kms-` + the first 16 bytes of SHA-256(wrapped key), in hex.
// The header is authenticated with every record, so the id binds the stream to its wrapped key: a wrapped
// key that was altered or swapped is refused before KMS is asked.
//
// WAL envelope, version 1 (integers big-endian), directly followed by the pgwenc-1 stream:
//   offset  size  field
//   0       6     magic, ASCII "PGWKMS" (50 47 57 4B 4D 53)
//   6       1     envelope version, 0x01
//   7       1     length K of the KMS key id, 1..255
//   8       K     KMS key id, UTF-8: the ARN of the key that wrapped the data key
//   8+K     2     length W of the wrapped key, 1..6144
//   10+K    W     wrapped data key: KMS GenerateDataKey's CiphertextBlob
import { createHash } from 'node:crypto';
import { EncryptionError } from '../errors.js';
import { MAX_WRAPPED_KEY_BYTES } from './kms.js';
import type { ArtifactEncryption, EncryptionKey, KeyRing, KeySource, WrappedKey } from './types.js';

export const ENVELOPE_MAGIC = Buffer.from('PGWKMS', 'ascii');
export const ENVELOPE_VERSION = 1;
const MAX_KMS_KEY_ID_BYTES = 255;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The header key id of a KMS data key, derived from its wrapped copy. */
export function dataKeyId(wrapped: Buffer): string {
  return `kms-${createHash('sha256').update(wrapped).digest('hex').slice(0, 32)}`;
}

/** True when new artifacts are encrypted (a KMS key or a config key is configured). */
export function encryptsNewArtifacts(keyring: KeyRing | undefined): boolean {
  return keyring !== undefined && (keyring.kms !== undefined || keyring.encryptionKey() !== undefined);
}

/**
 * The key a new backup artifact is encrypted with, and how its manifest records it: a KMS data key of its own
 * when encryption.kms is set (one GenerateDataKey), else the ring's first key; undefined stores it plain.
 */
export async function newArtifactKey(keyring: KeyRing | undefined): Promise<{ key: EncryptionKey; encryption: ArtifactEncryption } | undefined> {
  if (keyring?.kms) {
    const data = await keyring.kms.generateDataKey();
    const id = dataKeyId(data.wrapped);
    return {
      key: { id, key: data.plaintext },
      encryption: { keyId: id, format: 'pgwenc-1', kms: { keyId: data.kmsKeyId, wrappedKey: data.wrapped.toString('base64') } },
    };
  }
  const key = keyring?.encryptionKey();
  return key && { key, encryption: { keyId: key.id, format: 'pgwenc-1' } };
}

/**
 * What new WAL objects are encrypted with: under KMS a fresh data key per object, made only when an object is
 * actually written, its wrapped copy in front of the stream; else the ring's first key.
 */
export function walKeySource(keyring: KeyRing | undefined): KeySource | undefined {
  const kms = keyring?.kms;
  if (kms) {
    return async () => {
      const data = await kms.generateDataKey();
      return { id: dataKeyId(data.wrapped), key: data.plaintext, envelope: { kmsKeyId: data.kmsKeyId, wrapped: data.wrapped } };
    };
  }
  return keyring?.encryptionKey();
}

// One WrappedKey per manifest record, so the key ring's once-per-object unwrap spans every read of one
// artifact made from one parsed manifest (a pure memo: it holds nothing a caller could observe).
const fromManifest = new WeakMap<object, WrappedKey>();
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What to configure to read an artifact encrypted as its manifest says, when no encryption is configured. */
export function missingKeyHint(encryption: ArtifactEncryption): string {
  return encryption.kms
    ? `set encryption.kms: the data key of this artifact is wrapped by KMS key ${encryption.kms.keyId}`
    : `add the key with id "${encryption.keyId}" to encryption.keys in the config`;
}

/** The wrapped data key a manifest records, or undefined when a config key encrypted the artifact. */
export function manifestWrappedKey(encryption: ArtifactEncryption | null | undefined): WrappedKey | undefined {
  const record = encryption?.kms;
  if (!record) return undefined;
  let key = fromManifest.get(record);
  if (!key) {
    if (!BASE64.test(record.wrappedKey) || record.wrappedKey.length === 0) {
      throw new EncryptionError(`the wrapped data key ${JSON.stringify(encryption.keyId)} in the manifest is not valid base64`, {
        hints: ['the manifest was altered: restore it from another storage target'],
      });
    }
    key = { kmsKeyId: record.keyId, wrapped: Buffer.from(record.wrappedKey, 'base64') };
    fromManifest.set(record, key);
  }
  return key;
}

/**
 * The plaintext data key for a stream whose header names `headerKeyId`, unwrapped by KMS from `envelope`
 * (the manifest's record, or the WAL envelope in front of the stream).
 */
export async function openEnvelope(keyring: KeyRing, envelope: WrappedKey, headerKeyId: string): Promise<Buffer> {
  const derived = dataKeyId(envelope.wrapped);
  if (derived !== headerKeyId) {
    throw new EncryptionError(
      `the wrapped data key does not belong to this encrypted stream: it is key ${JSON.stringify(derived)}, the stream was encrypted with ${JSON.stringify(headerKeyId)}`,
      { hints: ['the wrapped key (in the manifest, or in front of the WAL object) was altered or swapped: restore it from another storage target'] },
    );
  }
  return keyring.unwrap(envelope);
}

/** The WAL envelope's bytes, written before the pgwenc-1 header. */
export function encodeEnvelope(envelope: WrappedKey): Buffer {
  const id = Buffer.from(envelope.kmsKeyId, 'utf8');
  if (id.length < 1 || id.length > MAX_KMS_KEY_ID_BYTES) throw new EncryptionError(`KMS key id must be 1..${MAX_KMS_KEY_ID_BYTES} bytes, got ${id.length}`);
  if (envelope.wrapped.length < 1 || envelope.wrapped.length > MAX_WRAPPED_KEY_BYTES) {
    throw new EncryptionError(`a wrapped data key must be 1..${MAX_WRAPPED_KEY_BYTES} bytes, got ${envelope.wrapped.length}`);
  }
  const out = Buffer.allocUnsafe(ENVELOPE_MAGIC.length + 2 + id.length + 2 + envelope.wrapped.length);
  let at = ENVELOPE_MAGIC.copy(out, 0);
  at = out.writeUInt8(ENVELOPE_VERSION, at);
  at = out.writeUInt8(id.length, at);
  at += id.copy(out, at);
  at = out.writeUInt16BE(envelope.wrapped.length, at);
  envelope.wrapped.copy(out, at);
  return out;
}

/** True when `buf` (what has arrived so far) could still be, or is, the start of a WAL envelope. */
export function startsLikeEnvelope(buf: Buffer): boolean {
  const seen = Math.min(buf.length, ENVELOPE_MAGIC.length);
  return seen > 0 && buf.subarray(0, seen).equals(ENVELOPE_MAGIC.subarray(0, seen));
}

/**
 * Parses the WAL envelope at the start of `buf`, or returns undefined when more bytes are needed.
 * Call only when startsLikeEnvelope(buf).
 */
export function parseEnvelope(buf: Buffer): { envelope: WrappedKey; length: number } | undefined {
  if (buf.length <= ENVELOPE_MAGIC.length) return undefined;
  const version = buf.readUInt8(ENVELOPE_MAGIC.length);
  if (version !== ENVELOPE_VERSION) {
    throw new EncryptionError(`unsupported KMS envelope version ${version} (this pgwarden reads version ${ENVELOPE_VERSION})`, {
      hints: ['read it with the pgwarden release that wrote it, or a newer one'],
    });
  }
  if (buf.length < ENVELOPE_MAGIC.length + 2) return undefined;
  const idLength = buf.readUInt8(ENVELOPE_MAGIC.length + 1);
  const idAt = ENVELOPE_MAGIC.length + 2;
  if (idLength === 0) throw corruptEnvelope('its KMS key id is empty');
  if (buf.length < idAt + idLength + 2) return undefined;
  const wrappedLength = buf.readUInt16BE(idAt + idLength);
  if (wrappedLength === 0 || wrappedLength > MAX_WRAPPED_KEY_BYTES) throw corruptEnvelope(`its wrapped key length ${wrappedLength} is outside 1..${MAX_WRAPPED_KEY_BYTES}`);
  const wrappedAt = idAt + idLength + 2;
  if (buf.length < wrappedAt + wrappedLength) return undefined;
  let kmsKeyId: string;
  try {
    kmsKeyId = utf8.decode(buf.subarray(idAt, idAt + idLength));
  } catch (error) {
    throw corruptEnvelope('its KMS key id is not UTF-8', error);
  }
  // A copy: the input buffer may be large and is not kept.
  return { envelope: { kmsKeyId, wrapped: Buffer.from(buf.subarray(wrappedAt, wrappedAt + wrappedLength)) }, length: wrappedAt + wrappedLength };
}

function corruptEnvelope(why: string, cause?: unknown): EncryptionError {
  return new EncryptionError(`encrypted stream has a corrupt KMS envelope: ${why}`, {
    cause,
    hints: ['the first bytes of the object were altered; restore it from another storage target'],
  });
}
