// Compares a restored database with its backup's manifest: the table count, and when the manifest has them
// (backups since restore drills), the exact row count of every table, counted in the dump's own snapshot.
import type { BackupManifest } from '../manifest/types.js';
import type { DrillMismatch } from './types.js';

export interface RestoredCounts {
  /** `schema.table` → rows, as restoreBackup counts them (a partitioned parent holds none itself). */
  table: string;
  rows: number;
}

/** Every difference, the table count first, then by table name; empty when the restore matches. */
export function compareWithManifest(expected: BackupManifest['tables'], restored: readonly RestoredCounts[]): DrillMismatch[] {
  const out: DrillMismatch[] = [];
  if (restored.length !== expected.count) {
    out.push({ table: null, problem: 'table-count', expected: expected.count, actual: restored.length });
  }
  if (expected.rows === undefined) return out;
  const actual = new Map(restored.map((t) => [t.table, t.rows]));
  const perTable: DrillMismatch[] = [];
  for (const [table, rows] of Object.entries(expected.rows)) {
    const got = actual.get(table);
    if (got === undefined) perTable.push({ table, problem: 'missing', expected: rows, actual: null });
    else if (got !== rows) perTable.push({ table, problem: 'rows', expected: rows, actual: got });
  }
  for (const [table, rows] of actual) {
    if (!Object.hasOwn(expected.rows, table)) perTable.push({ table, problem: 'unexpected', expected: null, actual: rows });
  }
  perTable.sort((a, b) => (a.table! < b.table! ? -1 : a.table! > b.table! ? 1 : 0));
  return [...out, ...perTable];
}

/** One line per mismatch, as the CLI, the log and the catalog's error column show it. */
export function describeMismatch(m: DrillMismatch): string {
  switch (m.problem) {
    case 'table-count':
      return `${m.actual} tables restored, the manifest records ${m.expected}`;
    case 'missing':
      return `${m.table}: missing from the restored database (${m.expected} rows in the manifest)`;
    case 'unexpected':
      return `${m.table}: restored but not in the manifest (${m.actual} rows)`;
    case 'rows':
      return `${m.table}: ${m.actual} rows restored, ${m.expected} in the manifest`;
  }
}
