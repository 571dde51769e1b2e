// How `pgwarden drill` prints its results for people: one line per database, then one per mismatch.
import { describeMismatch } from './compare.js';
import type { DrillResult } from './types.js';

export function formatDrills(results: readonly DrillResult[]): string {
  return results.map(formatDrill).join('');
}

function formatDrill(r: DrillResult): string {
  if (r.status === 'skipped') return `${r.database}: skipped: ${r.error}\n`;
  const head = `${r.database}: backup ${r.backup_id}`;
  if (r.status === 'ok') {
    const checked = r.rows_compared
      ? `${r.tables} tables and ${r.rows} rows match the manifest, table by table`
      : `${r.tables} tables match the manifest (${r.rows} rows; its backup predates per-table row counts)`;
    return `${head}: ok, restored in ${r.duration_seconds}s (measured RTO); ${checked}\n`;
  }
  const lines = [`${head}: FAILED after ${r.duration_seconds}s: ${r.error}`];
  // The error names the first few mismatches; every one is listed here.
  if (r.mismatches.length > 5) for (const m of r.mismatches) lines.push(`  ${describeMismatch(m)}`);
  return `${lines.join('\n')}\n`;
}
