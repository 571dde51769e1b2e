// Pull-mode WAL archiving for one database: pg_receivewal streams WAL over a replication slot into a spool
// directory, and every segment it completes (and every timeline history file) is pushed to the archive,
// then removed from the spool. pg_receivewal is restarted with backoff whenever it dies.
//
// Why nothing is lost across restarts: a file leaves the spool only after every target has it, and the
// newest completed segment stays in the spool, because pg_receivewal resumes after the newest segment it
// finds there (or from its slot's position, PostgreSQL 15+, when the spool is empty). The slot keeps the
// server from recycling WAL that was not received. A crash between upload and removal re-pushes an
// identical file, which the archive reports as already archived.
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { mkdir, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseConfig } from '../config/index.js';
import type { KeyRing, KeySource } from '../crypto/keyring.js';
import { errorMessage, isPgwardenError } from '../errors.js';
import type { CompressionSpec } from '../pipeline/compression.js';
import { connect, connectionError, toolConnection } from '../postgres/connection.js';
import { startTool, type ToolProcess } from '../postgres/run-tool.js';
import { findPgTool, type PgTool } from '../postgres/tools.js';
import type { StorageDriver } from '../storage/types.js';
import { type PushOutcome, pushWalFile } from './archive.js';
import { WalReceiverError } from './errors.js';
import { compareSegments, parseSegmentSize, parseWalFileName } from './names.js';
import { DEFAULT_WAL_TIMEOUT_MS, withTimeout } from './timeout.js';

export interface WalReceiverOptions {
  database: Pick<DatabaseConfig, 'name' | 'url'> & { replicationUrl?: string | undefined };
  /** The URL pg_receivewal connects with; default `database.replicationUrl`, then `database.url`. */
  replicationUrl?: string | undefined;
  /** Every target gets every file; a file leaves the spool once all of them have it. */
  storage: StorageDriver | readonly StorageDriver[];
  prefix: string;
  compression: CompressionSpec;
  encryptionKey?: KeySource | undefined;
  keyring?: KeyRing | undefined;
  /** pg_receivewal's directory; must persist across restarts and belong to this database alone. */
  spoolDir: string;
  /** Default `pgwarden_<database>` (lower case, other characters as "_"). */
  slotName?: string | undefined;
  /** backup.pgBinDir: where pg_receivewal is; default the installed tools that fit the server. */
  pgBinDir?: string | undefined;
  logger: Logger;
  /** Called after each file is archived on every target. */
  onSegment?: (event: WalArchivedEvent) => void;
  /** First delay before restarting pg_receivewal (default 1 s); doubles while it keeps failing fast. */
  restartDelayMs?: number;
  /** Upper bound of the restart delay (default 60 s). */
  maxRestartDelayMs?: number;
  /** How often the spool is scanned besides change notifications (default 1 s). */
  pollIntervalMs?: number;
  /** pg_receivewal --status-interval (default 10 s). */
  statusIntervalSeconds?: number;
  /** Per file and target (default 120 s). */
  pushTimeoutMs?: number;
  now?: () => Date;
}

export interface WalArchivedEvent {
  database: string;
  name: string;
  kind: 'segment' | 'history';
  /** Per target name. */
  outcomes: Record<string, PushOutcome>;
  at: Date;
}

export interface WalReceiverStatus {
  database: string;
  slotName: string;
  spoolDir: string;
  /** pg_receivewal is running now. */
  running: boolean;
  /** …and has started streaming (it said "starting log streaming at …"). */
  streaming: boolean;
  pid: number | undefined;
  startedAt: Date | undefined;
  /** How many times pg_receivewal was started again after it stopped or could not start. */
  restarts: number;
  segmentSize: number | undefined;
  /** The newest segment archived on every target, and when (wal_archive_last_segment_timestamp_seconds). */
  lastSegment: string | undefined;
  lastSegmentArchivedAt: Date | undefined;
  /** Files archived since start (segments and history files). */
  filesArchived: number;
  /** Completed files in the spool not archived yet. */
  pending: number;
  lastError: string | undefined;
  lastErrorAt: Date | undefined;
}

export interface WalReceiver {
  status(): WalReceiverStatus;
  /** Stops pg_receivewal (SIGTERM, SIGKILL after 10 s) and waits for the push in flight. */
  stop(): Promise<void>;
}

/** A run of pg_receivewal at least this long resets the restart backoff. */
const STABLE_RUN_MS = 60_000;
const KILL_AFTER_MS = 10_000;
/** Records which pg_receivewal serves a spool, so one orphaned by a crash can be stopped next time. */
const OWNER_FILE = 'pgwarden-receiver.json';

