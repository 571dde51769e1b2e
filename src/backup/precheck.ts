// Pre-checks before a backup (DESIGN.md): the database answers, the role can read everything pg_dump reads,
// and the storage has room for 1.5× the expected size. A failed check is a failed run with that reason.
import type pg from 'pg';
import { PrecheckError, ToolError, isPgwardenError } from '../errors.js';
import { findPgTool, type PgTool, type PgToolName } from '../postgres/tools.js';
import { connect } from '../postgres/connection.js';
import type { StorageDriver } from '../storage/types.js';

export interface SourceInfo {
  serverVersion: string;
  serverMajor: number;
  databaseBytes: number;
  role: string;
}

/** Connects to the source database as the backup role; every failure becomes a 'connect' pre-check failure. */
export async function connectSource(url: string, database: string): Promise<pg.Client> {
  try {
    return await connect(url, { purpose: `database "${database}"`, applicationName: 'pgwarden backup' });
  } catch (error) {
    const message = isPgwardenError(error) ? error.message : String(error);
    throw new PrecheckError('connect', message, { hints: isPgwardenError(error) ? error.hints : [], cause: error });
  }
}

export async function describeSource(client: pg.Client): Promise<SourceInfo> {
  const { rows } = await client.query<{ version: string; num: string; bytes: string; role: string }>(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num,
            pg_database_size(current_database()) AS bytes, current_user AS role`,
  );
  const row = rows[0]!;
  return {
    serverVersion: row.version.split(' ')[0]!,
    serverMajor: Math.floor(Number(row.num) / 10000),
    databaseBytes: Number(row.bytes),
    role: row.role,
  };
}

// Objects pg_dump must read, that this role cannot: tables and sequences without SELECT or whose schema it
// cannot use, and tables whose row-level security would hide rows (pg_dump runs with row_security = off,
// which makes such a table an error unless the role is superuser or BYPASSRLS).
const UNREADABLE_SQL = `
  WITH me AS (SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user)
  SELECT n.nspname AS schema, c.relname AS name,
         CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
         CASE WHEN NOT has_schema_privilege(n.oid, 'USAGE') THEN 'no USAGE on its schema'
              WHEN NOT has_table_privilege(c.oid, 'SELECT') THEN 'no SELECT privilege'
              ELSE 'row-level security applies (needs BYPASSRLS)' END AS reason
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace, me
   WHERE c.relkind IN ('r', 'S')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     AND (NOT has_schema_privilege(n.oid, 'USAGE')
          OR NOT has_table_privilege(c.oid, 'SELECT')
          OR (c.relrowsecurity AND NOT (me.rolsuper OR me.rolbypassrls)
              AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))))
   ORDER BY 1, 2
   LIMIT 20`;

export async function checkReadable(client: pg.Client, database: string, role: string): Promise<void> {
  await client.query('SELECT 1');
  const { rows } = await client.query<{ schema: string; name: string; kind: string; reason: string }>(UNREADABLE_SQL);
  if (rows.length === 0) return;
  const listed = rows.map((r) => `${r.kind} ${quoteName(r.schema)}.${quoteName(r.name)} (${r.reason})`).join(', ');
  throw new PrecheckError('read', `role ${role} cannot read ${rows.length === 20 ? 'at least 20 objects' : `${rows.length} object${rows.length > 1 ? 's' : ''}`} in database "${database}": ${listed}`, {
    hints: ['grant the role read access: `pgwarden sql backup-role` prints the statements'],
  });
}

export async function checkDiskSpace(storage: StorageDriver, path: string, expectedBytes: number): Promise<void> {
  if (!storage.features.has('freeSpace') || !storage.freeBytes) return;
  const needed = Math.ceil(expectedBytes * 1.5);
  const free = await storage.freeBytes(path);
  if (free < needed) {
    throw new PrecheckError(
      'disk',
      `storage target ${storage.name} has ${formatBytes(free)} free at ${storage.location}; this backup needs ${formatBytes(needed)} (1.5 × the expected ${formatBytes(expectedBytes)})`,
      { hints: ['free space on that disk or lower retention, then run the backup again'] },
    );
  }
}

/** Median of the last successful sizes; with no history, a quarter of the database's size on disk. */
export function expectedSize(recentSizes: number[], databaseBytes: number, compressed: boolean): number {
  if (recentSizes.length === 0) return Math.ceil(databaseBytes * (compressed ? 0.25 : 1));
  const sorted = [...recentSizes].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

function quoteName(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Finds the client tools a backup needs for the server's version; a missing or too old one fails the pre-check. */
export async function findToolsForServer<const N extends readonly PgToolName[]>(names: N, binDir: string | undefined, serverMajor: number): Promise<{ [K in keyof N]: PgTool }> {
  try {
    const tools: PgTool[] = [];
    for (const name of names) tools.push(await findPgTool(name, { binDir, serverMajor }));
    return tools as { [K in keyof N]: PgTool };
  } catch (error) {
    if (error instanceof ToolError) throw new PrecheckError('tools', error.message, { hints: error.hints, cause: error });
    throw error;
  }
}
