// Which storage targets hold a backup, settled before its manifest is written: a target that failed during the
// stream gets the artifact copied over from one that holds it (with growing delays); one that still fails is
// left out and the backup is `degraded` — good on the others, named in the catalog, caught up later by the
// storage-sync job. The manifest then goes to exactly the targets that hold the artifact.
import { setTimeout as sleep } from 'node:timers/promises';
import type { StorageCopy } from '../catalog/types.js';
import type { BackupManifest } from '../manifest/types.js';
import { StorageError, errorMessage } from '../errors.js';
import { copyObject } from '../storage/copy.js';
import type { TargetOutcome, TargetSet, TargetSetWriter } from '../storage/target-set.js';
import { writeTextObject } from '../storage/text.js';
import type { RunFrame } from '../backup/run-frame.js';

export interface CopyPolicy {
  attempts: number;
  retryDelayMs: number;
}

export interface SettledCopies {
  /** Target names holding artifact and manifest, in read order. */
  holders: string[];
  /** Per target, for the catalog row. */
  copies: Record<string, StorageCopy>;
}

type Log = RunFrame['log'];

/** Settles the artifact's copies: checks every holder's size, retries the targets that failed. */
export async function settleArtifactCopies(
  ctx: { storage: TargetSet; config: { storage: { copyAttempts: number; copyRetryDelaySeconds: number } }; signal?: AbortSignal | undefined },
  writer: TargetSetWriter,
  path: string,
  written: { storedBytes: number; sha256: string },
  log: Log,
): Promise<{ holders: string[]; failed: TargetOutcome[] }> {
  const options = {
    storage: ctx.storage,
    path,
    outcomes: writer.outcomes(),
    expected: { bytes: written.storedBytes, sha256: written.sha256 },
    policy: copyPolicy(ctx.config),
    log,
    signal: ctx.signal,
  };
  const { storage, expected } = options;
  const holders: string[] = [];
  const failed: TargetOutcome[] = [];
  for (const outcome of options.outcomes) {
    if (!outcome.ok) {
      failed.push(outcome);
      continue;
    }
    // A target that acknowledged the object must hold all of it: a cheap size check per target.
    const info = await storage
      .target(outcome.target)!
      .stat(path)
      .catch((error: unknown) => ({ error }));
    if (info && 'size' in info && info.size === expected.bytes) holders.push(outcome.target);
    else {
      const why = !info ? 'the object is missing after the upload' : 'error' in info ? errorMessage(info.error) : `it holds ${info.size} bytes, not ${expected.bytes}`;
      failed.push({ target: outcome.target, ok: false, error: why });
      await storage.target(outcome.target)!.remove(path).catch(() => {});
    }
  }
  if (holders.length === 0) return { holders, failed };

  const stillFailed: TargetOutcome[] = [];
  for (const failure of failed) {
    const target = storage.target(failure.target)!;
    let lastError = failure.error;
    let copied = false;
    for (let attempt = 1; attempt <= options.policy.attempts && !copied; attempt++) {
      await sleep(options.policy.retryDelayMs * 2 ** (attempt - 1), undefined, { signal: options.signal });
      try {
        await copyObject(storage.target(holders[0]!)!, target, path, expected, options.signal);
        copied = true;
        await options.log('copy', 'info', `storage target ${target.name} failed during the upload (${failure.error}); copied from ${holders[0]} on attempt ${attempt}`);
      } catch (error) {
        lastError = errorMessage(error);
      }
    }
    if (copied) holders.push(target.name);
    else stillFailed.push({ target: target.name, ok: false, error: lastError });
  }
  return { holders: storage.targets.map((t) => t.name).filter((n) => holders.includes(n)), failed: stillFailed };
}

/** Writes the manifest to every holder of the artifact; a holder that fails it loses its artifact too (no half backups). */
export async function writeManifestCopies(options: {
  storage: TargetSet;
  dir: string;
  artifactPath: string | null;
  text: string;
  holders: string[];
  failed: TargetOutcome[];
  log: Log;
}): Promise<SettledCopies> {
  const { storage, dir } = options;
  const manifestPath = `${dir}/manifest.json`;
  const path = options.artifactPath ?? manifestPath;
  const copies: Record<string, StorageCopy> = {};
  for (const f of options.failed) copies[f.target] = { status: 'failed', path, error: f.error ?? 'failed' };
  const holders: string[] = [];
  await Promise.all(
    options.holders.map(async (name) => {
      const target = storage.target(name)!;
      try {
        await writeTextObject(target, manifestPath, options.text);
        holders.push(name);
        copies[name] = { status: 'stored', path };
      } catch (error) {
        if (options.artifactPath) await target.remove(options.artifactPath).catch(() => {});
        copies[name] = { status: 'failed', path, error: `manifest: ${errorMessage(error)}` };
      }
    }),
  );
  if (holders.length === 0) {
    throw new StorageError(`no storage target took the manifest of ${dir} (${Object.entries(copies).map(([t, c]) => `${t}: ${c.error}`).join('; ')})`);
  }
  const ordered = storage.targets.map((t) => t.name).filter((n) => holders.includes(n));
  const missing = Object.entries(copies).filter(([, c]) => c.status === 'failed');
  if (missing.length > 0) {
    await options.log('degraded', 'warn', `backup is degraded: stored on ${ordered.join(', ')}, missing on ${missing.map(([t, c]) => `${t} (${c.error})`).join(', ')}; the storage-sync job copies it when the target is back`, { copies });
  }
  return { holders: ordered, copies };
}

export function copyPolicy(config: { storage: { copyAttempts: number; copyRetryDelaySeconds: number } }): CopyPolicy {
  return { attempts: config.storage.copyAttempts, retryDelayMs: config.storage.copyRetryDelaySeconds * 1000 };
}

/** The manifest's record of where the artifact landed when the backup was taken (the catalog tracks later changes). */
export function manifestCopies(settled: { holders: string[]; failed: TargetOutcome[] }): BackupManifest['copies'] {
  const copies: NonNullable<BackupManifest['copies']> = {};
  for (const name of settled.holders) copies[name] = { status: 'stored' };
  for (const f of settled.failed) copies[f.target] = { status: 'failed', error: f.error ?? 'failed' };
  return copies;
}
