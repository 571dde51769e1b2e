// buildBackupManifest writes what parseBackupManifest (pg_verifybackup's rules) accepts: its own SHA-256, the
// files with their sizes and CRC-32C, the WAL range; version 2 with the system identifier; Encoded-Path for
// a name that is not UTF-8. A changed byte fails its checksum.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBackupManifest } from '../../../src/backup/base-manifest.js';
import { parseBackupManifest } from '../../../src/backup/base-stream-check.js';

const wal = { timeline: 1, startLsn: '0/2000028', endLsn: '0/2000100' };
const files = [
  { path: 'backup_label', size: 225, mtime: 1796664000, crc32c: 'c7b7e8a6' },
  { path: 'global/pg_control', size: 8192, mtime: 1796664001.5, crc32c: '00ff00ff' },
];

describe('buildBackupManifest', () => {
  it('writes a version 1 manifest its parser accepts, file by file', () => {
    const text = buildBackupManifest({ files, wal });
    assert.ok(text.toString().endsWith('"}\n'));
    assert.match(text.toString(), /"Last-Modified": "2026-12-07 17:20:01 GMT"/);
    const parsed = parseBackupManifest(text);
    assert.deepEqual(parsed.walRanges, [wal]);
    assert.equal(parsed.systemIdentifier, undefined);
    assert.deepEqual(parsed.files.get('global/pg_control'), { size: 8192, algorithm: 'CRC32C', checksum: '00ff00ff' });
    assert.equal(parsed.files.size, 2);
  });

  it('writes version 2 with the system identifier, kept to its last digit', () => {
    const parsed = parseBackupManifest(buildBackupManifest({ files, wal, systemIdentifier: '7450123456789012345' }));
    assert.equal(parsed.systemIdentifier, '7450123456789012345');
  });

  it('names a non-UTF-8 path in hex (Encoded-Path) and reads it back as the same bytes', () => {
    const path = Buffer.from([0x62, 0x61, 0x73, 0x65, 0x2f, 0xff, 0xfe]).toString('latin1');
    const text = buildBackupManifest({ files: [{ path, size: 1, mtime: 0, crc32c: '01020304' }], wal });
    assert.match(text.toString(), /"Encoded-Path": "626173652fFFFE"/i);
    assert.ok(parseBackupManifest(text).files.has(path));
  });

  it('fails its own checksum once a byte changes', () => {
    const text = buildBackupManifest({ files, wal });
    const changed = Buffer.from(text.toString().replace('"Size": 225', '"Size": 226'));
    assert.throws(() => parseBackupManifest(changed), /fails its own checksum/);
  });
});
