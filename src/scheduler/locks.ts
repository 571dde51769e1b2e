// One advisory lock per job in the catalog database, held on its own connection for the whole run: no two
// runs of a job overlap on any replica, and a crashed replica's lock dies with its connection.
import type pg from 'pg';

// Arbitrary constant naming "pgwarden job locks" in the advisory-lock space.
const JOB_LOCK_CLASS = 7_412_003;

export interface JobLocks {
  /** Resolves with a release function, or undefined when the job is already running somewhere. */
  tryLock(job: string): Promise<(() => Promise<void>) | undefined>;
}

export function createJobLocks(connect: () => Promise<pg.Client>): JobLocks {
  return {
    async tryLock(job) {
      const client = await connect();
      try {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [JOB_LOCK_CLASS, job]);
        if (rows[0]?.locked !== true) {
          await client.end();
          return undefined;
        }
      } catch (error) {
        await client.end().catch(() => {});
        throw error;
      }
      return async () => {
        try {
          await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [JOB_LOCK_CLASS, job]);
        } finally {
          await client.end().catch(() => {});
        }
      };
    },
  };
}
