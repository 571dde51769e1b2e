// Which cold storage class a GCS lifecycle policy picks, and the rules it writes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coldStorageClass, gcsLifecycleDocument } from '../../../src/storage/gcs/lifecycle.js';

test('the cold class is the coldest one whose minimum storage duration the objects will outlive', () => {
  assert.equal(coldStorageClass({ prefix: '', coldAfterDays: 30, expireAfterDays: 400 }).storageClass, 'ARCHIVE');
  assert.equal(coldStorageClass({ prefix: '', coldAfterDays: 30, expireAfterDays: 394 }).storageClass, 'COLDLINE');
  assert.equal(coldStorageClass({ prefix: '', coldAfterDays: 7, expireAfterDays: 97 }).storageClass, 'COLDLINE');
  assert.equal(coldStorageClass({ prefix: '', coldAfterDays: 7, expireAfterDays: 90 }).storageClass, 'NEARLINE');
});

test('without coldAfterDays (or with it past expiry) there is only the delete rule', () => {
  const deleteOnly = { rule: [{ action: { type: 'Delete' as const }, condition: { age: 90, matchesPrefix: ['prod'] } }] };
  assert.deepEqual(gcsLifecycleDocument({ prefix: 'prod', expireAfterDays: 90 }), deleteOnly);
  assert.deepEqual(gcsLifecycleDocument({ prefix: 'prod', coldAfterDays: 90, expireAfterDays: 90 }), deleteOnly);
  assert.deepEqual(gcsLifecycleDocument({ prefix: '', coldAfterDays: 10, expireAfterDays: 400 }).rule[0], {
    action: { type: 'SetStorageClass', storageClass: 'ARCHIVE' },
    condition: { age: 10, matchesStorageClass: ['STANDARD', 'NEARLINE', 'COLDLINE'] },
  });
});
