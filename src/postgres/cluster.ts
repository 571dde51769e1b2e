// Throwaway PostgreSQL clusters on loopback, for integration tests, benchmarks and `pgwarden demo`:
// one call gives a running server in its own temp dir, and a process-wide safety net keeps a crashed
// run from leaking postmasters that would hold ports and shared memory for the next one.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import pg from 'pg';
import { DatabaseUnreachableError, errorMessage, ToolError } from '../errors.js';
import { findPgBinDir } from './bindir.js';
import { runToolForText } from './run-tool.js';

export type StopMode = 'fast' | 'immediate';
export type SettingValue = string | number | boolean;

export interface StartClusterOptions {
  /** Directory the cluster owns (created if absent, must be empty); destroy() removes it. Default: a new temp dir. */
  baseDir?: string;
  /** PostgreSQL bin directory; default: the newest installed major (see findPgBinDir). */
  binDir?: string;
  /** TCP port; default: a free one, re-picked if another process takes it first. */
  port?: number;
  /** postgresql.conf settings, applied after (and overriding) the defaults below. */
  settings?: Record<string, SettingValue>;
  /** pg_hba.conf lines placed before the default trust lines, so they win (first match applies). */
  hbaLines?: string[];
  /** Bootstrap superuser name. Default `postgres`. */
  superuser?: string;
  /** initdb --data-checksums. */
  dataChecksums?: boolean;
  /** Progress lines (initdb, start, stop), for test output or the demo command. */
  log?: (line: string) => void;
}

export interface Cluster {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly superuser: string;
  readonly baseDir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly binDir: string;
  /** `postgres://user@127.0.0.1:port/database`, names percent-encoded. */
  url(database?: string, user?: string): string;
  /**
   * SQL as the superuser, on a short-lived connection to `database` (default postgres). Without
   * params, a multi-statement script also runs (as one transaction), but pg then resolves an array.
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<pg.QueryResult<R>>;
  /** Creates a database and returns its URL. */
  createDatabase(name: string, options?: { template?: string }): Promise<string>;
  /** Stops the server; safe to call again, or concurrently. `immediate` unless a clean shutdown matters. */
  stop(mode?: StopMode): Promise<void>;
  /** stop() and remove baseDir. Safe to call again. */
  destroy(): Promise<void>;
  /** The last lines of the server log, for failure messages. */
  logTail(lines?: number): Promise<string>;
}

/** PostgreSQL refuses to run as root; as root we run its programs as this OS user. */
const SERVER_OS_USER = 'postgres';
const START_ATTEMPTS = 3;
const TOOL_TIMEOUT_MS = 120_000;

export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const { hbaLines, ...rest } = options;
  return startFrom(
    {
      ...rest,
      async populate({ dataDir, run }) {
        await initdb(run, dataDir, options.superuser ?? 'postgres', options.dataChecksums ?? false);
        await writeHba(dataDir, hbaLines ?? []);
        await appendFile(join(dataDir, 'postgresql.conf'), `\n# pgwarden: test settings\ninclude 'pgwarden.conf'\n`);
      },
    },
    'initdb',
  );
}

type Tool = (name: string, args: string[]) => Promise<string>;

/** What `startClusterFrom` hands its `populate` step. */
export interface PopulateContext {
  /** Where the data directory must be created; it does not exist yet, its parent is writable by the server's user. */
  dataDir: string;
  baseDir: string;
  binDir: string;
  /** Runs a program of binDir (pg_basebackup, …) as the server's OS user, returning its stdout. */
  run(program: string, args: string[]): Promise<string>;
}

export interface StartClusterFromOptions extends Omit<StartClusterOptions, 'hbaLines'> {
  /**
   * Creates the data directory instead of initdb (e.g. `pg_basebackup` from another cluster). It must
   * contain a postgresql.conf that includes 'pgwarden.conf', as a copy of a startCluster cluster does.
   */
  populate(context: PopulateContext): Promise<void>;
}

/**
 * Like startCluster, but the data directory comes from `populate` rather than initdb: a standby made
 * by pg_basebackup, say. Same ports, settings, safety net and stop/destroy semantics as startCluster.
 */
export function startClusterFrom(options: StartClusterFromOptions): Promise<Cluster> {
  return startFrom(options, 'pg_ctl');
}

