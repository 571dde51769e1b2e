// The built-in alert rules (DESIGN.md "Alerts"), as pure functions of what the health check and the metrics
// snapshot know. The same rules ship as Prometheus rules in alerts/; `check_backup_health()` applies the
// backup ones in SQL. An alert's identity (fingerprint) is its rule, severity and labels.
import { createHash } from 'node:crypto';
import type { BackupSeries, CopySummary, DatabaseStatus, StorageUsage, WalArchiveStatus } from '../metrics/types.js';
import type { ReplicationReport } from '../replication/types.js';
import type { AlertInstance, Severity } from './notify-types.js';

export interface Thresholds {
  backupMissingHours: number;
  sizeDropRatio: number;
  replicationLagWarningSeconds: number;
  replicationLagCriticalSeconds: number;
  rpoSeconds: number;
  storageSpaceFactor: number;
  incrementalSpikeFactor: number;
}

export interface RuleDatabase {
  name: string;
  pitr: boolean;
  /** Per-database overrides of the global thresholds. */
  thresholds?: Partial<Thresholds> | undefined;
}

/** Everything the rules look at; each part is undefined when its collector failed (its rules stay silent). */
export interface RuleInput {
  now: Date;
  databases: readonly RuleDatabase[];
  thresholds: Thresholds;
  series?: readonly BackupSeries[] | undefined;
  databaseStatus?: readonly DatabaseStatus[] | undefined;
  replication?: ReadonlyMap<string, ReplicationReport> | undefined;
  storage?: readonly StorageUsage[] | undefined;
  /** Per database and target: backups the target misses (from the catalog). */
  copies?: readonly CopySummary[] | undefined;
  wal?: readonly WalArchiveStatus[] | undefined;
}

export const RULES = [
  'BackupMissing',
  'BackupFailed',
  'BackupVerificationFailed',
  'WalArchivingStalled',
  'DatabaseUnreachable',
  'BackupSizeDrop',
  'ReplicationLagHigh',
  'StorageSpaceLow',
  'IncrementalSizeSpike',
  'RestoreDrillFailed',
  'BackupDegraded',
  'StorageTargetDown',
] as const;
export type RuleName = (typeof RULES)[number];

