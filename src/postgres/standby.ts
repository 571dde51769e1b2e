// A streaming standby of a throwaway cluster, for replication tests and `pgwarden demo`: pg_basebackup -R
// from the primary, its own port, and the standby's name as application_name so the primary's
// pg_stat_replication row can be matched to it.

import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ToolError } from '../errors.js';
import { type Cluster, type StartClusterOptions, startClusterFrom } from './cluster.js';

export interface StartStandbyOptions extends Omit<StartClusterOptions, 'hbaLines' | 'superuser' | 'binDir'> {
  /** application_name in primary_conninfo: the name under which the primary lists this standby. */
  name: string;
  /**
   * Resolve only once the primary lists this standby as `streaming` (default true), so a caller can
   * measure lag right away. The wait is bounded by `streamingTimeoutMs` (default 30 s).
   */
  waitForStreaming?: boolean;
  streamingTimeoutMs?: number;
}

export interface Standby extends Cluster {
  readonly name: string;
  readonly primary: Cluster;
  /** Pauses WAL replay (`pg_wal_replay_pause()`); WAL keeps arriving. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Polls the primary until it lists this standby as `streaming`. */
  waitForStreaming(timeoutMs?: number): Promise<void>;
}

/**
 * Starts a hot standby of `primary` streaming from it. Same stop/destroy semantics as a Cluster; destroy
 * it before or after the primary, either works (a standby whose primary went away just keeps retrying).
 */
export async function startStandby(primary: Cluster, options: StartStandbyOptions): Promise<Standby> {
  const { name, waitForStreaming: wait = true, streamingTimeoutMs = 30_000, ...clusterOptions } = options;
  if (!/^[A-Za-z0-9_.-]{1,63}$/.test(name)) {
    throw new ToolError(`invalid standby name "${name}": use 1 to 63 letters, digits, "_", "." or "-"`);
  }
  const conninfo = `host=127.0.0.1 port=${primary.port} user=${primary.superuser} application_name=${name}`;

  const cluster = await startClusterFrom({
    ...clusterOptions,
    binDir: primary.binDir,
    superuser: primary.superuser,
    async populate({ dataDir, run }) {
      // -X stream: the WAL written during the copy comes along, so the standby starts consistent.
      await run('pg_basebackup', ['-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '-d', conninfo, '--no-sync']);
      // -R already wrote a primary_conninfo; the last setting in a file wins, so this pins exactly ours.
      await appendFile(
        join(dataDir, 'postgresql.auto.conf'),
        `\n# pgwarden standby "${name}"\nprimary_conninfo = '${conninfo}'\n`,
      );
    },
  });

  const waitForStreaming = async (timeoutMs = streamingTimeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await primary.query<{ state: string }>(
        'SELECT state FROM pg_stat_replication WHERE application_name = $1',
        [name],
      );
      if (rows.some((r) => r.state === 'streaming')) return;
      if (Date.now() > deadline) {
        throw new ToolError(`standby "${name}" is not streaming from ${primary.url()} after ${timeoutMs} ms`, {
          hints: [`its log: ${cluster.logFile}`],
        });
      }
      await new Promise((done) => setTimeout(done, 50));
    }
  };

  const standby: Standby = {
    ...cluster,
    name,
    primary,
    async pauseReplay() {
      await cluster.query('SELECT pg_wal_replay_pause()');
    },
    async resumeReplay() {
      await cluster.query('SELECT pg_wal_replay_resume()');
    },
    waitForStreaming,
  };

  if (wait) {
    try {
      await waitForStreaming();
    } catch (error) {
      const tail = await cluster.logTail(20).catch(() => '');
      await cluster.destroy().catch(() => {});
      throw new ToolError(`${(error as Error).message}\n--- standby log ---\n${tail}`, { cause: error });
    }
  }
  return standby;
}
