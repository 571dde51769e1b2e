// Where the bytes of a full backup come from. One job: `pg_dump -Fc` streams straight into the pipeline.
// Several jobs (backup.jobs > 1): `pg_dump -Fd -j N` must write a directory, so it dumps into temporary
// space first and the directory is then streamed as a tar archive — the artifact format 'directory-tar'.
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { PrecheckError } from '../errors.js';
import type { ArtifactFormat } from '../manifest/types.js';
import type { ToolConnection } from '../postgres/connection.js';
import { startTool, type ToolProcess } from '../postgres/run-tool.js';
import { formatBytes } from './precheck.js';

export interface DumpSource {
  format: ArtifactFormat;
  stream: Readable;
  /** Settles when every producing process exited; rejects if one failed. */
  done: Promise<void>;
  kill(): void;
  /** Removes temporary space; safe to call more than once. */
  cleanup(): Promise<void>;
}

export interface DumpOptions {
  pgDump: string;
  connection: ToolConnection;
  snapshot: string;
  jobs: number;
  database: string;
  /** Bytes the database occupies: the temporary space a parallel dump may need at most. */
  databaseBytes: number;
  tempDir?: string | undefined;
  signal?: AbortSignal | undefined;
}

export async function startDump(options: DumpOptions): Promise<DumpSource> {
  const common = ['--compress=0', `--snapshot=${options.snapshot}`, `--dbname=${options.connection.dbname}`];
  const label = `pg_dump of database "${options.database}"`;
  if (options.jobs <= 1) {
    const dump = startTool(options.pgDump, ['--format=custom', ...common], {
      stdout: 'pipe',
      env: options.connection.env,
      signal: options.signal,
      label,
    });
    return { format: 'custom', stream: dump.stdout!, done: dump.done, kill: () => dump.kill(), cleanup: async () => {} };
  }

  const base = options.tempDir ?? tmpdir();
  const free = await statfs(base).then((s) => s.bavail * s.bsize);
  if (free < options.databaseBytes) {
    throw new PrecheckError('disk', `a parallel dump (backup.jobs = ${options.jobs}) needs up to ${formatBytes(options.databaseBytes)} of temporary space in ${base}; ${formatBytes(free)} is free`, {
      hints: ['set backup.tempDir to a larger disk, or backup.jobs to 1 (streams, needs no temporary space)'],
    });
  }
  const dir = await mkdtemp(join(base, 'pgwarden-dump-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  let running: ToolProcess | undefined;
  try {
    running = startTool(options.pgDump, ['--format=directory', `--jobs=${options.jobs}`, `--file=${join(dir, 'dump')}`, ...common], {
      env: options.connection.env,
      signal: options.signal,
      label,
    });
    await running.done;
    // A plain tar of the dump directory: toc.dat plus one file per table's data.
    const tar = startTool('tar', ['--create', '--file=-', '--directory', join(dir, 'dump'), '.'], {
      stdout: 'pipe',
      signal: options.signal,
      label: 'tar of the pg_dump directory',
    });
    running = tar;
    return { format: 'directory-tar', stream: tar.stdout!, done: tar.done, kill: () => tar.kill(), cleanup };
  } catch (error) {
    running?.kill();
    await cleanup();
    throw error;
  }
}
