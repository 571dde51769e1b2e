// tarHeader writes ustar headers that GNU tar reads back as written: names, long paths split at a "/",
// directories, modes, sizes and times; and it refuses a path no ustar header can hold.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { type TarEntry, tarHeader, tarPadding, tarTrailer } from '../../../src/pipeline/tar-header.js';

function archive(entries: { entry: TarEntry; content?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { entry, content } of entries) {
    parts.push(tarHeader(entry));
    if (content) parts.push(content, Buffer.alloc(tarPadding(content.length)));
  }
  parts.push(tarTrailer());
  return Buffer.concat(parts);
}

describe('tarHeader', () => {
  it('writes entries GNU tar lists with their names, types, modes, sizes and times', () => {
    const long = `base/${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const mtime = Date.UTC(2026, 11, 7, 17, 2, 47) / 1000;
    const tar = archive([
      { entry: { path: 'base', type: 'directory', size: 0, mode: 0o40700, uid: 0, gid: 0, mtime } },
      { entry: { path: 'PG_VERSION', type: 'file', size: 3, mode: 0o100600, uid: 0, gid: 0, mtime }, content: Buffer.from('15\n') },
      { entry: { path: long, type: 'file', size: 1000, mode: 0o640, uid: 0, gid: 0, mtime }, content: Buffer.alloc(1000, 7) },
    ]);
    assert.equal(tar.length % 512, 0);
    const listed = execFileSync('tar', ['-tvf', '-', '--utc', '--numeric-owner'], { input: tar }).toString().trim().split('\n');
    assert.equal(listed.length, 3);
    assert.match(listed[0]!, /^drwx------ 0\/0\s+0 2026-12-07 17:02 base\/$/);
    assert.match(listed[1]!, /^-rw------- 0\/0\s+3 2026-12-07 17:02 PG_VERSION$/);
    assert.match(listed[2]!, new RegExp(`^-rw-r----- 0/0\\s+1000 2026-12-07 17:02 ${long}$`));
    // And the content comes back byte for byte.
    assert.equal(execFileSync('tar', ['-xOf', '-', 'PG_VERSION'], { input: tar }).toString(), '15\n');
  });

  it('gives sizes beyond the octal field in base-256, as GNU tar reads them', () => {
    const size = 9 * 1024 ** 3;
    const header = tarHeader({ path: 'big', type: 'file', size, mode: 0o600, uid: 0, gid: 0, mtime: 0 });
    assert.equal(header[124], 0x80);
    let value = 0;
    for (let i = 125; i < 136; i++) value = value * 256 + header[i]!;
    assert.equal(value, size);
    // tar -t reads the header alone when told the archive ends there.
    const listed = execFileSync('sh', ['-c', 'tar -tvf - 2>/dev/null; true'], { input: header }).toString();
    assert.match(listed, new RegExp(`\\s${size}\\s`));
  });

  it('refuses a path no ustar header holds', () => {
    assert.throws(() => tarHeader({ path: 'x'.repeat(300), type: 'file', size: 0, mode: 0o600, uid: 0, gid: 0, mtime: 0 }), /too long for a tar header/);
  });
});
