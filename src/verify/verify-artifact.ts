// Proves a stored dump restorable without restoring it: read it back from storage, check its size and
// SHA-256, decrypt and decompress it into `pg_restore -f /dev/null` (which reads every data block), and
// compare the tables in the archive's table of contents with the count taken when it was dumped.
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { missingKeyHint } from '../crypto/envelope.js';
import type { KeyRing } from '../crypto/keyring.js';
import { EncryptionError, PgwardenError, ToolError, VerificationError } from '../errors.js';
import type { ArtifactInfo } from '../manifest/types.js';
import { backupReadOptions, type ByteProgress, readAndConsume, readArtifactInto } from '../pipeline/artifact.js';
import { DigestTap } from '../pipeline/digest.js';
import { unpackDirectoryArchive } from '../pipeline/unpack-directory.js';
import { startTool } from '../postgres/run-tool.js';
import type { StorageDriver } from '../storage/types.js';

export interface VerifyArtifactOptions {
  storage: StorageDriver;
  /** The artifact's path on the target. */
  path: string;
  artifact: ArtifactInfo;
  expectedTables: number;
  keyring: KeyRing | undefined;
  pgRestore: string;
  /** Temporary space for unpacking 'directory-tar' artifacts. */
  tempDir?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Hears the stored bytes read so far (progress line). */
  onProgress?: ByteProgress | undefined;
}

export interface ArtifactCheck {
  tablesInArchive: number;
  durationSeconds: number;
}

export async function verifyArtifact(options: VerifyArtifactOptions): Promise<ArtifactCheck> {
  const started = performance.now();
  const { storage, path, artifact } = options;
  const name = `${storage.name}:${path}`;

  const info = await storage.stat(path);
  if (!info) throw new VerificationError('missing', `artifact ${name} is missing`);
  if (info.size !== artifact.storedBytes) {
    const how = info.size < artifact.storedBytes ? 'truncated' : 'longer than recorded';
    throw new VerificationError('size', `artifact ${name} is ${how}: ${info.size} bytes stored, the manifest records ${artifact.storedBytes}`);
  }
  requireKey(artifact, options.keyring, name);
  let read: ReadThrough;
  try {
    read = await readThroughArtifact({ ...options, name, open: () => storage.read(path) });
  } catch (error) {
    // A flipped bit shows up as a decrypt, decompress or archive error; the checksum says it's the stored bytes.
    await assertChecksum(storage, path, artifact.sha256, name);
    throw error;
  }
  checkReadThrough(read, { ...artifact, tables: options.expectedTables }, name);
  return { tablesInArchive: read.tablesInArchive, durationSeconds: (performance.now() - started) / 1000 };
}

/** What a read-through needs to know of an artifact: enough to read one whose write has not finished yet. */
export type ArtifactShape = Pick<ArtifactInfo, 'format' | 'compression' | 'encryption'> & {
  /** The dump's size, when known, to check the temporary space a 'directory-tar' unpack needs first. */
  rawBytes?: number | undefined;
};

export interface ReadThroughOptions {
  /** Opens a reader on the stored bytes: once for the read-through, once more for a custom archive's table of contents. */
  open: () => Readable;
  /** `target:path`, for messages. */
  name: string;
  artifact: ArtifactShape;
  keyring: KeyRing | undefined;
  pgRestore: string;
  tempDir?: string | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ByteProgress | undefined;
}

/** What a read-through saw, to compare with what the write recorded (checkReadThrough). */
export interface ReadThrough {
  storedBytes: number;
  sha256: string;
  tablesInArchive: number;
}

/**
 * Reads every stored byte through decryption, decompression and pg_restore, and lists the archive's tables.
 * Errors say which stage refused the bytes; whether the bytes are the ones written is checkReadThrough's.
 */
export async function readThroughArtifact(options: ReadThroughOptions): Promise<ReadThrough> {
  const { artifact, name } = options;
  requireKey(artifact, options.keyring, name);
  return artifact.format === 'directory-tar' ? readDirectoryArchive(options) : readCustomArchive(options);
}

function requireKey(artifact: ArtifactShape, keyring: KeyRing | undefined, name: string): void {
  if (artifact.encryption && !keyring) {
    throw new VerificationError('decrypt', `artifact ${name} is encrypted with key "${artifact.encryption.keyId}" but no encryption keys are configured`, {
      hints: [missingKeyHint(artifact.encryption)],
    });
  }
}

/** Fails unless the read-through read exactly the bytes recorded, and the archive lists the tables counted at the dump. */
export function checkReadThrough(read: ReadThrough, expected: { storedBytes: number; sha256: string; tables: number }, name: string): void {
  if (read.storedBytes !== expected.storedBytes) {
    throw new VerificationError('size', `artifact ${name}: ${read.storedBytes} bytes were read back, ${expected.storedBytes} were written`);
  }
  if (read.sha256 !== expected.sha256) {
    throw new VerificationError('checksum', `artifact ${name} does not match its checksum: sha256 ${read.sha256}, the manifest records ${expected.sha256}`);
  }
  if (read.tablesInArchive !== expected.tables) {
    throw new VerificationError('tables', `artifact ${name} holds ${read.tablesInArchive} tables; ${expected.tables} were counted when it was dumped`);
  }
}

function readOptions(options: ReadThroughOptions) {
  return backupReadOptions(options.artifact, options.keyring, options.signal);
}

