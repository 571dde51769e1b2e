-- The status page (issue #10): its actions are audited, replication lag keeps a history for its charts, and
-- the per-database reads it makes are served by indexes.

-- Backups started and alerts silenced through the API or the page are recorded next to the reads, with the
-- token's name. A silence concerns no backup, so backup_id may be null.
ALTER TABLE pgwarden.backup_access_logs ALTER COLUMN backup_id DROP NOT NULL;
ALTER TABLE pgwarden.backup_access_logs DROP CONSTRAINT backup_access_logs_action_check;
ALTER TABLE pgwarden.backup_access_logs ADD CONSTRAINT backup_access_logs_action_check
  CHECK (action IN ('download', 'verify', 'restore', 'delete', 'backup', 'silence'));

-- Replication lag, one row per standby and minute (the largest lag any replica's probe saw in that minute),
-- so several serve replicas writing at once keep one row. Pruned to the retention window as it is written.
CREATE TABLE pgwarden.replication_lag_samples (
  database     text NOT NULL,
  standby      text NOT NULL,
  minute       timestamptz NOT NULL,
  lag_seconds  double precision,
  lag_bytes    bigint,
  connected    boolean,
  PRIMARY KEY (database, standby, minute)
);
CREATE INDEX replication_lag_samples_minute ON pgwarden.replication_lag_samples (minute);

-- A database's backups newest first, whatever their kind (the database page's list).
CREATE INDEX database_backups_database_created ON pgwarden.database_backups (database, created_at DESC, backup_id DESC);
-- A database's alerts, newest first (the database page's alert list).
CREATE INDEX alert_events_database_started ON pgwarden.alert_events ((labels ->> 'database'), started_at DESC);
