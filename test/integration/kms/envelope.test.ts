// Envelope encryption through the real streams and the real KMS client against the local KMS: a WAL object
// carries its wrapped data key in front, a backup's is in its manifest; reading unwraps it with one KMS call
// per object (one per parsed manifest), and a wrapped key that was altered, swapped or cannot be unwrapped
// fails with a message naming the key.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { dataKeyId, newArtifactKey, walKeySource } from '../../../src/crypto/envelope.js';
import { createKeyRing, keyRingFromConfig } from '../../../src/crypto/keyring.js';
import { createDecryptStream, createEncryptStream } from '../../../src/crypto/stream.js';
import type { EncryptionKey, KeyRing } from '../../../src/crypto/types.js';
import { EncryptionError } from '../../../src/errors.js';
import type { ArtifactInfo } from '../../../src/manifest/types.js';
import { backupReadStages } from '../../../src/pipeline/artifact.js';
import { FAKE_KMS_CREDENTIALS, type FakeKms, startFakeKms } from '../../helpers/fake-kms.js';
import { collector } from '../../unit/crypto/fixtures.js';

const CONFIG_KEY = { id: 'k2025', key: Buffer.alloc(32, 9).toString('base64') };

function kmsRing(fake: FakeKms, keys: { id: string; key: string }[] = []): KeyRing {
  return keyRingFromConfig({ keys, kms: { keyId: 'alias/backups', region: fake.region, endpoint: fake.endpoint, ...FAKE_KMS_CREDENTIALS, timeoutSeconds: 2 } })!;
}

async function seal(data: Buffer, key: EncryptionKey): Promise<Buffer> {
  const sink = collector();
  await pipeline(Readable.from([data]), createEncryptStream(key, { chunkSize: 4096 }), sink);
  return sink.received();
}

