// Contracts of the backup engine: what a run needs passed in, and what it reports.
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config/index.js';
import type { KeyRing } from '../crypto/keyring.js';
import type { ProgressReporter } from '../pipeline/progress.js';
import type { TargetSet } from '../storage/target-set.js';

export interface BackupContext {
  config: Config;
  catalog: Catalog;
  /** Opens a dedicated catalog connection (the run lock lives on it for the whole run). */
  catalogClient: () => Promise<import('pg').Client>;
  storage: TargetSet;
  keyring: KeyRing | undefined;
  logger: Logger;
  now: () => Date;
  signal?: AbortSignal | undefined;
  /** host name recorded with each run, to find the process that ran it. */
  host: string;
  /** Hears the bytes of the dump and the verification as they flow (CLI progress line, in-progress metric). */
  progress?: ProgressReporter | undefined;
}

export interface BackupResult {
  backup_id: string;
  database: string;
  type: 'full' | 'base' | 'incremental';
  status: 'succeeded' | 'failed';
  file_size: number | null;
  checksum_sha256: string | null;
  created_at: string;
  finished_at: string;
  error: string | null;
}
