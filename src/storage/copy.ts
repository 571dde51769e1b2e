// Copies one object from a target that holds it to one that lacks it, checking the bytes on the way: the
// copy is committed only when its size (and SHA-256, when known) match what the source should hold.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageError } from '../errors.js';
import { DigestTap } from '../pipeline/digest.js';
import type { StorageDriver } from './types.js';

export interface CopyExpectation {
  bytes?: number | undefined;
  sha256?: string | undefined;
}

export async function copyObject(from: StorageDriver, to: StorageDriver, path: string, expected: CopyExpectation = {}, signal?: AbortSignal): Promise<void> {
  const writer = to.write(path);
  const tap = new DigestTap({ hash: expected.sha256 !== undefined });
  try {
    await pipeline([from.read(path), tap, writer.stream], { signal });
    const wrong =
      expected.bytes !== undefined && tap.bytes !== expected.bytes
        ? `${tap.bytes} bytes, expected ${expected.bytes}`
        : expected.sha256 !== undefined && tap.sha256() !== expected.sha256
          ? `sha256 ${tap.sha256()}, expected ${expected.sha256}`
          : undefined;
    if (wrong) throw new StorageError(`copy of ${path} from ${from.name} to ${to.name} refused: the source holds ${wrong}`, { hints: [`the copy on ${from.name} is damaged; copy from another target`] });
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Reads an object through to the end and returns its size and SHA-256 (a copy's health, without keeping it). */
export async function digestObject(storage: StorageDriver, path: string, signal?: AbortSignal): Promise<{ bytes: number; sha256: string }> {
  const tap = new DigestTap({ hash: true });
  await pipeline([storage.read(path), tap, new Writable({ write: (_c, _e, cb) => cb() })], { signal });
  return { bytes: tap.bytes, sha256: tap.sha256() };
}