export function fingerprint(rule: string, severity: Severity, labels: Record<string, string>): string {
  const canonical = [rule, severity, ...Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`)].join('\n');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

function alert(rule: RuleName, severity: Severity, labels: Record<string, string>, summary: string, now: Date, description?: string): AlertInstance {
  return { fingerprint: fingerprint(rule, severity, labels), rule, severity, labels, summary, description, startsAt: now, status: 'firing' };
}

const ago = (seconds: number) => (seconds >= 7200 ? `${(seconds / 3600).toFixed(1)} h` : seconds >= 120 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`);

/** Every alert that should be firing now, given the input. */
export function evaluateRules(input: RuleInput): AlertInstance[] {
  const { now } = input;
  const out: AlertInstance[] = [];
  const limits = (db: RuleDatabase): Thresholds => ({ ...input.thresholds, ...stripUndefined(db.thresholds ?? {}) });
  const seriesOf = (database: string, type: string) => input.series?.find((s) => s.database === database && s.type === type);

  for (const db of input.databases) {
    const t = limits(db);
    if (input.series) {
      const full = seriesOf(db.name, 'full');
      const age = full?.lastSuccessAt ? (now.getTime() - full.lastSuccessAt.getTime()) / 1000 : null;
      if (age === null || age > t.backupMissingHours * 3600) {
        out.push(
          alert(
            'BackupMissing',
            'critical',
            { database: db.name },
            age === null ? `no successful full backup of ${db.name} yet` : `no successful full backup of ${db.name} for ${ago(age)}`,
            now,
            `the limit is ${t.backupMissingHours} h; check the backup runs: pgwarden list --database ${db.name}`,
          ),
        );
      }
      for (const s of input.series.filter((x) => x.database === db.name)) {
        if (s.lastStatus === 'failed') {
          out.push(alert('BackupFailed', 'critical', { database: db.name, type: s.type }, `the last ${s.type} backup of ${db.name} failed`, now, `pgwarden list --database ${db.name} --status failed shows why`));
        }
        if (s.lastVerificationOk === false) {
          out.push(alert('BackupVerificationFailed', 'critical', { database: db.name, type: s.type }, `the last verification of a ${s.type} backup of ${db.name} failed`, now));
        }
        // Critical, like BackupVerificationFailed: the newest backup did not restore (or restored other data
        // than it recorded), so the recovery path is broken now, whatever the backup runs say.
        if (s.type === 'full' && s.drill?.lastStatus === 'failed') {
          out.push(
            alert('RestoreDrillFailed', 'critical', { database: db.name }, `the last restore drill of ${db.name} failed`, now, `backup ${s.drill.lastBackupId}: ${s.drill.lastError ?? 'no reason recorded'}; pgwarden drill --database ${db.name} runs it again`),
          );
        }
        if (s.type !== 'incremental' && s.sizeRatio !== null && s.sizeRatio < t.sizeDropRatio) {
          out.push(
            alert('BackupSizeDrop', 'warning', { database: db.name, type: s.type }, `the last ${s.type} backup of ${db.name} is ${Math.round(s.sizeRatio * 100)} % of the usual size`, now, `expected about ${s.expectedSize} bytes, got ${s.lastSize}`),
          );
        }
        if (s.type === 'incremental' && s.recentSizes.length >= 2) {
          const [newest, previous] = s.recentSizes as [number, number];
          if (previous > 0 && newest > t.incrementalSpikeFactor * previous) {
            out.push(alert('IncrementalSizeSpike', 'info', { database: db.name }, `the last incremental of ${db.name} is ${(newest / previous).toFixed(1)}× the previous one`, now, `${newest} bytes of WAL, previously ${previous}`));
          }
        }
      }
    }
    const status = input.databaseStatus?.find((d) => d.database === db.name);
    if (status && !status.up) {
      out.push(alert('DatabaseUnreachable', 'critical', { database: db.name }, `database ${db.name} is unreachable`, now, status.error ?? undefined));
    }
    const wal = input.wal?.find((w) => w.database === db.name);
    if (db.pitr && wal) {
      const rpo = wal.lastSegmentAt ? (now.getTime() - wal.lastSegmentAt.getTime()) / 1000 : null;
      // An idle server has nothing unarchived: its archive may be old without anything at risk.
      if ((rpo === null || rpo > t.rpoSeconds) && wal.lagBytes !== 0) {
        out.push(
          alert('WalArchivingStalled', 'critical', { database: db.name }, rpo === null ? `no WAL of ${db.name} has been archived` : `WAL archiving of ${db.name} stalled: newest segment ${ago(rpo)} old`, now, wal.lagBytes ? `${wal.lagBytes} bytes of WAL wait to be archived` : undefined),
        );
      }
    }
    const report = input.replication?.get(db.name);
    for (const standby of report?.standbys ?? []) {
      const labels = { database: db.name, standby: standby.name };
      if (standby.configured && standby.connected === false) {
        out.push(alert('ReplicationLagHigh', 'warning', labels, `standby ${standby.name} of ${db.name} is not connected`, now));
      } else if (standby.lagSeconds !== null && standby.lagSeconds > t.replicationLagCriticalSeconds) {
        out.push(alert('ReplicationLagHigh', 'critical', labels, `standby ${standby.name} of ${db.name} is ${ago(standby.lagSeconds)} behind`, now));
      } else if (standby.lagSeconds !== null && standby.lagSeconds > t.replicationLagWarningSeconds) {
        out.push(alert('ReplicationLagHigh', 'warning', labels, `standby ${standby.name} of ${db.name} is ${ago(standby.lagSeconds)} behind`, now));
      }
    }
  }

  // A backup held by fewer targets than configured survives one loss less than the operator planned for.
  for (const copy of input.copies ?? []) {
    if (copy.degraded > 0) {
      out.push(alert('BackupDegraded', 'warning', { database: copy.database, target: copy.target }, `${copy.degraded} backup(s) of ${copy.database} are missing on storage target ${copy.target}`, now, 'they are good on the other targets; the storage-sync job copies them once the target is reachable (`pgwarden storage sync` does it now)'));
    }
  }
  for (const target of input.storage ?? []) {
    if (!target.up) out.push(alert('StorageTargetDown', 'warning', { target: target.target }, `storage target ${target.target} cannot be reached: ${target.error ?? 'unknown error'}`, now, 'backups and WAL still land on the other targets, marked degraded; `pgwarden storage check` says what is wrong'));
  }

  // Room for the next backup: the largest expected size of any database and kind, times the factor.
  const largest = Math.max(0, ...(input.series ?? []).map((s) => s.expectedSize ?? 0));
  for (const target of input.storage ?? []) {
    if (target.freeBytes !== null && largest > 0 && target.freeBytes < input.thresholds.storageSpaceFactor * largest) {
      out.push(alert('StorageSpaceLow', 'warning', { target: target.target }, `storage target ${target.target} has ${target.freeBytes} bytes free, under ${input.thresholds.storageSpaceFactor}× the largest expected backup (${largest})`, input.now));
    }
  }
  return out;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
