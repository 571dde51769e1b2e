// Bucket lifecycle rules on the GCS target, written and read back through the real client and the fake's
// bucket PATCH/GET routes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGcsDriver } from '../../../src/storage/gcs/driver.js';
import { startFakeGcs } from '../../helpers/fake-gcs.js';

test('lifecycle rules: the document for a policy, applied to the bucket and read back as current', async (t) => {
  const fake = await startFakeGcs(t, { buckets: ['backups'] });
  const driver = createGcsDriver({ bucket: 'backups', apiEndpoint: fake.url, projectId: 'test', maxRetries: 0 });
  const lifecycle = driver.lifecycle;
  assert.ok(lifecycle, 'GCS targets have lifecycle rules');
  assert.equal(await lifecycle.current(), undefined, 'a new bucket has none');

  const policy = { prefix: 'prod/', coldAfterDays: 30, expireAfterDays: 200 };
  const expected = {
    rule: [
      { action: { type: 'SetStorageClass', storageClass: 'COLDLINE' }, condition: { age: 30, matchesStorageClass: ['STANDARD', 'NEARLINE'], matchesPrefix: ['prod/'] } },
      { action: { type: 'Delete' }, condition: { age: 200, matchesPrefix: ['prod/'] } },
    ],
  };
  assert.deepEqual(lifecycle.document(policy), expected);
  await lifecycle.apply(policy);
  assert.deepEqual(fake.bucket('backups')?.lifecycle, expected, 'the bucket holds exactly the document');
  assert.deepEqual(await lifecycle.current(), expected);
  assert.ok(fake.requests.some((r) => r.method === 'PATCH' && r.path === '/storage/v1/b/backups'));

  // Applying again replaces the rules rather than adding to them.
  await lifecycle.apply({ prefix: '', expireAfterDays: 90 });
  assert.deepEqual(await lifecycle.current(), { rule: [{ action: { type: 'Delete' }, condition: { age: 90 } }] });
});

test('lifecycle errors name the target and bucket', async (t) => {
  const fake = await startFakeGcs(t, { buckets: ['backups'] });
  const missing = createGcsDriver({ bucket: 'gone', apiEndpoint: fake.url, projectId: 'test', maxRetries: 0 });
  await assert.rejects(missing.lifecycle!.current(), /^StorageError: storage target gcs: cannot read the lifecycle rules of bucket gone: the bucket does not exist \(404\)$/);
  fake.denyAccess('backups');
  const denied = createGcsDriver({ bucket: 'backups', apiEndpoint: fake.url, projectId: 'test', maxRetries: 0, name: 'gcs-archive' });
  await assert.rejects(denied.lifecycle!.apply({ prefix: '', expireAfterDays: 90 }), (error: Error & { hints: string[] }) => {
    assert.match(error.message, /^storage target gcs-archive: cannot set the lifecycle rules of bucket backups: access denied \(403\)/);
    assert.match(error.hints.join('\n'), /roles\/storage\.admin/);
    return true;
  });
});
