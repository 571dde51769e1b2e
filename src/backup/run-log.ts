// One call records a step of an operation both in the process log and in the catalog's backup_logs.
// A catalog that cannot take the row must not hide the step itself: that failure goes to the process log.
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { LogEntry, LogLevel } from '../catalog/types.js';

export type RunLog = (step: string, level: LogLevel, message: string, details?: Record<string, unknown>) => Promise<void>;

export function createRunLog(options: {
  catalog: Catalog;
  logger: Logger;
  backupId?: string;
  database?: string;
  operation: LogEntry['operation'];
}): RunLog {
  const { catalog, logger, backupId, database, operation } = options;
  return async (step, level, message, details) => {
    logger[level]({ backupId, database, operation, step, ...details }, message);
    try {
      await catalog.log({ backupId, database, operation, step, level, message, details });
    } catch (error) {
      logger.warn({ err: error, backupId, step }, 'could not record this step in the catalog');
    }
  };
}
