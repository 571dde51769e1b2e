// Contracts of the encryption concern: the key ring built from config, KMS envelope encryption, and what a
// header says.

/** A master key and the id written into every header it encrypts, so decryption can find it again. */
export interface EncryptionKey {
  id: string;
  /** 32 bytes (AES-256). Never logged or put in an error message. */
  key: Buffer;
  /**
   * Set for a KMS data key whose wrapped copy must travel inside the stream (WAL objects, which have no
   * manifest): the encryptor writes it in front of the pgwenc-1 header (envelope.ts).
   */
  envelope?: WrappedKey | undefined;
}

/** A data key as KMS wrapped it: safe to store next to what it encrypts. */
export interface WrappedKey {
  /** The KMS key that wrapped it, as KMS names it (the key ARN): Decrypt is asked to use exactly this key. */
  kmsKeyId: string;
  /** KMS GenerateDataKey's CiphertextBlob. */
  wrapped: Buffer;
}

/** How a manifest records the encryption of its artifact. */
export interface ArtifactEncryption {
  /** The key id in the artifact's header: a config key's id, or `kms-…` for a KMS data key. */
  keyId: string;
  format: 'pgwenc-1';
  /** Envelope encryption: the artifact's own data key, wrapped by KMS. Absent when a config key encrypted it. */
  kms?: { keyId: string; wrappedKey: string } | undefined;
}

/** A fresh data key from KMS: the plaintext encrypts one artifact and is then dropped; the wrapped copy is stored. */
export interface DataKey extends WrappedKey {
  /** 32 bytes. Never logged, never stored. */
  plaintext: Buffer;
}

/** AWS KMS as pgwarden uses it (kms.ts): data keys made and unwrapped under one configured KMS key. */
export interface KmsKeys {
  /** The configured key (`encryption.kms.keyId`: id, ARN or alias); safe to print. */
  readonly keyId: string;
  generateDataKey(): Promise<DataKey>;
  /** The plaintext of a wrapped data key, unwrapped by exactly the KMS key that wrapped it. */
  decrypt(key: WrappedKey): Promise<Buffer>;
}

/** Every configured key, by id: the first encrypts, all decrypt (rotation is adding a key in front). */
export interface KeyRing {
  /** The config key new artifacts are encrypted with, or undefined when no key is configured. */
  encryptionKey(): EncryptionKey | undefined;
  /** The key with this id (a copy), or undefined. */
  get(id: string): Buffer | undefined;
  /** All ids, in config order; safe to print. */
  ids(): string[];
  /** `encryption.kms`: when set, new artifacts get a data key of their own from KMS instead of a config key. */
  readonly kms?: KmsKeys | undefined;
  /**
   * The plaintext of a wrapped data key (a copy). Unwrapped by KMS once per `WrappedKey` object, so reading
   * one manifest's artifact twice (verify reads the whole, then the table of contents) costs one KMS call.
   */
  unwrap(key: WrappedKey): Promise<Buffer>;
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

/** A fixed key (from config), or one made for each new artifact (a KMS data key). */
export type KeySource = EncryptionKey | (() => Promise<EncryptionKey>);
