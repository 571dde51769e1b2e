// The KMS client wrapper with the real @aws-sdk/client-kms against the local KMS (test/helpers/fake-kms.ts):
// data keys round-trip, and every way KMS fails becomes an EncryptionError that names the key and what to do,
// within seconds, without key material in it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createKms, KmsError, type KmsFailureReason, type KmsOptions } from '../../../src/crypto/kms.js';
import { EncryptionError } from '../../../src/errors.js';
import { FAKE_KMS_CREDENTIALS, type FakeKms, startFakeKms } from '../../helpers/fake-kms.js';

function options(kms: FakeKms, overrides: Partial<KmsOptions> = {}): KmsOptions {
  return { keyId: 'alias/backups', region: kms.region, endpoint: kms.endpoint, ...FAKE_KMS_CREDENTIALS, timeoutSeconds: 2, ...overrides };
}

/** Awaits a rejection that must be a KmsError of this reason; returns it. */
async function kmsFailure(promise: Promise<unknown>, reason: KmsFailureReason): Promise<KmsError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof KmsError, `expected a KmsError, got ${String(caught)}`);
  assert.ok(caught instanceof EncryptionError);
  assert.equal(caught.code, 'ENCRYPTION_FAILED');
  assert.equal(caught.reason, reason, caught.message);
  assert.ok(caught.hints.length > 0, 'says what to do');
  return caught;
}

describe('KMS client', () => {
  it('makes a 32-byte data key under the aliased key, records the key ARN, and unwraps it again', async (t) => {
    const fake = await startFakeKms(t);
    const kms = createKms(options(fake));
    assert.equal(kms.keyId, 'alias/backups');
    const data = await kms.generateDataKey();
    assert.equal(data.plaintext.length, 32);
    assert.ok(data.wrapped.length > 32);
    assert.equal(data.kmsKeyId, fake.arn('alias/backups'));
    assert.match(data.kmsKeyId, /^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
    assert.equal(data.wrapped.includes(data.plaintext), false, 'the wrapped key does not hold the plaintext');
    assert.deepEqual(await kms.decrypt(data), data.plaintext);
    assert.deepEqual(fake.calls, { GenerateDataKey: 1, Decrypt: 1 });
    const other = await kms.generateDataKey();
    assert.notDeepEqual(other.plaintext, data.plaintext);
  });

  it('refuses a wrapped key that was altered, or that another KMS key made, naming the key', async (t) => {
    const fake = await startFakeKms(t);
    const secondArn = fake.createKey('alias/other');
    const kms = createKms(options(fake));
    const data = await kms.generateDataKey();
    const altered = Buffer.from(data.wrapped);
    altered[altered.length - 20]! ^= 0x01;
    const bad = await kmsFailure(kms.decrypt({ kmsKeyId: data.kmsKeyId, wrapped: altered }), 'invalid-ciphertext');
    assert.match(bad.message, new RegExp(`^KMS cannot unwrap the data key with key ${data.kmsKeyId}: the wrapped key was not made by this KMS key, or it was altered`));
    assert.equal(bad.operation, 'Decrypt');

    const wrong = await kmsFailure(kms.decrypt({ kmsKeyId: secondArn, wrapped: data.wrapped }), 'wrong-key');
    assert.match(wrong.message, new RegExp(`^the data key was wrapped by another KMS key than ${secondArn}`));

    const foreign = await createKms(options(fake, { keyId: 'alias/other' })).generateDataKey();
    await kmsFailure(kms.decrypt({ kmsKeyId: data.kmsKeyId, wrapped: foreign.wrapped }), 'wrong-key');
    for (const error of [bad, wrong]) assert.ok(!error.message.includes(data.plaintext.toString('base64')));
  });

  it('says access is denied, and which permission on which key to grant', async (t) => {
    const fake = await startFakeKms(t);
    const kms = createKms(options(fake));
    const data = await kms.generateDataKey();
    fake.deny('alias/backups');
    const making = await kmsFailure(kms.generateDataKey(), 'access-denied');
    assert.match(making.message, /^KMS denied GenerateDataKey with key alias\/backups: User: .* is not authorized to perform: kms:GenerateDataKey/);
    assert.match(making.hints.join('\n'), /allow kms:GenerateDataKey on alias\/backups .*backups fail/);
    const reading = await kmsFailure(kms.decrypt(data), 'access-denied');
    assert.match(reading.message, new RegExp(`^KMS denied Decrypt with key ${data.kmsKeyId}`));
    assert.match(reading.hints.join('\n'), /allow kms:Decrypt on .*nothing encrypted under this key can be verified or restored/);
    fake.allow('alias/backups');
    assert.deepEqual(await kms.decrypt(data), data.plaintext);
  });

  it('says a key does not exist in the region, or is disabled', async (t) => {
    const fake = await startFakeKms(t);
    const missing = await kmsFailure(createKms(options(fake, { keyId: 'alias/typo' })).generateDataKey(), 'not-found');
    assert.match(missing.message, /^KMS key alias\/typo does not exist in region us-east-1/);
    assert.match(missing.hints.join('\n'), /encryption\.kms\.keyId and encryption\.kms\.region/);
    const kms = createKms(options(fake));
    const data = await kms.generateDataKey();
    fake.disable('alias/backups');
    const disabled = await kmsFailure(kms.decrypt(data), 'disabled');
    assert.match(disabled.message, new RegExp(`^KMS key ${data.kmsKeyId} is disabled, so KMS cannot unwrap a data key`));
    assert.match(disabled.hints.join('\n'), /EnableKey/);
  });

  it('says the credentials were refused', async (t) => {
    const fake = await startFakeKms(t);
    const error = await kmsFailure(createKms(options(fake, { accessKeyId: 'AKIAUNKNOWN' })).generateDataKey(), 'credentials');
    assert.match(error.message, /^KMS did not accept pgwarden's AWS credentials for GenerateDataKey with key alias\/backups/);
    assert.ok(!error.message.includes(FAKE_KMS_CREDENTIALS.secretAccessKey));
  });

  it('fails in seconds when the endpoint refuses connections, and works again once it is back', async (t) => {
    const fake = await startFakeKms(t);
    const kms = createKms(options(fake));
    const data = await kms.generateDataKey();
    await fake.down();
    const started = performance.now();
    const error = await kmsFailure(kms.decrypt(data), 'unreachable');
    assert.ok(performance.now() - started < 3000, `took ${Math.round(performance.now() - started)} ms`);
    assert.match(error.message, new RegExp(`^KMS endpoint ${fake.endpoint.replace(/\./g, '\\.')} is unreachable \\(ECONNREFUSED\\): cannot unwrap a data key with key ${data.kmsKeyId}`));
    await kmsFailure(kms.generateDataKey(), 'unreachable');
    await fake.up();
    assert.deepEqual(await kms.decrypt(data), data.plaintext);
  });

  it('gives up on an endpoint that never answers after timeoutSeconds, retry included', async (t) => {
    const fake = await startFakeKms(t);
    const kms = createKms(options(fake, { timeoutSeconds: 1 }));
    fake.hang();
    const started = performance.now();
    const error = await kmsFailure(kms.generateDataKey(), 'unreachable');
    const ms = performance.now() - started;
    assert.ok(ms >= 900 && ms < 2500, `took ${Math.round(ms)} ms`);
    assert.match(error.message, /is unreachable \(no answer within 1 s\): cannot make a new data key with key alias\/backups/);
    await fake.up();
  });
});
