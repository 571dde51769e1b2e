// The encryption concern's entry point: the two pipeline stages and the header helpers callers need
// to recognise and size encrypted artifacts (format in format.ts).

export { createDecryptStream } from './decrypt.js';
export { createEncryptStream } from './encrypt.js';
export { DEFAULT_CHUNK_SIZE, encryptedSize, isEncrypted, MAX_CHUNK_SIZE, readHeader } from './format.js';
export type { DecryptStreamOptions } from './decrypt.js';
export type { EncryptionHeader, EncryptionKey, EncryptStreamOptions, KeyRing } from './types.js';
