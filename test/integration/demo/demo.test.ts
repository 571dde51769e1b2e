// `pgwarden demo --once` as a newcomer runs it: everything from nothing, exit 0, and nothing left behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { runCli } from '../../helpers/pgwarden.js';

function postmasters(): number {
  try {
    return execFileSync('pgrep', ['-f', 'pgwarden-demo-test'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

it('demo --once backs up, verifies, restores, serves metrics, and cleans up after itself', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'pgwarden-demo-test-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  const dir = join(parent, 'demo');
  const result = await runCli(['demo', '--once', '--dir', dir], { timeoutMs: 240_000 });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /full \d{8}T\d{6}Z-full-[0-9a-f]{6}: \d+ bytes stored, verified through pg_restore/);
  assert.match(result.stdout, /base \d{8}T\d{6}Z-base-[0-9a-f]{6}: \d+ bytes stored, checked against its backup_manifest while streaming, its WAL parsed by pg_waldump/);
  assert.match(result.stdout, /6 tables, 25820 rows in [\d.]+s: the row counts match the source/);
  assert.match(result.stdout, /metrics: full backup age [\d.]+ s, replica1 lag [\d.]+ s/);
  assert.match(result.stdout, /curl -H 'Authorization: Bearer \S+' http:\/\/127\.0\.0\.1:\d+\/api\/backups/);
  assert.deepEqual(await readdir(parent), [], 'the demo directory is removed');
  assert.equal(postmasters(), 0, 'no server of the demo is left running');
});
