// The catalog-backed run coordinator: inserting (job, slot) elects the replica that runs it; a second
// replica's insert finds the row and skips. Manual and catch-up runs get their own slot (their start time).
import type pg from 'pg';
import type { RunCoordinator } from './types.js';

export function createCatalogCoordinator(pool: pg.Pool): RunCoordinator {
  return {
    async claim(job, slot, owner) {
      const { rowCount } = await pool.query(
        `INSERT INTO pgwarden.job_runs (job, scheduled_for, claimed_by) VALUES ($1, $2, $3)
         ON CONFLICT (job, scheduled_for) DO NOTHING`,
        [job, slot, owner],
      );
      return rowCount === 1;
    },
    async finish(job, slot, outcome, detail) {
      await pool.query(
        'UPDATE pgwarden.job_runs SET finished_at = now(), outcome = $3, detail = $4 WHERE job = $1 AND scheduled_for = $2',
        [job, slot, outcome, detail ?? null],
      );
    },
  };
}
