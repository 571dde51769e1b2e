// The GCS target a config describes (`storage.gcs`), or undefined when it has none.
import type { Config } from '../../config/index.js';
import type { StorageDriver } from '../types.js';
import { createGcsDriver } from './driver.js';

export function gcsTargetFromConfig(storage: Config['storage']): StorageDriver | undefined {
  const gcs = storage.gcs;
  if (!gcs) return undefined;
  return createGcsDriver({
    bucket: gcs.bucket,
    apiEndpoint: gcs.apiEndpoint,
    projectId: gcs.projectId,
    keyFilename: gcs.keyFilename,
    kmsKeyName: gcs.kmsKeyName,
    chunkSize: gcs.chunkSizeMiB * 1024 * 1024,
    maxRetries: gcs.maxRetries,
    timeoutSeconds: gcs.timeoutSeconds,
  });
}
