// Finds a backup's manifest on storage, by id: through the catalog row when there is one, else by searching
// the storage layout (so a restore works with a lost catalog). The manifest read is checked before use.
import type { Catalog } from '../catalog/catalog.js';
import { NotFoundError, VerificationError, errorMessage } from '../errors.js';
import { backupDir, parseBackupId, rootPrefix } from '../manifest/layout.js';
import { parseManifest } from '../manifest/manifest.js';
import type { BackupManifest } from '../manifest/types.js';
import { copiesOf } from '../storage/target-set.js';
import { readTextObject } from '../storage/text.js';
import type { StorageDriver } from '../storage/types.js';

export interface LocatedBackup {
  manifest: BackupManifest;
  dir: string;
  manifestPath: string;
  /** Null for an incremental, which has no artifact of its own. */
  artifactPath: string | null;
}

export async function locateBackup(storage: StorageDriver, catalog: Catalog | undefined, prefix: string, backupId: string): Promise<LocatedBackup> {
  const parsedId = parseBackupId(backupId);
  if (!parsedId) {
    throw new NotFoundError(`"${backupId}" is not a backup id (they look like 20261125T020000Z-full-1a2b3c)`, {
      hints: ['`pgwarden list` shows the backup ids'],
    });
  }
  const row = await catalog?.getBackup(backupId);
  let dir: string | undefined = row ? backupDir(prefix, row.database, parsedId.kind, backupId) : undefined;
  if (!dir) {
    const suffix = `/${parsedId.kind}/${backupId}/manifest.json`;
    const found = (await storage.list(rootPrefix(prefix))).find((o) => o.path.endsWith(suffix));
    if (found) dir = found.path.slice(0, -'/manifest.json'.length);
  }
  if (!dir) {
    throw new NotFoundError(`backup ${backupId} not found in the catalog or on storage target ${storage.name} (${storage.location})`, {
      hints: ['`pgwarden list` shows the backups the catalog knows'],
    });
  }
  const manifestPath = `${dir}/manifest.json`;
  // Every copy of the manifest is a candidate: one lost or edited on one target does not stop a restore.
  const problems: unknown[] = [];
  let manifest: BackupManifest | undefined;
  for (const copy of await copiesOf(storage, manifestPath)) {
    try {
      const text = await readTextObject(copy, manifestPath);
      if (text === undefined) continue;
      const parsed = parseManifest(text, `${copy.name}:${manifestPath}`);
      if (parsed.backupId !== backupId) {
        throw new VerificationError('manifest', `manifest ${copy.name}:${manifestPath} describes backup ${parsed.backupId}, not ${backupId}`);
      }
      manifest = parsed;
      break;
    } catch (error) {
      problems.push(error);
    }
  }
  if (!manifest && problems.length > 0) {
    throw problems.length === 1 ? problems[0] : new VerificationError('manifest', `no copy of the manifest of ${backupId} can be trusted: ${problems.map(errorMessage).join('; ')}`);
  }
  if (!manifest) {
    const status = row ? ` (catalog status: ${row.status}${row.error ? `, ${row.error}` : ''})` : '';
    throw new VerificationError('manifest', `backup ${backupId} has no manifest at ${storage.name}:${manifestPath}${status}: it is incomplete or was removed`, {
      hints: ['a backup without its manifest cannot be trusted; use another backup or another storage copy'],
    });
  }
  if (row?.checksumSha256 && row.checksumSha256 !== manifest.artifact?.sha256) {
    throw new VerificationError('manifest', `manifest ${storage.name}:${manifestPath} disagrees with the catalog: it records sha256 ${manifest.artifact?.sha256 ?? 'none'}, the catalog ${row.checksumSha256}`, {
      hints: ['one of them was altered; compare with the manifest on another storage target'],
    });
  }
  return { manifest, dir, manifestPath, artifactPath: manifest.artifact ? `${dir}/${manifest.artifact.file}` : null };
}
