// How the GCS client's many error shapes become one StorageError that says what failed and what to fix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageError } from '../../../src/errors.js';
import { classifyGcsError, gcsStorageError, isMissingObject } from '../../../src/storage/gcs/errors.js';

const TARGET = { name: 'gcs', bucket: 'backups', endpoint: 'https://storage.googleapis.com' };

test('statuses are found on API errors, gaxios errors and the messages resumable uploads fold them into', () => {
  assert.deepEqual(classifyGcsError(Object.assign(new Error('No such object: backups/x'), { code: 404 })), { kind: 'status', status: 404, message: 'No such object: backups/x' });
  assert.deepEqual(classifyGcsError(Object.assign(new Error('Upload failed'), { response: { status: 403 } })), { kind: 'status', status: 403, message: 'Upload failed' });
  assert.equal((classifyGcsError(new Error('Retry limit exceeded - status: 503 - Service Unavailable')) as { status: number }).status, 503);
  assert.deepEqual(classifyGcsError(new Error('outer', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) })), { kind: 'network', code: 'ECONNREFUSED' });
  assert.deepEqual(classifyGcsError(Object.assign(new Error('network timeout at: https://x'), { type: 'request-timeout' })), { kind: 'network', code: 'timeout' });
  assert.equal(classifyGcsError(new Error('Could not load the default credentials. Browse to https://…')).kind, 'noCredentials');
  assert.equal(classifyGcsError(Object.assign(new Error('{"error":{"code":404,"message":"The specified bucket does not exist."}}'), { code: 404 })).kind, 'status');
});

test('a 404 is a missing object only when GCS does not say the bucket is missing', () => {
  assert.equal(isMissingObject(Object.assign(new Error('No such object: backups/x'), { code: 404 })), true);
  assert.equal(isMissingObject(Object.assign(new Error('{"error":{"code":404,"message":"The specified bucket does not exist."}}'), { code: 404 })), false);
  assert.equal(isMissingObject(Object.assign(new Error('Invalid Credentials'), { code: 401 })), false);
});

test('messages name the target, the object and the bucket, with hints that say what to do', () => {
  const missingBucket = gcsStorageError(TARGET, 'write', 'a/b', Object.assign(new Error('{"error":{"code":404,"message":"The specified bucket does not exist."}}'), { code: 404 }));
  assert.ok(missingBucket instanceof StorageError);
  assert.equal(missingBucket.message, 'storage target gcs: cannot write a/b in bucket backups: the bucket does not exist (404)');
  assert.match(missingBucket.hints[0]!, /gcloud storage buckets create gs:\/\/backups/);

  const noCredentials = gcsStorageError(TARGET, 'use', undefined, new Error('Could not load the default credentials.'));
  assert.equal(noCredentials.message, 'storage target gcs: cannot use bucket backups: no Google Cloud credentials were found');
  assert.match(noCredentials.hints[0]!, /GOOGLE_APPLICATION_CREDENTIALS/);

  const throttled = gcsStorageError(TARGET, 'remove', 'a/b', Object.assign(new Error('rate limited'), { code: 429 }));
  assert.equal(throttled.message, 'storage target gcs: cannot remove a/b in bucket backups: GCS answered 429: rate limited');
  assert.match(throttled.hints[0]!, /storage\.gcs\.maxRetries/);

  const already = new StorageError('storage target gcs: already explained');
  assert.equal(gcsStorageError(TARGET, 'read', 'a/b', already), already, 'an explained error passes through');
});
