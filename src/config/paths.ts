// Relative paths in a config file mean "next to the config file", not "wherever the service was
// started from", so the same file works from systemd, cron and a shell.
import { resolve } from 'node:path';
import type { ParsedConfig } from './types.js';

export function resolveConfigPaths(config: ParsedConfig, baseDir: string): ParsedConfig {
  const { storage, backup } = config;
  const fromBase = (path: string | undefined) => (path === undefined ? undefined : resolve(baseDir, path));
  return {
    ...config,
    storage: {
      ...storage,
      ...(storage.local && { local: { ...storage.local, path: resolve(baseDir, storage.local.path) } }),
      ...(storage.gcs?.keyFilename !== undefined && { gcs: { ...storage.gcs, keyFilename: fromBase(storage.gcs.keyFilename) } }),
    },
    backup: {
      ...backup,
      ...(backup.pgBinDir !== undefined && { pgBinDir: fromBase(backup.pgBinDir) }),
      ...(backup.tempDir !== undefined && { tempDir: fromBase(backup.tempDir) }),
    },
  };
}