export function defaultSlotName(database: string): string {
  return `pgwarden_${database.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

export function startWalReceiver(options: WalReceiverOptions): WalReceiver {
  const database = options.database.name;
  const slotName = options.slotName ?? defaultSlotName(database);
  if (!/^[a-z0-9_]{1,63}$/.test(slotName)) {
    throw new WalReceiverError(`invalid replication slot name "${slotName}": use 1 to 63 lower-case letters, digits or "_"`);
  }
  const targets = Array.isArray(options.storage) ? [...(options.storage as readonly StorageDriver[])] : [options.storage as StorageDriver];
  const url = options.replicationUrl ?? options.database.replicationUrl ?? options.database.url;
  const logger = options.logger.child({ database, component: 'wal-receiver' });
  const now = options.now ?? (() => new Date());
  const restartDelayMs = options.restartDelayMs ?? 1000;
  const maxRestartDelayMs = options.maxRestartDelayMs ?? 60_000;
  const spoolDir = options.spoolDir;

  const state: WalReceiverStatus = {
    database,
    slotName,
    spoolDir,
    running: false,
    streaming: false,
    pid: undefined,
    startedAt: undefined,
    restarts: 0,
    segmentSize: undefined,
    lastSegment: undefined,
    lastSegmentArchivedAt: undefined,
    filesArchived: 0,
    pending: 0,
    lastError: undefined,
    lastErrorAt: undefined,
  };
  const recordError = (error: unknown, message: string) => {
    state.lastError = errorMessage(error);
    state.lastErrorAt = now();
    logger.warn({ err: isPgwardenError(error) ? undefined : error, error: state.lastError }, message);
  };

  let stopping = false;
  const stopController = new AbortController();
  let current: ToolProcess | undefined;
  let tool: PgTool | undefined;

  // ---- the spool: push completed files, oldest first ----

  /** The newest segment already archived, kept in the spool as pg_receivewal's resume point. */
  let retained: string | undefined;
  let draining: Promise<void> | undefined;
  let drainAgain = false;
  let pushFailures = 0;
  let retryAt = 0;

  const kick = () => {
    if (stopping) return;
    if (draining) {
      drainAgain = true;
      return;
    }
    draining = drain()
      .catch((error: unknown) => recordError(error, 'WAL spool scan failed'))
      .finally(() => {
        draining = undefined;
        if (drainAgain) {
          drainAgain = false;
          kick();
        }
      });
  };

  async function drain(): Promise<void> {
    if (Date.now() < retryAt) return;
    let entries: string[];
    try {
      entries = await readdir(spoolDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const files = entries.filter((name) => {
      const kind = parseWalFileName(name)?.kind;
      return kind === 'segment' || kind === 'history';
    });
    const todo = files.filter((name) => name !== retained).sort(spoolOrder);
    state.pending = todo.length;
    for (const name of todo) {
      if (stopping) return;
      const kind = parseWalFileName(name)!.kind as 'segment' | 'history';
      const path = join(spoolDir, name);
      const outcomes: Record<string, PushOutcome> = {};
      try {
        for (const storage of targets) {
          outcomes[storage.name] = await withTimeout(options.pushTimeoutMs ?? DEFAULT_WAL_TIMEOUT_MS, `archiving ${name} to ${storage.name}`, (signal) =>
            pushWalFile({
              storage,
              prefix: options.prefix,
              database,
              path,
              compression: options.compression,
              encryptionKey: options.encryptionKey,
              keyring: options.keyring,
              segmentSize: state.segmentSize,
              signal,
            }),
          );
        }
      } catch (error) {
        pushFailures++;
        retryAt = Date.now() + Math.min(1000 * 2 ** (pushFailures - 1), 60_000);
        recordError(error, `cannot archive ${name}; it stays in the spool and is retried`);
        return;
      }
      pushFailures = 0;
      state.pending--;
      state.filesArchived++;
      const at = now();
      if (kind === 'history') {
        await unlink(path).catch(() => {});
      } else {
        if (state.lastSegment === undefined || compareSegments(name, state.lastSegment) > 0) {
          state.lastSegment = name;
          state.lastSegmentArchivedAt = at;
        }
        // Keep only the newest archived segment: it tells a restarted pg_receivewal where to resume.
        if (retained === undefined || compareSegments(retained, name) < 0) {
          const older = retained;
          retained = name;
          if (older !== undefined) await unlink(join(spoolDir, older)).catch(() => {});
        } else {
          await unlink(path).catch(() => {});
        }
      }
      logger.debug({ file: name, outcomes }, 'WAL file archived');
      try {
        options.onSegment?.({ database, name, kind, outcomes, at });
      } catch (error) {
        logger.warn({ err: error }, 'onSegment callback failed');
      }
    }
  }

  // ---- pg_receivewal ----

  async function prepare(): Promise<void> {
    await mkdir(spoolDir, { recursive: true, mode: 0o700 });
    await stopOrphan();
    if (!tool || state.segmentSize === undefined) {
      const client = await connect(options.database.url, { purpose: `database "${database}"`, applicationName: 'pgwarden' });
      try {
        const { rows } = await client.query<{ version: string; segment_size: string }>(
          `SELECT current_setting('server_version_num') AS version, current_setting('wal_segment_size') AS segment_size`,
        );
        state.segmentSize = parseSegmentSize(rows[0]!.segment_size);
        tool ??= await findPgTool('pg_receivewal', { binDir: options.pgBinDir, serverMajor: Math.floor(Number(rows[0]!.version) / 10000) });
      } finally {
        await client.end().catch(() => {});
      }
    }
    await repairSpool();
    // Every start: costs one round trip, and brings back a slot someone dropped.
    if ((await ensureSlot(url, slotName, database)) === 'created') logger.info({ slot: slotName }, 'replication slot created');
  }

  /** Runs pg_receivewal until it exits; resolves on exit 0, rejects otherwise. */
  async function runReceiver(): Promise<void> {
    const connection = receiverConnection(url);
    const args = ['--directory', spoolDir, '--slot', slotName, '--dbname', connection.dbname, '--no-loop', '--no-password', '--verbose'];
    args.push('--status-interval', String(options.statusIntervalSeconds ?? 10));
    const problems: string[] = [];
    const proc = startTool(tool!.path, args, {
      env: connection.env,
      label: `pg_receivewal for "${database}"`,
      onStderrLine: (line) => {
        // --verbose says when streaming starts and each segment it finishes; anything else is a problem.
        if (/starting log streaming at/.test(line)) state.streaming = true;
        if (/starting log streaming at|finished segment at|switched to timeline|received interrupt signal/.test(line)) {
          logger.debug({ stderr: line }, 'pg_receivewal');
        } else {
          logger.warn({ stderr: line }, 'pg_receivewal');
          problems.push(line.trim());
          if (problems.length > 3) problems.shift();
        }
      },
    });
    current = proc;
    state.running = proc.child.pid !== undefined;
    state.pid = proc.child.pid;
    state.startedAt = now();
    if (proc.child.pid !== undefined) {
      await writeFile(join(spoolDir, OWNER_FILE), JSON.stringify({ owner: process.pid, receiver: proc.child.pid })).catch(() => {});
    }
    logger.info({ pid: state.pid, slot: slotName, spool: spoolDir }, 'pg_receivewal started');
    try {
      await proc.done.catch((error: unknown) => {
        const { exitCode, signalCode } = proc.child;
        if (exitCode === null && signalCode === null) throw error; // never started: the error says why
        const how = signalCode ? `was killed by ${signalCode}` : `exited with code ${exitCode}`;
        throw new WalReceiverError(`pg_receivewal for "${database}" ${how}${problems.length > 0 ? `: ${problems.join(' | ')}` : ''}`, { cause: error });
      });
    } finally {
      current = undefined;
      state.running = false;
      state.streaming = false;
      state.pid = undefined;
      // It may have completed a segment just before it stopped.
      kick();
    }
  }

  /**
   * pg_receivewal creates each segment as a `.partial` padded with zeros to full size before it writes WAL
   * into it; killed while padding, it leaves a file of another size, and then refuses to start ever again
   * ("has N bytes, should be 0 or 16777216"). Such a file holds no WAL yet — the slot still has it on the
   * server, from the end of the newest completed segment — so it is removed.
   */
  async function repairSpool(): Promise<void> {
    const segmentSize = state.segmentSize;
    if (segmentSize === undefined) return;
    for (const name of await readdir(spoolDir)) {
      if (parseWalFileName(name)?.kind !== 'partial') continue;
      const path = join(spoolDir, name);
      const size = (await stat(path).catch(() => undefined))?.size;
      if (size === undefined || size === 0 || size === segmentSize) continue;
      logger.warn({ file: name, bytes: size, segmentSize }, 'removing a partly padded .partial file left by a pg_receivewal that was killed');
      await unlink(path);
    }
  }

  /** A pg_receivewal left running by a pgwarden that died holds the slot; stop it (only if its owner is gone). */
  async function stopOrphan(): Promise<void> {
    let recorded: { owner?: number; receiver?: number };
    try {
      recorded = JSON.parse(readFileSync(join(spoolDir, OWNER_FILE), 'utf8'));
    } catch {
      return;
    }
    const { owner, receiver } = recorded;
    if (typeof owner !== 'number' || typeof receiver !== 'number' || owner === process.pid || isAlive(owner)) return;
    if (commandLineOf(receiver)?.some((arg) => arg === spoolDir) && commandLineOf(receiver)?.[0]?.endsWith('pg_receivewal')) {
      logger.warn({ pid: receiver }, 'stopping a pg_receivewal left running by a pgwarden that died');
      try {
        process.kill(receiver, 'SIGTERM');
      } catch {
        // gone meanwhile
      }
      for (let i = 0; i < 100 && isAlive(receiver); i++) await sleep(50);
    }
    await rm(join(spoolDir, OWNER_FILE), { force: true });
  }

  const supervisor = (async () => {
    let quickFailures = 0;
    while (!stopping) {
      let ranMs = 0;
      try {
        await prepare();
        if (stopping) break;
        kick();
        const started = Date.now();
        try {
          await runReceiver();
        } finally {
          ranMs = Date.now() - started;
        }
        if (stopping) break;
        throw new WalReceiverError('pg_receivewal exited by itself');
      } catch (error) {
        if (stopping) break;
        recordError(error, 'pg_receivewal stopped');
      }
      quickFailures = ranMs >= STABLE_RUN_MS ? 1 : quickFailures + 1;
      const delay = Math.min(restartDelayMs * 2 ** (quickFailures - 1), maxRestartDelayMs);
      state.restarts++;
      logger.warn({ delayMs: delay, restarts: state.restarts }, 'restarting pg_receivewal');
      await sleep(delay, stopController.signal);
    }
  })();

  let watcher: FSWatcher | undefined;
  const startWatching = async () => {
    await mkdir(spoolDir, { recursive: true, mode: 0o700 }).catch(() => {});
    if (stopping) return;
    try {
      // Only a completed name matters: pg_receivewal's writes into its .partial would otherwise wake us constantly.
      watcher = watch(spoolDir, (_event, file) => {
        const kind = file ? parseWalFileName(file.toString())?.kind : undefined;
        if (kind === 'segment' || kind === 'history') kick();
      });
      watcher.on('error', () => {});
    } catch {
      // The poll below still finds every file.
    }
  };
  void startWatching();
  const poll = setInterval(kick, options.pollIntervalMs ?? 1000);
  poll.unref();

  let stopped: Promise<void> | undefined;
  return {
    status: () => ({ ...state }),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        stopController.abort();
        clearInterval(poll);
        watcher?.close();
        current?.kill('SIGTERM');
        const killer = setTimeout(() => current?.kill('SIGKILL'), KILL_AFTER_MS);
        try {
          await supervisor;
        } finally {
          clearTimeout(killer);
        }
        await draining;
        await rm(join(spoolDir, OWNER_FILE), { force: true }).catch(() => {});
        logger.info('WAL receiver stopped');
      })();
      return stopped;
    },
  };
}

/** History files first (a timeline's history must be archived before its segments), then WAL order. */
function spoolOrder(a: string, b: string): number {
  const ka = parseWalFileName(a)!;
  const kb = parseWalFileName(b)!;
  if (ka.kind !== kb.kind) return ka.kind === 'history' ? -1 : 1;
  return ka.kind === 'history' ? ka.timeline - (kb as { timeline: number }).timeline : compareSegments(a, b);
}

/**
 * Creates the physical slot if it is missing, reserving WAL at once (`pg_receivewal --create-slot` does not):
 * pg_receivewal then starts from the slot's position (PostgreSQL 15+), so the WAL written between creating
 * the slot and the first connection is received too.
 */
export async function ensureSlot(url: string, slotName: string, database: string): Promise<'created' | 'exists'> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'pgwarden', replication: 'true' } as pg.ClientConfig);
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(error, url, `database "${database}" for replication`);
  }
  try {
    await client.query(`CREATE_REPLICATION_SLOT ${slotName} PHYSICAL RESERVE_WAL`);
    return 'created';
  } catch (error) {
    if ((error as { code?: string }).code === '42710') return 'exists';
    throw new WalReceiverError(`cannot create replication slot "${slotName}" for "${database}": ${errorMessage(error)}`, {
      cause: error,
      hints: ['the role of replicationUrl needs the REPLICATION attribute and a "replication" line in pg_hba.conf; max_replication_slots must leave room'],
    });
  } finally {
    await client.end().catch(() => {});
  }
}

/** pg_receivewal's --dbname (a password-free URL, named in pg_stat_replication) and its PGPASSWORD. */
function receiverConnection(url: string) {
  const connection = toolConnection(url);
  const parsed = new URL(connection.dbname);
  if (!parsed.searchParams.has('application_name')) parsed.searchParams.set('application_name', 'pgwarden_receivewal');
  return { dbname: parsed.toString(), env: connection.env };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLineOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
