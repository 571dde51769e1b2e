// The decrypting stage of restore and verify: format v1 (format.ts) in, authenticated plaintext out.
// Every failure is an EncryptionError passed to the stream callback, so `pipeline` rejects with it.
// A KMS data key (envelope.ts) is unwrapped when the header arrives: its wrapped copy comes from the manifest
// (options.envelope) or from the WAL envelope in front of the stream.

import { Transform, type TransformCallback } from 'node:stream';
import { EncryptionError } from '../errors.js';
import { openEnvelope, parseEnvelope, startsLikeEnvelope } from './envelope.js';
import { deriveFileKey, type HeaderCipherFields, MAX_RECORDS, newNonce, parseHeader, recordOffset, setNonceCounter, TAG_BYTES } from './format.js';
import { createFramer, type Framer } from './framer.js';
import { openRecord } from './record.js';
import type { EncryptionHeader, KeyRing, WrappedKey } from './types.js';

const OTHER_COPY_HINT = 'restore from another copy (the replica region or another storage target)';

interface Session {
  header: EncryptionHeader;
  /** The header bytes: the AAD of every record. */
  aad: Buffer;
  fileKey: Buffer;
  nonce: Buffer;
  /** Frames are whole records; the last one is held until the input ends. */
  framer: Framer;
  counter: number;
}

export interface DecryptStreamOptions {
  /** The artifact's KMS-wrapped data key, from its manifest. */
  envelope?: WrappedKey | undefined;
}

/** Where the stream's records start, and the wrapped data key when a WAL envelope precedes the header. */
type StreamStart = { header: EncryptionHeader & HeaderCipherFields; envelope: WrappedKey | undefined; bodyAt: number };

export function createDecryptStream(keyring: KeyRing, options: DecryptStreamOptions = {}): Transform {
  let session: Session | undefined;
  let headerBytes: Buffer | undefined;
  let received = 0;

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      received += chunk.length;
      if (session !== undefined) {
        try {
          session.framer.write(chunk, (record) => openMiddle(session!, record));
          callback();
        } catch (error) {
          callback(error as Error);
        }
        return;
      }
      // Only the first few writes land here, so joining them costs nothing that matters.
      const start = headerBytes === undefined ? chunk : Buffer.concat([headerBytes, chunk]);
      let parsed: StreamStart | undefined;
      try {
        parsed = parseStart(start);
      } catch (error) {
        callback(error as Error);
        return;
      }
      if (parsed === undefined) {
        headerBytes = start;
        callback();
        return;
      }
      headerBytes = undefined;
      const { header, bodyAt } = parsed;
      // Unwrapping a KMS data key is a network call: the stream waits for it (backpressure holds the input).
      findKey(keyring, header, parsed.envelope ?? options.envelope)
        .then((masterKey) => {
          const s = startSession(header, masterKey);
          session = s;
          s.framer.write(start.subarray(bodyAt), (record) => openMiddle(s, record));
        })
        .then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      try {
        if (session === undefined) throw truncated(received);
        openFinal(session, session.framer.rest());
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });

  /** A full record with more input after it: it must be a non-final one. */
  function openMiddle(s: Session, record: Buffer): void {
    const plaintext = open(s, record, false);
    if (plaintext !== undefined) {
      for (const part of plaintext) stream.push(part);
      s.counter += 1;
      return;
    }
    if (open(s, record, true) !== undefined) throw trailingData(s);
    throw authenticationFailed(s, 'middle');
  }

  /** What is left when the input ends: the final record, or evidence that it is missing. */
  function openFinal(s: Session, record: Buffer): void {
    if (record.length < TAG_BYTES) throw truncated(received);
    const plaintext = open(s, record, true);
    if (plaintext !== undefined) {
      for (const part of plaintext) stream.push(part);
      return;
    }
    // A whole record that opens as a middle one: the stream was cut at a record boundary.
    const whole = record.length === s.header.chunkSize + TAG_BYTES;
    if (whole && open(s, record, false) !== undefined) throw truncated(received);
    throw authenticationFailed(s, whole ? 'middle' : 'end');
  }

  function open(s: Session, record: Buffer, last: boolean): Buffer[] | undefined {
    if (s.counter >= MAX_RECORDS) {
      throw new EncryptionError(`encrypted stream has more than ${MAX_RECORDS} chunks, more than the format allows`, {
        hints: [OTHER_COPY_HINT],
      });
    }
    return openRecord(s.fileKey, setNonceCounter(s.nonce, s.counter, last), s.aad, record);
  }

  function trailingData(s: Session): EncryptionError {
    const end = recordOffset(s.header, s.counter + 1);
    return new EncryptionError(
      `encrypted stream has trailing data after its final chunk (chunk ${s.counter}, which ends at byte offset ${end})`,
      { hints: [`the artifact was extended or joined to another; its first ${end} bytes are a complete encrypted stream`] },
    );
  }

  /** `end`: the short record the input ended with, which a cut inside it explains as well as tampering. */
  function authenticationFailed(s: Session, where: 'middle' | 'end'): EncryptionError {
    const keyId = JSON.stringify(s.header.keyId);
    const orTruncated = where === 'end' ? ', or the stream is truncated' : '';
    if (s.counter === 0) {
      return new EncryptionError(`decryption failed with key ${keyId}: wrong key, or the data was altered${orTruncated}`, {
        hints: [
          `check that encryption.keys entry ${keyId} holds the key this backup was written with: a key replaced under the same id cannot decrypt older backups`,
          `if the key is right, the artifact was altered or cut short: ${OTHER_COPY_HINT}`,
        ],
      });
    }
    const at = `decryption failed at chunk ${s.counter} (byte offset ${recordOffset(s.header, s.counter)})`;
    if (where === 'end') {
      return new EncryptionError(`${at}: the data was altered${orTruncated}`, {
        hints: ["compare the artifact's size with the stored size in its manifest: a smaller one was cut short", OTHER_COPY_HINT],
      });
    }
    return new EncryptionError(`${at}: the data was altered or reordered`, { hints: [OTHER_COPY_HINT] });
  }

  return stream;
}

