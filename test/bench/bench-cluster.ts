// The benchmarks' PostgreSQL: a throwaway cluster from startCluster, or, with a kept directory, one that
// outlives the run so its generated database is reused next time (startCluster only creates new clusters, so a
// kept one is restarted here with pg_ctl). Always with fsync on: a benchmark never runs with fsync=off.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { findPgBinDir } from '../../src/postgres/bindir.js';
import { startCluster } from '../../src/postgres/cluster.js';
import { runToolForText } from '../../src/postgres/run-tool.js';
import { freePort } from './bench-run.js';

/** Durable like production (fsync, full pages), with memory and checkpoint spacing sized for a 1–10 GB database. */
export const BENCH_SETTINGS: Record<string, string> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  shared_buffers: '512MB',
  effective_cache_size: '8GB',
  max_wal_size: '4GB',
  checkpoint_timeout: '30min',
};

export interface BenchCluster {
  readonly binDir: string;
  readonly dataDir: string;
  /** True when a kept cluster was restarted rather than created. */
  readonly reused: boolean;
  url(database?: string): string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult<R>>;
  postmasterPid(): Promise<number>;
  /** Stops the server; a throwaway cluster's directory is removed too. Safe to call more than once. */
  close(): Promise<void>;
}

const SUPERUSER = 'postgres';

/** Starts a new cluster, in `keepDir` when given (kept after close), or restarts the one already there. */
export async function openBenchCluster(options: { keepDir?: string | undefined; log: (line: string) => void }): Promise<BenchCluster> {
  const baseDir = options.keepDir === undefined ? undefined : resolve(options.keepDir, 'cluster');
  if (baseDir !== undefined && existsSync(join(baseDir, 'data', 'PG_VERSION'))) return restartKept(baseDir, options.log);

  // The server's OS user must be able to traverse the kept directory to reach the cluster inside it.
  if (options.keepDir !== undefined) await mkdir(options.keepDir, { recursive: true, mode: 0o755 });
  const cluster = await startCluster({ baseDir, settings: BENCH_SETTINGS, log: options.log });
  let closing: Promise<void> | undefined;
  return {
    binDir: cluster.binDir,
    dataDir: cluster.dataDir,
    reused: false,
    url: (database) => cluster.url(database),
    query: (sql, params, database) => cluster.query(sql, params, database),
    postmasterPid: () => readPostmasterPid(cluster.dataDir),
    close() {
      closing ??= baseDir === undefined ? cluster.destroy() : cluster.stop('fast');
      return closing;
    },
  };
}

async function restartKept(baseDir: string, log: (line: string) => void): Promise<BenchCluster> {
  const dataDir = join(baseDir, 'data');
  const major = Number((await readFile(join(dataDir, 'PG_VERSION'), 'utf8')).trim());
  const binDir = await findPgBinDir({ major, tool: 'pg_ctl' });
  const port = await freePort();
  // Command-line settings override the cluster's files, so a kept cluster runs with today's BENCH_SETTINGS.
  const options = [`-p ${port}`, ...Object.entries(BENCH_SETTINGS).map(([name, value]) => `-c ${name}=${value}`)].join(' ');
  const pgCtl = (args: string[]) => asServerOwner(join(binDir, 'pg_ctl'), args);
  log(`restarting the kept cluster in ${baseDir} on port ${port}`);
  await pgCtl(['start', '-D', dataDir, '-l', join(baseDir, 'server.log'), '-w', '-t', '120', '-s', '-o', options]);

  let running = true;
  // A run that dies without close() must not leave the server holding its port and memory.
  const onExit = () => {
    if (running) spawnSync(...asServerOwnerArgv(join(binDir, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w', '-s']));
  };
  process.on('exit', onExit);
  let closing: Promise<void> | undefined;

  const url = (database = 'postgres') => `postgres://${SUPERUSER}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    binDir,
    dataDir,
    reused: true,
    url,
    async query<R extends pg.QueryResultRow>(sql: string, params?: unknown[], database = 'postgres') {
      const client = new pg.Client({ connectionString: url(database) });
      client.on('error', () => {});
      await client.connect();
      try {
        return await client.query<R>(sql, params);
      } finally {
        await client.end().catch(() => {});
      }
    },
    postmasterPid: () => readPostmasterPid(dataDir),
    close() {
      closing ??= pgCtl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60', '-s']).then(() => {
        running = false;
        process.off('exit', onExit);
        log(`stopped the kept cluster in ${baseDir}`);
      });
      return closing;
    },
  };
}

/** PostgreSQL refuses to run as root: as root, its programs run as the postgres OS user (as startCluster does). */
function asServerOwnerArgv(program: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', SUPERUSER, '--', program, ...args]] : [program, args];
}

async function asServerOwner(program: string, args: string[]): Promise<void> {
  const [file, argv] = asServerOwnerArgv(program, args);
  await runToolForText(file, argv, { env: { LC_ALL: 'C' }, cwd: '/' });
}

async function readPostmasterPid(dataDir: string): Promise<number> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in ${dataDir}/postmaster.pid`);
  return pid;
}

