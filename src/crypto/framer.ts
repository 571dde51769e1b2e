// Cuts a byte stream into fixed-size frames, holding the last one back until it is known whether more
// bytes follow: both the encryptor (plaintext chunks) and the decryptor (records) need exactly that.

/**
 * Called with each full frame that more bytes follow. The frame is a view into the input or into a
 * reused buffer: it is valid only during the call, so consume it there (a cipher's update copies).
 */
export type FrameHandler = (frame: Buffer) => void;

export interface Framer {
  write(bytes: Buffer, onFrame: FrameHandler): void;
  /** The bytes held at the end: a full frame, or a partial one (0..size bytes). Valid until the next write. */
  rest(): Buffer;
}

export function createFramer(size: number): Framer {
  // Small writes are gathered by copying into one reused buffer; the copy is cheap next to AES-GCM and
  // keeps cipher calls, and the buffers they allocate, few and large.
  let staging: Buffer | undefined;
  let filled = 0;

  return {
    write(bytes, onFrame) {
      let at = 0;
      while (at < bytes.length) {
        if (filled === size) {
          // The held frame is followed by more bytes, so it is not the last one.
          onFrame(staging!);
          filled = 0;
        }
        // A whole frame with more after it in this write: hand it over without copying.
        if (filled === 0 && bytes.length - at > size) {
          onFrame(bytes.subarray(at, at + size));
          at += size;
          continue;
        }
        staging ??= Buffer.allocUnsafe(size);
        const n = Math.min(size - filled, bytes.length - at);
        bytes.copy(staging, filled, at, at + n);
        filled += n;
        at += n;
      }
    },
    rest() {
      return staging === undefined ? Buffer.alloc(0) : staging.subarray(0, filled);
    },
  };
}
