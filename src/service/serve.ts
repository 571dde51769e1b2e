// `pgwarden serve`: the long-running service. It opens the catalog and storage, schedules every job, keeps
// the metrics snapshot fresh (after each job, at each health check, and replication on its own short
// interval) and serves the HTTP API. stop() is the SIGTERM path: no new runs, running ones get the grace
// period, then are aborted and recorded.
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWalArchiving } from '../wal/service.js';
import { walArchiveStatus } from '../wal/status.js';
import { createNotifiers } from '../alerting/notifiers/index.js';
import type { NotifierDeps } from '../alerting/notify-types.js';
import type { DeliverOptions } from '../alerting/retry.js';
import { createAlerting, type Alerting } from '../alerting/service.js';
import { Registry } from 'prom-client';
import { type Pgwarden, openPgwarden } from '../app/open.js';
import { newBackupId } from '../manifest/layout.js';
import type { Config } from '../config/index.js';
import { createHttpApp, startHttpServer } from '../http/index.js';
import type { HttpActions, RunBackupInput, RunBackupOutcome, SilenceInput, StartedRun } from '../http/types.js';
import { createMetricsService, type MetricsService } from '../metrics/index.js';
import { backupProgressMetric } from '../metrics/progress.js';
import { createCatalogCoordinator } from '../scheduler/coordinator.js';
import { backupJobName, buildJobs } from '../scheduler/jobs.js';
import { createLagRecorder } from '../replication/history.js';
import { createStatusSource } from '../status/index.js';
import { createStatusPage } from '../ui/routes.js';
import { createJobLocks } from '../scheduler/locks.js';
import { createScheduler, type Scheduler } from '../scheduler/scheduler.js';
import { verifyBackup } from '../verify/verify-backup.js';
import { createWalAccess } from '../backup/wal-access.js';
import { runHealthCheck } from './health-check.js';
import type { Logger } from 'pino';

export interface Service {
  url: string;
  app: Pgwarden;
  scheduler: Scheduler;
  metrics: MetricsService;
  alerting: Alerting;
  /** Stops scheduling, waits up to the grace period for running jobs (then aborts them), closes everything. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  logger: Logger;
  /** Test seams for the notifiers (a CA to trust) and their retry policy. */
  notifierDeps?: Omit<NotifierDeps, 'logger'>;
  deliverOptions?: Omit<DeliverOptions, 'onAttempt'>;
  /** The config file's path: restore_command and archive_command written for servers carry it. */
  configPath: string;
  now?: () => Date;
}

