// Opens everything a command needs from a validated config: logger, catalog (migrated, interrupted runs
// recovered), storage target and key ring. Commands and tests get dependencies from here, never globals.
import { hostname } from 'node:os';
import pg from 'pg';
import type { Logger } from 'pino';
import { recoverInterruptedRuns } from '../backup/recover-interrupted.js';
import { type Catalog, createCatalog } from '../catalog/catalog.js';
import { migrateCatalog } from '../catalog/migrate.js';
import type { Config } from '../config/index.js';
import { type KeyRing, keyRingFromConfig } from '../crypto/keyring.js';
import { checkCompressors } from '../pipeline/compression.js';
import { connect } from '../postgres/connection.js';
import { createStorage } from '../storage/create.js';
import type { TargetSet } from '../storage/target-set.js';

export interface Pgwarden {
  config: Config;
  logger: Logger;
  pool: pg.Pool;
  catalog: Catalog;
  catalogClient: () => Promise<pg.Client>;
  storage: TargetSet;
  keyring: KeyRing | undefined;
  now: () => Date;
  host: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  logger: Logger;
  now?: () => Date;
  /** Replaces free-space measurement of the local target (tests). */
  freeBytes?: (path: string) => Promise<number>;
}

/** Opens the catalog, migrates it and marks runs of dead processes interrupted. */
export async function openPgwarden(config: Config, options: OpenOptions): Promise<Pgwarden> {
  const logger = options.logger;
  // A missing or unusable compressor is a setup problem: say so now, not at 2 am in the first backup. The
  // check runs its programs while the catalog opens (~0.1 s of every command), and its error comes first.
  const compressorsChecked = checkCompressors([config.backup.compression, ...config.databases.flatMap((d) => (d.compression ? [d.compression] : []))]);
  compressorsChecked.catch(() => {});
  let storage: Awaited<ReturnType<typeof createStorage>>;
  try {
    storage = await createStorage(config, options);
    const migrator = await connect(config.catalog.url, { purpose: 'the catalog', applicationName: 'pgwarden' });
    try {
      const result = await migrateCatalog(migrator);
      if (result.applied.length > 0) logger.info({ applied: result.applied }, 'catalog migrated');
    } finally {
      await migrator.end().catch(() => {});
    }
  } catch (error) {
    await compressorsChecked;
    throw error;
  }
  await compressorsChecked;
  const keyring = keyRingFromConfig(config.encryption);
  const pool = new pg.Pool({ connectionString: config.catalog.url, max: 4, connectionTimeoutMillis: 10_000, application_name: 'pgwarden' });
  pool.on('error', (error) => logger.warn({ err: error }, 'catalog connection lost'));
  const catalogClient = () => connect(config.catalog.url, { purpose: 'the catalog', applicationName: 'pgwarden' });
  const catalog = createCatalog(pool);
  const now = options.now ?? (() => new Date());
  try {
    const recovered = await recoverInterruptedRuns({ catalog, catalogClient, storage, prefix: config.storage.prefix, logger });
    if (recovered.length > 0) logger.warn({ recovered }, 'marked interrupted runs as failed');
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return {
    config,
    logger,
    pool,
    catalog,
    catalogClient,
    storage,
    keyring,
    now,
    host: hostname(),
    close: () => pool.end(),
  };
}

export { createStorage };
