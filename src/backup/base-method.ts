// How a base backup reads the cluster (backup.baseMethod): `files` reads the data directory here, between
// pg_backup_start and pg_backup_stop (pgBackRest's way: no walsender and no pg_basebackup in the byte path);
// `stream` runs pg_basebackup, which works from any host. `auto` takes `files` when pgwarden runs on the
// database host with read access to the very cluster it is connected to, else `stream`, and says why.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { PrecheckError } from '../errors.js';
import type { PageChecksumSettings } from './base-files.js';

export const BASE_METHODS = ['auto', 'files', 'stream'] as const;
export type BaseMethod = (typeof BASE_METHODS)[number];

export type ChosenBaseMethod =
  | { method: 'files'; dataDir: string; systemIdentifier: string; /** null: the cluster has no data checksums. */ pageChecksums: PageChecksumSettings | null }
  | { method: 'stream'; /** Why not `files`, under auto. */ reason: string | undefined };

/** The method for this run; throws when `files` was configured and cannot be used. */
export async function chooseBaseMethod(client: pg.Client, configured: BaseMethod, serverMajor: number): Promise<ChosenBaseMethod> {
  if (configured === 'stream') return { method: 'stream', reason: undefined };
  const access = await dataDirectoryAccess(client, serverMajor);
  if ('dataDir' in access) return { method: 'files', ...access };
  if (configured === 'auto') return { method: 'stream', reason: access.reason };
  throw new PrecheckError('config', `backup.baseMethod is files, but ${access.reason}`, {
    hints: [access.hint ?? 'set backup.baseMethod: stream (or auto) to back this cluster up with pg_basebackup'],
  });
}

type Access = { dataDir: string; systemIdentifier: string; pageChecksums: PageChecksumSettings | null } | { reason: string; hint?: string };

async function dataDirectoryAccess(client: pg.Client, serverMajor: number): Promise<Access> {
  if (serverMajor < 13) return { reason: `PostgreSQL ${serverMajor} has no backup manifests (13 and later do)` };
  const start = serverMajor >= 15 ? 'pg_backup_start(text, boolean)' : 'pg_start_backup(text, boolean, boolean)';
  const stop = serverMajor >= 15 ? 'pg_backup_stop(boolean)' : 'pg_stop_backup(boolean, boolean)';
  // data_directory only for a role that may read it (the query fails otherwise).
  const { rows } = await client.query<{
    standby: boolean;
    identifier: string;
    may: boolean;
    tablespaces: number;
    dir: string | null;
    database: string;
    checksums: boolean;
    block_size: number;
    segment_blocks: number;
  }>(
    `SELECT pg_is_in_recovery() AS standby, current_database() AS database,
            current_setting('data_checksums') = 'on' AS checksums, current_setting('block_size')::int AS block_size,
            (SELECT setting::int FROM pg_settings WHERE name = 'segment_size') AS segment_blocks,
            (SELECT system_identifier::text FROM pg_control_system()) AS identifier,
            has_function_privilege($1, 'EXECUTE') AND has_function_privilege($2, 'EXECUTE') AS may,
            (SELECT count(*) FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global'))::int AS tablespaces,
            CASE WHEN pg_has_role('pg_read_all_settings', 'USAGE') THEN current_setting('data_directory') END AS dir`,
    [start, stop],
  );
  const row = rows[0]!;
  if (row.standby) return { reason: 'the server is a standby (pgwarden reads data directories of primaries only)' };
  if (row.tablespaces > 0) return { reason: `the cluster has ${row.tablespaces} tablespace(s) besides pg_default, which a backup read from the data directory does not take` };
  if (!row.may) {
    return {
      reason: `the backup role may not run ${start.replace(/\(.*/, '')} and ${stop.replace(/\(.*/, '')}`,
      hint: `in database ${row.database}: GRANT EXECUTE ON FUNCTION ${start}, ${stop} TO the role (see \`pgwarden sql backup-role --replication\`)`,
    };
  }
  if (row.dir === null) {
    return { reason: 'the backup role may not read the data_directory setting', hint: 'GRANT pg_read_all_settings TO the role (see `pgwarden sql backup-role --replication`)' };
  }
  const dataDir = row.dir;
  // The same path here must be the same cluster: pg_control's first 8 bytes are its system identifier.
  let here: string;
  try {
    const handle = await open(join(dataDir, 'global', 'pg_control'), 'r');
    try {
      const head = Buffer.alloc(8);
      await handle.read(head, 0, 8, 0);
      here = head.readBigUInt64LE(0).toString();
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return {
      reason: `the server's data directory ${dataDir} cannot be read here (${code}): pgwarden is not on the database host, or not its OS user`,
      hint: code === 'EACCES' ? `run pgwarden as the server's OS user (or one in its group, with group read access to ${dataDir})` : undefined,
    };
  }
  if (here !== row.identifier) {
    return { reason: `${dataDir} here belongs to another cluster (system identifier ${here}, the server's is ${row.identifier})` };
  }
  const pageChecksums = row.checksums ? { blockSize: row.block_size, segmentBlocks: row.segment_blocks } : null;
  return { dataDir, systemIdentifier: row.identifier, pageChecksums };
}
