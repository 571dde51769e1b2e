// The WAL archive under KMS, on a local target against the local KMS: each archived file carries its own
// wrapped data key (one GenerateDataKey to push, one Decrypt to fetch), a re-push compares without a new key,
// older config-key WAL still fetches, and a KMS outage fails a push in seconds without archiving anything.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { walKeySource } from '../../../src/crypto/envelope.js';
import { createKeyRing, keyRingFromConfig } from '../../../src/crypto/keyring.js';
import type { KeyRing } from '../../../src/crypto/types.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';
import { fetchWalFile, pushWalFile, readTimelineHistories, listArchivedWal } from '../../../src/wal/archive.js';
import { FAKE_KMS_CREDENTIALS, type FakeKms, startFakeKms } from '../../helpers/fake-kms.js';

const CONFIG_KEY = { id: 'k1', key: randomBytes(32).toString('base64') };
const gzip = { algorithm: 'gzip' as const, level: 6 };

function kmsRing(fake: FakeKms, keys = [CONFIG_KEY]): KeyRing {
  return keyRingFromConfig({ keys, kms: { keyId: 'alias/backups', region: fake.region, endpoint: fake.endpoint, ...FAKE_KMS_CREDENTIALS, timeoutSeconds: 2 } })!;
}

async function setup(t: { after(fn: () => unknown): unknown }) {
  const dir = await mkdtemp(join(tmpdir(), 'pgwarden-walkms-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const storage = createLocalDriver({ root: join(dir, 'store') });
  const segment = async (name: string) => {
    const bytes = Buffer.alloc(1024 * 1024);
    randomBytes(8192).copy(bytes, 0);
    const path = join(dir, name);
    await writeFile(path, bytes);
    return { path, bytes };
  };
  return { dir, storage, segment, target: { storage, prefix: 'pfx', database: 'shop' } };
}

describe('WAL archive with AWS KMS', () => {
  it('a segment carries its wrapped data key: one GenerateDataKey to push, one Decrypt to fetch, none for a duplicate push', async (t) => {
    const fake = await startFakeKms(t);
    const { dir, storage, segment, target } = await setup(t);
    const ring = kmsRing(fake);
    const name = '000000010000000000000003';
    const { path, bytes } = await segment(name);
    assert.equal(await pushWalFile({ ...target, path, compression: gzip, encryptionKey: walKeySource(ring), keyring: ring }), 'stored');
    assert.deepEqual(fake.calls, { GenerateDataKey: 1, Decrypt: 0 });
    const stored = await readFile(join(dir, 'store', 'pfx', 'shop', 'wal', '00000001', `${name}.gz.enc`));
    assert.equal(stored.subarray(0, 6).toString(), 'PGWKMS');
    assert.ok(stored.includes(Buffer.from(fake.arn('alias/backups'))), 'the envelope names the key ARN');
    for (const key of fake.issued) assert.equal(stored.includes(key), false);

    // wal-fetch is its own process: a ring with only the KMS config.
    const destination = join(dir, 'restored');
    assert.equal(await fetchWalFile({ ...target, name, destination, keyring: kmsRing(fake, []) }), 'restored');
    assert.deepEqual(await readFile(destination), bytes);
    assert.deepEqual(fake.calls, { GenerateDataKey: 1, Decrypt: 1 });

    // PostgreSQL retries a push whose success it did not see: compared by reading back, no new data key.
    assert.equal(await pushWalFile({ ...target, path, compression: gzip, encryptionKey: walKeySource(ring), keyring: ring }), 'already-archived');
    assert.deepEqual(fake.calls, { GenerateDataKey: 1, Decrypt: 2 });

    // Timeline history files go the same way, and are read back for gap checks.
    const history = join(dir, '00000002.history');
    await writeFile(history, '1\t0/3000000\tno recovery target specified\n');
    await pushWalFile({ ...target, path: history, compression: gzip, encryptionKey: walKeySource(ring), keyring: ring });
    const parsed = await readTimelineHistories({ ...target, keyring: ring }, await listArchivedWal(storage, 'pfx', 'shop'));
    assert.equal(parsed.get(2)?.[0]?.switchLsn, 0x3000000n);
  });

  it('WAL archived with a config key still fetches once KMS is configured', async (t) => {
    const fake = await startFakeKms(t);
    const { dir, segment, target } = await setup(t);
    const before = createKeyRing([CONFIG_KEY]);
    const name = '000000010000000000000004';
    const { path, bytes } = await segment(name);
    await pushWalFile({ ...target, path, compression: gzip, encryptionKey: walKeySource(before), keyring: before });
    const destination = join(dir, 'restored');
    assert.equal(await fetchWalFile({ ...target, name, destination, keyring: kmsRing(fake) }), 'restored');
    assert.deepEqual(await readFile(destination), bytes);
    assert.deepEqual(fake.calls, { GenerateDataKey: 0, Decrypt: 0 });
  });

  it('KMS down: a push fails in seconds naming the endpoint and archives nothing; a fetch names the key', async (t) => {
    const fake = await startFakeKms(t);
    const { dir, storage, segment, target } = await setup(t);
    const ring = kmsRing(fake);
    const archived = await segment('000000010000000000000005');
    await pushWalFile({ ...target, path: archived.path, compression: gzip, encryptionKey: walKeySource(ring), keyring: ring });
    const { path } = await segment('000000010000000000000006');
    await fake.down();
    const started = performance.now();
    await assert.rejects(pushWalFile({ ...target, path, compression: gzip, encryptionKey: walKeySource(ring), keyring: ring }), (error: Error) => {
      assert.match(error.message, /^cannot archive 000000010000000000000006 to local:pfx\/shop\/wal\/00000001\/000000010000000000000006\.gz\.enc: KMS endpoint http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
      return true;
    });
    assert.ok(performance.now() - started < 5000);
    const names = (await storage.list('pfx/shop/wal/')).map((o) => o.path.split('/').at(-1));
    assert.deepEqual(names, ['000000010000000000000005.gz.enc']);
    await assert.rejects(fetchWalFile({ ...target, name: '000000010000000000000005', destination: join(dir, 'x'), keyring: ring }), (error: Error) => {
      assert.match(error.message, new RegExp(`^cannot restore 000000010000000000000005 from .*: KMS endpoint .* is unreachable \\(ECONNREFUSED\\): cannot unwrap a data key with key ${fake.arn('alias/backups')}`));
      return true;
    });
  });
});
