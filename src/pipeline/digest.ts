// A pass-through stage that counts and hashes the bytes flowing through it, so one pass over the data
// yields its size and SHA-256 wherever the tap sits (raw dump, stored artifact).
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class DigestTap extends Transform {
  private readonly hash: Hash | undefined;
  private readonly onBytes: ((bytes: number) => void) | undefined;
  bytes = 0;

  /** `onBytes` hears the running total after each chunk (progress lines, the in-progress metric). */
  constructor(options: { hash: boolean; onBytes?: ((bytes: number) => void) | undefined }) {
    super({ highWaterMark: 1024 * 1024 });
    this.hash = options.hash ? createHash('sha256') : undefined;
    this.onBytes = options.onBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    this.onBytes?.(this.bytes);
    callback(null, chunk);
  }

  /** The hex SHA-256 of everything that passed; call once, after the stream finished. */
  sha256(): string {
    if (!this.hash) throw new Error('DigestTap was created without hashing');
    return this.hash.digest('hex');
  }
}