export async function startService(config: Config, options: ServiceOptions): Promise<Service> {
  const { logger } = options;
  const app = await openPgwarden(config, { logger, now: options.now });
  const owner = `${hostname()}:${process.pid}`;
  const pitrDatabases = config.databases.filter((d) => d.pitr);
  // Replication lag history for the status page's chart, kept as long as full backups are.
  const lagRecorder = createLagRecorder({ pool: app.pool, retentionMs: config.retention.fullDays * 86_400_000, now: app.now, logger });
  const metrics = createMetricsService({
    registry: new Registry(),
    config,
    catalogPool: app.pool,
    // Per target, so one target down shows as such while the others report their usage.
    storage: app.storage.targets,
    logger,
    now: app.now,
    // Lag moves faster than backups: it is probed on its own interval so the lag series stay current.
    lagIntervalMs: config.schedules.replicationProbeSeconds * 1000,
    probes: pitrDatabases.length > 0 ? { walArchive: () => walArchiveStatus(app.storage, config.storage.prefix, pitrDatabases) } : {},
    onReplication: (reports) => void lagRecorder.record(reports),
  });

  const notifiers = createNotifiers(config.channels, { logger, ...options.notifierDeps });
  metrics.metrics.initNotifications([...notifiers.keys()]);
  const alerting = createAlerting({
    config,
    pool: app.pool,
    logger,
    notifiers,
    state: () => metrics.metrics.state(),
    now: app.now,
    deliverOptions: options.deliverOptions,
    onDelivery: (channel, result) => metrics.metrics.countNotification(channel, result),
    onEvaluated: (firing) => metrics.metrics.setAlerts(firing),
  });
  // After every job and health check: fresh figures, then the alert rules on them.
  const refreshQuietly = async () => {
    await metrics.refresh().catch((error: unknown) => logger.warn({ err: error }, 'metrics refresh failed'));
    await alerting.evaluate().catch((error: unknown) => logger.error({ err: error }, 'alert evaluation failed'));
  };
  const wal = createWalAccess(app, { configPath: options.configPath });
  const jobs = buildJobs(app, {
    afterJob: refreshQuietly,
    progress: backupProgressMetric(metrics.metrics),
    healthCheck: async (signal) => {
      await runHealthCheck({ app, metrics, signal });
      await alerting.evaluate().catch((error: unknown) => logger.error({ err: error }, 'alert evaluation failed'));
    },
  }, wal);
  const scheduler = createScheduler({
    jobs,
    timezone: config.schedules.timezone,
    coordinator: createCatalogCoordinator(app.pool),
    locks: createJobLocks(app.catalogClient),
    owner,
    logger,
    now: app.now,
  });

  // The actions behind both the API and the status page: one function each, recorded in backup_access_logs.
  const runBackup = async (input: RunBackupInput): Promise<RunBackupOutcome> => {
    const eligible = config.databases.filter((d) => input.kind === 'full' || d.pitr).map((d) => d.name);
    const databases = input.database ? [input.database] : eligible;
    const started: StartedRun[] = [];
    const busy: StartedRun[] = [];
    for (const database of databases) {
      const backupId = newBackupId(input.kind, app.now());
      const outcome = await scheduler.runNow(backupJobName(input.kind, database), { backupId, actor: input.actor });
      if (outcome === 'started') {
        started.push({ database, backupId });
        await app.catalog
          .access({ backupId, database, action: 'backup', actor: input.actor, result: 'ok', details: { kind: input.kind } })
          .catch((error: unknown) => logger.warn({ err: error, backupId }, 'could not record the backup request in backup_access_logs'));
      } else busy.push({ database });
    }
    if (started.length === 0) {
      return { accepted: false, reason: 'already-running', message: `a ${input.kind} backup of ${busy.map((b) => `"${b.database}"`).join(', ')} is already running`, runs: busy };
    }
    return { accepted: true, runs: started };
  };
  const silence = async (input: SilenceInput) => {
    const created = await alerting.silence(input);
    await app.catalog
      .access({ backupId: null, database: input.matchers['database'], action: 'silence', actor: input.actor, result: 'ok', details: { matchers: input.matchers, durationSeconds: input.durationSeconds, comment: input.comment ?? null } })
      .catch((error: unknown) => logger.warn({ err: error }, 'could not record the silence in backup_access_logs'));
    return created;
  };
  const actions: HttpActions = {
    runBackup,
    alerts: () => alerting.alerts(),
    silence,
    alertmanagerWebhook: (body) => alerting.alertmanagerWebhook(body),
    verifyBackup: (id, actor) =>
      verifyBackup({ ...app, prefix: config.storage.prefix, pgBinDir: config.backup.pgBinDir, tempDir: config.backup.tempDir, wal, databases: config.databases }, id, actor).finally(refreshQuietly),
  };
  const status = createStatusSource({
    config,
    pool: app.pool,
    catalog: app.catalog,
    state: () => metrics.metrics.state(),
    figuresAt: () => metrics.lastRefresh,
    now: app.now,
  });

  const http = createHttpApp({
    config,
    logger,
    catalog: app.catalog,
    metrics,
    readiness: async () => {
      const checks: Record<string, string> = {};
      try {
        await app.pool.query('SELECT 1');
        checks['catalog'] = 'ok';
      } catch (error) {
        checks['catalog'] = `unreachable: ${(error as Error).message}`;
      }
      checks['scheduler'] = scheduler.running ? 'ok' : 'stopped';
      return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
    },
    actions,
    status,
    page: config.server.ui ? createStatusPage({ config, logger, status, actions, now: app.now }) : undefined,
  });

  await refreshQuietly();
  const server = await startHttpServer(http, { host: config.server.host, port: config.server.port });
  metrics.start();
  // Every replica refreshes its own figures (the elected health check runs on one replica only), so any
  // replica's /metrics is current; alert evaluation stays with the elected jobs.
  const refreshTimer = setInterval(() => {
    metrics.refresh().catch((error: unknown) => logger.warn({ err: error }, 'metrics refresh failed'));
  }, config.schedules.metricsRefreshSeconds * 1000);
  refreshTimer.unref();
  // Pull-mode WAL archiving: pg_receivewal for every database with pitr: true.
  const walArchiving = startWalArchiving(config, {
    storage: app.storage,
    keyring: app.keyring,
    logger,
    spoolRoot: config.wal.spoolDir ?? join(config.backup.tempDir ?? tmpdir(), 'pgwarden-wal'),
  });
  await scheduler.start();
  logger.info({ url: server.url, jobs: scheduler.nextRuns() }, 'pgwarden serve started');

  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    app,
    scheduler,
    metrics,
    alerting,
    stop: () => {
      stopping ??= (async () => {
        clearInterval(refreshTimer);
        await scheduler.stop(config.server.shutdownGraceSeconds * 1000);
        await walArchiving.stop();
        await metrics.stop();
        await server.close();
        await app.close();
      })();
      return stopping;
    },
  };
}