async function open(data: Buffer, ring: KeyRing, stages?: () => import('node:stream').Duplex[]): Promise<Buffer> {
  const sink = collector();
  await pipeline([Readable.from([data.subarray(0, 5), data.subarray(5, 40), data.subarray(40)]), ...(stages ? stages() : [createDecryptStream(ring)]), sink]);
  return sink.received();
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<EncryptionError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof EncryptionError, `expected an EncryptionError, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  return caught;
}

describe('KMS envelope encryption', () => {
  it('a WAL object carries its wrapped data key in front of the stream: one GenerateDataKey to write, one Decrypt to read', async (t) => {
    const fake = await startFakeKms(t);
    const ring = kmsRing(fake);
    const source = walKeySource(ring);
    assert.equal(typeof source, 'function');
    assert.deepEqual(fake.calls, { GenerateDataKey: 0, Decrypt: 0 }, 'no data key is made before an object is written');
    const key = await (source as () => Promise<EncryptionKey>)();
    const data = randomBytes(20_000);
    const sealed = await seal(data, key);
    assert.equal(sealed.subarray(0, 6).toString(), 'PGWKMS');
    assert.equal(sealed.includes(key.key), false);
    assert.equal(key.id, dataKeyId(key.envelope!.wrapped));
    assert.ok(sealed.includes(Buffer.from(key.id)), 'the pgwenc-1 header names the data key');
    assert.deepEqual(await open(sealed, ring), data);
    assert.deepEqual(fake.calls, { GenerateDataKey: 1, Decrypt: 1 });

    // Another process with only the KMS config (wal-fetch) reads it too.
    assert.deepEqual(await open(sealed, kmsRing(fake)), data);
    assert.deepEqual(fake.calls, { GenerateDataKey: 1, Decrypt: 2 });
  });

  it('refuses a WAL envelope whose wrapped key was altered before asking KMS, and names the KMS key when KMS refuses', async (t) => {
    const fake = await startFakeKms(t);
    const ring = kmsRing(fake);
    const key = await (walKeySource(ring) as () => Promise<EncryptionKey>)();
    const sealed = await seal(randomBytes(1000), key);
    const at = sealed.indexOf(key.envelope!.wrapped) + 50;
    const altered = Buffer.from(sealed);
    altered[at]! ^= 0x01;
    await rejectsWith(open(altered, ring), /^the wrapped data key does not belong to this encrypted stream: it is key "kms-[0-9a-f]{32}", the stream was encrypted with "kms-/);
    assert.equal(fake.calls.Decrypt, 0);

    fake.deny('alias/backups');
    const denied = await rejectsWith(open(sealed, ring), new RegExp(`^KMS denied Decrypt with key ${key.envelope!.kmsKeyId}`));
    assert.match(denied.hints.join('\n'), /kms:Decrypt/);
    fake.allow('alias/backups');
    const noKms = await rejectsWith(open(sealed, createKeyRing([CONFIG_KEY])), /^the data key is wrapped by KMS key arn:aws:kms:.*, and encryption\.kms is not configured/);
    assert.match(noKms.hints.join('\n'), /set encryption\.kms/);
  });

  it("a backup's data key is in its manifest: every read of one parsed manifest shares one Decrypt", async (t) => {
    const fake = await startFakeKms(t);
    const ring = kmsRing(fake, [CONFIG_KEY]);
    const made = await newArtifactKey(ring);
    assert.ok(made);
    assert.equal(made.key.envelope, undefined, 'nothing in front of a backup artifact');
    assert.equal(made.encryption.keyId, made.key.id);
    assert.match(made.encryption.keyId, /^kms-[0-9a-f]{32}$/);
    assert.equal(made.encryption.kms?.keyId, fake.arn('alias/backups'));
    const data = randomBytes(50_000);
    const sealed = await seal(data, made.key);
    assert.equal(sealed.subarray(0, 6).toString(), 'PGWENC');
    const artifact = { compression: { algorithm: 'none', level: 0 }, encryption: made.encryption } as ArtifactInfo;
    for (let i = 0; i < 3; i++) assert.deepEqual(await open(sealed, ring, () => backupReadStages(artifact, ring).stages), data);
    assert.deepEqual(fake.calls, { GenerateDataKey: 1, Decrypt: 1 });
    // A manifest parsed again (another command) unwraps again.
    const reparsed = JSON.parse(JSON.stringify(artifact)) as ArtifactInfo;
    assert.deepEqual(await open(sealed, ring, () => backupReadStages(reparsed, ring).stages), data);
    assert.equal(fake.calls.Decrypt, 2);
  });

  it("a manifest whose wrapped key was swapped for another backup's is refused before KMS is asked", async (t) => {
    const fake = await startFakeKms(t);
    const ring = kmsRing(fake);
    const first = (await newArtifactKey(ring))!;
    const second = (await newArtifactKey(ring))!;
    const sealed = await seal(randomBytes(1000), first.key);
    const swapped = { compression: { algorithm: 'none', level: 0 }, encryption: { ...first.encryption, kms: second.encryption.kms } } as ArtifactInfo;
    await rejectsWith(open(sealed, ring, () => backupReadStages(swapped, ring).stages), /^the wrapped data key does not belong to this encrypted stream/);
    const garbled = { compression: { algorithm: 'none', level: 0 }, encryption: { ...first.encryption, kms: { keyId: fake.arn('alias/backups'), wrappedKey: 'not base64!' } } } as ArtifactInfo;
    assert.throws(() => backupReadStages(garbled, ring), /the wrapped data key "kms-[0-9a-f]{32}" in the manifest is not valid base64/);
    assert.equal(fake.calls.Decrypt, 0);
  });

  it('with keys and kms configured, KMS encrypts new artifacts and the config keys still decrypt older ones', async (t) => {
    const fake = await startFakeKms(t);
    const ring = kmsRing(fake, [CONFIG_KEY]);
    const configKey = createKeyRing([CONFIG_KEY]).encryptionKey()!;
    const old = randomBytes(3000);
    const sealedOld = await seal(old, configKey);
    const artifact = { compression: { algorithm: 'none', level: 0 }, encryption: { keyId: 'k2025', format: 'pgwenc-1' } } as ArtifactInfo;
    assert.deepEqual(await open(sealedOld, ring, () => backupReadStages(artifact, ring).stages), old);
    assert.deepEqual(await open(sealedOld, ring), old, 'an old WAL object, no envelope');
    assert.deepEqual(fake.calls, { GenerateDataKey: 0, Decrypt: 0 });
    assert.match((await newArtifactKey(ring))!.key.id, /^kms-/);
    const wal = walKeySource(ring);
    assert.equal(typeof wal, 'function', 'new WAL objects use KMS too');
  });

  it('a KMS outage while making a data key fails fast with the endpoint named', async (t) => {
    const fake = await startFakeKms(t);
    const ring = kmsRing(fake);
    await fake.down();
    await rejectsWith(newArtifactKey(ring), /^KMS endpoint http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\): cannot make a new data key with key alias\/backups/);
    await rejectsWith((walKeySource(ring) as () => Promise<EncryptionKey>)(), /is unreachable/);
  });
});
