// The `pgwarden` command line: parse arguments, call one function, print, return the exit code.
// Exit codes (DESIGN.md): 0 success, 1 the operation failed, 2 bad usage or bad config.
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { Argument, Command, Option } from 'commander';
import { type Pgwarden, openPgwarden } from '../app/open.js';
import { type BackupKindName, runBackups } from '../backup/run.js';
import { createWalAccess } from '../backup/wal-access.js';
import { rebuildCatalog } from '../catalog/rebuild.js';
import { migrateCatalog } from '../catalog/migrate.js';
import { type Config, loadConfig, redactConfig, secretValues } from '../config/index.js';
import { runRestoreDrill } from '../drill/drill.js';
import { formatDrills } from '../drill/format.js';
import { PgwardenError, UsageError, errorMessage } from '../errors.js';
import { createLogger } from '../logging/logger.js';
import { backupRoleSql } from '../postgres/backup-role.js';
import { connect } from '../postgres/connection.js';
import { type PitrTarget, lsnValue, restorePitr } from '../restore/pitr.js';
import { restoreBackup } from '../restore/restore.js';
import { cleanupContextFor, cleanupDatabases, runCleanup } from '../retention/cleanup.js';
import { formatCleanup, formatCleanupErrors } from '../retention/format.js';
import { CLEANUP_JOB } from '../scheduler/jobs.js';
import { createJobLocks } from '../scheduler/locks.js';
import type { ChannelName } from '../alerting/notify-types.js';
import { failoverStatus, promoteStandby } from '../replication/failover.js';
import { archiveCommandFor, restoreCommandFor } from '../wal/commands.js';
import { defaultIo, type Io, positiveInt, reportError } from './common.js';
import { createProgressLine } from './progress.js';
import { addWalCommands } from './wal-commands.js';
import { verifyBackup } from '../verify/verify-backup.js';
import { formatBackupList, formatFailover, formatHealth, formatCost, formatLifecycle, formatRestore, formatSyncReport, printJson } from './output.js';

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => abort.abort(new Error(`received ${signal}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const actor = `cli:${safeUser()}`;
  let exitCode = 0;

  const program = new Command('pgwarden')
    .description('PostgreSQL backups that are verified, restorable, and watched')
    .option('-c, --config <file>', 'config file (or PGWARDEN_CONFIG)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  const config = async (): Promise<Config> => {
    const path = program.opts<{ config?: string }>().config ?? process.env['PGWARDEN_CONFIG'];
    if (!path) throw new UsageError('no config file given', { hints: ['pass --config FILE or set PGWARDEN_CONFIG'] });
    return loadConfig(path);
  };
  const withApp = async <T>(fn: (app: Pgwarden) => Promise<T>): Promise<T> => {
    const cfg = await config();
    const logger = createLogger({ level: cfg.logLevel, secrets: secretValues(cfg) });
    const app = await openPgwarden(cfg, { logger });
    try {
      return await fn(app);
    } finally {
      await app.close();
    }
  };

  const progressLine = (json: boolean | undefined) => (io.progress ? createProgressLine({ stream: io.progress, json: json === true }) : undefined);
  const configPath = () => resolve(program.opts<{ config?: string }>().config ?? process.env['PGWARDEN_CONFIG'] ?? '');

  program
    .command('backup')
    .description('back up every configured database now (or one with --database)')
    .addArgument(new Argument('<kind>', 'full (pg_dump), base (pg_basebackup) or incremental (seal the archived WAL)').choices(['full', 'base', 'incremental']))
    .option('-d, --database <name>', 'only this database')
    .option('--json', 'print a JSON array, one record per database')
    .action(async (kind: BackupKindName, opts: { database?: string; json?: boolean }) => {
      const results = await withApp((app) =>
        runBackups(app, {
          kind,
          database: opts.database,
          signal: abort.signal,
          actor,
          wal: createWalAccess(app, { configPath: configPath() }),
          progress: progressLine(opts.json),
        }),
      );
      if (opts.json) printJson(io.out, results);
      else {
        for (const r of results) {
          if (r.status === 'succeeded') io.out(`${r.backup_id}\n`);
          else io.err(`error: ${kind} backup ${r.backup_id} of database "${r.database}" failed: ${r.error}\n${hintsOf(r)}`);
        }
      }
      if (results.some((r) => r.status !== 'succeeded')) exitCode = 1;
    });

  program
    .command('restore-pitr')
    .description('lay out a base backup and the WAL to recover a database to a point in time')
    .requiredOption('-d, --database <name>', 'the configured database whose archive to use')
    .option('--target-time <time>', 'recover up to this time (ISO 8601 with a zone, e.g. 2026-11-25T10:15:00Z)')
    .option('--target-lsn <lsn>', 'recover up to this WAL position')
    .option('--target-name <name>', 'recover up to this restore point (pg_create_restore_point)')
    .option('--latest', 'recover everything the archive holds')
    .requiredOption('--data-dir <dir>', 'new or empty directory for the recovered cluster')
    .option('--start', 'start the server and wait until recovery reached the target')
    .option('--port <port>', 'port for the started server (default: a free one)', positiveInt)
    .option('--timeout <seconds>', 'how long --start waits for recovery', positiveInt, 3600)
    .option('--json', 'print JSON')
    .action(async (opts: { database: string; targetTime?: string; targetLsn?: string; targetName?: string; latest?: boolean; dataDir: string; start?: boolean; port?: number; timeout: number; json?: boolean }) => {
      const target = parsePitrTarget(opts);
      const result = await withApp((app) =>
        restorePitr(
          {
            ...app,
            prefix: app.config.storage.prefix,
            wal: createWalAccess(app, { configPath: configPath() }),
            tempDir: app.config.backup.tempDir,
            pgBinDir: app.config.backup.pgBinDir,
            signal: abort.signal,
          },
          { database: opts.database, target, dataDir: resolve(opts.dataDir), start: opts.start === true, port: opts.port, timeoutSeconds: opts.timeout, actor },
        ),
      );
      if (opts.json) printJson(io.out, result);
      else {
        io.out(`restored base backup ${result.base_backup_id} of "${result.database}" into ${result.data_dir}, recovering to ${result.target}\n`);
        if (result.started) io.out(`server running on port ${result.port}: recovery finished in ${result.recovery_seconds}s (${result.total_seconds}s in all)\n`);
        else io.out(`start it with: pg_ctl -D ${result.data_dir} start\n`);
      }
    });

  program
    .command('cleanup')
    .description('apply retention: remove expired backup copies from every target, and the WAL no retained base backup needs')
    .option('--dry-run', 'print what would be removed and why, with the recovery window before and after; remove nothing')
    .option('-d, --database <name>', 'only this database')
    .option('--json', 'print JSON')
    .action(async (opts: { dryRun?: boolean; database?: string; json?: boolean }) => {
      const report = await withApp(async (app) => {
        const databases = cleanupDatabases(app.config, opts.database);
        const ctx = cleanupContextFor(app, createWalAccess(app, { configPath: configPath() }), abort.signal);
        const run = () => runCleanup(ctx, { databases, dryRun: opts.dryRun === true, actor });
        if (opts.dryRun) return run();
        // The same lock as the scheduled job: two cleanups never remove side by side.
        const release = await createJobLocks(app.catalogClient).tryLock(CLEANUP_JOB);
        if (!release) {
          throw new PgwardenError('another cleanup is running (pgwarden serve\'s scheduled cleanup or another cleanup command)', { hints: ['wait for it to finish, then run cleanup again'] });
        }
        try {
          return await run();
        } finally {
          await release();
        }
      });
      if (opts.json) printJson(io.out, report);
      else io.out(formatCleanup(report));
      io.err(formatCleanupErrors(report));
      if (!report.ok) exitCode = 1;
    });

  const failover = program.command('failover').description('standbys: status and promotion');
  failover
    .command('status')
    .description('replication state and lag of every configured standby')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = await failoverStatus(await config());
      if (opts.json) printJson(io.out, rows);
      else io.out(formatFailover(rows));
    });
  failover
    .command('promote')
    .description('promote a standby and wait until it accepts writes')
    .requiredOption('--standby <name>', 'the configured standby')
    .option('-d, --database <name>', 'when the standby name is not unique')
    .option('--timeout <seconds>', 'how long to wait', positiveInt, 60)
    .option('--json', 'print JSON')
    .action(async (opts: { standby: string; database?: string; timeout: number; json?: boolean }) => {
      const result = await promoteStandby(await config(), { standby: opts.standby, database: opts.database, timeoutSeconds: opts.timeout });
      if (opts.json) printJson(io.out, result);
      else io.out(`standby "${result.standby}" of "${result.database}" promoted in ${result.seconds}s; it accepts writes on timeline ${result.timeline}\n`);
    });

  addWalCommands(program, {
    config,
    io,
    signal: abort.signal,
    setExitCode: (code) => {
      exitCode = code;
    },
  });

  program
    .command('serve')
    .description('run the service: scheduled jobs, metrics and the HTTP API, until SIGTERM or SIGINT')
    .action(async () => {
      const cfg = await config();
      const logger = createLogger({ level: cfg.logLevel, secrets: secretValues(cfg) });
      // The service, the notifiers' SDKs and express load only for the commands that need them: a backup's
      // process stays small (peak RSS is a target).
      const { startService } = await import('../service/serve.js');
      const service = await startService(cfg, { logger, configPath: configPath() });
      io.out(`pgwarden serve listening on ${service.url}\n`);
      if (!abort.signal.aborted) await new Promise<void>((done) => abort.signal.addEventListener('abort', () => done(), { once: true }));
      logger.info({ reason: errorMessage(abort.signal.reason) }, 'shutting down');
      await service.stop();
      io.out('pgwarden serve stopped\n');
    });

  program
    .command('list')
    .description('list backups from the catalog, newest first')
    .option('-d, --database <name>', 'only this database')
    .addOption(new Option('--type <type>', 'only this kind').choices(['full', 'base', 'incremental', 'wal']))
    .addOption(new Option('--status <status>', 'only this status').choices(['running', 'succeeded', 'failed', 'expired']))
    .option('--limit <n>', 'at most this many', positiveInt, 100)
    .option('--json', 'print JSON')
    .action(async (opts: { database?: string; type?: 'full'; status?: 'failed'; limit: number; json?: boolean }) => {
      const rows = await withApp((app) => app.catalog.listBackups(opts));
      if (opts.json) printJson(io.out, rows);
      else io.out(formatBackupList(rows));
    });

  program
    .command('verify')
    .description('read a backup back from storage and prove it restorable')
    .argument('<id>', 'backup id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      const result = await withApp((app) =>
        verifyBackup(
          { ...app, prefix: app.config.storage.prefix, pgBinDir: app.config.backup.pgBinDir, tempDir: app.config.backup.tempDir, wal: createWalAccess(app, { configPath: configPath() }), databases: app.config.databases, signal: abort.signal, progress: progressLine(opts.json) },
          id,
          actor,
        ),
      );
      if (opts.json) printJson(io.out, result);
      else if (result.ok) io.out(`backup ${id} verified: checksum, ${result.summary} (${result.duration_seconds}s)\n`);
      if (!result.ok) {
        if (!opts.json) io.err(`error: ${result.error}\n${hintsOf(result)}`);
        exitCode = 1;
      }
    });

  program
    .command('restore')
    .description('restore a full backup into a database')
    .argument('<id>', 'backup id')
    .requiredOption('--target-url <url>', 'postgres URL of the (empty) database to restore into')
    .option('-j, --jobs <n>', 'parallel pg_restore jobs (uses temporary disk space for the dump)', positiveInt, 1)
    .option('--clean', 'drop and replace the objects the backup contains in a non-empty target')
    .option('--no-owner', 'do not restore ownership and privileges (roles missing on the target)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { targetUrl: string; jobs: number; clean?: boolean; owner: boolean; json?: boolean }) => {
      const result = await withApp((app) =>
        restoreBackup(
          { ...app, prefix: app.config.storage.prefix, pgBinDir: app.config.backup.pgBinDir, tempDir: app.config.backup.tempDir, signal: abort.signal, progress: progressLine(opts.json) },
          { backupId: id, targetUrl: opts.targetUrl, jobs: opts.jobs, clean: opts.clean === true, noOwner: !opts.owner, actor },
        ),
      );
      if (opts.json) printJson(io.out, result);
      else io.out(formatRestore(result));
    });

  program
    .command('drill')
    .description('restore drill: restore the newest full backup into a scratch database, compare with the manifest, drop it')
    .option('-d, --database <name>', 'only this database')
    .option('--json', 'print a JSON array, one record per database')
    .action(async (opts: { database?: string; json?: boolean }) => {
      const results = await withApp((app) => runRestoreDrill({ ...app, signal: abort.signal }, { database: opts.database, actor }));
      if (opts.json) printJson(io.out, results);
      else io.out(formatDrills(results));
      if (results.some((r) => r.status !== 'ok')) exitCode = 1;
    });

  const catalog = program.command('catalog').description('the SQL catalog');
  catalog
    .command('migrate')
    .description('create or upgrade the catalog schema')
    .action(async () => {
      const cfg = await config();
      const client = await connect(cfg.catalog.url, { purpose: 'the catalog' });
      try {
        const result = await migrateCatalog(client);
        io.out(result.applied.length > 0 ? `applied ${result.applied.join(', ')}; catalog at version ${result.version}\n` : `catalog is up to date (version ${result.version})\n`);
      } finally {
        await client.end();
      }
    });
  catalog
    .command('rebuild')
    .description("recreate the catalog's backup rows from the manifests on storage")
    .option('--from <target>', 'read the manifests of this storage target only (local, s3, s3-replica, gcs); default: every target')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean; from?: string }) => {
      const result = await withApp((app) => rebuildCatalog(app.catalog, app.storage, app.config.storage.prefix, { from: opts.from }));
      if (opts.json) printJson(io.out, result);
      else {
        io.out(`rebuilt from ${result.target}: ${result.inserted.length} inserted, ${result.updated.length} updated, ${result.skipped.length} skipped\n`);
        for (const s of result.skipped) io.out(`  skipped ${s.path}: ${s.reason}\n`);
      }
    });

  program
    .command('health')
    .description('backup health per database (check_backup_health())')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const rows = await withApp((app) => app.catalog.health());
      if (opts.json) printJson(io.out, rows);
      else io.out(formatHealth(rows));
      if (rows.some((r) => r.status !== 'ok')) exitCode = 1;
    });

  program
    .command('config')
    .description('configuration')
    .command('check')
    .description('validate the config and print it with secrets hidden')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const cfg = await config();
      if (opts.json) printJson(io.out, redactConfig(cfg));
      else io.out(`config is valid\n${JSON.stringify(redactConfig(cfg), null, 2)}\n`);
    });

  const sql = program.command('sql').description('SQL and settings to set up PostgreSQL for pgwarden');
  sql
    .command('archive-command')
    .description('the archive_command and restore_command lines for a database (push-mode WAL archiving)')
    .requiredOption('-d, --database <name>', 'the configured database')
    .action(async (opts: { database: string }) => {
      const cfg = await config();
      if (!cfg.databases.some((d) => d.name === opts.database)) throw new UsageError(`no database named "${opts.database}" in the config`);
      const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
      io.out(
        [
          `-- Push-mode WAL archiving for "${opts.database}": run as a superuser, then restart if archive_mode changed.`,
          `ALTER SYSTEM SET archive_mode = 'on';`,
          `ALTER SYSTEM SET archive_command = ${quote(archiveCommandFor(configPath(), opts.database))};`,
          `-- restore-pitr writes this into the recovered server; for a standby you configure by hand:`,
          `-- restore_command = ${quote(restoreCommandFor(configPath(), opts.database))}`,
          '',
        ].join('\n'),
      );
    });
  sql
    .command('backup-role')
    .description('print the statements creating a least-privilege backup role')
    .option('--role <name>', 'role name', 'pgwarden_backup')
    .option('--replication', 'also allow base backups and WAL streaming')
    .action(async (opts: { role: string; replication?: boolean }) => {
      const hasConfig = program.opts<{ config?: string }>().config ?? process.env['PGWARDEN_CONFIG'];
      const databases = hasConfig ? (await config()).databases.map((d) => decodeURIComponent(new URL(d.url).pathname.slice(1))) : [];
      io.out(backupRoleSql({ role: opts.role, databases, replication: opts.replication === true }));
    });

  program
    .command('cost')
    .description('estimated monthly cost per storage target, and what one full restore costs to read out of each')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { costReport } = await import('../cost/report.js');
      const report = await withApp((app) => costReport(app));
      if (opts.json) printJson(io.out, report);
      else io.out(formatCost(report));
      if (report.targets.some((t) => 'error' in t)) exitCode = 1;
    });

  const storageCommand = program.command('storage').description('the storage targets: reachability, catching up, lifecycle rules');
  storageCommand
    .command('check')
    .description('test every storage target (directory or bucket there, credentials accepted)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const cfg = await config();
      const { createStorage } = await import('../storage/create.js');
      const statuses = await (await createStorage(cfg)).checkEach();
      if (opts.json) printJson(io.out, statuses);
      else for (const s of statuses) io.out(`${s.ok ? 'ok    ' : 'FAILED'} ${s.target} (${s.location})${s.ok ? '' : `: ${s.error}`}\n`);
      if (statuses.some((s) => !s.ok)) exitCode = 1;
    });
  storageCommand
    .command('lifecycle')
    .description('show (--print) or write (--apply) the bucket lifecycle rules of the S3 and GCS targets')
    .option('--print', 'print each bucket\'s rules and what it has now (the default)')
    .option('--apply', 'write the rules to every bucket')
    .option('--json', 'print JSON')
    .action(async (opts: { print?: boolean; apply?: boolean; json?: boolean }) => {
      if (opts.print && opts.apply) throw new UsageError('storage lifecycle: choose --print or --apply, not both');
      const cfg = await config();
      const { createStorage } = await import('../storage/create.js');
      const { lifecyclePlan } = await import('../storage/lifecycle.js');
      const plan = await lifecyclePlan(await createStorage(cfg), cfg, { apply: opts.apply === true });
      if (opts.json) printJson(io.out, plan);
      else io.out(formatLifecycle(plan));
      if (plan.targets.some((t) => t.error)) exitCode = 1;
    });
  storageCommand
    .command('sync')
    .description('copy degraded backups and missing WAL to every target that is reachable again')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { syncCopies } = await import('../copies/sync.js');
      const report = await withApp((app) =>
        syncCopies({ ...app, prefix: app.config.storage.prefix, walDatabases: app.config.databases.filter((d) => d.pitr).map((d) => d.name), signal: abort.signal }),
      );
      if (opts.json) printJson(io.out, report);
      else io.out(formatSyncReport(report));
      if (report.failed.length > 0 || report.walFailed.length > 0 || report.unreachable.length > 0) exitCode = 1;
    });

  program
    .command('alert')
    .description('alert notifications')
    .command('test')
    .description('send a test message through one channel (recorded like any notification)')
    .addOption(new Option('--channel <name>', 'the channel').choices(['email', 'slack', 'pagerduty', 'sms']).makeOptionMandatory())
    .action(async (opts: { channel: ChannelName }) => {
      const { createNotifiers } = await import('../alerting/notifiers/index.js');
      const { createRouter } = await import('../alerting/router.js');
      const outcome = await withApp(async (app) => {
        const notifiers = createNotifiers(app.config.channels, { logger: app.logger });
        const router = createRouter({ notifiers, routes: app.config.alerts.routes, pool: app.pool, logger: app.logger, deliverOptions: { attempts: 3 } });
        return router.test(opts.channel);
      });
      io.out(`test message sent through ${outcome.channel}\n`);
    });

  program
    .command('demo')
    .description('run pgwarden on a throwaway primary + standby with a sample database: backups, restore, metrics, API')
    .option('--once', 'run one cycle and exit')
    .option('--dir <path>', 'where storage and the clusters go', '.pgwarden-demo')
    .action(async (opts: { once?: boolean; dir: string }) => {
      const { runDemo } = await import('../demo/demo.js');
      await runDemo({ dir: opts.dir, once: opts.once === true, out: io.out, signal: abort.signal });
    });

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return reportError(error, io);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parsePitrTarget(opts: { targetTime?: string; targetLsn?: string; targetName?: string; latest?: boolean }): PitrTarget {
  const given = [opts.targetTime, opts.targetLsn, opts.targetName, opts.latest ? 'latest' : undefined].filter((v) => v !== undefined);
  if (given.length !== 1) throw new UsageError('give exactly one of --target-time, --target-lsn, --target-name and --latest');
  if (opts.targetTime !== undefined) {
    // A time without a zone would be read in this machine's zone, which is rarely what an operator meant.
    if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(opts.targetTime.trim())) throw new UsageError(`--target-time "${opts.targetTime}" needs a time zone (e.g. Z or +01:00)`);
    const time = new Date(opts.targetTime);
    if (Number.isNaN(time.getTime())) throw new UsageError(`--target-time "${opts.targetTime}" is not a time (use ISO 8601, e.g. 2026-11-25T10:15:00Z)`);
    return { kind: 'time', time };
  }
  if (opts.targetLsn !== undefined) {
    lsnValue(opts.targetLsn);
    return { kind: 'lsn', lsn: opts.targetLsn };
  }
  if (opts.targetName !== undefined) return { kind: 'name', name: opts.targetName };
  return { kind: 'latest' };
}

function hintsOf(result: object): string {
  const cause = (result as { cause?: unknown }).cause;
  return cause instanceof PgwardenError ? cause.hints.map((h) => `HINT: ${h}\n`).join('') : '';
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
