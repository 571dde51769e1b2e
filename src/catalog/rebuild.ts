// `pgwarden catalog rebuild`: the manifests are the source of truth, so the catalog's backup rows can be
// recreated from one storage target alone (after losing the catalog database, or to audit it).
import type { Catalog } from './catalog.js';
import { errorMessage } from '../errors.js';
import { rootPrefix } from '../manifest/layout.js';
import { parseManifest } from '../manifest/manifest.js';
import { readTextObject } from '../storage/text.js';
import type { StorageDriver } from '../storage/types.js';

export interface RebuildResult {
  target: string;
  inserted: string[];
  updated: string[];
  skipped: { path: string; reason: string }[];
}

export async function rebuildCatalog(catalog: Catalog, storage: StorageDriver, prefix: string): Promise<RebuildResult> {
  const result: RebuildResult = { target: storage.name, inserted: [], updated: [], skipped: [] };
  const manifests = (await storage.list(rootPrefix(prefix))).filter((o) => o.path.endsWith('/manifest.json')).sort((a, b) => a.path.localeCompare(b.path));
  for (const object of manifests) {
    try {
      const text = await readTextObject(storage, object.path);
      if (text === undefined) continue;
      const manifest = parseManifest(text, `${storage.name}:${object.path}`);
      const dir = object.path.slice(0, -'/manifest.json'.length);
      // An incremental has no artifact: it seals WAL that lives in the archive.
      const artifactPath = manifest.artifact ? `${dir}/${manifest.artifact.file}` : object.path;
      if (manifest.artifact && !(await storage.stat(artifactPath))) {
        result.skipped.push({ path: object.path, reason: `its artifact ${manifest.artifact.file} is missing` });
        continue;
      }
      const outcome = await catalog.upsertFromManifest(manifest, { [storage.name]: { status: 'stored', path: artifactPath } });
      result[outcome].push(manifest.backupId);
    } catch (error) {
      result.skipped.push({ path: object.path, reason: errorMessage(error) });
    }
  }
  return result;
}
