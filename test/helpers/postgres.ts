// Throwaway PostgreSQL for tests: clusters that are destroyed when the test ends (pass or fail),
// SQL fixtures, and table fingerprints that say whether two databases hold the same data.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import pg from 'pg';
import { type Cluster, killLeftoverPostmasters, type StartClusterOptions, startCluster } from '../../src/postgres/cluster.js';

export type { Cluster, StartClusterOptions };

/** Anything that runs a function after the test: a node:test TestContext, or `{ after }` from node:test. */
export interface CleanupHooks {
  after(fn: () => unknown): unknown;
}

/**
 * A cluster destroyed after the test, whether it passed or failed:
 * `test('…', async (t) => { const pg = await useCluster(t); … })`.
 */
export async function useCluster(hooks: CleanupHooks, options: StartClusterOptions = {}): Promise<Cluster> {
  stopClustersOnSignals();
  const cluster = await startCluster(options);
  hooks.after(() => cluster.destroy());
  return cluster;
}

/**
 * One cluster shared by the tests of a `describe` block (or a whole file, called at top level):
 * started in `before`, destroyed in `after`. Returns a getter, because the cluster exists only once
 * `before` has run: `const pg = clusterForSuite(); it('…', async () => { await pg().query(…) })`.
 */
export function clusterForSuite(options: StartClusterOptions = {}): () => Cluster {
  let cluster: Cluster | undefined;
  before(async () => {
    stopClustersOnSignals();
    cluster = await startCluster(options);
  });
  after(() => cluster?.destroy());
  return () => {
    if (cluster === undefined) throw new Error('clusterForSuite(): the cluster is only available inside tests');
    return cluster;
  };
}

let signalHandlersInstalled = false;

/**
 * The cluster module stops leftovers on 'exit', which a signal's default action skips. A test file
 * interrupted by Ctrl-C or killed by a timeout would otherwise leak its servers.
 */
function stopClustersOnSignals(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killLeftoverPostmasters();
      // Only act as the default action would if nobody else (e.g. the test runner) handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** A table `blobs` of `mib` MiB of random bytes in `database`: no compressor shrinks it, so it fills a small disk. */
export async function createIncompressibleBlobs(cluster: Cluster, database: string, mib: number): Promise<void> {
  await cluster.query(
    `CREATE TABLE blobs (id int, payload bytea);
     INSERT INTO blobs SELECT r, (SELECT decode(string_agg(md5(r::text || ':' || g::text || random()::text), ''), 'hex')
                                    FROM generate_series(1, 65536) g)
       FROM generate_series(1, ${Math.trunc(mib)}) r;`,
    [],
    database,
  );
}

export interface RoleOptions {
  password?: string;
  /** Default true. */
  login?: boolean;
}

/** Creates a role on the cluster; add an hbaLines entry at start if its password must be checked. */
export async function createRole(cluster: Cluster, name: string, options: RoleOptions = {}): Promise<void> {
  const login = options.login === false ? 'NOLOGIN' : 'LOGIN';
  // CREATE ROLE takes no bind parameters, hence the literal.
  const password = options.password === undefined ? '' : ` PASSWORD ${pg.escapeLiteral(options.password)}`;
  await cluster.query(`CREATE ROLE ${pg.escapeIdentifier(name)} ${login}${password}`);
}

/** Runs test/fixtures/<name>(.sql) against the database at url, as one multi-statement transaction. */
export async function loadFixture(url: string, name: string): Promise<void> {
  const sql = await readFile(fixturePath(name), 'utf8');
  await withClient(url, (client) => client.query(sql));
}

/** The fixtures live in the source tree; this module runs from dist/test/helpers or test/helpers. */
export function fixturePath(name: string): string {
  const file = name.endsWith('.sql') ? name : `${name}.sql`;
  const candidates = [`../../../test/fixtures/${file}`, `../fixtures/${file}`].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new Error(`fixture ${file} not found (looked at ${candidates.join(', ')})`);
  return found;
}

export interface Fingerprint {
  rows: number;
  hash: string;
}

/** The key under which large objects appear among the table fingerprints. */
export const LARGE_OBJECTS_KEY = 'pg_catalog.pg_largeobject';

/**
 * What the database holds, per table: `"schema"."table"` (quoted as needed) → exact row count and an
 * md5 of its rows' text forms in byte order. Covers ordinary tables, partitions (not their parents,
 * whose rows are the partitions'), populated materialized views, and all large objects together
 * (under LARGE_OBJECTS_KEY, their OIDs included, since tables refer to them by OID). Sequences are
 * left out on purpose: WAL replay legitimately moves them ahead, so physical restores would differ.
 * Unlogged tables are included, so physical-backup tests should not create any.
 */
export async function tableFingerprints(url: string): Promise<Map<string, Fingerprint>> {
  return withClient(url, async (client) => {
    // Row text depends on these settings; pin them so two servers configured differently still agree.
    // row_security off makes a role that RLS would filter fail loudly instead of hashing a subset.
    await client.query(`
      SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres';
      SET extra_float_digits = 1; SET bytea_output = 'hex'; SET lc_monetary = 'C'; SET row_security = off`);

    const { rows: relations } = await client.query<{ name: string; populated: boolean }>(LIST_RELATIONS);
    const fingerprints = new Map<string, Fingerprint>();
    for (const { name, populated } of relations) {
      if (!populated) {
        fingerprints.set(name, { rows: -1, hash: 'not populated' });
        continue;
      }
      // ROW(t.*) rather than the bare alias: a column named t would shadow the whole-row reference.
      // COLLATE "C" so the order does not depend on the database's collation.
      const { rows } = await client.query<{ rows: number; hash: string }>(`
        SELECT count(*)::int AS rows,
               md5(coalesce(string_agg(ROW(t.*)::text, E'\\n' ORDER BY ROW(t.*)::text COLLATE "C"), '')) AS hash
        FROM ${name} AS t`);
      fingerprints.set(name, rows[0]!);
    }

    const { rows: objects } = await client.query<{ rows: number; hash: string }>(`
      SELECT count(*)::int AS rows,
             md5(coalesce(string_agg(oid::text || ':' || md5(lo_get(oid)), E'\\n' ORDER BY oid), '')) AS hash
      FROM pg_catalog.pg_largeobject_metadata`);
    fingerprints.set(LARGE_OBJECTS_KEY, objects[0]!);
    return fingerprints;
  });
}

/** Tables and materialized views in user schemas, named as SQL would quote them; extension-owned ones excluded. */
const LIST_RELATIONS = `
  SELECT format('%I.%I', n.nspname, c.relname) AS name,
         c.relispopulated AS populated
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'm')
    AND n.nspname <> 'information_schema'
    AND n.nspname !~ '^pg_'
    AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1`;

/** Differences between two fingerprint maps, one line per table, for assertion messages. */
export function fingerprintDiff(expected: Map<string, Fingerprint>, actual: Map<string, Fingerprint>): string[] {
  const lines: string[] = [];
  for (const [name, want] of expected) {
    const got = actual.get(name);
    if (got === undefined) lines.push(`${name}: missing`);
    else if (got.rows !== want.rows) lines.push(`${name}: ${got.rows} rows, expected ${want.rows}`);
    else if (got.hash !== want.hash) lines.push(`${name}: same row count (${got.rows}), different contents`);
  }
  for (const name of actual.keys()) if (!expected.has(name)) lines.push(`${name}: unexpected`);
  return lines;
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}
