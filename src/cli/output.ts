// How commands print data for people (aligned tables) and for programs (--json).
import type { BackupRow, HealthRow } from '../catalog/types.js';
import type { SyncReport } from '../copies/sync.js';
import { formatDollars } from '../cost/estimate.js';
import type { CostReport } from '../cost/report.js';
import type { LifecyclePlan } from '../storage/lifecycle.js';
import type { RestoreResult } from '../restore/restore.js';
import { formatBytes } from '../backup/precheck.js';

export function printJson(out: (text: string) => void, value: unknown): void {
  out(`${JSON.stringify(value, null, 2)}\n`);
}

export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  return line(headers) + rows.map(line).join('');
}

const time = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

export function formatBackupList(rows: BackupRow[]): string {
  if (rows.length === 0) return 'no backups\n';
  return formatTable(
    ['BACKUP ID', 'DATABASE', 'TYPE', 'STATUS', 'COPIES', 'SIZE', 'CREATED', 'VERIFIED', 'ERROR'],
    rows.map((r) => [
      r.backupId,
      r.database,
      r.type,
      r.status === 'succeeded' && Object.values(r.storage).some((c) => c.status === 'failed') ? 'degraded' : r.status,
      formatCopies(r),
      r.fileSize === null ? '-' : formatBytes(r.fileSize),
      time(r.createdAt),
      r.verificationStatus ? `${r.verificationStatus} ${time(r.verifiedAt)}` : '-',
      r.error ? (r.error.length > 80 ? `${r.error.slice(0, 77)}...` : r.error) : '',
    ]),
  );
}

/** `local,s3 missing:gcs` — where a backup's copies are (stored), and which targets lack one. */
function formatCopies(r: BackupRow): string {
  const by = (status: string) => Object.entries(r.storage).filter(([, c]) => c.status === status).map(([t]) => t);
  const missing = by('failed');
  return [by('stored').join(',') || '-', missing.length > 0 ? `missing:${missing.join(',')}` : ''].filter(Boolean).join(' ');
}

export function formatCost(report: CostReport): string {
  const rows = report.targets.map((t) =>
    'error' in t
      ? [t.target, '-', '-', '-', `cannot list: ${t.error}`]
      : [
          t.target,
          Object.entries(t.bytes).map(([cls, n]) => `${cls} ${formatBytes(n)}`).join(', ') || '0 B',
          formatDollars(t.monthlyDollars),
          t.kind === 'local' ? '-' : formatDollars(t.restoreDollars),
          '',
        ],
  );
  const table = formatTable(['TARGET', 'STORED', 'PER MONTH', 'ONE FULL RESTORE', ''], rows);
  return `${table}total per month: ${formatDollars(report.monthlyDollars)} (list prices from the config's cost table; requests and minimum storage durations not included)\n`;
}

export function formatLifecycle(plan: LifecyclePlan): string {
  const lines: string[] = [];
  for (const t of plan.targets) {
    lines.push(`# ${t.target} (${t.location}): ${t.applied ? 'rules written' : t.error ? `FAILED: ${t.error}` : 'rules to apply (--apply writes them)'}`);
    lines.push(JSON.stringify(t.document, null, 2));
    if (!t.applied) lines.push(`# what the bucket has now: ${t.current === undefined ? 'no lifecycle rules' : JSON.stringify(t.current)}`);
  }
  if (plan.targets.length === 0) lines.push('no S3 or GCS target is configured: lifecycle rules are for buckets');
  lines.push(...plan.notes.map((n) => `note: ${n}`));
  return `${lines.join('\n')}\n`;
}

export function formatSyncReport(report: SyncReport): string {
  const lines: string[] = [];
  for (const u of report.unreachable) lines.push(`unreachable ${u.target}: ${u.error}`);
  for (const c of report.copied) lines.push(`copied ${c.backupId} to ${c.target} (from ${c.from})`);
  for (const f of report.failed) lines.push(`FAILED ${f.backupId} to ${f.target}: ${f.error}`);
  for (const w of report.walCopied) lines.push(`copied ${w.objects} WAL files of ${w.database} to ${w.target}`);
  for (const f of report.walFailed) lines.push(`FAILED WAL of ${f.database} to ${f.target}: ${f.error}`);
  return `${lines.length > 0 ? lines.join('\n') : 'every reachable target holds every backup and WAL file'}\n`;
}

export function formatHealth(rows: HealthRow[]): string {
  if (rows.length === 0) return 'no backups recorded yet\n';
  return formatTable(['DATABASE', 'CHECK', 'STATUS', 'DETAIL'], rows.map((r) => [r.database, r.check, r.status, r.detail]));
}

export function formatRestore(r: RestoreResult): string {
  const head = `restored backup ${r.backup_id} (database "${r.database}") into ${r.target}: ${r.tables} tables, ${r.rows} rows in ${r.duration_seconds}s\n`;
  return head + formatTable(['TABLE', 'ROWS'], r.per_table.map((t) => [t.table, String(t.rows)]));
}

export function formatFailover(rows: import('../replication/failover.js').FailoverStatusRow[]): string {
  if (rows.length === 0) return 'no standbys configured or connected\n';
  const yesNo = (v: boolean | null) => (v === null ? '?' : v ? 'yes' : 'no');
  return formatTable(
    ['DATABASE', 'STANDBY', 'CONFIGURED', 'CONNECTED', 'STATE', 'LAG (s)', 'LAG (bytes)', 'PAUSED', 'ERROR'],
    rows.map((r) => [r.database, r.standby, yesNo(r.configured), yesNo(r.connected), r.state ?? '-', r.lag_seconds === null ? '-' : r.lag_seconds.toFixed(1), r.lag_bytes === null ? '-' : String(r.lag_bytes), yesNo(r.replay_paused), r.error ?? '']),
  );
}
