-- pgwarden catalog, version 1: backups, their logs, who read them, alert lifecycle, and the health function.
-- Run by `pgwarden catalog migrate` inside one transaction, after the row in schema_migrations is inserted.

CREATE TABLE pgwarden.database_backups (
  backup_id            text PRIMARY KEY,
  database             text NOT NULL,
  type                 text NOT NULL CHECK (type IN ('full', 'base', 'incremental', 'wal')),
  status               text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'expired')),
  created_at           timestamptz NOT NULL DEFAULT now(),
  finished_at          timestamptz,
  file_size            bigint,
  raw_size             bigint,
  expected_size        bigint,
  checksum_sha256      text,
  compression          text,
  encryption_key_id    text,
  server_version       text,
  table_count          integer,
  storage              jsonb NOT NULL DEFAULT '{}'::jsonb,
  verified_at          timestamptz,
  verification_status  text CHECK (verification_status IN ('ok', 'failed')),
  verification_error   text,
  error                text,
  host                 text,
  pid                  integer,
  manifest             jsonb
);
CREATE INDEX database_backups_database_type_created ON pgwarden.database_backups (database, type, created_at DESC);
CREATE INDEX database_backups_running ON pgwarden.database_backups (status) WHERE status = 'running';

CREATE TABLE pgwarden.backup_logs (
  id          bigserial PRIMARY KEY,
  backup_id   text,
  database    text,
  operation   text NOT NULL,
  step        text NOT NULL,
  level       text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  message     text NOT NULL,
  details     jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backup_logs_backup ON pgwarden.backup_logs (backup_id, id);

CREATE TABLE pgwarden.backup_access_logs (
  id          bigserial PRIMARY KEY,
  backup_id   text NOT NULL,
  database    text,
  action      text NOT NULL CHECK (action IN ('download', 'verify', 'restore', 'delete')),
  actor       text NOT NULL,
  result      text CHECK (result IN ('ok', 'failed')),
  details     jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX backup_access_logs_backup ON pgwarden.backup_access_logs (backup_id, id);

CREATE TABLE pgwarden.alert_events (
  id             bigserial PRIMARY KEY,
  fingerprint    text NOT NULL,
  rule           text NOT NULL,
  severity       text NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
  labels         jsonb NOT NULL DEFAULT '{}'::jsonb,
  summary        text NOT NULL,
  status         text NOT NULL CHECK (status IN ('firing', 'resolved')),
  started_at     timestamptz NOT NULL DEFAULT now(),
  resolved_at    timestamptz,
  last_sent_at   timestamptz
);
CREATE UNIQUE INDEX alert_events_one_firing ON pgwarden.alert_events (fingerprint) WHERE status = 'firing';

CREATE TABLE pgwarden.alert_notifications (
  id           bigserial PRIMARY KEY,
  event_id     bigint NOT NULL REFERENCES pgwarden.alert_events (id) ON DELETE CASCADE,
  channel      text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('firing', 'repeat', 'resolved', 'test')),
  attempt      integer NOT NULL,
  result       text NOT NULL CHECK (result IN ('sent', 'failed', 'retrying')),
  error        text,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_notifications_event ON pgwarden.alert_notifications (event_id, id);

-- One row per database and check: the same rules the alert evaluator applies to full backups.
-- With no arguments it uses DESIGN.md's defaults; the service passes its configured thresholds.
CREATE FUNCTION pgwarden.check_backup_health(
  max_full_age interval DEFAULT interval '24 hours',
  min_size_ratio numeric DEFAULT 0.5
) RETURNS TABLE (database text, check_name text, status text, detail text)
LANGUAGE sql STABLE AS $$
  WITH dbs AS (
    SELECT DISTINCT b.database FROM pgwarden.database_backups b WHERE b.type = 'full'
  ),
  last_success AS (
    SELECT DISTINCT ON (b.database) b.database, b.backup_id, b.finished_at, b.file_size
    FROM pgwarden.database_backups b
    WHERE b.type = 'full' AND b.status = 'succeeded'
    ORDER BY b.database, b.finished_at DESC
  ),
  last_run AS (
    SELECT DISTINCT ON (b.database) b.database, b.backup_id, b.status, b.error
    FROM pgwarden.database_backups b
    WHERE b.type = 'full' AND b.status IN ('succeeded', 'failed')
    ORDER BY b.database, b.created_at DESC
  ),
  last_verified AS (
    SELECT DISTINCT ON (b.database) b.database, b.backup_id, b.verification_status, b.verification_error
    FROM pgwarden.database_backups b
    WHERE b.type = 'full' AND b.verification_status IS NOT NULL
    ORDER BY b.database, b.verified_at DESC
  ),
  expected AS (
    SELECT d.database,
           (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY recent.file_size)
              FROM (SELECT b.file_size FROM pgwarden.database_backups b
                     WHERE b.database = d.database AND b.type = 'full' AND b.status = 'succeeded'
                       AND b.backup_id <> ls.backup_id
                     ORDER BY b.finished_at DESC LIMIT 7) recent) AS median_size,
           ls.file_size AS last_size
    FROM dbs d JOIN last_success ls USING (database)
  )
  SELECT d.database, 'full_backup_age',
         CASE WHEN ls.finished_at IS NULL OR now() - ls.finished_at > max_full_age THEN 'critical' ELSE 'ok' END,
         CASE WHEN ls.finished_at IS NULL THEN 'no successful full backup'
              ELSE format('last successful full backup %s finished %s ago', ls.backup_id,
                          date_trunc('second', now() - ls.finished_at)) END
  FROM dbs d LEFT JOIN last_success ls USING (database)
  UNION ALL
  SELECT lr.database, 'last_full_run',
         CASE WHEN lr.status = 'failed' THEN 'critical' ELSE 'ok' END,
         CASE WHEN lr.status = 'failed' THEN format('backup %s failed: %s', lr.backup_id, lr.error)
              ELSE format('backup %s succeeded', lr.backup_id) END
  FROM last_run lr
  UNION ALL
  SELECT lv.database, 'verification',
         CASE WHEN lv.verification_status = 'failed' THEN 'critical' ELSE 'ok' END,
         CASE WHEN lv.verification_status = 'failed'
              THEN format('verification of %s failed: %s', lv.backup_id, lv.verification_error)
              ELSE format('backup %s verified', lv.backup_id) END
  FROM last_verified lv
  UNION ALL
  SELECT e.database, 'size_ratio',
         CASE WHEN e.median_size > 0 AND e.last_size / e.median_size < min_size_ratio THEN 'warning' ELSE 'ok' END,
         CASE WHEN e.median_size IS NULL OR e.median_size = 0 THEN 'not enough history for a size ratio'
              ELSE format('last full backup is %s of the median of the previous %s', round(e.last_size / e.median_size::numeric, 2), 'successful backups') END
  FROM expected e
  ORDER BY 1, 2
$$;
