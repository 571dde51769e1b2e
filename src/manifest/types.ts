// The manifest: the source of truth for one backup, written last and atomically (its presence is the commit
// point). The SQL catalog can be rebuilt from manifests alone.
import type { ArtifactEncryption } from '../crypto/types.js';
import type { CompressionAlgorithm } from '../pipeline/compression.js';

export const MANIFEST_FORMAT_VERSION = 1;

/** '-Fc' stream; '-Fd' directory packed as tar (backup.jobs > 1); 'tar': pg_basebackup's tar of the data directory. */
export type ArtifactFormat = 'custom' | 'directory-tar' | 'tar';

export interface ArtifactInfo {
  /** File name inside the backup's directory, e.g. `dump.pgc.gz.enc`. */
  file: string;
  /** pg_dump's archive format: `-Fc` stream, or `-Fd` directory packed as tar (backup.jobs > 1). */
  format: ArtifactFormat;
  compression: { algorithm: CompressionAlgorithm; level: number };
  /** Null: stored plain. `kms` holds the artifact's own data key, wrapped by KMS (envelope encryption). */
  encryption: ArtifactEncryption | null;
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
  kind: 'full' | 'base' | 'incremental';
  database: string;
  serverVersion: string;
  toolVersion: string;
  startedAt: string;
  finishedAt: string;
  /** WAL position when the dump's snapshot was taken (logical), or where the base backup starts (physical). */
  startLsn: string | null;
  /** Base backups: the LSN recovery must reach before the copy is consistent; incrementals: the last LSN sealed. */
  endLsn?: string | null | undefined;
  timeline?: number | null | undefined;
  /** The stored bytes; null for an incremental, which only seals WAL already in the archive. */
  artifact: ArtifactInfo | null;
  /** Incrementals: the WAL segments sealed since the previous backup. */
  wal?: { first: string; last: string; segments: number; bytes: number } | null | undefined;
  /**
   * Tables (ordinary and partitioned, incl. partitions) the dump contains, counted in the dump's snapshot.
   * `rows`: exact row count per table (`schema.table`, unquoted; a partitioned parent counts its own rows,
   * none), in the same snapshot; absent in manifests written before restore drills.
   */
  tables: { count: number; rows?: Record<string, number> | undefined };
  expectedBytes: number | null;
  verification: VerificationResult | null;
  /**
   * Where the artifact was stored when the backup was taken, per storage target (`degraded` backups name the
   * target that failed). The catalog tracks later changes (catch-up copies, retention); absent in manifests
   * written before multi-target storage.
   */
  copies?: Record<string, { status: 'stored' | 'failed'; error?: string | undefined }> | undefined;
  /** SHA-256 of this manifest's canonical JSON without this field: detects edits. */
  checksum: string;
}
