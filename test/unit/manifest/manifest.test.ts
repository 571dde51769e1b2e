import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backupDir, manifestPath, newBackupId, parseBackupId } from '../../../src/manifest/layout.js';
import { manifestChecksum, parseManifest, sealManifest } from '../../../src/manifest/manifest.js';
import type { BackupManifest } from '../../../src/manifest/types.js';

const unsealed: Omit<BackupManifest, 'checksum'> = {
  formatVersion: 1,
  backupId: '20261125T020000Z-full-1a2b3c',
  kind: 'full',
  database: 'shop',
  serverVersion: '15.18',
  toolVersion: 'pg_dump 15.18',
  startedAt: '2026-11-25T02:00:00.000Z',
  finishedAt: '2026-11-25T02:01:00.000Z',
  startLsn: '0/3000060',
  artifact: {
    file: 'dump.pgc.gz.enc',
    format: 'custom',
    compression: { algorithm: 'gzip', level: 6 },
    encryption: { keyId: 'k1', format: 'pgwenc-1' },
    rawBytes: 1000,
    storedBytes: 400,
    sha256: 'a'.repeat(64),
  },
  tables: { count: 3 },
  expectedBytes: null,
  verification: { ok: true, at: '2026-11-25T02:01:30.000Z', error: null },
};

test('backup ids sort by time and parse back to their kind and time', () => {
  const id = newBackupId('full', new Date('2026-11-25T02:00:07.123Z'));
  assert.match(id, /^20261125T020007Z-full-[0-9a-f]{6}$/);
  assert.deepEqual(parseBackupId(id), { kind: 'full', time: new Date('2026-11-25T02:00:07Z') });
  assert.ok(newBackupId('full', new Date('2026-11-25T02:00:08Z')) > id);
  assert.equal(parseBackupId('20261125T020007Z-full-XYZ'), undefined);
  assert.equal(parseBackupId('../etc/passwd'), undefined);
});

test('layout paths follow DESIGN.md, with and without a prefix', () => {
  assert.equal(backupDir('', 'shop', 'full', 'id1'), 'shop/full/id1');
  assert.equal(manifestPath('prod/eu', 'shop', 'full', 'id1'), 'prod/eu/shop/full/id1/manifest.json');
});

test('a sealed manifest parses back; its checksum ignores key order', () => {
  const { manifest, text } = sealManifest(unsealed);
  assert.deepEqual(parseManifest(text, 'x'), manifest);
  const reordered = JSON.stringify(Object.fromEntries(Object.entries(manifest).reverse()));
  assert.deepEqual(parseManifest(reordered, 'x'), manifest);
  assert.equal(manifestChecksum(manifest), manifest.checksum);
});

test('any edit to a sealed manifest is reported as modified', () => {
  const { text } = sealManifest(unsealed);
  for (const [from, to] of [
    ['"count": 3', '"count": 4'],
    ['"level": 6', '"level": 1'],
    ['"database": "shop"', '"database": "shoq"'],
  ] as const) {
    assert.throws(() => parseManifest(text.replace(from, to), 'local:m.json'), /manifest local:m\.json was modified: its checksum does not match its content/);
  }
});

test('malformed manifests are named with the field at fault', () => {
  const { manifest } = sealManifest(unsealed);
  assert.throws(() => parseManifest('{', 'm'), /manifest m is not valid JSON/);
  assert.throws(() => parseManifest(JSON.stringify({ ...manifest, kind: 'weird' }), 'm'), /manifest m is malformed: kind:/);
  assert.throws(() => parseManifest(JSON.stringify({ ...manifest, extra: 1 }), 'm'), /manifest m is malformed/);
  const future = { ...manifest, formatVersion: 9 };
  assert.throws(() => parseManifest(JSON.stringify({ ...future, checksum: manifestChecksum(future) }), 'm'), /format version 9; this pgwarden reads up to 1/);
  const badFile = { ...manifest, artifact: { ...manifest.artifact, file: '../../x' } };
  assert.throws(() => parseManifest(JSON.stringify(badFile), 'm'), /artifact\.file/);
});
