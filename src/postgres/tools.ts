// Finds the PostgreSQL client tool that can work with a given server: pg_dump refuses a server newer than
// itself, so we pick the tool of the server's major version (or the newest newer one) and say so when none fits.
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolError } from '../errors.js';
import { listPgBinDirs } from './bindir.js';
import { runToolForText } from './run-tool.js';

export type PgToolName = 'pg_dump' | 'pg_restore' | 'pg_basebackup' | 'pg_receivewal' | 'pg_verifybackup' | 'pg_waldump' | 'psql';

export interface PgTool {
  name: PgToolName;
  path: string;
  major: number;
  /** As the tool prints it, e.g. "15.18". */
  version: string;
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → { major: 15, version: "15.18" }. */
export function parseToolVersion(output: string): { major: number; version: string } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) return undefined;
  const major = Number(match[1]);
  return { major, version: match[2] === undefined ? `${major}` : `${major}.${match[2]}` };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function probe(name: PgToolName, dir: string): Promise<PgTool | undefined> {
  const path = join(dir, name);
  if (!(await isExecutable(path))) return undefined;
  const parsed = parseToolVersion(await runToolForText(path, ['--version']));
  return parsed ? { name, path, ...parsed } : undefined;
}

export interface FindToolOptions {
  /** backup.pgBinDir from config: used as is when set. */
  binDir?: string;
  /** The server's major version (server_version_num / 10000). */
  serverMajor: number;
}

/**
 * Returns the tool for `serverMajor`: from `binDir` when configured, else the installed version closest
 * at or above the server's. A tool older than the server cannot read it: that is an error naming both.
 */
export async function findPgTool(name: PgToolName, options: FindToolOptions): Promise<PgTool> {
  const candidates: PgTool[] = [];
  if (options.binDir) {
    const tool = await probe(name, options.binDir);
    if (!tool) {
      throw new ToolError(`${name} not found in backup.pgBinDir ${options.binDir}`, {
        hints: ['point backup.pgBinDir at the bin directory of the PostgreSQL client tools'],
      });
    }
    candidates.push(tool);
  } else {
    for (const { dir } of await listPgBinDirs()) {
      const tool = await probe(name, dir);
      if (tool) candidates.push(tool);
    }
  }
  if (candidates.length === 0) {
    throw new ToolError(`${name} not found: no PostgreSQL client tools are installed`, {
      hints: [`install them (Debian: apt-get install postgresql-client-${options.serverMajor}) or set backup.pgBinDir`],
    });
  }
  const fitting = candidates.filter((t) => t.major >= options.serverMajor).sort((a, b) => a.major - b.major);
  const best = fitting[0];
  if (!best) {
    const newest = candidates.sort((a, b) => b.major - a.major)[0]!;
    throw new ToolError(
      `${name} ${newest.version} (${newest.path}) cannot work with a PostgreSQL ${options.serverMajor} server: ` +
        `the tool must be version ${options.serverMajor} or newer`,
      { hints: [`install postgresql-client-${options.serverMajor} or set backup.pgBinDir to its bin directory`] },
    );
  }
  return best;
}
