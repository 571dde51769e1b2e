// unpackDirectoryArchive with `durable`: every regular file tar writes is synced while tar goes on, whatever its
// name (GNU tar prints names with C escapes), symbolic links and FIFOs are left alone, the directories are synced
// at the end, and a truncated archive still fails as tar reports it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { decodeTarName } from '../../../src/pipeline/flush-files.js';
import { unpackDirectoryArchive } from '../../../src/pipeline/unpack-directory.js';

const plain = { compression: 'none', encrypted: false } as const;

describe('unpackDirectoryArchive durable', () => {
  let root: string;
  let archive: string;
  const awkward = ['line\nbreak', 'café', 'back\\slash', 'tab\there', 'quote"s'];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pgwarden-unpack-test-'));
    const source = join(root, 'source');
    await mkdir(join(source, 'base', '1'), { recursive: true });
    await mkdir(join(source, 'empty'));
    await writeFile(join(source, 'PG_VERSION'), '15\n');
    await writeFile(join(source, 'base', '1', '16384'), Buffer.alloc(3 * 1024 * 1024, 7));
    await writeFile(join(source, 'base', '1', 'empty-file'), '');
    for (const name of awkward) await writeFile(join(source, 'base', name), name);
    await symlink('/nonexistent/pg_wal', join(source, 'pg_wal'));
    execFileSync('mkfifo', [join(source, 'fifo')]);
    archive = join(root, 'archive.tar');
    execFileSync('tar', ['--create', '--file', archive, '--directory', source, '.']);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('syncs each regular file and directory, and unpacks them as archived', async () => {
    const into = join(root, 'restored');
    await mkdir(into);
    const unpacked = await unpackDirectoryArchive({ source: createReadStream(archive), read: plain, rawBytes: 0, into, durable: true });
    // PG_VERSION, 16384, empty-file and the five awkward names; not the FIFO. GNU tar writes a symbolic link as an
    // empty placeholder file first and swaps the link in at the end: that placeholder may be synced too.
    assert.ok(unpacked.synced.files === 3 + awkward.length || unpacked.synced.files === 4 + awkward.length, `synced ${unpacked.synced.files} files`);
    // The root, base, base/1 and empty.
    assert.equal(unpacked.synced.directories, 4);
    for (const name of awkward) assert.equal(await readFile(join(into, 'base', name), 'utf8'), name);
    assert.equal((await readFile(join(into, 'base', '1', '16384'))).length, 3 * 1024 * 1024);
    // Every entry back with its type, size and link target (diff -r cannot compare FIFOs).
    const tree = (dir: string) => execFileSync('sh', ['-c', `cd "$1" && find . -printf '%p %y %s %l\\n' | sort`, 'sh', dir]).toString();
    assert.equal(tree(into), tree(join(root, 'source')));
  });

  it('syncs nothing without durable', async () => {
    const into = join(root, 'not-durable');
    await mkdir(into);
    const unpacked = await unpackDirectoryArchive({ source: createReadStream(archive), read: plain, rawBytes: 0, into });
    assert.deepEqual(unpacked.synced, { files: 0, directories: 0 });
  });

  it('fails on a truncated archive, naming tar', async () => {
    const into = join(root, 'truncated');
    await mkdir(into);
    const bytes = await readFile(archive);
    const source = Readable.from([bytes.subarray(0, 1024 * 1024 + 700)]);
    await assert.rejects(unpackDirectoryArchive({ source, read: plain, rawBytes: 0, into, durable: true }), /tar \(unpacking[^)]*\).*(Unexpected EOF|exited)/s);
  });
});

describe('decodeTarName', () => {
  it('reads back what GNU tar prints with its escape quoting', () => {
    assert.equal(decodeTarName('base/1/16384'), 'base/1/16384');
    assert.equal(decodeTarName('line\\nbreak'), 'line\nbreak');
    assert.equal(decodeTarName('back\\\\slash'), 'back\\slash');
    assert.equal(decodeTarName('caf\\303\\251'), 'café');
    assert.equal(decodeTarName('tab\\there'), 'tab\there');
  });
});
