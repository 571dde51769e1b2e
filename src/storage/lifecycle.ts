// Bucket lifecycle rules from the config: S3 objects move to Glacier after `storage.s3.glacierAfterDays` and
// expire after `retention.cloudDays`; GCS objects are deleted after `retention.cloudDays`. The bucket then
// stays bounded even if pgwarden stops running. Rules act without pgwarden's safety checks (newest verified
// full, WAL a base backup needs), so they expire later than the cleanup job would and the output says so.
import type { Config } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { TargetSet } from './target-set.js';
import type { LifecyclePolicy } from './types.js';

export interface LifecyclePlan {
  targets: { target: string; location: string; policy: LifecyclePolicy; document: unknown; current?: unknown; applied: boolean; error?: string | undefined }[];
  notes: string[];
}

export async function lifecyclePlan(storage: TargetSet, config: Config, options: { apply: boolean }): Promise<LifecyclePlan> {
  const plan: LifecyclePlan = { targets: [], notes: [] };
  for (const target of storage.targets) {
    if (!target.lifecycle) continue;
    const policy: LifecyclePolicy = {
      prefix: config.storage.prefix === '' ? '' : `${config.storage.prefix}/`,
      coldAfterDays: target.kind === 's3' ? config.storage.s3?.glacierAfterDays : undefined,
      expireAfterDays: config.retention.cloudDays,
    };
    const entry: LifecyclePlan['targets'][number] = { target: target.name, location: target.location, policy, document: target.lifecycle.document(policy), applied: false };
    try {
      if (options.apply) {
        await target.lifecycle.apply(policy);
        entry.applied = true;
      } else {
        entry.current = await target.lifecycle.current();
      }
    } catch (error) {
      entry.error = errorMessage(error);
    }
    plan.targets.push(entry);
  }
  if (plan.targets.length > 0) {
    plan.notes.push(
      `bucket rules delete objects older than ${config.retention.cloudDays} days (retention.cloudDays) even when they are the newest backup or WAL a base backup needs; pgwarden's cleanup keeps those, so keep full backups running more often than that`,
    );
  }
  return plan;
}
