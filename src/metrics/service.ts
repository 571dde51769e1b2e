// The metrics service: collectors refresh snapshots (on the health check, after each job, and on a short
// loop for replication lag), and the scrape path renders those snapshots without touching any database.
// Rendering is shared: concurrent scrapes wait on one render, and its text is served for up to a second.

import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { ReplicationReport } from '../replication/types.js';
import type { StorageDriver } from '../storage/types.js';
import { createDefaultProbes } from './probes.js';
import { type CollectorResult, createMetrics, type PgwardenMetrics } from './registry.js';
import { type Queryable, refreshFromCatalog } from './snapshot.js';
import { type Clock, type CollectorName, type DatabaseStatus, type MetricsConfig, type MetricsProbes, systemClock } from './types.js';

export interface CreateMetricsServiceOptions {
  /** The catalog database (a pg.Pool); only the catalog collector uses it, never a scrape. */
  catalogPool: Queryable;
  config: MetricsConfig;
  /** The time ages are measured against; default the system clock. */
  clock?: Clock;
  /** The same as a function (the app's `now`); used when `clock` is not given. */
  now?: () => Date;
  logger: Pick<Logger, 'warn' | 'info' | 'debug'>;
  /** Storage targets whose usage is reported (objects under `config.storage.prefix`); none: no storage series. */
  storage?: StorageDriver | readonly StorageDriver[];
  /** Replaces live probes; the defaults (createDefaultProbes) connect to the configured servers. */
  probes?: Partial<MetricsProbes>;
  /** Default: a new Registry. */
  registry?: Registry;
  /** Scrapes within this long of a render get its text; default 1000 ms. */
  renderIntervalMs?: number;
  /** start() refreshes replication lag this often; default 30 s; 0: only with refresh(). */
  lagIntervalMs?: number;
  /** A collector slower than this counts as failed (its query may still finish); default 30 s. */
  collectorTimeoutMs?: number;
  /** Node.js process metrics; default true. */
  processMetrics?: boolean;
  /** Called with every successful replication collection (the lag history records it). */
  onReplication?: (reports: ReadonlyMap<string, ReplicationReport>) => void;
}

export interface MetricsService {
  readonly registry: Registry;
  readonly metrics: PgwardenMetrics;
  /** The Content-Type of render()'s text. */
  readonly contentType: string;
  /** When the last full refresh() finished; undefined before the first. */
  readonly lastRefresh: Date | undefined;
  /**
   * Runs every collector (catalog, replication, database, storage) and stores their snapshots. Never
   * rejects: a failing collector loses its series, gets collector_success 0 and a log line. Call it from
   * the health check and after each job (durations and run counts come from the catalog, so there is
   * nothing else to record). A call during a refresh runs once more after it, so it sees the caller's writes.
   */
  refresh(): Promise<void>;
  /** The replication collector alone (what the lag loop runs). */
  refreshReplication(): Promise<void>;
  /** The text for GET /metrics. Never touches a database. */
  render(): Promise<string>;
  /** Starts the replication lag loop (lagIntervalMs). */
  start(): void;
  /** Stops the loop and waits for refreshes under way. */
  stop(): Promise<void>;
}

