// Contracts of the encryption concern: the key ring built from config and what a header says.

/** A master key and the id written into every header it encrypts, so decryption can find it again. */
export interface EncryptionKey {
  id: string;
  /** 32 bytes (AES-256). Never logged or put in an error message. */
  key: Buffer;
}

/** Every configured key, by id: the first encrypts, all decrypt (rotation is adding a key in front). */
export interface KeyRing {
  /** The key new backups are encrypted with, or undefined when no key is configured. */
  encryptionKey(): EncryptionKey | undefined;
  /** The key with this id (a copy), or undefined. */
  get(id: string): Buffer | undefined;
  /** All ids, in config order; safe to print. */
  ids(): string[];
}

/** What the header of an encrypted stream says, enough to pick a key and to size records. */
export interface EncryptionHeader {
  version: number;
  keyId: string;
  /** Plaintext bytes per record (the final record holds 0..chunkSize). */
  chunkSize: number;
  /** Bytes the header takes; the first record starts here. */
  headerLength: number;
}

export interface EncryptStreamOptions {
  /** Plaintext bytes per record, 1..4 MiB; defaults to DEFAULT_CHUNK_SIZE. */
  chunkSize?: number;
}
