// Where things live on every storage target (DESIGN.md "Storage layout"), and how backup ids are made.
import { randomBytes } from 'node:crypto';

export type BackupKind = 'full' | 'base' | 'incremental';

const BACKUP_ID = /^(\d{8}T\d{6}Z)-(full|base|incremental)-([0-9a-f]{6})$/;

/** `YYYYMMDDTHHMMSSZ-<kind>-<6 hex>`: sorts by time, unique enough for one database's schedule. */
export function newBackupId(kind: BackupKind, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `${stamp}-${kind}-${randomBytes(3).toString('hex')}`;
}

export function parseBackupId(id: string): { kind: BackupKind; time: Date } | undefined {
  const match = BACKUP_ID.exec(id);
  if (!match) return undefined;
  const s = match[1]!;
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`;
  return { kind: match[2] as BackupKind, time: new Date(iso) };
}

function join(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** The directory of one backup: `<prefix>/<database>/<kind>/<backupId>`. */
export function backupDir(prefix: string, database: string, kind: BackupKind, backupId: string): string {
  return join(prefix, database, kind, backupId);
}

export function manifestPath(prefix: string, database: string, kind: BackupKind, backupId: string): string {
  return `${backupDir(prefix, database, kind, backupId)}/manifest.json`;
}

/** The prefix under which every manifest of every database lives, for catalog rebuild. */
export function rootPrefix(prefix: string): string {
  return prefix === '' ? '' : `${prefix}/`;
}