export function createMetricsService(options: CreateMetricsServiceOptions): MetricsService {
  const { catalogPool, config, logger } = options;
  const now = options.now;
  const clock = options.clock ?? (now ? { now } : systemClock);
  const registry = options.registry ?? new Registry();
  const renderIntervalMs = options.renderIntervalMs ?? 1_000;
  const lagIntervalMs = options.lagIntervalMs ?? 30_000;
  const collectorTimeoutMs = options.collectorTimeoutMs ?? 30_000;
  const storage = options.storage;
  const drivers: readonly StorageDriver[] = storage === undefined ? [] : 'features' in storage ? [storage] : storage;
  const probes: MetricsProbes = {
    ...createDefaultProbes({
      storage: drivers,
      storagePrefix: config.storage?.prefix ?? '',
      cost: config.cost ? { prices: config.cost, glacierAfterDays: config.storage?.s3?.glacierAfterDays, now: options.now ?? (() => new Date()) } : undefined,
    }),
    ...options.probes,
  };
  const metrics = createMetrics(registry, {
    clock,
    processMetrics: options.processMetrics,
    onRenderError: (metric, error) => logger.warn({ metric, err: error }, 'metric could not be rendered; it has no samples'),
  });
  const problems = createProblemLog(logger);

  let lastRefresh: Date | undefined;
  /** Bumped whenever a snapshot changes, so a cached render is not served past new figures. */
  let generation = 0;

  /** Runs one collector: stores its result, or drops its series when it fails or times out. */
  async function collect<T>(
    name: CollectorName,
    work: () => Promise<T>,
    apply: (value: T | undefined) => void,
    /** Problems in a result that still count as a failed collection (some figures are missing). */
    incomplete: (value: T) => string[] = () => [],
  ): Promise<void> {
    const started = performance.now();
    let success: boolean;
    try {
      const value = await withTimeout(work(), collectorTimeoutMs, `the ${name} collector`);
      apply(value);
      const missing = incomplete(value);
      success = missing.length === 0;
      problems.set(`collector:${name}`, success ? null : `metrics collector ${name} is incomplete: ${missing.join('; ')}`);
    } catch (error) {
      apply(undefined);
      success = false;
      problems.set(`collector:${name}`, `metrics collector ${name} failed; its series are absent: ${messageOf(error)}`);
    }
    const result: CollectorResult = { success, at: clock.now(), durationSeconds: (performance.now() - started) / 1000 };
    metrics.setCollector(name, result);
    generation++;
  }

  const catalogCollector = () =>
    collect(
      'catalog',
      () => refreshFromCatalog(catalogPool, config, { now: () => clock.now() }),
      (snapshot) => metrics.setCatalog(snapshot),
    );

  const databaseCollector = () =>
    collect(
      'database',
      () =>
        Promise.all(
          config.databases.map((db) =>
            probes.databaseUp(db).catch((error: unknown): DatabaseStatus => ({ database: db.name, up: false, error: messageOf(error) })),
          ),
        ),
      (statuses) => {
        metrics.setDatabases(statuses);
        for (const s of statuses ?? []) problems.set(`database:${s.database}`, s.up ? null : `database "${s.database}" is down: ${s.error}`);
      },
    );

  const storageCollector = () => {
    const measure = probes.storageUsage;
    if (measure === undefined) return Promise.resolve();
    return collect('storage', () => measure(), (usage) => metrics.setStorage(usage));
  };

  const walCollector = () => {
    const probe = probes.walArchive;
    if (probe === undefined) return Promise.resolve();
    return collect('wal', () => probe(), (statuses) => metrics.setWal(statuses));
  };

  const replicationCollector = singleFlight(() =>
    collect(
      'replication',
      async () => {
        const reports = await Promise.all(
          config.databases.map(async (db): Promise<[string, ReplicationReport]> => {
            try {
              return [db.name, await probes.replication(db)];
            } catch (error) {
              return [db.name, failedReport(db.standbys ?? [], messageOf(error), clock.now())];
            }
          }),
        );
        return new Map(reports);
      },
      (reports) => {
        metrics.setReplication(reports);
        if (reports !== undefined) options.onReplication?.(reports);
        for (const [database, report] of reports ?? []) {
          for (const standby of report.standbys) {
            const problem =
              standby.connected === false && standby.configured
                ? `standby "${standby.name}" of database "${database}" is not connected to its primary`
                : standby.standbyError;
            problems.set(`standby:${database}:${standby.name}`, problem);
          }
        }
      },
      (reports) =>
        [...reports].flatMap(([database, report]) => (report.primaryError === null ? [] : [`database "${database}": ${report.primaryError}`])),
    ),
  );

  const runRefresh = async () => {
    await Promise.all([catalogCollector(), replicationCollector(), databaseCollector(), storageCollector(), walCollector()]);
    lastRefresh = clock.now();
  };

  let refreshing: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    if (refreshing === undefined) {
      refreshing = runRefresh().finally(() => {
        refreshing = undefined;
      });
      return refreshing;
    }
    // One more run after the current one, shared by every caller that arrives meanwhile.
    queued ??= refreshing.then(() => {
      queued = undefined;
      return refresh();
    });
    return queued;
  };

  let cache: { text: string; at: number; generation: number } | undefined;
  let rendering: Promise<string> | undefined;
  const render = (): Promise<string> => {
    if (cache !== undefined && cache.generation === generation && clock.now().getTime() - cache.at < renderIntervalMs) {
      return Promise.resolve(cache.text);
    }
    if (rendering === undefined) {
      const renderedGeneration = generation;
      rendering = registry
        .metrics()
        .then((text) => {
          cache = { text, at: clock.now().getTime(), generation: renderedGeneration };
          return text;
        })
        .finally(() => {
          rendering = undefined;
        });
    }
    return rendering;
  };

  let timer: NodeJS.Timeout | undefined;

  return {
    registry,
    metrics,
    get contentType() {
      return registry.contentType;
    },
    get lastRefresh() {
      return lastRefresh;
    },
    refresh,
    refreshReplication: replicationCollector,
    render,
    start() {
      if (timer !== undefined || lagIntervalMs <= 0) return;
      timer = setInterval(() => void replicationCollector(), lagIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await Promise.all([queued ?? refreshing, replicationCollector.current()]);
    },
  };
}

/** The report of a probe that threw instead of reporting: every configured standby unknown. */
function failedReport(standbys: readonly { name: string }[], error: string, checkedAt: Date): ReplicationReport {
  return {
    checkedAt,
    primaryError: error,
    primaryInRecovery: null,
    connectedCount: null,
    standbys: standbys.map((s) => ({
      name: s.name,
      configured: true,
      connected: null,
      primary: null,
      standby: null,
      standbyError: null,
      lagSeconds: null,
      lagBytes: null,
    })),
  };
}

/** Calls share the run under way instead of starting another. */
function singleFlight(run: () => Promise<void>): (() => Promise<void>) & { current(): Promise<void> | undefined } {
  let running: Promise<void> | undefined;
  const call = () => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };
  return Object.assign(call, { current: () => running });
}

/**
 * Logs a problem when it appears or changes and once when it clears, not at every refresh: the lag loop
 * runs every few seconds and an unreachable standby would otherwise fill the log.
 */
function createProblemLog(logger: Pick<Logger, 'warn' | 'info'>) {
  const current = new Map<string, string>();
  return {
    set(key: string, problem: string | null) {
      const previous = current.get(key);
      if (problem === null) {
        if (previous !== undefined) {
          current.delete(key);
          logger.info({ resolved: previous }, `metrics: resolved: ${key}`);
        }
      } else if (problem !== previous) {
        current.set(key, problem);
        logger.warn({ key }, problem);
      }
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