/** The header at the start of `buf`, after the WAL envelope if one precedes it; undefined when more bytes are needed. */
function parseStart(buf: Buffer): StreamStart | undefined {
  if (!startsLikeEnvelope(buf)) {
    const header = parseHeader(buf);
    return header && { header, envelope: undefined, bodyAt: header.headerLength };
  }
  const opened = parseEnvelope(buf);
  if (opened === undefined) return undefined;
  const header = parseHeader(buf.subarray(opened.length));
  return header && { header, envelope: opened.envelope, bodyAt: opened.length + header.headerLength };
}

/** The master key of a stream: its KMS data key when it has a wrapped one, else the ring's key of the header's id. */
async function findKey(keyring: KeyRing, header: EncryptionHeader, envelope: WrappedKey | undefined): Promise<Buffer> {
  if (envelope !== undefined) return openEnvelope(keyring, envelope, header.keyId);
  const masterKey = keyring.get(header.keyId);
  if (masterKey === undefined) {
    const have = keyring.ids();
    const keyId = JSON.stringify(header.keyId);
    throw new EncryptionError(
      `backup is encrypted with key ${keyId}, which is not in encryption.keys (have: ${have.length > 0 ? have.join(', ') : 'none'})`,
      {
        hints: [
          `add the key with id ${keyId} to encryption.keys, after the first entry: the first key encrypts new backups, every listed key decrypts`,
        ],
      },
    );
  }
  return masterKey;
}

function startSession(parsed: EncryptionHeader & HeaderCipherFields, masterKey: Buffer): Session {
  const { version, keyId, chunkSize, headerLength } = parsed;
  return {
    header: { version, keyId, chunkSize, headerLength },
    // A copy, so the (possibly large) first input buffer is not kept alive for the whole stream.
    aad: Buffer.from(parsed.bytes),
    fileKey: deriveFileKey(masterKey, parsed.salt),
    nonce: newNonce(parsed.noncePrefix),
    framer: createFramer(chunkSize + TAG_BYTES),
    counter: 0,
  };
}

function truncated(received: number): EncryptionError {
  return new EncryptionError(`encrypted stream is truncated after ${received} bytes (no final chunk)`, {
    hints: ["compare the artifact's size with the stored size in its manifest", OTHER_COPY_HINT],
  });
}
