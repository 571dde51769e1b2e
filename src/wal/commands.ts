// `pgwarden wal-push %p` (archive_command) and `pgwarden wal-fetch %f %p` (restore_command): what the CLI
// calls, and the command lines to put in the server's configuration. PostgreSQL runs these once per WAL file,
// so they start fast: config, key ring and storage only — never the catalog, never a migration.
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createStorage } from '../storage/create.js';
import type { Config } from '../config/index.js';
import { walKeySource } from '../crypto/envelope.js';
import { keyRingFromConfig } from '../crypto/keyring.js';
import { errorMessage, UsageError } from '../errors.js';
import { compressionFor } from '../pipeline/compression.js';
import { packageRoot } from '../package-root.js';
import { type FetchOutcome, fetchWalFile, type PushOutcome, pushWalFile } from './archive.js';
import { DEFAULT_WAL_TIMEOUT_MS, withTimeout } from './timeout.js';

export { DEFAULT_WAL_TIMEOUT_MS } from './timeout.js';

/** What the CLI prints and exits with: PostgreSQL only looks at zero / non-zero, and logs the line. */
export interface WalCommandResult {
  exitCode: 0 | 1;
  /** One line: what happened (success) or what failed (error, for stderr). */
  message: string;
  outcome?: PushOutcome | FetchOutcome;
  error?: unknown;
}

export interface WalPushOptions {
  /** The configured database whose archive this is; may be left out when only one is configured. */
  database?: string | undefined;
  /** %p: the WAL file, relative to the server's data directory (the command's working directory). */
  path: string;
  logger?: Logger;
  /** Default DEFAULT_WAL_TIMEOUT_MS. */
  timeoutMs?: number | undefined;
  /** Aborts the push (the CLI's SIGTERM/SIGINT). */
  signal?: AbortSignal;
}

export async function walPush(config: Config, options: WalPushOptions): Promise<WalCommandResult> {
  return runWalCommand('wal-push', options, async (signal) => {
    const database = pickDatabase(config, options.database);
    const keyring = keyRingFromConfig(config.encryption);
    const outcome = await pushWalFile({
      storage: await createStorage(config),
      prefix: config.storage.prefix,
      database,
      path: options.path,
      compression: compressionFor(config.backup, config.databases.find((d) => d.name === database)!),
      encryptionKey: walKeySource(keyring),
      keyring,
      signal,
    });
    const message = outcome === 'stored' ? `archived ${options.path} for "${database}"` : `${options.path} was already archived for "${database}" (identical)`;
    return { outcome, message };
  });
}

export interface WalFetchOptions {
  database?: string | undefined;
  /** %f: the WAL file name the server asks for. */
  name: string;
  /** %p: where the server wants it, relative to its data directory. */
  destination: string;
  logger?: Logger;
  timeoutMs?: number | undefined;
  signal?: AbortSignal;
}

export async function walFetch(config: Config, options: WalFetchOptions): Promise<WalCommandResult> {
  const result = await runWalCommand('wal-fetch', options, async (signal) => {
    const database = pickDatabase(config, options.database);
    const outcome = await fetchWalFile({
      storage: await createStorage(config),
      prefix: config.storage.prefix,
      database,
      name: options.name,
      destination: options.destination,
      keyring: keyRingFromConfig(config.encryption),
      signal,
    });
    const message = outcome === 'restored' ? `restored ${options.name} for "${database}"` : `${options.name} is not in the WAL archive of "${database}"`;
    return { outcome, message };
  });
  // Not found is the normal end of archive recovery: non-zero, as restore_command's contract requires.
  return result.outcome === 'not-found' ? { ...result, exitCode: 1, message: `pgwarden wal-fetch: ${result.message}` } : result;
}

async function runWalCommand(
  command: string,
  { timeoutMs, logger, signal }: { timeoutMs?: number | undefined; logger?: Logger | undefined; signal?: AbortSignal | undefined },
  work: (signal: AbortSignal) => Promise<{ outcome: PushOutcome | FetchOutcome; message: string }>,
): Promise<WalCommandResult> {
  try {
    const { outcome, message } = await withTimeout(timeoutMs ?? DEFAULT_WAL_TIMEOUT_MS, command, work, signal);
    logger?.debug({ command, outcome }, message);
    return { exitCode: 0, message, outcome };
  } catch (error) {
    const message = `pgwarden ${command}: ${oneLine(errorMessage(error))}`;
    logger?.debug({ err: error }, message);
    return { exitCode: 1, message, error };
  }
}

function pickDatabase(config: Config, name: string | undefined): string {
  if (name === undefined) {
    if (config.databases.length === 1) return config.databases[0]!.name;
    throw new UsageError('--database is required when more than one database is configured');
  }
  if (!config.databases.some((d) => d.name === name)) {
    throw new UsageError(`database "${name}" is not configured (configured: ${config.databases.map((d) => d.name).join(', ')})`);
  }
  return name;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' | ');
}

// ---- the command lines for postgresql.conf ----

export interface ServerCommandOptions {
  /** The program that runs the CLI; default this Node.js (absolute: the server's PATH may lack node). */
  node?: string;
  /** The CLI entry point; default this package's bin/pgwarden.js. */
  entry?: string;
  /** Adds `--timeout <seconds>` to the command (wal-push and wal-fetch), instead of the default 120 s. */
  timeoutSeconds?: number;
}

/** `archive_command`: `'<node>' '<…/bin/pgwarden.js>' --config '<config>' wal-push --database '<db>' %p`. */
export function archiveCommandFor(configPath: string, database: string, options: ServerCommandOptions = {}): string {
  return serverCommand(configPath, ['wal-push', '--database', database], ['%p'], options);
}

/** `restore_command`: `… wal-fetch --database '<db>' %f %p`. */
export function restoreCommandFor(configPath: string, database: string, options: ServerCommandOptions = {}): string {
  return serverCommand(configPath, ['wal-fetch', '--database', database], ['%f', '%p'], options);
}

function serverCommand(configPath: string, args: string[], placeholders: string[], options: ServerCommandOptions): string {
  const node = options.node ?? process.execPath;
  const entry = options.entry ?? resolve(packageRoot(), 'bin', 'pgwarden.js');
  for (const [what, path] of [
    ['node', node],
    ['entry', entry],
  ] as const) {
    if (!isAbsolute(path)) throw new UsageError(`the ${what} path in a server command must be absolute, got ${path}`);
  }
  const timeout = options.timeoutSeconds === undefined ? [] : ['--timeout', String(options.timeoutSeconds)];
  const words = [node, entry, '--config', resolve(configPath), ...args, ...timeout];
  return [...words.map(serverCommandWord), ...placeholders].join(' ');
}

/**
 * One word of a command PostgreSQL runs: quoted for /bin/sh, then every '%' doubled, because the server
 * replaces %p, %f, %r and %% before the shell sees the line.
 */
export function serverCommandWord(word: string): string {
  if (/[\x00-\x1f\x7f]/.test(word)) throw new UsageError(`cannot put ${JSON.stringify(word)} in a server command: it holds a control character`);
  return shellQuote(word).replace(/%/g, '%%');
}

/** POSIX shell quoting: plain words as they are, anything else in single quotes ('\'' for a quote). */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
