// WAL staged before a restored server starts. PostgreSQL runs restore_command once per WAL file — and also for
// files that do not exist (the next timeline's history file, the segment after the last) — and each
// `pgwarden wal-fetch` is a new Node process (~0.2 s of start-up before any byte moves): for recovery that
// start-up, not the bytes, is the cost. restore-pitr therefore fetches what the recovery can read (every
// segment from the base backup's start segment on, on every timeline, and every history file) in its own
// process, a few at a time, into a folder inside the data directory. The restore_command copies a staged file
// into place. When the whole archive from that point fit (it is at most `maxSegments`), a file that is not
// staged is not in the archive either (as of the restore), and the command says so at once; otherwise it asks
// wal-fetch.
import { mkdir, rm, writeFile } from 'node:fs/promises';
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
  /** The base backup's start segment (its name on the base's timeline): nothing older is needed. */
  fromSegment: string;
  /** At most this many segments are staged (the disk they take is the data directory's). */
  maxSegments: number;
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** Fetches the WAL into `<dataDir>/pgwarden_wal_staging`; returns the names staged and whether that is all of it. */
export async function stageWal(options: StageWalOptions): Promise<{ staged: string[]; complete: boolean }> {
  const archive = await listArchivedWal(options.storage, options.prefix, options.database);
  // A segment's position is its name without the timeline (the last 16 hex digits), the same on every timeline.
  const from = options.fromSegment.slice(8);
  const wanted = [...archive.segments.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([, names]) => names.filter((name) => name.slice(8) >= from));
  const complete = wanted.length <= options.maxSegments;
  const names = [...archive.histories, ...wanted.slice(0, options.maxSegments)];
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
  if (complete && staged.length === names.length) await writeFile(join(dir, COMPLETE_MARK), '');
  return { staged: staged.sort(), complete: complete && staged.length === names.length };
}

const COMPLETE_MARK = '.complete';

/**
 * restore_command: a staged file is copied into place (copied, not moved: PostgreSQL may ask for a file again);
 * with the whole archive staged, anything else is not in the archive (exit 1 at once); otherwise `fallback`.
 */
export function stagedRestoreCommand(dataDir: string, fallback: string): string {
  const dir = shellQuote(join(dataDir, STAGING_DIR));
  return `if [ -f ${dir}/%f ]; then cp ${dir}/%f "%p"; elif [ -f ${dir}/${COMPLETE_MARK} ]; then exit 1; else ${fallback}; fi`;
}

/** After recovery, whatever was staged and not read goes. */
export async function removeStagedWal(dataDir: string): Promise<void> {
  await rm(join(dataDir, STAGING_DIR), { recursive: true, force: true });
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
