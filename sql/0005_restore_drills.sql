-- Restore drills: the newest full backup of a database restored into a scratch database, its tables and
-- row counts compared with the manifest, the scratch database dropped. One row per drill; duration_seconds
-- is the measured RTO (creating the scratch database, checking the stored bytes, pg_restore, counting rows).
CREATE TABLE pgwarden.restore_drills (
  drill_id          text PRIMARY KEY,
  backup_id         text NOT NULL,
  database          text NOT NULL,
  -- Where the restore went: user@host:port/scratch database (never a password).
  target            text NOT NULL,
  started_at        timestamptz NOT NULL,
  finished_at       timestamptz NOT NULL,
  -- A failed drill records how long it ran until it failed.
  duration_seconds  double precision NOT NULL,
  status            text NOT NULL CHECK (status IN ('ok', 'failed')),
  error             text,
  -- What the restored database holds; null when the restore did not complete.
  tables            integer,
  rows              bigint,
  -- Each difference from the manifest: {"table": "s.t" | null, "problem": …, "expected": n, "actual": n}.
  mismatches        jsonb NOT NULL DEFAULT '[]'::jsonb,
  actor             text NOT NULL,
  host              text,
  pid               integer
);
CREATE INDEX restore_drills_database_finished ON pgwarden.restore_drills (database, finished_at DESC);
