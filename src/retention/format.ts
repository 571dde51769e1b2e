// How a cleanup reads for people: per database the recovery window on each target before, every removal and
// every copy kept past its period with the reason, the window after; then what was (or would be) removed and
// what went wrong. Tests assert these lines: change them deliberately.
import { formatBytes } from '../backup/precheck.js';
import type { CleanupReport } from './cleanup.js';
import { planTotals } from './plan.js';
import type { RecoveryWindow, RetentionPolicy } from './types.js';

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function policyLine(policy: RetentionPolicy): string {
  const keepLast = policy.keepLast === undefined ? '' : `, keepLast ${policy.keepLast}`;
  return `retention: full and base ${policy.fullDays} days, incremental ${policy.incrementalDays} days, cloud copies ${policy.cloudDays} days${keepLast}`;
}

export function formatWindow(window: RecoveryWindow): string {
  const parts: string[] = [];
  if (window.pitr) {
    const { from, to } = window.pitr;
    parts.push(`PITR from ${from.at} (base ${from.backupId}) to ${to.at} (${to.segment})`);
  } else if (window.problem) {
    parts.push(`no PITR: ${window.problem}`);
  }
  if (window.fulls) {
    const { oldest, newest, count } = window.fulls;
    parts.push(count === 1 ? `1 full backup, ${oldest.at} (${oldest.backupId})` : `${count} full backups from ${oldest.at} (${oldest.backupId}) to ${newest.at} (${newest.backupId})`);
  }
  return parts.length === 0 ? 'nothing to restore' : parts.join('; ');
}

export function formatCleanup(report: CleanupReport): string {
  const { plan } = report;
  const lines = [`cleanup at ${plan.at}${report.dryRun ? ' (dry run: nothing is removed)' : ''}`, policyLine(plan.policy)];
  const verb = report.dryRun ? 'would remove' : 'remove';
  for (const db of plan.databases) {
    lines.push(`database "${db.database}"`);
    for (const w of db.before) lines.push(`  recovery window before, ${w.target}: ${formatWindow(w)}`);
    for (const c of db.copies) {
      if (c.action === 'remove') {
        const held = c.paths.length === 0 ? 'no objects left, catalog only' : formatBytes(c.bytes);
        lines.push(`  ${verb} ${c.target} ${c.kind} ${c.backupId} (${held}): ${c.reason}`);
      } else if (c.overdue) {
        lines.push(`  keep ${c.target} ${c.kind} ${c.backupId} (${plural(c.ageDays, 'day')} old): ${c.reason}`);
      }
    }
    for (const w of db.wal) lines.push(`  ${verb} ${w.target} WAL ${w.first}..${w.last} (${plural(w.objects.length, 'file')}, ${formatBytes(w.bytes)}): ${w.reason}`);
    for (const k of db.walKept) lines.push(`  keep ${k.target} WAL: ${k.reason}`);
    for (const w of db.after) lines.push(`  recovery window after, ${w.target}: ${formatWindow(w)}`);
  }
  for (const u of plan.unreachable) lines.push(`target ${u.target} unreachable, skipped (the next run retries): ${u.error}`);
  const totals = planTotals(plan);
  const kept = totals.overdueKept > 0 ? `; ${plural(totals.overdueKept, 'copy', 'copies')} kept past ${totals.overdueKept === 1 ? 'its' : 'their'} period` : '';
  if (report.dryRun) {
    lines.push(`would remove ${plural(totals.copies, 'backup copy', 'backup copies')} and ${plural(totals.walFiles, 'WAL file')} (${formatBytes(totals.bytes)})${kept}`);
  } else {
    const { removed } = report;
    lines.push(`removed ${plural(removed.copies, 'backup copy', 'backup copies')} and ${plural(removed.walFiles, 'WAL file')} (${formatBytes(removed.bytes)})${kept}`);
    const intact = report.brokenChains.length === 0;
    lines.push(intact ? 'WAL chains checked: every retained base backup recovers to the newest archived WAL' : 'WAL chains checked: see the errors');
  }
  return `${lines.join('\n')}\n`;
}

/** The problems of a run, one `error:` line each, for stderr. */
export function formatCleanupErrors(report: CleanupReport): string {
  const lines: string[] = [];
  for (const f of report.failures) {
    if (f.what === 'everything') continue;
    lines.push(`error: cannot remove ${f.what} from ${f.target} (the next run retries): ${f.error}`);
  }
  for (const c of report.brokenChains) {
    const when = c.before ? 'was already broken before this cleanup' : 'is broken after this cleanup';
    lines.push(`error: the WAL chain of base ${c.backupId} on ${c.target} ${when}: missing ${c.missing.join(', ')}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}
