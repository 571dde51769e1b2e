// `pgwarden catalog rebuild [--from TARGET]`: the manifests are the source of truth, so the catalog's backup
// rows can be recreated from one storage target alone (after losing the catalog database, or the data center).
// Every other configured target is then asked whether it holds each backup: one that lacks it (or cannot be
// reached) gets its copy marked failed, so the storage-sync job copies the backup back once it is there.
import type { Catalog } from './catalog.js';
import type { StorageCopy } from './types.js';
import { errorMessage } from '../errors.js';
import { rootPrefix } from '../manifest/layout.js';
import { parseManifest } from '../manifest/manifest.js';
import type { TargetSet } from '../storage/target-set.js';
import { readTextObject } from '../storage/text.js';
import type { StorageDriver } from '../storage/types.js';

export interface RebuildResult {
  target: string;
  inserted: string[];
  updated: string[];
  skipped: { path: string; reason: string }[];
}

export async function rebuildCatalog(catalog: Catalog, storage: TargetSet, prefix: string, options: { from?: string | undefined } = {}): Promise<RebuildResult> {
  const source: StorageDriver = options.from ? storage.only([options.from]).targets[0]! : storage;
  const result: RebuildResult = { target: source.name, inserted: [], updated: [], skipped: [] };
  const manifests = (await source.list(rootPrefix(prefix))).filter((o) => o.path.endsWith('/manifest.json')).sort((a, b) => a.path.localeCompare(b.path));
  for (const object of manifests) {
    try {
      const text = await readTextObject(source, object.path);
      if (text === undefined) continue;
      const manifest = parseManifest(text, `${source.name}:${object.path}`);
      const dir = object.path.slice(0, -'/manifest.json'.length);
      // An incremental has no artifact: it seals WAL that lives in the archive.
      const artifactPath = manifest.artifact ? `${dir}/${manifest.artifact.file}` : object.path;
      const expectedBytes = manifest.artifact?.storedBytes;
      const copies: Record<string, StorageCopy> = {};
      for (const target of storage.targets) {
        copies[target.name] = await copyOn(target, artifactPath, object.path, expectedBytes);
      }
      if (!Object.values(copies).some((c) => c.status === 'stored')) {
        result.skipped.push({ path: object.path, reason: `its artifact ${manifest.artifact?.file ?? ''} is missing or incomplete on every target` });
        continue;
      }
      const outcome = await catalog.upsertFromManifest(manifest, copies);
      result[outcome].push(manifest.backupId);
    } catch (error) {
      result.skipped.push({ path: object.path, reason: errorMessage(error) });
    }
  }
  return result;
}

async function copyOn(target: StorageDriver, artifactPath: string, manifestPath: string, expectedBytes: number | undefined): Promise<StorageCopy> {
  try {
    const [artifact, manifest] = await Promise.all([target.stat(artifactPath), target.stat(manifestPath)]);
    if (!artifact || !manifest) return { status: 'failed', path: artifactPath, error: `not on ${target.name} when the catalog was rebuilt` };
    if (expectedBytes !== undefined && artifact.size !== expectedBytes) {
      return { status: 'failed', path: artifactPath, error: `${target.name} holds ${artifact.size} bytes, the manifest records ${expectedBytes}` };
    }
    return { status: 'stored', path: artifactPath };
  } catch (error) {
    return { status: 'failed', path: artifactPath, error: `${target.name} could not be reached when the catalog was rebuilt: ${errorMessage(error)}` };
  }
}
