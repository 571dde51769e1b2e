// The bucket's own lifecycle rule for pgwarden's prefix, so the bucket stays bounded even if pgwarden stops:
// objects go to Glacier, then expire, and multipart uploads a crashed writer left are aborted after a week.
import {
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { StorageError } from '../../errors.js';
import type { LifecyclePolicy, LifecycleSupport } from '../types.js';
import { type S3Target, classifyS3Error, s3Hints } from './errors.js';

/** Names pgwarden's rule in the bucket, so an operator reading the rules knows where it came from. */
export const LIFECYCLE_RULE_ID = 'pgwarden-backups';
export const ABORT_INCOMPLETE_UPLOADS_DAYS = 7;

export interface S3LifecycleDocument {
  Rules: LifecycleRule[];
}

export function s3LifecycleDocument(target: S3Target, policy: LifecyclePolicy): S3LifecycleDocument {
  const { coldAfterDays, expireAfterDays } = policy;
  // S3 refuses a rule whose expiry does not come after its transition.
  if (coldAfterDays !== undefined && coldAfterDays >= expireAfterDays) {
    throw new StorageError(
      `storage target ${target.name}: a lifecycle rule cannot move objects to Glacier after ${coldAfterDays} days and delete them after ${expireAfterDays} days`,
      { hints: ['set storage.s3.glacierAfterDays below retention.cloudDays, or remove it'] },
    );
  }
  // "prod" alone would also match "production/…": a non-empty prefix names a folder.
  const prefix = policy.prefix === '' || policy.prefix.endsWith('/') ? policy.prefix : `${policy.prefix}/`;
  const rule: LifecycleRule = {
    ID: LIFECYCLE_RULE_ID,
    Status: 'Enabled',
    Filter: { Prefix: prefix },
    ...(coldAfterDays === undefined ? {} : { Transitions: [{ Days: coldAfterDays, StorageClass: 'GLACIER' }] }),
    Expiration: { Days: expireAfterDays },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: ABORT_INCOMPLETE_UPLOADS_DAYS },
  };
  return { Rules: [rule] };
}

export function createS3Lifecycle(client: S3Client, target: S3Target): LifecycleSupport {
  const fail = (what: string, error: unknown) => {
    const classified = classifyS3Error(error, target.region);
    return new StorageError(`storage target ${target.name}: cannot ${what} the lifecycle configuration of bucket ${target.bucket} (${target.location}): ${classified.detail}`, {
      hints: s3Hints(target, classified),
      cause: error,
    });
  };
  return {
    document: (policy) => s3LifecycleDocument(target, policy),

    async current() {
      try {
        const answer = await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: target.bucket }));
        return { Rules: answer.Rules ?? [] } satisfies S3LifecycleDocument;
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchLifecycleConfiguration') return undefined;
        throw fail('read', error);
      }
    },

    async apply(policy) {
      const document = s3LifecycleDocument(target, policy);
      try {
        await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: target.bucket, LifecycleConfiguration: document }));
      } catch (error) {
        throw fail('write', error);
      }
    },
  };
}
