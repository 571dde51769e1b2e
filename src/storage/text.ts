// Small text objects (manifests) on any target: written atomically, read whole.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageDriver } from './types.js';

export async function writeTextObject(storage: StorageDriver, path: string, text: string): Promise<void> {
  const writer = storage.write(path);
  try {
    await pipeline(Readable.from([Buffer.from(text, 'utf8')]), writer.stream);
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** Returns the object's text, or undefined when it does not exist. */
export async function readTextObject(storage: StorageDriver, path: string): Promise<string | undefined> {
  if (!(await storage.stat(path))) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of storage.read(path)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
