// The scratch database a drill restores into: named `pgwarden_drill_<db>_<6 hex>`, created empty from
// template0 on the database's own server (through its `postgres` database) or on drills.targetUrl's server,
// and always dropped. The role needs CREATEDB there; it owns the scratch database, so it may drop it.
import type pg from 'pg';
import { errorMessage } from '../errors.js';
import { connect, databaseOf, describeUrl, withDatabase } from '../postgres/connection.js';

const PREFIX = 'pgwarden_drill_';
// PostgreSQL truncates identifiers to 63 bytes: prefix + name + "_" + 6 hex must fit.
const MAX_NAME_PART = 63 - PREFIX.length - 1 - 6;

export interface ScratchServer {
  /** A maintenance database on the server the scratch database is created on. */
  adminUrl: string;
  /** The configured database lives on that server too: the scratch copy takes its encoding and locale. */
  sameServer: boolean;
}

export function scratchServer(databaseUrl: string, targetUrl: string | undefined): ScratchServer {
  return targetUrl ? { adminUrl: targetUrl, sameServer: false } : { adminUrl: withDatabase(databaseUrl, 'postgres'), sameServer: true };
}

/**
 * `pgwarden_drill_<db>_`: the configured name lower-cased, anything but [a-z0-9_] as "_", so the scratch
 * database needs no quoting by hand. Two names that map to the same prefix share the drill lock.
 */
export function scratchPrefix(database: string): string {
  return `${PREFIX}${database.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, MAX_NAME_PART)}_`;
}

export function scratchName(database: string, suffix: string): string {
  return `${scratchPrefix(database)}${suffix}`;
}

export function scratchUrl(server: ScratchServer, name: string): string {
  return withDatabase(server.adminUrl, name);
}

async function withAdmin<T>(server: ScratchServer, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(server.adminUrl, { purpose: 'the restore drill server', applicationName: 'pgwarden drill' });
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Creates the empty scratch database. On the database's own server it copies the source's encoding and
 * libc locale (a dump in LATIN1 must restore into LATIN1); elsewhere it takes template0's.
 */
export async function createScratch(server: ScratchServer, name: string, sourceUrl: string): Promise<void> {
  await withAdmin(server, async (client) => {
    let settings = '';
    if (server.sameServer) {
      const { rows } = await client.query<{ encoding: string; collate: string; ctype: string }>(
        'SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype FROM pg_database WHERE datname = $1',
        [databaseOf(sourceUrl)],
      );
      const source = rows[0];
      if (source) {
        settings = ` ENCODING ${client.escapeLiteral(source.encoding)} LC_COLLATE ${client.escapeLiteral(source.collate)} LC_CTYPE ${client.escapeLiteral(source.ctype)}`;
      }
    }
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE template0${settings}`);
  });
}

/** Drops the scratch database, ending any session still in it (PostgreSQL 13+: WITH (FORCE)). */
export async function dropScratch(server: ScratchServer, name: string): Promise<void> {
  await withAdmin(server, async (client) => {
    const major = Math.floor(Number((await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v) / 10000);
    const force = major >= 13 ? ' WITH (FORCE)' : '';
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}${force}`);
        return;
      } catch (error) {
        // 55006: a session (a pg_restore that is still exiting) is in it; before 13 we can only wait.
        if ((error as { code?: string }).code !== '55006' || attempt >= 10) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  });
}

/**
 * Drops scratch databases of this database's drills that a dead process left behind (killed mid-drill: a
 * copy of production data nobody watches). Call it only while holding the drill lock of the prefix, so
 * no running drill's database is among them. Returns what it dropped; a drop that fails is reported.
 */
export async function dropLeftovers(server: ScratchServer, database: string): Promise<{ dropped: string[]; failed: { name: string; error: string }[] }> {
  const prefix = scratchPrefix(database);
  const { rows } = await withAdmin(server, (client) =>
    client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname ~ $2 ORDER BY 1', [
      prefix,
      '_[0-9a-f]{6}$',
    ]),
  );
  const dropped: string[] = [];
  const failed: { name: string; error: string }[] = [];
  for (const { datname } of rows) {
    if (datname.length !== prefix.length + 6) continue;
    try {
      await dropScratch(server, datname);
      dropped.push(datname);
    } catch (error) {
      failed.push({ name: datname, error: errorMessage(error) });
    }
  }
  return { dropped, failed };
}

export const describeScratch = (server: ScratchServer, name: string): string => describeUrl(scratchUrl(server, name));
