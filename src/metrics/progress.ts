// Feeds pgwarden_backup_in_progress_bytes from a backup's progress: the series exists while the backup
// writes its data (the dump phase) and is removed when that ends, however it ends.
import type { ProgressReporter } from '../pipeline/progress.js';
import type { PgwardenMetrics } from './registry.js';

export function backupProgressMetric(metrics: Pick<PgwardenMetrics, 'setBackupProgress'>): ProgressReporter {
  const silent = { update: () => {}, end: () => {} };
  return {
    begin(info) {
      if (info.phase !== 'dump') return silent;
      metrics.setBackupProgress(info.database, info.type, 0);
      return {
        update: (bytes) => metrics.setBackupProgress(info.database, info.type, bytes),
        end: () => metrics.setBackupProgress(info.database, info.type, undefined),
      };
    },
  };
}
