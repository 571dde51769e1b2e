// The WAL archive on a local target, without PostgreSQL: idempotent pushes, conflicts that leave the archived
// copy untouched, fetches through a temporary name, listings, and every compression/encryption combination.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createKeyRing } from '../../../src/crypto/keyring.js';
import { createLocalDriver } from '../../../src/storage/local/driver.js';
import type { StorageDriver } from '../../../src/storage/types.js';
import { fetchWalFile, listArchivedWal, parseArchivedObjectName, pushWalFile, readTimelineHistories, walObjectPath } from '../../../src/wal/archive.js';
import { WalConflictError, WalFileError, WalTimeoutError } from '../../../src/wal/errors.js';
import { withTimeout } from '../../../src/wal/timeout.js';

const MiB = 1024 * 1024;
const keyring = createKeyRing([{ id: 'k1', key: randomBytes(32).toString('base64') }]);

async function setup(t: { after(fn: () => unknown): unknown }) {
  const dir = await mkdtemp(join(tmpdir(), 'pgwarden-walarchive-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const storage = createLocalDriver({ root: join(dir, 'store') });
  const local = async (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return path;
  };
  return { dir, storage, local, target: { storage, prefix: 'pfx', database: 'shop' } };
}

/** A segment-sized file whose contents are mostly zeros, like a switched segment. */
function segmentBytes(size = MiB): Buffer {
  const bytes = Buffer.alloc(size);
  randomBytes(4096).copy(bytes, 0);
  return bytes;
}

const variants = [
  { label: 'plain', compression: { algorithm: 'none' as const, level: 0 }, encrypted: false, suffix: '' },
  { label: 'gzip', compression: { algorithm: 'gzip' as const, level: 6 }, encrypted: false, suffix: '.gz' },
  { label: 'encrypted', compression: { algorithm: 'none' as const, level: 0 }, encrypted: true, suffix: '.enc' },
  { label: 'gzip + encrypted', compression: { algorithm: 'gzip' as const, level: 6 }, encrypted: true, suffix: '.gz.enc' },
  { label: 'zstd', compression: { algorithm: 'zstd' as const, level: 3 }, encrypted: false, suffix: '.zst' },
  { label: 'zstd + encrypted', compression: { algorithm: 'zstd' as const, level: 3 }, encrypted: true, suffix: '.zst.enc' },
  { label: 'lz4 + encrypted', compression: { algorithm: 'lz4' as const, level: 1 }, encrypted: true, suffix: '.lz4.enc' },
];

describe('archived WAL object names', () => {
  it('name the algorithm by suffix, after the WAL file’s own suffixes (.partial, .backup, .history)', () => {
    assert.deepEqual(parseArchivedObjectName('000000010000000000000003.zst.enc'), { name: '000000010000000000000003', compression: 'zstd', encrypted: true });
    assert.deepEqual(parseArchivedObjectName('000000010000000000000003.gz'), { name: '000000010000000000000003', compression: 'gzip', encrypted: false });
    assert.deepEqual(parseArchivedObjectName('000000010000000000000003.lz4'), { name: '000000010000000000000003', compression: 'lz4', encrypted: false });
    assert.deepEqual(parseArchivedObjectName('000000010000000000000003'), { name: '000000010000000000000003', compression: 'none', encrypted: false });
    assert.deepEqual(parseArchivedObjectName('000000010000000000000003.00000028.backup.zst'), {
      name: '000000010000000000000003.00000028.backup',
      compression: 'zstd',
      encrypted: false,
    });
    assert.deepEqual(parseArchivedObjectName('00000002.history.enc'), { name: '00000002.history', compression: 'none', encrypted: true });
    assert.deepEqual(parseArchivedObjectName('000000010000000000000003.partial.lz4.enc'), { name: '000000010000000000000003.partial', compression: 'lz4', encrypted: true });
    assert.equal(parseArchivedObjectName('000000010000000000000003.bz2'), undefined);
  });
});

describe('WAL archive on a local target', () => {
  for (const v of variants) {
    it(`${v.label}: stores under the timeline folder, restores identical bytes, re-push is already-archived`, async (t) => {
      const { dir, storage, local, target } = await setup(t);
      const bytes = segmentBytes();
      const path = await local('000000020000000000000007', bytes);
      const options = { ...target, path, compression: v.compression, encryptionKey: v.encrypted ? keyring.encryptionKey() : undefined, keyring };
      assert.equal(await pushWalFile(options), 'stored');
      const objectPath = `pfx/shop/wal/00000002/000000020000000000000007${v.suffix}`;
      assert.equal(walObjectPath('pfx', 'shop', '000000020000000000000007', { compression: v.compression.algorithm, encrypted: v.encrypted }), objectPath);
      assert.ok(await storage.stat(objectPath), `${objectPath} exists`);
      assert.equal(await pushWalFile(options), 'already-archived');

      const destination = join(dir, 'RECOVERYXLOG');
      assert.equal(await fetchWalFile({ ...target, name: '000000020000000000000007', destination, keyring }), 'restored');
      assert.ok((await readFile(destination)).equals(bytes));
      assert.deepEqual((await readdir(dir)).filter((f) => f.includes('pgwarden-')), [], 'no temporary file left');
    });
  }

  it('a different file under an archived name is a conflict naming the segment; the archived object is untouched', async (t) => {
    const { storage, local, target } = await setup(t);
    const compression = { algorithm: 'gzip' as const, level: 6 };
    const original = await local('000000010000000000000003', segmentBytes());
    await pushWalFile({ ...target, path: original, compression, keyring, encryptionKey: keyring.encryptionKey() });
    const objectPath = 'pfx/shop/wal/00000001/000000010000000000000003.gz.enc';
    const before = await readFile(join(storage.location, objectPath));

    const other = await local('elsewhere', segmentBytes());
    await assert.rejects(
      pushWalFile({ ...target, path: other, name: '000000010000000000000003', compression, keyring, encryptionKey: keyring.encryptionKey() }),
      (error: unknown) => error instanceof WalConflictError && /000000010000000000000003/.test(error.message) && error.exitCode === 1,
    );
    assert.ok((await readFile(join(storage.location, objectPath))).equals(before));
    // A config change (no compression, no encryption) still finds the archived copy under its old suffixes.
    assert.equal(await pushWalFile({ ...target, path: original, compression: { algorithm: 'none', level: 0 }, keyring }), 'already-archived');
    await assert.rejects(pushWalFile({ ...target, path: other, name: '000000010000000000000003', compression: { algorithm: 'none', level: 0 }, keyring }), WalConflictError);
  });

  it('refuses a truncated segment and a name that is not a WAL file, archiving nothing', async (t) => {
    const { storage, local, target } = await setup(t);
    const compression = { algorithm: 'none' as const, level: 0 };
    const short = await local('000000010000000000000004', Buffer.alloc(MiB - 1));
    await assert.rejects(pushWalFile({ ...target, path: short, compression }), (e: unknown) => e instanceof WalFileError && /not a whole segment/.test(e.message));
    const wrongSize = await local('000000010000000000000005', Buffer.alloc(MiB));
    await assert.rejects(pushWalFile({ ...target, path: wrongSize, compression, segmentSize: 16 * MiB }), /not a whole segment of 16777216 bytes/);
    const notWal = await local('postgresql.conf', Buffer.from('x'));
    await assert.rejects(pushWalFile({ ...target, path: notWal, compression }), /not a WAL file name/);
    await assert.rejects(pushWalFile({ ...target, path: join(target.storage.location, 'missing', '000000010000000000000006'), compression }), /cannot read WAL file/);
    assert.deepEqual(await storage.list(''), []);
  });

  it('fetch of a file the archive lacks is not-found and creates nothing', async (t) => {
    const { dir, target } = await setup(t);
    const destination = join(dir, 'RECOVERYXLOG');
    assert.equal(await fetchWalFile({ ...target, name: '000000010000000000000009', destination }), 'not-found');
    assert.equal(await fetchWalFile({ ...target, name: '00000002.history', destination }), 'not-found');
    await assert.rejects(stat(destination), { code: 'ENOENT' });
  });

  it('lists segments per timeline, history, .partial and .backup files, and parses the histories', async (t) => {
    const { local, target } = await setup(t);
    const compression = { algorithm: 'gzip' as const, level: 1 };
    const push = async (name: string, bytes: Buffer) => pushWalFile({ ...target, path: await local(name, bytes), compression });
    for (const name of ['000000010000000000000003', '0000000100000000000000FF', '000000010000000100000000', '000000020000000100000000']) {
      await push(name, segmentBytes());
    }
    await push('00000002.history', Buffer.from('1\t1/0\tno recovery target specified\n'));
    await push('000000010000000100000000.partial', segmentBytes());
    await push('000000010000000000000003.00000028.backup', Buffer.from('START WAL LOCATION: 0/3000028\n'));
    // Not written by pgwarden: ignored.
    for (const path of ['pfx/shop/wal/00000001/notes.txt', 'pfx/shop/wal/00000003/000000010000000000000004']) {
      const writer = target.storage.write(path);
      await pipeline(Readable.from([Buffer.from('x')]), writer.stream);
      await writer.commit();
    }

    const archive = await listArchivedWal(target.storage, 'pfx', 'shop');
    assert.deepEqual(archive.segments, new Map([
      [1, ['000000010000000000000003', '0000000100000000000000FF', '000000010000000100000000']],
      [2, ['000000020000000100000000']],
    ]));
    assert.deepEqual(archive.histories, ['00000002.history']);
    assert.deepEqual(archive.partials, ['000000010000000100000000.partial']);
    assert.deepEqual(archive.backupFiles, ['000000010000000000000003.00000028.backup']);
    assert.equal(archive.objects.get('00000002.history')?.path, 'pfx/shop/wal/00000002/00000002.history.gz');
    const histories = await readTimelineHistories(target, archive);
    assert.deepEqual(histories.get(2), [{ timeline: 1, switchLsn: 0x1_0000_0000n, reason: 'no recovery target specified' }]);
  });

  it('a push that hangs in storage times out and aborts its writer, leaving no object', async (t) => {
    const { storage, local, target } = await setup(t);
    let aborted = 0;
    const hanging: StorageDriver = {
      ...storage,
      write(path) {
        const real = storage.write(path);
        // Never acknowledges a write: an upload that stalls.
        const stream = new Writable({ write() {} });
        return {
          stream,
          commit: () => real.commit(),
          abort: async () => {
            aborted++;
            stream.destroy();
            await real.abort();
          },
        };
      },
    };
    const path = await local('000000010000000000000011', segmentBytes());
    const started = Date.now();
    await assert.rejects(
      withTimeout(200, 'wal-push', (signal) => pushWalFile({ ...target, storage: hanging, path, compression: { algorithm: 'none', level: 0 }, signal })),
      (e: unknown) => e instanceof WalTimeoutError && /wal-push timed out after 200 ms/.test(e.message),
    );
    assert.ok(Date.now() - started < 5000);
    await new Promise((done) => setTimeout(done, 50));
    assert.equal(aborted, 1, 'the writer was aborted');
    assert.deepEqual(await storage.list(''), []);
  });

  it('a timeout aborts the work and says so', async () => {
    let aborted = false;
    await assert.rejects(
      withTimeout(50, 'archiving X', (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => {
        aborted = true;
        reject(signal.reason);
      }))),
      (e: unknown) => e instanceof WalTimeoutError && /archiving X timed out after 50 ms/.test(e.message),
    );
    assert.equal(aborted, true);
    // Work that ignores the signal still ends the wait.
    await assert.rejects(withTimeout(50, 'stuck', () => new Promise(() => {})), WalTimeoutError);
  });
});
