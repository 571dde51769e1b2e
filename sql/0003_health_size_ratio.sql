-- check_backup_health(): the size ratio now uses the same rule as the pgwarden_backup_size_ratio metric —
-- the newest successful size over the median of the last 7 successful (the newest included) — so the SQL
-- view, the metric and the alert rule agree.
CREATE OR REPLACE FUNCTION pgwarden.check_backup_health(
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
              ELSE format('last full backup is %s of the median of the last 7 successful ones', round(e.last_size / e.median_size::numeric, 2)) END
  FROM expected e
  ORDER BY 1, 2
$$;
