// A restore drill proves the newest full backup of a database restores: it is restored into a scratch
// database, the restored tables and their exact row counts are compared with the manifest (counted in the
// dump's own snapshot), the time it took is recorded as the measured RTO, and the scratch database is
// dropped, whatever happened. Each drill is a row in pgwarden.restore_drills and steps in backup_logs.
import { randomBytes } from 'node:crypto';
import { createRunLog, type RunLog } from '../backup/run-log.js';
import type { DatabaseConfig } from '../config/index.js';
import { UsageError, errorMessage } from '../errors.js';
import { describeUrl } from '../postgres/connection.js';
import { locateBackup } from '../restore/locate.js';
import { restoreBackup } from '../restore/restore.js';
import { compareWithManifest, describeMismatch } from './compare.js';
import { recordDrill, tryDrillLock } from './record.js';
import { createScratch, describeScratch, dropLeftovers, dropScratch, scratchName, scratchPrefix, scratchServer, scratchUrl } from './scratch.js';
import type { DrillContext, DrillMismatch, DrillOptions, DrillResult } from './types.js';

/** `YYYYMMDDTHHMMSSZ-drill-<6 hex>`; the hex also names the scratch database. */
export function newDrillId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `${stamp}-drill-${randomBytes(3).toString('hex')}`;
}

/** Drills every configured database (or one), one after another. */
export async function runRestoreDrill(ctx: DrillContext, options: DrillOptions): Promise<DrillResult[]> {
  const databases = options.database ? ctx.config.databases.filter((d) => d.name === options.database) : ctx.config.databases;
  if (databases.length === 0) {
    throw new UsageError(`no database named "${options.database}" in the config`, {
      hints: [`configured: ${ctx.config.databases.map((d) => d.name).join(', ')}`],
    });
  }
  const results: DrillResult[] = [];
  for (const db of databases) {
    if (ctx.signal?.aborted) break;
    results.push(await drillOne(ctx, db, options.actor));
  }
  return results;
}

async function drillOne(ctx: DrillContext, db: DatabaseConfig, actor: string): Promise<DrillResult> {
  const startedAt = ctx.now();
  const skipped = (error: string, backupId: string | null = null): DrillResult => ({
    drill_id: null,
    database: db.name,
    backup_id: backupId,
    status: 'skipped',
    target: null,
    started_at: startedAt.toISOString(),
    finished_at: ctx.now().toISOString(),
    duration_seconds: null,
    tables: null,
    rows: null,
    rows_compared: false,
    mismatches: [],
    error,
  });

  const release = await tryDrillLock(ctx.catalogClient, scratchPrefix(db.name));
  if (!release) {
    const log = createRunLog({ catalog: ctx.catalog, logger: ctx.logger, database: db.name, operation: 'drill' });
    const message = `another restore drill of "${db.name}" is running; this one is skipped`;
    await log('skip', 'warn', message);
    return skipped(message);
  }
  try {
    const [backup] = await ctx.catalog.listBackups({ database: db.name, type: 'full', status: 'succeeded', limit: 1 });
    if (!backup) {
      const log = createRunLog({ catalog: ctx.catalog, logger: ctx.logger, database: db.name, operation: 'drill' });
      const message = `no successful full backup of "${db.name}" to drill`;
      await log('skip', 'warn', message);
      return skipped(message);
    }
    return await drillBackup(ctx, db, backup.backupId, actor, startedAt);
  } finally {
    await release();
  }
}

