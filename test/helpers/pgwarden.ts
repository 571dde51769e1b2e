// Runs pgwarden the way a user does — the built CLI as a child process with a config file — against a
// throwaway cluster, and reads back what it left: catalog rows, logs, files on local storage.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { packageRoot } from '../../src/package-root.js';
import type { Cluster, CleanupHooks } from './postgres.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const CLI = join(packageRoot(), 'bin', 'pgwarden.js');

export function runCli(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface WardenSetup {
  dir: string;
  storageDir: string;
  configPath: string;
  catalogUrl: string;
  key: string;
  /** Runs the CLI with this setup's config. */
  run(args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** Rewrites the config (e.g. to add a database or change the key). */
  writeConfig(overrides?: ConfigOverrides): Promise<void>;
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Every file under the storage dir, relative, sorted. */
  storageFiles(): Promise<string[]>;
}

export interface DatabaseEntry {
  name: string;
  url: string;
  standbys?: { name: string; url: string }[];
  pitr?: boolean;
  /** Per-database schedule overrides by kind, e.g. full → a per-second cron pattern in tests. */
  schedules?: Record<string, string>;
  /** Per-database compression overrides. */
  compression?: string;
  compressionLevel?: number;
}

export interface ConfigOverrides {
  databases?: DatabaseEntry[];
  encrypt?: boolean;
  keys?: { id: string; key: string }[];
  /** The `encryption.kms` line, indented under `encryption:` (FakeKms.configYaml). */
  kms?: string;
  storagePath?: string;
  /** More targets in the storage map, e.g. `s3: { … }, gcs: { … }` (YAML flow syntax). */
  storageTargets?: string;
  /** Leave the local target out (cloud-only configs). */
  noLocal?: boolean;
  extra?: string;
}

/**
 * A catalog database on `cluster`, a temp storage dir and a config file. The config starts with one
 * database entry per `databases` (default none) and can be rewritten per test.
 */
export async function setupWarden(hooks: CleanupHooks, cluster: Cluster, initial: ConfigOverrides = {}): Promise<WardenSetup> {
  const dir = await mkdtemp(join(tmpdir(), 'pgwarden-test-'));
  hooks.after(() => rm(dir, { recursive: true, force: true }));
  // The database server's user runs archive_command (pgwarden wal-push): it reads the config and owns storage.
  await chmod(dir, 0o755);
  const storageRoot = join(dir, 'backups');
  await mkdir(storageRoot, { mode: 0o700 });
  if (process.getuid?.() === 0) {
    const postgres = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('postgres:'))?.split(':');
    if (postgres) await chown(storageRoot, Number(postgres[2]), Number(postgres[3]));
  }
  const catalogName = `catalog_${randomBytes(4).toString('hex')}`;
  const catalogUrl = await cluster.createDatabase(catalogName);
  const storageDir = join(dir, 'backups');
  const configPath = join(dir, 'pgwarden.yml');
  const key = randomBytes(32).toString('base64');
  let current: ConfigOverrides = initial;

  const writeConfig = async (overrides: ConfigOverrides = current) => {
    current = overrides;
    const databases = overrides.databases ?? [];
    const keys = overrides.keys ?? (overrides.encrypt ? [{ id: 'k1', key }] : []);
    const lines = [
      `catalog: { url: "${catalogUrl}" }`,
      'databases:',
      ...databases.map((d) => {
        const standbys = d.standbys ? `, standbys: [${d.standbys.map((sb) => `{ name: "${sb.name}", url: "${sb.url}" }`).join(', ')}]` : '';
        const schedules = d.schedules ? `, schedules: { ${Object.entries(d.schedules).map(([k, v]) => `${k}: "${v}"`).join(', ')} }` : '';
        const compression = `${d.compression ? `, compression: ${d.compression}` : ''}${d.compressionLevel !== undefined ? `, compressionLevel: ${d.compressionLevel}` : ''}`;
        return `  - { name: "${d.name}", url: "${d.url}"${d.pitr ? ', pitr: true' : ''}${standbys}${schedules}${compression} }`;
      }),
      `storage: { ${[overrides.noLocal ? '' : `local: { path: "${overrides.storagePath ?? storageDir}" }`, overrides.storageTargets ?? ''].filter(Boolean).join(', ')} }`,
      ...(keys.length > 0 || overrides.kms ? ['encryption:'] : []),
      ...(keys.length > 0 ? ['  keys:', ...keys.map((k) => `    - { id: "${k.id}", key: "${k.key}" }`)] : []),
      ...(overrides.kms ? [overrides.kms] : []),
      'logLevel: warn',
      overrides.extra ?? '',
    ];
    await writeFile(configPath, `${lines.join('\n')}\n`, { mode: 0o644 });
  };
  await writeConfig(initial);

  return {
    dir,
    storageDir,
    configPath,
    catalogUrl,
    key,
    run: (args, env) => runCli(['--config', configPath, ...args], { env }),
    writeConfig,
    async query(sql, params) {
      const client = new pg.Client({ connectionString: catalogUrl });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows;
      } finally {
        await client.end();
      }
    },
    storageFiles: () => listFiles(storageDir),
  };
}

export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  await walk(root, '');
  return out.sort();
}

/** The backup ids a `backup full` run printed (one per line on stdout). */
export function printedIds(result: CliResult): string[] {
  return result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d{8}T\d{6}Z-full-[0-9a-f]{6}$/.test(l));
}
