// Connecting to PostgreSQL: one place that turns a URL into a pg client or into arguments for the client
// tools, and turns connection failures into messages that say what is wrong and where.
import pg from 'pg';
import { DatabaseUnreachableError } from '../errors.js';

export interface ToolConnection {
  /** The URL without its password: safe on a command line (visible in `ps`). */
  dbname: string;
  /** PGPASSWORD and friends for the child's environment. */
  env: Record<string, string>;
}

/** Splits a postgres URL into a password-free conninfo for `--dbname` and the password as environment. */
export function toolConnection(url: string): ToolConnection {
  const parsed = new URL(url);
  const env: Record<string, string> = {};
  if (parsed.password) {
    env['PGPASSWORD'] = decodeURIComponent(parsed.password);
    parsed.password = '';
  }
  return { dbname: parsed.toString(), env };
}

/** `user@host:port/db` for messages: enough to find the server, never the password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
    const db = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    return `${user}${parsed.hostname || 'localhost'}:${parsed.port || '5432'}/${db}`;
  } catch {
    return '(unparseable URL)';
  }
}

/** Returns a database name from a postgres URL. */
export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** Replaces the database of a postgres URL (e.g. to reach `postgres` on the same server). */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

export interface ConnectOptions {
  connectTimeoutMs?: number;
  /** Names the role of this connection in messages: 'database "shop"', 'catalog', 'restore target'. */
  purpose: string;
  applicationName?: string;
}

/** Opens a client, mapping every way a connection can fail to a DatabaseUnreachableError. */
export async function connect(url: string, options: ConnectOptions): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'pgwarden',
  });
  // An idle client whose server goes away emits 'error'; without a listener that kills the process.
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionError(error, url, options.purpose);
  }
}

export function connectionError(error: unknown, url: string, purpose: string): DatabaseUnreachableError {
  const where = describeUrl(url);
  const err = error as { code?: string; message?: string };
  const reason = (() => {
    switch (err.code) {
      case 'ECONNREFUSED':
        return { text: 'connection refused', hint: 'is the server running and listening on that host and port?' };
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return { text: 'host name not found', hint: 'check the host in the URL' };
      case 'ETIMEDOUT':
        return { text: 'connection timed out', hint: 'check the network path and firewall to the server' };
      case '28P01':
        return { text: 'password authentication failed', hint: 'check the password in the URL (or PGPASSWORD / *_FILE secret)' };
      case '28000':
        return { text: err.message ?? 'authentication rejected', hint: 'check pg_hba.conf on the server for this user and host' };
      case '3D000':
        return { text: 'database does not exist', hint: 'check the database name in the URL' };
      case '57P03':
        return { text: 'the server is starting up or shutting down', hint: 'retry when it accepts connections' };
      default:
        if (/timeout/i.test(err.message ?? '')) {
          return { text: 'connection timed out', hint: 'check the network path and that the server is up' };
        }
        return { text: err.message ?? String(error), hint: undefined };
    }
  })();
  return new DatabaseUnreachableError(`cannot connect to ${purpose} at ${where}: ${reason.text}`, {
    hints: reason.hint ? [reason.hint] : [],
    cause: error,
  });
}
