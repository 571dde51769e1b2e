// Choosing the client tool for a server: a pg_dump older than the server cannot dump it.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findPgTool } from '../../../src/postgres/tools.js';

async function fakeBinDir(t: { after(fn: () => unknown): unknown }, version: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgwarden-fakebin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'pg_dump'), `#!/bin/sh\necho "pg_dump (PostgreSQL) ${version}"\n`);
  await chmod(join(dir, 'pg_dump'), 0o755);
  return dir;
}

test('a pg_dump older than the server is refused, naming both versions', async (t) => {
  const binDir = await fakeBinDir(t, '13.9');
  await assert.rejects(findPgTool('pg_dump', { binDir, serverMajor: 15 }), (error: Error & { hints: string[] }) => {
    assert.match(error.message, /pg_dump 13\.9 \(.*pg_dump\) cannot work with a PostgreSQL 15 server: the tool must be version 15 or newer/);
    assert.match(error.hints.join('\n'), /postgresql-client-15/);
    return true;
  });
});

test('a pg_dump as new as or newer than the server is used', async (t) => {
  const binDir = await fakeBinDir(t, '16.2');
  const tool = await findPgTool('pg_dump', { binDir, serverMajor: 15 });
  assert.deepEqual({ major: tool.major, version: tool.version }, { major: 16, version: '16.2' });
});

test('a configured bin dir without the tool is named', async (t) => {
  const binDir = await fakeBinDir(t, '15.1');
  await assert.rejects(findPgTool('pg_restore', { binDir, serverMajor: 15 }), /pg_restore not found in backup\.pgBinDir /);
});

test('the installed tools are found for the installed server version', async () => {
  const tool = await findPgTool('pg_dump', { serverMajor: 10 });
  assert.ok(tool.major >= 10);
  assert.match(tool.path, /pg_dump$/);
});
