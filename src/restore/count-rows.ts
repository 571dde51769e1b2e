// Exact row counts of a restored database: what `restore` reports and drills compare with the manifest.
// Counting reads every heap page, ~2 s per GB here, so a parallel restore counts each table as soon as
// pg_restore has loaded it (its --verbose "finished item N TABLE DATA" line), while other tables still load
// and indexes build; what is left is counted once pg_restore is done.
import type pg from 'pg';
import { connect } from '../postgres/connection.js';
import type { TableDataEntry } from '../postgres/dump-data-offsets.js';

export interface RestoredTable {
  table: string;
  rows: number;
}

/**
 * Exact row counts of every table restored; a partitioned parent counts only its own rows (none), not its
 * partitions'. Tables in `known` were counted already; the rest are counted on `jobs` connections at once.
 */
export async function countRows(url: string, jobs: number, known: ReadonlyMap<string, number> = new Map()): Promise<RestoredTable[]> {
  const clients = [await countingClient(url)];
  try {
    const { rows: tables } = await clients[0]!.query<{ schema: string; name: string }>(`
      SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
         AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
       ORDER BY 1, 2`);
    const out: RestoredTable[] = tables.map((t) => ({ table: `${t.schema}.${t.name}`, rows: known.get(`${t.schema}.${t.name}`) ?? -1 }));
    const todo = out.map((_, i) => i).filter((i) => out[i]!.rows < 0);
    while (clients.length < Math.min(jobs, todo.length)) clients.push(await countingClient(url));
    let next = 0;
    await Promise.all(
      clients.map(async (client) => {
        for (let i = next++; i < todo.length; i = next++) {
          const t = tables[todo[i]!]!;
          out[todo[i]!]!.rows = await countTable(client, t.schema, t.name);
        }
      }),
    );
    return out;
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
  }
}

export interface EarlyCounts {
  /** Hears each stderr line of `pg_restore --verbose`; counts the table of each TABLE DATA item it finished. */
  onRestoreLine(line: string): void;
  /** Waits for the counts under way; returns them by `schema.table`. A count that failed is left out. */
  finish(): Promise<Map<string, number>>;
}

const FINISHED_TABLE_DATA = /^pg_restore: finished item (\d+) TABLE DATA /;

/**
 * Counts tables one at a time on a connection of its own while pg_restore runs. A count waits its turn behind
 * pg_restore's locks (and holds only ACCESS SHARE, for as long as one count takes); one that fails is simply
 * counted again after the restore.
 */
export function startEarlyCounts(url: string, tableData: readonly TableDataEntry[]): EarlyCounts {
  const byDumpId = new Map(tableData.map((entry) => [entry.dumpId, entry]));
  const counts = new Map<string, number>();
  let client: Promise<pg.Client | undefined> | undefined;
  let queue: Promise<void> = Promise.resolve();
  return {
    onRestoreLine(line) {
      const entry = byDumpId.get(Number(FINISHED_TABLE_DATA.exec(line)?.[1]));
      if (entry === undefined) return;
      client ??= countingClient(url).catch(() => undefined);
      queue = queue.then(async () => {
        const c = await client;
        if (c === undefined) return;
        try {
          counts.set(`${entry.schema}.${entry.table}`, await countTable(c, entry.schema, entry.table));
        } catch {
          // Counted again once pg_restore is done.
        }
      });
    },
    async finish() {
      await queue;
      await (await client)?.end().catch(() => {});
      return counts;
    },
  };
}

async function countingClient(url: string): Promise<pg.Client> {
  const client = await connect(url, { purpose: 'restore target' });
  // row_security off: a table with RLS must be counted whole, or fail loudly rather than undercount.
  await client.query('SET row_security = off');
  return client;
}

async function countTable(client: pg.Client, schema: string, table: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ONLY ${client.escapeIdentifier(schema)}.${client.escapeIdentifier(table)}`);
  return Number(rows[0]!.n);
}
