// The manifest: the source of truth for one backup, written last and atomically (its presence is the commit
// point). The SQL catalog can be rebuilt from manifests alone.
import type { CompressionAlgorithm } from '../pipeline/compression.js';

export const MANIFEST_FORMAT_VERSION = 1;

export type ArtifactFormat = 'custom' | 'directory-tar';

export interface ArtifactInfo {
  /** File name inside the backup's directory, e.g. `dump.pgc.gz.enc`. */
  file: string;
  /** pg_dump's archive format: `-Fc` stream, or `-Fd` directory packed as tar (backup.jobs > 1). */
  format: ArtifactFormat;
  compression: { algorithm: CompressionAlgorithm; level: number };
  encryption: { keyId: string; format: 'pgwenc-1' } | null;
  rawBytes: number;
  storedBytes: number;
  /** SHA-256 (hex) of the stored bytes. */
  sha256: string;
}

export interface VerificationResult {
  ok: boolean;
  at: string;
  error: string | null;
  /** Tables listed in the archive, when the archive could be read that far. */
  tablesInArchive?: number | undefined;
  durationSeconds?: number | undefined;
}

export interface BackupManifest {
  formatVersion: number;
  backupId: string;
  kind: 'full';
  database: string;
  serverVersion: string;
  toolVersion: string;
  startedAt: string;
  finishedAt: string;
  /** WAL position when the dump's snapshot was taken (informational for logical backups). */
  startLsn: string | null;
  artifact: ArtifactInfo;
  /** Tables (ordinary and partitioned, incl. partitions) the dump contains, counted in the dump's snapshot. */
  tables: { count: number };
  expectedBytes: number | null;
  verification: VerificationResult | null;
  /** SHA-256 of this manifest's canonical JSON without this field: detects edits. */
  checksum: string;
}
