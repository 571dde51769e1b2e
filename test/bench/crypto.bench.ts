// Throughput of the encryption stages on one core: prints MB/s for encrypt and decrypt of a stream
// (512 MB by default) fed in pieces the size zlib emits. Not a test; the pipeline needs about 200 MB/s.
// Usage: node dist/test/bench/crypto.bench.js [megabytes] [chunkKiB] [pieceKiB]

import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createKeyRing } from '../../src/crypto/keyring.js';
import { createDecryptStream, createEncryptStream, DEFAULT_CHUNK_SIZE } from '../../src/crypto/stream.js';

const MB = 1_000_000;
const totalBytes = Number(process.argv[2] ?? 512) * MB;
const chunkSize = process.argv[3] === undefined ? DEFAULT_CHUNK_SIZE : Number(process.argv[3]) * 1024;
const pieceSize = Number(process.argv[4] ?? 16) * 1024;

const ring = createKeyRing([{ id: 'bench', key: randomBytes(32).toString('base64') }]);
const key = ring.encryptionKey()!;
// Random bytes, like compressed data; reused so the generator costs nothing next to the cipher.
const source = randomBytes(4 * 1024 * 1024);

function* plaintext(): Generator<Buffer> {
  for (let sent = 0; sent < totalBytes; sent += pieceSize) {
    const at = sent % (source.length - pieceSize);
    yield source.subarray(at, at + Math.min(pieceSize, totalBytes - sent));
  }
}

function counter(onChunk: (chunk: Buffer) => void = () => {}): Writable & { bytes: number } {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      sink.bytes += chunk.length;
      onChunk(chunk);
      callback();
    },
  }) as Writable & { bytes: number };
  sink.bytes = 0;
  return sink;
}

async function timed(run: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const encrypted = counter();
const encryptSeconds = await timed(() =>
  pipeline(Readable.from(plaintext()), createEncryptStream(key, { chunkSize }), encrypted),
);

// Decryption needs real ciphertext: encrypt once more, untimed, keeping it in memory (as much as the
// stream is long) so the timed pass measures the decryptor alone.
const ciphertext: Buffer[] = [];
await pipeline(Readable.from(plaintext()), createEncryptStream(key, { chunkSize }), counter((chunk) => ciphertext.push(chunk)));
const decrypted = counter();
const decryptSeconds = await timed(() => pipeline(Readable.from(ciphertext), createDecryptStream(ring), decrypted));
if (decrypted.bytes !== totalBytes) throw new Error(`decrypted ${decrypted.bytes} bytes, expected ${totalBytes}`);

const rate = (seconds: number): string => `${(totalBytes / MB / seconds).toFixed(0)} MB/s`;
console.log(
  `crypto: ${totalBytes / MB} MB, chunk ${chunkSize / 1024} KiB, writes of ${pieceSize / 1024} KiB: ` +
    `encrypt ${rate(encryptSeconds)}, decrypt ${rate(decryptSeconds)} ` +
    `(overhead ${encrypted.bytes - totalBytes} bytes)`,
);
