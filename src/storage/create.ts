// The storage target a config names. Kept apart from app/open.ts so that wal-push and wal-fetch, which run
// once per WAL segment, load no catalog or database client code.
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { createLocalDriver } from './local/driver.js';
import type { StorageDriver } from './types.js';

export function createStorage(config: Config, options: { freeBytes?: ((path: string) => Promise<number>) | undefined } = {}): StorageDriver {
  if (!config.storage.local) {
    throw new ConfigError('storage: this version of pgwarden writes backups to storage.local only', [
      'storage.local: required (S3 and GCS targets are not available in this version)',
    ]);
  }
  return createLocalDriver({ root: config.storage.local.path, freeBytes: options.freeBytes });
}
