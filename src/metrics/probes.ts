// The live probes behind the metrics, run at refresh time (health check, after each job, the lag loop),
// never at scrape time: can each database be reached, how far behind are its standbys, how much does
// each storage target hold.

import pg from 'pg';
import { estimateCost, type Prices } from '../cost/estimate.js';
import { errorMessage } from '../errors.js';
import { connectionError, describeUrl } from '../postgres/connection.js';
import { probeReplication } from '../replication/lag.js';
import type { StorageDriver } from '../storage/types.js';
import type { DatabaseStatus, MetricsDatabase, MetricsProbes, StorageUsage } from './types.js';

export interface DefaultProbesOptions {
  /** Connect and query timeout of each probe connection; default 5 s. */
  timeoutMs?: number;
  /** Targets whose usage is reported; without any, no storage series. */
  storage?: readonly StorageDriver[];
  /** The storage prefix from the config: usage counts the objects under it. */
  storagePrefix?: string;
  /** Prices the usage (pgwarden_storage_cost_monthly_dollars). */
  cost?: StorageCostOptions | undefined;
}

export interface StorageCostOptions {
  prices: Prices;
  glacierAfterDays?: number | undefined;
  now: () => Date;
}

export function createDefaultProbes(options: DefaultProbesOptions = {}): MetricsProbes {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const drivers = options.storage ?? [];
  return {
    databaseUp: (database) => checkDatabase(database, timeoutMs),
    replication: (database) =>
      probeReplication(database.url, database.standbys ?? [], { connectTimeoutMs: timeoutMs, queryTimeoutMs: timeoutMs }),
    ...(drivers.length > 0 ? { storageUsage: () => measureStorage(drivers, options.storagePrefix ?? '', options.cost) } : {}),
  };
}

/** Connects and runs SELECT 1; unreachable is a result (up: false, with the reason), not an error. */
export async function checkDatabase(database: MetricsDatabase, timeoutMs: number): Promise<DatabaseStatus> {
  const client = new pg.Client({
    connectionString: database.url,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
    query_timeout: timeoutMs + 1_000,
    application_name: 'pgwarden-probe',
  });
  client.on('error', () => {});
  try {
    try {
      await client.connect();
    } catch (error) {
      throw connectionError(error, database.url, `database "${database.name}"`);
    }
    await client.query('SELECT 1');
    return { database: database.name, up: true, error: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { database: database.name, up: false, error: message.includes(describeUrl(database.url)) ? message : `${describeUrl(database.url)}: ${message}` };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Sums the sizes of every object under the prefix of each target, targets in parallel. */
export async function measureStorage(drivers: readonly StorageDriver[], prefix: string, cost?: StorageCostOptions): Promise<StorageUsage[]> {
  const under = prefix === '' ? '' : `${prefix}/`;
  return Promise.all(
    drivers.map(async (driver): Promise<StorageUsage> => {
      // One target down must not hide the others: it reports up=0 and its reason instead.
      try {
        const objects = await driver.list(under);
        const usedBytes = objects.reduce((sum, o) => sum + o.size, 0);
        const freeBytes = driver.features.has('freeSpace') && driver.freeBytes ? await driver.freeBytes(under) : null;
        const monthlyCostDollars = cost
          ? estimateCost({ target: driver.name, kind: driver.kind, objects, restoreBytes: 0 }, cost.prices, { now: cost.now(), glacierAfterDays: driver.kind === 's3' ? cost.glacierAfterDays : undefined }).monthlyDollars
          : null;
        return { target: driver.name, up: true, error: null, usedBytes, freeBytes, monthlyCostDollars };
      } catch (error) {
        return { target: driver.name, up: false, error: errorMessage(error), usedBytes: null, freeBytes: null };
      }
    }),
  );
}
