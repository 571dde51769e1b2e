-- Scheduled job runs, one row per job and scheduled slot: the row's insertion elects the one `serve` replica
-- that runs that slot, so several replicas on one catalog run each scheduled job exactly once.
CREATE TABLE pgwarden.job_runs (
  job           text NOT NULL,
  scheduled_for timestamptz NOT NULL,
  claimed_by    text NOT NULL,
  claimed_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  outcome       text CHECK (outcome IN ('succeeded', 'failed', 'skipped', 'aborted')),
  detail        text,
  PRIMARY KEY (job, scheduled_for)
);
CREATE INDEX job_runs_claimed_at ON pgwarden.job_runs (claimed_at);
