// The GCS client's upload validation with pgwarden's CRC32C (native, see src/pipeline/crc32c.ts): the client's
// own JavaScript table runs at ~0.25 GB/s and cost a backup to GCS 1.4 CPU-seconds per 185 MB on the event
// loop. Without the native binding the client keeps its own implementation.
import type { CRC32CValidator, CRC32CValidatorGenerator } from '@google-cloud/storage';
import { type Crc32c, loadNativeCrc32c } from '../../pipeline/crc32c.js';

/** A generator for the client's `crc32cGenerator` option, or undefined (the client's default) without the binding. */
export function nativeCrc32cGenerator(load: () => Crc32c | undefined = loadNativeCrc32c): CRC32CValidatorGenerator | undefined {
  const native = load();
  if (native === undefined) return undefined;
  return (): CRC32CValidator => {
    let state = 0;
    const base64 = () => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(state);
      return bytes.toString('base64');
    };
    return {
      update(data: Buffer) {
        state = native(data, state);
      },
      // The client passes the server's base64 value; numbers, Buffers and other validators as its own class does.
      validate(value: unknown) {
        if (typeof value === 'number') return value >>> 0 === state;
        if (Buffer.isBuffer(value)) return value.toString('base64') === base64();
        return String(value) === base64();
      },
      toString: base64,
    } as CRC32CValidator;
  };
}
