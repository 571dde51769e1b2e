// Finding PostgreSQL's programs: an explicit directory wins, then the newest versioned install.

import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ToolError } from '../../../src/errors.js';
import { findPgBinDir, listPgBinDirs } from '../../../src/postgres/bindir.js';

/** A fake /usr/lib/postgresql with the given majors, each holding the given programs. */
async function fakeRoot(t: { after(fn: () => unknown): unknown }, majors: Record<number, string[]>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pgwarden-bindir-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const [major, tools] of Object.entries(majors)) {
    const bin = join(root, major, 'bin');
    await mkdir(bin, { recursive: true });
    for (const tool of tools) {
      await writeFile(join(bin, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) ${major}.1"\n`);
      await chmod(join(bin, tool), 0o755);
    }
  }
  return root;
}

test('lists versioned bin directories newest first', async (t) => {
  const root = await fakeRoot(t, { 9: ['pg_ctl'], 16: ['pg_ctl'], 13: ['pg_ctl'] });
  assert.deepEqual(
    (await listPgBinDirs(root)).map((d) => d.major),
    [16, 13, 9],
  );
});

test('picks the newest major that has the tool, or the requested major', async (t) => {
  // 17 is a client-only install: pg_dump but no initdb.
  const root = await fakeRoot(t, { 13: ['initdb', 'pg_dump'], 16: ['initdb', 'pg_dump'], 17: ['pg_dump'] });
  assert.equal(await findPgBinDir({ root, tool: 'initdb' }), join(root, '16', 'bin'));
  assert.equal(await findPgBinDir({ root, tool: 'pg_dump' }), join(root, '17', 'bin'));
  assert.equal(await findPgBinDir({ root, tool: 'initdb', major: 13 }), join(root, '13', 'bin'));
});

test('an explicit directory wins, and must hold the tool', async (t) => {
  const root = await fakeRoot(t, { 16: ['pg_ctl'], 12: ['pg_ctl'] });
  assert.equal(await findPgBinDir({ root, binDir: join(root, '12', 'bin') }), join(root, '12', 'bin'));
  await assert.rejects(findPgBinDir({ root, binDir: join(root, '12', 'bin'), tool: 'initdb' }), (error: unknown) => {
    assert.ok(error instanceof ToolError);
    assert.match(error.message, /initdb not found in .*12\/bin/);
    return true;
  });
});

test('says where it searched and how to install when nothing fits', async (t) => {
  const root = await fakeRoot(t, { 16: ['pg_ctl'] });
  await assert.rejects(findPgBinDir({ root, major: 99 }), (error: unknown) => {
    assert.ok(error instanceof ToolError);
    assert.match(error.message, /postgresql 99 pg_ctl not found/);
    assert.match(error.message, /99\/bin, pg_config --bindir, PATH/);
    assert.ok(error.hints.some((hint) => hint.includes('apt-get install postgresql-99')));
    return true;
  });
});

test('finds the installed server programs on this machine', async () => {
  const installed = await listPgBinDirs();
  assert.ok(installed.length > 0, 'no /usr/lib/postgresql/<N>/bin here');
  assert.equal(await findPgBinDir({ tool: 'initdb' }), installed[0]?.dir);
});
