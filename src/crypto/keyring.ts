// The key ring built from the `encryption` config: validates every key once at start, never echoing key
// material, and holds the KMS client when `encryption.kms` is set.

import { EncryptionError } from '../errors.js';
import { KEY_BYTES, MAX_KEY_ID_BYTES } from './format.js';
import { createKms, type KmsOptions } from './kms.js';
import type { EncryptionKey, KeyRing, KmsKeys, WrappedKey } from './types.js';

export type { EncryptionKey, KeyRing, KeySource } from './types.js';

/** The key ring of an `encryption` config section; undefined (nothing encrypted) without one. */
export function keyRingFromConfig(
  encryption: { keys?: readonly { id: string; key: string }[] | undefined; kms?: KmsOptions | undefined } | undefined,
): KeyRing | undefined {
  if (encryption === undefined) return undefined;
  return createKeyRing(encryption.keys ?? [], encryption.kms && createKms(encryption.kms));
}

// Strict: Buffer.from(…, 'base64') skips characters it does not know, so a mangled key would decode
// to something of the right length by luck and fail much later, on restore.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const GENERATE_HINT = 'generate a key with: openssl rand -base64 32';

export function createKeyRing(keys: readonly { id: string; key: string }[], kms?: KmsKeys): KeyRing {
  const byId = new Map<string, Buffer>();
  keys.forEach(({ id, key }, index) => {
    checkId(id, index, byId);
    byId.set(id, decodeKey(id, key));
  });
  const first = keys[0];
  // Keyed by the WrappedKey object (one per parsed manifest or WAL object), so entries go with it.
  const unwrapped = new WeakMap<WrappedKey, Promise<Buffer>>();

  return {
    encryptionKey(): EncryptionKey | undefined {
      return first === undefined ? undefined : { id: first.id, key: Buffer.from(byId.get(first.id)!) };
    },
    get(id: string): Buffer | undefined {
      const key = byId.get(id);
      return key === undefined ? undefined : Buffer.from(key);
    },
    ids(): string[] {
      return [...byId.keys()];
    },
    kms,
    async unwrap(wrapped: WrappedKey): Promise<Buffer> {
      if (kms === undefined) {
        throw new EncryptionError(`the data key is wrapped by KMS key ${wrapped.kmsKeyId}, and encryption.kms is not configured`, {
          hints: [`set encryption.kms (keyId, region and credentials allowed kms:Decrypt on ${wrapped.kmsKeyId})`],
        });
      }
      let pending = unwrapped.get(wrapped);
      if (pending === undefined) {
        pending = kms.decrypt(wrapped);
        unwrapped.set(wrapped, pending);
        // A failure is not remembered: the next read asks KMS again.
        pending.catch(() => unwrapped.delete(wrapped));
      }
      return Buffer.from(await pending);
    },
  };
}

function checkId(id: string, index: number, seen: Map<string, Buffer>): void {
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes === 0 || bytes > MAX_KEY_ID_BYTES) {
    throw new EncryptionError(`encryption.keys[${index}].id must be 1..${MAX_KEY_ID_BYTES} bytes, got ${bytes}`, {
      hints: ['the id is written into every encrypted artifact; a short name like "k2026" is enough'],
    });
  }
  if (seen.has(id)) {
    throw new EncryptionError(`encryption.keys has two keys with id "${id}"`, {
      hints: ['give each key its own id: artifacts name the key that decrypts them by id'],
    });
  }
}

function decodeKey(id: string, base64: string): Buffer {
  const text = base64.trim();
  const key = BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (key === undefined) {
    throw new EncryptionError(`encryption key "${id}" is not valid base64`, { hints: [GENERATE_HINT] });
  }
  if (key.length !== KEY_BYTES) {
    throw new EncryptionError(
      `encryption key "${id}" must be ${KEY_BYTES} bytes (base64 of 32 random bytes), got ${key.length} bytes`,
      { hints: [GENERATE_HINT] },
    );
  }
  return key;
}