async function drillBackup(ctx: DrillContext, db: DatabaseConfig, backupId: string, actor: string, startedAt: Date): Promise<DrillResult> {
  const { config } = ctx;
  const drillId = newDrillId(startedAt);
  const server = scratchServer(db.url, config.drills.targetUrl);
  const scratch = scratchName(db.name, drillId.slice(-6));
  const target = describeScratch(server, scratch);
  const log: RunLog = createRunLog({ catalog: ctx.catalog, logger: ctx.logger, backupId, database: db.name, operation: 'drill' });
  const jobs = config.drills.jobs ?? 1;
  await log('start', 'info', `restore drill ${drillId}: backup ${backupId} of "${db.name}" into ${target}, started by ${actor}`, { drillId, jobs });

  // The RTO clock starts when the scratch database is created; a failure before that counts from here.
  let clock = performance.now();
  let durationSeconds = 0;
  let tables: number | null = null;
  let rows: number | null = null;
  let rowsCompared = false;
  let mismatches: DrillMismatch[] = [];
  const errors: string[] = [];
  let created = false;
  try {
    // Only this database's drills use the prefix, and we hold its lock: anything under it is a dead drill's.
    const leftovers = await dropLeftovers(server, db.name);
    for (const name of leftovers.dropped) await log('leftover', 'warn', `dropped scratch database ${name}, left behind by an interrupted drill`, { drillId });
    for (const f of leftovers.failed) await log('leftover', 'error', `cannot drop scratch database ${f.name}, left behind by an interrupted drill: ${f.error}`, { drillId });

    // The stored manifest, checked (checksum, agreement with the catalog) before anything is created.
    const { manifest } = await locateBackup(ctx.storage, ctx.catalog, config.storage.prefix, backupId);
    clock = performance.now();
    created = true;
    await createScratch(server, scratch, db.url);
    await log('create', 'info', `created scratch database ${target}`, { drillId });
    const restored = await restoreBackup(
      { ...ctx, prefix: config.storage.prefix, pgBinDir: config.backup.pgBinDir, tempDir: config.backup.tempDir },
      { backupId, targetUrl: scratchUrl(server, scratch), jobs, clean: false, noOwner: true, actor },
    );
    durationSeconds = seconds(clock);
    tables = restored.tables;
    rows = restored.rows;
    await log('restore', 'info', `restored ${restored.tables} tables, ${restored.rows} rows in ${durationSeconds}s (measured RTO)`, { drillId, durationSeconds });

    mismatches = compareWithManifest(manifest.tables, restored.per_table);
    rowsCompared = manifest.tables.rows !== undefined;
    if (mismatches.length > 0) {
      const shown = mismatches.slice(0, 5).map(describeMismatch);
      const more = mismatches.length > shown.length ? `; and ${mismatches.length - shown.length} more` : '';
      errors.push(`the restored database differs from the manifest of backup ${backupId}: ${shown.join('; ')}${more}`);
      await log('compare', 'error', errors.at(-1)!, { drillId, mismatches });
    } else {
      const what = rowsCompared ? `${tables} tables and every table's ${rows} rows in all` : `${tables} tables (the manifest predates row counts: rows not compared)`;
      await log('compare', 'info', `the restored database matches the manifest: ${what}`, { drillId });
    }
  } catch (error) {
    if (durationSeconds === 0) durationSeconds = seconds(clock);
    const message = ctx.signal?.aborted ? `drill aborted: ${errorMessage(ctx.signal.reason ?? error)}` : errorMessage(error);
    errors.push(message);
    await log('fail', 'error', `restore drill ${drillId} failed: ${message}`, { drillId });
  } finally {
    if (created) {
      try {
        await dropScratch(server, scratch);
        await log('drop', 'info', `dropped scratch database ${target}`, { drillId });
      } catch (error) {
        const message = `scratch database ${target} could not be dropped: ${errorMessage(error)}`;
        errors.push(message);
        await log('drop', 'error', message, { drillId, hint: `DROP DATABASE ${scratch} on ${describeUrl(server.adminUrl)}` });
      }
    }
  }

  const status = errors.length === 0 ? 'ok' : 'failed';
  const result = {
    drill_id: drillId,
    database: db.name,
    backup_id: backupId,
    status,
    target,
    started_at: startedAt.toISOString(),
    finished_at: ctx.now().toISOString(),
    duration_seconds: durationSeconds,
    tables,
    rows,
    rows_compared: rowsCompared,
    mismatches,
    error: errors.length === 0 ? null : errors.join('; '),
  } satisfies DrillResult;
  if (ctx.signal?.aborted) {
    // Stopped by a shutdown or Ctrl-C: it proves nothing either way, so it must not raise RestoreDrillFailed.
    await log('finish', 'warn', `restore drill ${drillId} aborted; not recorded`, { drillId });
    return result;
  }
  try {
    await recordDrill(ctx.pool, result, { actor, host: ctx.host, pid: process.pid });
  } catch (error) {
    // Unrecorded, the drill proves nothing to the metrics and alerts: say so rather than report success.
    const message = `the drill could not be recorded in the catalog: ${errorMessage(error)}`;
    await log('record', 'error', message, { drillId });
    return { ...result, status: 'failed', error: result.error ? `${result.error}; ${message}` : message };
  }
  await log('finish', status === 'ok' ? 'info' : 'error', `restore drill ${drillId} ${status === 'ok' ? 'passed' : 'failed'}`, { drillId });
  return result;
}

function seconds(since: number): number {
  return Math.round((performance.now() - since) / 10) / 100;
}
