// Versioned catalog migrations: numbered files in sql/ (0001_init.sql, …), each applied once in its own
// transaction under an advisory lock, so two processes migrating at once take turns instead of colliding.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { CatalogError } from '../errors.js';
import { packageRoot } from '../package-root.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

// An arbitrary constant naming "pgwarden migrations" in the advisory-lock space.
const MIGRATION_LOCK = 7_412_001;

export async function loadMigrations(dir = join(packageRoot(), 'sql')): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    migrations.push({ version: Number(file.slice(0, 4)), name: file.replace(/\.sql$/, ''), sql: await readFile(join(dir, file), 'utf8') });
  }
  return migrations;
}

export interface MigrateResult {
  applied: string[];
  version: number;
}

/** Brings the catalog schema up to date; refuses a catalog newer than this code. */
export async function migrateCatalog(client: pg.ClientBase, migrations?: Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  const latest = all.at(-1)?.version ?? 0;
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query('CREATE SCHEMA IF NOT EXISTS pgwarden');
    await client.query(`CREATE TABLE IF NOT EXISTS pgwarden.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM pgwarden.schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...done);
    if (newest > latest) {
      throw new CatalogError(`the catalog schema is at version ${newest}, newer than this pgwarden knows (${latest})`, {
        hints: ['upgrade pgwarden to the version that migrated this catalog'],
      });
    }
    const applied: string[] = [];
    for (const migration of all) {
      if (done.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query('INSERT INTO pgwarden.schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
        await client.query(migration.sql);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new CatalogError(`catalog migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(migration.name);
    }
    return { applied, version: latest };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
  }
}
