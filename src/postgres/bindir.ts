// Finds the directory holding PostgreSQL's programs. Debian installs each major side by side under
// /usr/lib/postgresql/<N>/bin and puts only version-switching wrappers (and no server tools) on PATH,
// so PATH is the last place we look, not the first.

import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ToolError } from '../errors.js';
import { runToolForText } from './run-tool.js';

/** Where distribution packages put one directory per major version. */
export const DEBIAN_PG_ROOT = '/usr/lib/postgresql';

export interface FindPgBinDirOptions {
  /** Use exactly this directory; it must contain `tool`. */
  binDir?: string;
  /** Only accept this major version (15, 16, …). */
  major?: number;
  /** The program the caller needs; a client-only install has pg_dump but no initdb. Default `pg_ctl`. */
  tool?: string;
  /** Where to look for `<N>/bin` directories; tests point this elsewhere. */
  root?: string;
}

/** The `/usr/lib/postgresql/<N>/bin` directories that exist, newest major first. */
export async function listPgBinDirs(root: string = DEBIAN_PG_ROOT): Promise<{ major: number; dir: string }[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const found: { major: number; dir: string }[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const dir = join(root, name, 'bin');
    if (await isDirectory(dir)) found.push({ major: Number(name), dir });
  }
  return found.sort((a, b) => b.major - a.major);
}

export async function findPgBinDir(options: FindPgBinDirOptions = {}): Promise<string> {
  const tool = options.tool ?? 'pg_ctl';
  const { major } = options;

  if (options.binDir !== undefined) {
    // An explicit choice is never second-guessed by falling back to another install.
    if (await isExecutable(join(options.binDir, tool))) return options.binDir;
    throw new ToolError(`postgresql ${tool} not found in ${options.binDir}`, {
      hints: [`check the configured PostgreSQL bin directory, or leave it unset to search ${DEBIAN_PG_ROOT}`],
    });
  }

  const searched: string[] = [];

  const root = options.root ?? DEBIAN_PG_ROOT;
  const versioned = (await listPgBinDirs(root)).filter((d) => major === undefined || d.major === major);
  for (const { dir } of versioned) {
    if (await isExecutable(join(dir, tool))) return dir;
  }
  searched.push(major === undefined ? `${root}/*/bin` : `${root}/${major}/bin`);

  const configured = await pgConfigBinDir();
  searched.push('pg_config --bindir');
  if (configured !== undefined && (await acceptable(configured, tool, major))) return configured;

  searched.push('PATH');
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    if (await acceptable(dir, tool, major)) return dir;
  }

  const wanted = major === undefined ? 'postgresql' : `postgresql ${major}`;
  throw new ToolError(`${wanted} ${tool} not found (searched ${searched.join(', ')})`, {
    hints: [
      `install the server package, e.g. apt-get install postgresql-${major ?? 15}`,
      'or set the PostgreSQL bin directory explicitly',
    ],
  });
}

/** The major version a program reports (`pg_ctl (PostgreSQL) 15.18` → 15), or undefined if it cannot say. */
export async function pgToolMajor(program: string): Promise<number | undefined> {
  try {
    const stdout = await runToolForText(program, ['--version'], { signal: AbortSignal.timeout(10_000) });
    const match = /\(PostgreSQL\)\s+(\d+)/.exec(stdout) ?? /PostgreSQL\s+(\d+)/.exec(stdout);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

async function acceptable(dir: string, tool: string, major: number | undefined): Promise<boolean> {
  const program = join(dir, tool);
  if (!(await isExecutable(program))) return false;
  // Outside the versioned tree the directory does not say its version, so ask the program.
  return major === undefined || (await pgToolMajor(program)) === major;
}

async function pgConfigBinDir(): Promise<string | undefined> {
  try {
    const stdout = await runToolForText('pg_config', ['--bindir'], { signal: AbortSignal.timeout(10_000) });
    const dir = stdout.trim();
    return dir === '' ? undefined : dir;
  } catch {
    return undefined;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
