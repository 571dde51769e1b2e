// Bucket lifecycle rules on GCS: the bucket itself deletes (and optionally cools) old backups, so it stays
// bounded even if pgwarden stops running.
import type { Bucket, LifecycleRule } from '@google-cloud/storage';
import type { LifecyclePolicy, LifecycleSupport } from '../types.js';

export interface GcsLifecycleDocument {
  rule: LifecycleRule[];
}

// Each colder class has a minimum storage duration (NEARLINE 30 days, COLDLINE 90, ARCHIVE 365) billed even
// when an object is deleted sooner: pick the coldest class the object will stay in at least that long.
const COLD_CLASSES = [
  { storageClass: 'ARCHIVE', minimumDays: 365, warmer: ['STANDARD', 'NEARLINE', 'COLDLINE'] },
  { storageClass: 'COLDLINE', minimumDays: 90, warmer: ['STANDARD', 'NEARLINE'] },
  { storageClass: 'NEARLINE', minimumDays: 0, warmer: ['STANDARD'] },
] as const;

/** The storage class objects move to after `coldAfterDays`, given they are deleted at `expireAfterDays`. */
export function coldStorageClass(policy: LifecyclePolicy): (typeof COLD_CLASSES)[number] {
  const coldDays = policy.expireAfterDays - (policy.coldAfterDays ?? 0);
  return COLD_CLASSES.find((c) => coldDays >= c.minimumDays) ?? COLD_CLASSES[COLD_CLASSES.length - 1]!;
}

export function gcsLifecycleDocument(policy: LifecyclePolicy): GcsLifecycleDocument {
  // An empty matchesPrefix is not a valid condition: the whole bucket is "no prefix condition".
  const scope = policy.prefix === '' ? {} : { matchesPrefix: [policy.prefix] };
  const rule: LifecycleRule[] = [];
  if (policy.coldAfterDays !== undefined && policy.coldAfterDays < policy.expireAfterDays) {
    const cold = coldStorageClass(policy);
    rule.push({
      action: { type: 'SetStorageClass', storageClass: cold.storageClass },
      condition: { age: policy.coldAfterDays, matchesStorageClass: [...cold.warmer], ...scope },
    });
  }
  rule.push({ action: { type: 'Delete' }, condition: { age: policy.expireAfterDays, ...scope } });
  return { rule };
}

export function gcsLifecycle(bucket: Bucket, fail: (action: string, error: unknown) => Error): LifecycleSupport {
  return {
    document: gcsLifecycleDocument,
    async current() {
      try {
        const [metadata] = await bucket.getMetadata();
        const lifecycle = metadata.lifecycle as GcsLifecycleDocument | undefined;
        return lifecycle && Array.isArray(lifecycle.rule) && lifecycle.rule.length > 0 ? lifecycle : undefined;
      } catch (error) {
        throw fail('read the lifecycle rules of', error);
      }
    },
    async apply(policy) {
      try {
        // PATCH replaces the whole lifecycle field: the rules written are exactly the document.
        await bucket.setMetadata({ lifecycle: gcsLifecycleDocument(policy) });
      } catch (error) {
        throw fail('set the lifecycle rules of', error);
      }
    },
  };
}
