// A backup_manifest in PostgreSQL's own format (src/backend/backup/backup_manifest.c), for base backups that
// pgwarden reads from the data directory itself: pg_verifybackup checks it as it checks pg_basebackup's.
// One line per file, the WAL range, and last the SHA-256 of every byte before that last line.
import { createHash } from 'node:crypto';
import type { WalRange } from './base-stream-check.js';

export interface ManifestFile {
  path: string;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** The CRC-32C in the manifest's spelling (crc32cManifestHex). */
  crc32c: string;
}

export interface BackupManifestInput {
  files: ManifestFile[];
  wal: WalRange;
  /** PostgreSQL 17 and later write manifest version 2, which names the cluster's system identifier. */
  systemIdentifier?: string | undefined;
}

/** The manifest's text; ends with a newline. */
export function buildBackupManifest(input: BackupManifestInput): Buffer {
  const head = input.systemIdentifier === undefined
    ? '{ "PostgreSQL-Backup-Manifest-Version": 1,\n'
    : `{ "PostgreSQL-Backup-Manifest-Version": 2,\n"System-Identifier": ${input.systemIdentifier},\n`;
  const lines = input.files.map((file) => `{ ${pathField(file.path)}, "Size": ${file.size}, "Last-Modified": "${lastModified(file.mtime)}", "Checksum-Algorithm": "CRC32C", "Checksum": "${file.crc32c}" }`);
  const body =
    `${head}"Files": [\n${lines.join(',\n')}\n],\n` +
    `"WAL-Ranges": [\n{ "Timeline": ${input.wal.timeline}, "Start-LSN": "${input.wal.startLsn}", "End-LSN": "${input.wal.endLsn}" }\n],\n`;
  const checksum = createHash('sha256').update(body).digest('hex');
  return Buffer.from(`${body}"Manifest-Checksum": "${checksum}"}\n`);
}

// A path that is not valid UTF-8 goes in hex as Encoded-Path, as PostgreSQL does.
function pathField(path: string): string {
  const bytes = Buffer.from(path, 'latin1');
  const utf8 = bytes.toString('utf8');
  return Buffer.from(utf8, 'utf8').equals(bytes) ? `"Path": ${JSON.stringify(utf8)}` : `"Encoded-Path": "${bytes.toString('hex')}"`;
}

/** "2026-12-07 17:02:47 GMT", as pg_basebackup's manifests give it. */
function lastModified(mtime: number): string {
  return `${new Date(Math.floor(mtime) * 1000).toISOString().slice(0, 19).replace('T', ' ')} GMT`;
}