/** Both ways to start a cluster: make the base dir, let `populate` create the data dir, start, track. */
async function startFrom(options: StartClusterFromOptions, requiredTool: string): Promise<Cluster> {
  const log = options.log ?? (() => {});
  const superuser = options.superuser ?? 'postgres';
  const binDir = await findPgBinDir({ binDir: options.binDir, tool: requiredTool });
  const owner = await serverOwner();
  const baseDir = await makeBaseDir(options.baseDir);
  const dataDir = join(baseDir, 'data');
  const socketDir = join(baseDir, 'run');
  const logFile = join(baseDir, 'server.log');
  const tool = (name: string, args: string[]) => runTool(join(binDir, name), args, { owner, cwd: baseDir });

  try {
    await mkdir(socketDir, { mode: 0o700 });
    if (owner !== undefined) {
      await chown(baseDir, owner.uid, owner.gid);
      await chown(socketDir, owner.uid, owner.gid);
      await checkOwnerCanWrite(owner, baseDir);
    }
    log(`creating ${dataDir}`);
    await options.populate({ dataDir, baseDir, binDir, run: tool });

    const port = await startPostmaster({ ...options, tool, dataDir, socketDir, logFile, owner, log });
    const pid = await readPostmasterPid(dataDir);
    if (pid !== undefined) trackPostmaster(pid, dataDir, baseDir);
    log(`postgresql started on 127.0.0.1:${port} (pid ${pid ?? 'unknown'})`);
    return makeCluster({ port, superuser, baseDir, dataDir, socketDir, logFile, binDir, tool, log });
  } catch (error) {
    // A half-started cluster is useless to the caller and must not outlive this call.
    await killPostmaster(dataDir, undefined).catch(() => {});
    await rm(baseDir, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
}

interface ClusterParts {
  port: number;
  superuser: string;
  baseDir: string;
  dataDir: string;
  socketDir: string;
  logFile: string;
  binDir: string;
  tool: Tool;
  log: (line: string) => void;
}

function makeCluster(parts: ClusterParts): Cluster {
  const { port, superuser, dataDir, tool, log } = parts;
  let stopping: Promise<void> | undefined;
  let destroying: Promise<void> | undefined;

  const url = (database = 'postgres', user = superuser) =>
    `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

  const query = async <R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    database = 'postgres',
  ): Promise<pg.QueryResult<R>> => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: superuser, database, connectionTimeoutMillis: 10_000 });
    // Without a listener, a server that goes away mid-query would crash the process instead of
    // failing the query.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      throw new DatabaseUnreachableError(`cannot connect to ${url(database)}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    try {
      return await client.query<R>(sql, params);
    } finally {
      await client.end().catch(() => {});
    }
  };

  const stop = (mode: StopMode = 'immediate'): Promise<void> => {
    stopping ??= stopServer(tool, dataDir, mode, log).catch((error: unknown) => {
      stopping = undefined; // let a later call try again
      throw error;
    });
    return stopping;
  };

  return {
    host: '127.0.0.1',
    port,
    superuser,
    baseDir: parts.baseDir,
    dataDir,
    socketDir: parts.socketDir,
    logFile: parts.logFile,
    binDir: parts.binDir,
    url,
    query,
    async createDatabase(name, options = {}) {
      const template = options.template === undefined ? '' : ` TEMPLATE ${pg.escapeIdentifier(options.template)}`;
      await query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${template}`);
      return url(name);
    },
    stop,
    destroy() {
      destroying ??= (async () => {
        await stop('immediate');
        await rm(parts.baseDir, { recursive: true, force: true });
        log(`removed ${parts.baseDir}`);
      })().catch((error: unknown) => {
        destroying = undefined;
        throw error;
      });
      return destroying;
    },
    logTail: (lines) => readLogTail(parts.logFile, lines),
  };
}

// ---- starting ----

async function makeBaseDir(requested: string | undefined): Promise<string> {
  if (requested === undefined) return mkdtemp(join(tmpdir(), 'pgwarden-pg-'));
  // Absolute, because the postmaster's command line is matched against it when killing leftovers.
  const dir = resolve(requested);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // destroy() removes this directory, so never adopt one that holds somebody else's files.
  if ((await readdir(dir)).length > 0) {
    throw new ToolError(`cluster directory ${dir} is not empty`, {
      hints: ['pass an empty or new directory as baseDir; destroy() deletes it'],
    });
  }
  return dir;
}

async function initdb(tool: Tool, dataDir: string, superuser: string, dataChecksums: boolean): Promise<void> {
  const args = ['-D', dataDir, '-U', superuser, '-A', 'trust', '-E', 'UTF8', '--no-sync', ...(dataChecksums ? ['--data-checksums'] : [])];
  try {
    await tool('initdb', [...args, '--locale=C.UTF-8']);
  } catch (error) {
    // Older C libraries have no C.UTF-8; plain C sorts the same way byte-wise and takes any encoding.
    if (!/locale/i.test(errorMessage(error))) throw error;
    await rm(dataDir, { recursive: true, force: true });
    await tool('initdb', [...args, '--locale=C']);
  }
}

async function writeHba(dataDir: string, extra: string[]): Promise<void> {
  const lines = [
    '# pgwarden test cluster: caller lines first, then trust on the socket and loopback',
    ...extra,
    'local all all trust',
    'host all all 127.0.0.1/32 trust',
    'local replication all trust',
    'host replication all 127.0.0.1/32 trust',
  ];
  await writeFile(join(dataDir, 'pg_hba.conf'), `${lines.join('\n')}\n`);
}

interface StartParts extends StartClusterOptions {
  tool: Tool;
  dataDir: string;
  socketDir: string;
  logFile: string;
  owner: Owner | undefined;
  log: (line: string) => void;
}

/** Starts the postmaster and returns its port, re-picking the port if another process took it first. */
async function startPostmaster(parts: StartParts): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = parts.port ?? (await pickFreePort());
    await writeSettings(parts, port);
    const logOffset = await fileSize(parts.logFile);
    try {
      await parts.tool('pg_ctl', ['start', '-D', parts.dataDir, '-l', parts.logFile, '-w', '-t', '60', '-s']);
      return port;
    } catch (error) {
      const newLog = await readFrom(parts.logFile, logOffset);
      await killPostmaster(parts.dataDir, undefined);
      const portTaken = /could not bind|address already in use|could not create any TCP\/IP sockets/i.test(newLog);
      if (portTaken && parts.port === undefined && attempt < START_ATTEMPTS) {
        parts.log(`port ${port} was taken before postgresql bound it; trying another`);
        continue;
      }
      throw new ToolError(
        `postgresql did not start on 127.0.0.1:${port}: ${errorMessage(error)}\n--- server log ---\n${lastLines(newLog, 30)}`,
        { cause: error, hints: ['the server log above says why; check the settings passed to startCluster'] },
      );
    }
  }
}

async function writeSettings(parts: StartParts, port: number): Promise<void> {
  const settings: Record<string, SettingValue> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: parts.socketDir,
    // Tests throw the cluster away, so durability only costs time; benchmarks pass fsync=on.
    fsync: 'off',
    wal_level: 'replica',
    max_wal_senders: 10,
    max_replication_slots: 10,
    ...parts.settings,
  };
  const lines = Object.entries(settings).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) throw new ToolError(`invalid postgresql setting name: ${name}`);
    return `${name} = ${quoteConfValue(String(value))}`;
  });
  const file = join(parts.dataDir, 'pgwarden.conf');
  await writeFile(file, `${lines.join('\n')}\n`);
  if (parts.owner !== undefined) await chown(file, parts.owner.uid, parts.owner.gid);
}

/** postgresql.conf string syntax: backslash escapes apply inside quotes, and a quote is doubled. */
function quoteConfValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** Ports given to clusters of this process that may not be bound yet. */
const portsHandedOut = new Set<number>();

/** A port nobody listens on right now. Another process may still take it first; startPostmaster retries. */
async function pickFreePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const server = createServer();
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const chosen = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolvePort(chosen));
      });
    });
    // Clusters starting concurrently in this process could otherwise be handed the same port.
    if (!portsHandedOut.has(port)) {
      portsHandedOut.add(port);
      setTimeout(() => portsHandedOut.delete(port), 60_000).unref();
      return port;
    }
  }
}

// ---- stopping ----

async function stopServer(tool: Tool, dataDir: string, mode: StopMode, log: (line: string) => void): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  try {
    await tool('pg_ctl', ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '30', '-s']);
    log(`postgresql stopped (${mode})`);
  } catch (error) {
    // Already stopped (postmaster.pid gone) is fine; anything else falls through to killing by pid.
    if (pid !== undefined) log(`pg_ctl stop failed (${errorMessage(error)}); killing postmaster ${pid}`);
  }
  await killPostmaster(dataDir, pid);
}

/** Makes sure no postmaster serves dataDir any more: SIGKILL if needed, then wait until it is gone. */
async function killPostmaster(dataDir: string, knownPid: number | undefined): Promise<void> {
  const pids = new Set<number>();
  if (knownPid !== undefined) pids.add(knownPid);
  const fromFile = await readPostmasterPid(dataDir);
  if (fromFile !== undefined) pids.add(fromFile);
  for (const pid of pids) {
    if (!(await waitForExit(pid, dataDir, 2_000))) {
      signalPostmaster(pid, dataDir, 'SIGKILL');
      if (!(await waitForExit(pid, dataDir, 10_000))) {
        throw new ToolError(`postmaster ${pid} for ${dataDir} is still running after SIGKILL`);
      }
    }
    livePostmasters.delete(pid);
  }
}

async function waitForExit(pid: number, dataDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isPostmasterOf(pid, dataDir)) {
    if (Date.now() > deadline) return false;
    await new Promise((done) => setTimeout(done, 25));
  }
  return true;
}

async function readPostmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const first = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '';
    const pid = Number(first.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

// ---- the process-wide safety net ----

/**
 * Postmasters this process started and has not yet seen stop. Process-wide on purpose: the 'exit'
 * handler below must reach every cluster, whoever started it.
 */
const livePostmasters = new Map<number, { dataDir: string; baseDir: string }>();
let exitHandlerInstalled = false;

function trackPostmaster(pid: number, dataDir: string, baseDir: string): void {
  livePostmasters.set(pid, { dataDir, baseDir });
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on('exit', killLeftoverPostmasters);
  }
}

/**
 * Stops every postmaster this process started and did not stop, and removes its directory.
 * Synchronous, because it runs in the 'exit' handler; best effort. SIGQUIT first (immediate
 * shutdown): the postmaster then takes its children down and removes its SysV shared memory segment,
 * which a bare SIGKILL would leak. Whatever still runs after a short wait gets SIGKILL (its children
 * notice their postmaster died and exit), and keeps its directory, which they may still be writing.
 */
export function killLeftoverPostmasters(): void {
  const leftovers = [...livePostmasters];
  livePostmasters.clear();
  for (const [pid, { dataDir }] of leftovers) signalPostmaster(pid, dataDir, 'SIGQUIT');
  const deadline = Date.now() + EXIT_GRACE_MS;
  let running = leftovers;
  while (running.length > 0 && Date.now() < deadline) {
    sleepSync(10);
    running = running.filter(([pid, { dataDir }]) => isPostmasterOf(pid, dataDir));
  }
  for (const [pid, { dataDir }] of running) signalPostmaster(pid, dataDir, 'SIGKILL');
  for (const [pid, { baseDir }] of leftovers) {
    if (running.some(([stillRunning]) => stillRunning === pid)) continue;
    try {
      rmSync(baseDir, { recursive: true, force: true });
    } catch {
      // Best effort: a leftover directory in the temp dir is harmless.
    }
  }
}

const EXIT_GRACE_MS = 2_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function signalPostmaster(pid: number, dataDir: string, signal: NodeJS.Signals): void {
  // Check the pid still belongs to this cluster's postmaster: pids are reused.
  if (!isPostmasterOf(pid, dataDir)) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Gone meanwhile.
  }
}

const hasProc = existsSync('/proc/self/cmdline');

/** Whether pid is alive and is the postmaster of dataDir (its command line holds `-D dataDir`). */
function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!hasProc) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  try {
    // A zombie has an empty command line, so a dead-but-unreaped postmaster counts as gone.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
  } catch {
    return false;
  }
}

// ---- running PostgreSQL's programs ----

interface Owner {
  uid: number;
  gid: number;
}

/** As root, the OS user the server runs as; otherwise undefined (we run as ourselves). */
async function serverOwner(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number((await runToolForText('id', ['-u', SERVER_OS_USER])).trim());
    const gid = Number((await runToolForText('id', ['-g', SERVER_OS_USER])).trim());
    return { uid, gid };
  } catch (error) {
    throw new ToolError(`running as root, but there is no '${SERVER_OS_USER}' OS user to run postgresql as`, {
      cause: error,
      hints: [`create it (useradd --system ${SERVER_OS_USER}), or run as an ordinary user`],
    });
  }
}

async function checkOwnerCanWrite(owner: Owner, dir: string): Promise<void> {
  try {
    await runTool('test', ['-w', dir, '-a', '-x', dir], { owner, cwd: '/' });
  } catch (error) {
    throw new ToolError(`the '${SERVER_OS_USER}' OS user cannot write ${dir}`, {
      cause: error,
      hints: ['every parent directory must be traversable by that user (chmod o+x), or use a baseDir under /tmp'],
    });
  }
}

/** Runs a program (as the server's OS user when we are root) and returns its stdout. */
function runTool(program: string, args: string[], context: { owner: Owner | undefined; cwd: string }): Promise<string> {
  const [file, argv] =
    context.owner === undefined ? [program, args] : ['runuser', ['-u', SERVER_OS_USER, '--', program, ...args]];
  return runToolForText(file, argv, {
    cwd: context.cwd,
    // English messages, which startPostmaster and initdb's locale fallback look for.
    env: { LC_ALL: 'C' },
    label: `${basename(program)} ${args[0] ?? ''}`.trim(),
    signal: AbortSignal.timeout(TOOL_TIMEOUT_MS),
  });
}

// ---- reading the log ----

const LOG_TAIL_BYTES = 64 * 1024;

async function readLogTail(logFile: string, lines = 40): Promise<string> {
  const size = await fileSize(logFile);
  return lastLines(await readFrom(logFile, Math.max(0, size - LOG_TAIL_BYTES)), lines);
}

async function readFrom(path: string, offset: number): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const size = (await handle.stat()).size;
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    await handle?.close();
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
