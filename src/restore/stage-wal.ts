// WAL staged before a restored server starts. PostgreSQL runs restore_command once per WAL file, and each
// `pgwarden wal-fetch` is a new Node process (~0.15 s of start-up before any byte moves): for a recovery
// through hundreds of segments that start-up, not the bytes, is the cost. restore-pitr therefore fetches the
// segments the recovery will read (from the base backup's start on its timeline, plus every history file) in
// its own process, a few at a time, into a folder inside the data directory, and the restore_command moves a
// staged file into place, falling back to wal-fetch for anything not staged (a later timeline, files past the
// cap, a file PostgreSQL asks for twice).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyRing } from '../crypto/keyring.js';
import { fetchWalFile, listArchivedWal } from '../wal/archive.js';
import type { StorageDriver } from '../storage/types.js';

export const STAGING_DIR = 'pgwarden_wal_staging';

export interface StageWalOptions {
  storage: StorageDriver;
  prefix: string;
  database: string;
  keyring: KeyRing | undefined;
  dataDir: string;
  /** The base backup's first segment (name) and timeline: nothing older is needed. */
  fromSegment: string;
  timeline: number;
  /** At most this many segments are staged (the disk they take is the data directory's). */
  maxSegments: number;
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Fetches the WAL into `<dataDir>/pgwarden_wal_staging`; returns the names staged. */
export async function stageWal(options: StageWalOptions): Promise<string[]> {
  const archive = await listArchivedWal(options.storage, options.prefix, options.database);
  const segments = (archive.segments.get(options.timeline) ?? []).filter((name) => name >= options.fromSegment).slice(0, options.maxSegments);
  const names = [...archive.histories, ...segments];
  const dir = join(options.dataDir, STAGING_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const staged: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const outcome = await fetchWalFile({ storage: options.storage, prefix: options.prefix, database: options.database, name, destination: join(dir, name), keyring: options.keyring, signal: options.signal });
      if (outcome === 'restored') staged.push(name);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, Math.max(names.length, 1)) }, worker));
  return staged.sort();
}

/** restore_command: a staged file is moved into place; anything else comes from the archive through `fallback`. */
export function stagedRestoreCommand(dataDir: string, fallback: string): string {
  const staged = `${shellQuote(join(dataDir, STAGING_DIR))}/%f`;
  return `if [ -f ${staged} ]; then mv ${staged} "%p"; else ${fallback}; fi`;
}

/** After recovery, whatever was staged and not read goes. */
export async function removeStagedWal(dataDir: string): Promise<void> {
  await rm(join(dataDir, STAGING_DIR), { recursive: true, force: true });
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