/** A '-Fc' stream: every byte through `pg_restore -f /dev/null`, and the table of contents from its head. */
async function readCustomArchive(options: ReadThroughOptions): Promise<ReadThrough> {
  const { name } = options;
  // The table of contents sits at the start of the archive: listing it reads only the head, alongside the
  // read-through rather than after it. Its outcome counts only once the read-through passed.
  const listing = countArchiveTables(options).then(
    (tables) => ({ tables }),
    (error: unknown) => ({ error }),
  );
  const restore = startTool(options.pgRestore, ['--file=/dev/null'], { stdin: 'pipe', signal: options.signal, label: 'pg_restore (verify)' });
  let stored: DigestTap;
  try {
    stored = await readAndConsume(
      readArtifactInto({ ...readOptions(options), source: options.open(), into: { tool: restore }, signal: options.signal, onProgress: options.onProgress }),
      restore.done,
    );
  } catch (error) {
    restore.kill();
    await restore.done.catch(() => {});
    await listing;
    throw classifyReadError(error, name, restore.stderrTail());
  }
  const listed = await listing;
  if ('error' in listed) throw listed.error;
  return { storedBytes: stored.bytes, sha256: stored.sha256(), tablesInArchive: listed.tables };
}

/** A '-Fd' directory packed as tar: unpacked to temporary space, where pg_restore reads it. */
async function readDirectoryArchive(options: ReadThroughOptions): Promise<ReadThrough> {
  const { name, artifact } = options;
  let unpacked: Awaited<ReturnType<typeof unpackDirectoryArchive>>;
  try {
    unpacked = await unpackDirectoryArchive({
      source: options.open(),
      read: readOptions(options),
      rawBytes: artifact.rawBytes ?? 0,
      tempDir: options.tempDir,
      signal: options.signal,
      onProgress: options.onProgress,
    });
  } catch (error) {
    throw classifyReadError(error, name, '');
  }
  try {
    const listing = startTool(options.pgRestore, ['--list', unpacked.dir], { stdout: 'pipe', signal: options.signal, label: 'pg_restore --list' });
    let text = '';
    listing.stdout!.setEncoding('utf8');
    listing.stdout!.on('data', (chunk: string) => {
      text += chunk;
    });
    const restore = startTool(options.pgRestore, ['--file=/dev/null', unpacked.dir], { signal: options.signal, label: 'pg_restore (verify)' });
    try {
      await Promise.all([listing.done, restore.done]);
    } catch (error) {
      throw classifyReadError(error, name, `${listing.stderrTail()}\n${restore.stderrTail()}`);
    }
    return { storedBytes: unpacked.stored.bytes, sha256: unpacked.stored.sha256(), tablesInArchive: countTocTables(text) };
  } finally {
    await unpacked.cleanup();
  }
}

async function assertChecksum(storage: StorageDriver, path: string, expected: string, name: string): Promise<void> {
  const tap = new DigestTap({ hash: true });
  try {
    await pipeline(storage.read(path), tap, new Writable({ write: (_c, _e, cb) => cb() }));
  } catch {
    return; // unreadable: the original error says more
  }
  const sha = tap.sha256();
  if (sha !== expected) {
    throw new VerificationError('checksum', `artifact ${name} does not match its checksum: sha256 ${sha}, the manifest records ${expected}`, {
      hints: ['the stored copy was altered or damaged; restore from another copy or take a new backup'],
    });
  }
}

function classifyReadError(error: unknown, name: string, stderr: string): PgwardenError {
  if (error instanceof EncryptionError) {
    return new VerificationError('decrypt', `artifact ${name}: ${error.message}`, { hints: error.hints, cause: error });
  }
  const err = error as NodeJS.ErrnoException;
  if ((typeof err.code === 'string' && err.code.startsWith('Z_')) || (error instanceof ToolError && error.message.includes('(decompressing)'))) {
    return new VerificationError('decompress', `artifact ${name} does not decompress: ${err.message}`, { cause: error });
  }
  if (error instanceof ToolError || err.code === 'EPIPE') {
    const detail = stderr.trim().split('\n').slice(-2).join(' | ') || (error as Error).message;
    return new VerificationError('archive', `artifact ${name} is not a readable pg_dump archive: ${detail}`, { cause: error });
  }
  if (error instanceof PgwardenError) return error;
  return new VerificationError('archive', `artifact ${name} could not be read through: ${(error as Error).message}`, { cause: error });
}

/** Runs `pg_restore --list` on the head of the artifact and counts its TABLE entries. */
async function countArchiveTables(options: ReadThroughOptions): Promise<number> {
  const list = startTool(options.pgRestore, ['--list'], { stdin: 'pipe', stdout: 'pipe', signal: options.signal, label: 'pg_restore --list' });
  let text = '';
  list.stdout!.setEncoding('utf8');
  list.stdout!.on('data', (chunk: string) => {
    text += chunk;
  });
  const feeding = new AbortController();
  // pg_restore closes its stdin once it has the list (EPIPE here): that is expected, so the error is kept, not thrown.
  const feed = readArtifactInto({ ...readOptions(options), source: options.open(), into: { tool: list }, signal: feeding.signal }).catch(
    (error: unknown) => error,
  );
  try {
    await list.done;
  } catch (error) {
    feeding.abort();
    await feed;
    throw classifyReadError(error, options.name, list.stderrTail());
  }
  // pg_restore stopped reading once it had the list; the rest of the stream is not needed.
  feeding.abort();
  await feed;
  return countTocTables(text);
}

/** Counts `TABLE` entries (not `TABLE DATA`) in `pg_restore --list` output. */
export function countTocTables(listing: string): number {
  let count = 0;
  for (const line of listing.split('\n')) {
    // Other entries start with TABLE too: "TABLE DATA" (the rows) and "TABLE ATTACH" (a partition's attachment).
    if (/^\d+; \d+ \d+ TABLE (?!DATA |ATTACH )/.test(line)) count++;
  }
  return count;
}
