// The storage targets a config names, in read order: local first (fastest to restore from), then S3, its
// replica, GCS. Cloud SDKs load only when configured, so wal-push and wal-fetch (one process per WAL
// segment) stay quick to start on local-only setups; kept apart from app/open.ts for the same reason.
import type { Config } from '../config/index.js';
import { createLocalDriver } from './local/driver.js';
import { TargetSet } from './target-set.js';
import type { StorageDriver } from './types.js';

export interface CreateStorageOptions {
  /** Overrides the local target's free-space measurement (disk pre-check tests). */
  freeBytes?: ((path: string) => Promise<number>) | undefined;
}

export async function createStorage(config: Config, options: CreateStorageOptions = {}): Promise<TargetSet> {
  const storage = config.storage;
  const targets: StorageDriver[] = [];
  if (storage.local) targets.push(createLocalDriver({ root: storage.local.path, freeBytes: options.freeBytes }));
  if (storage.s3) {
    const { s3TargetsFromConfig } = await import('./s3/from-config.js');
    targets.push(...s3TargetsFromConfig(storage));
  }
  if (storage.gcs) {
    const { gcsTargetFromConfig } = await import('./gcs/from-config.js');
    const gcs = gcsTargetFromConfig(storage);
    if (gcs) targets.push(gcs);
  }
  return new TargetSet(targets);
}
