// A base backup is checked against its backup_manifest while it streams: a pg_basebackup whose tar is damaged on
// the way (a file's bytes changed, a file dropped, a stray file added, the stream cut short while the program
// still exits 0) fails the run with the reason, leaves no base backup on storage and none marked good.
// backup.baseMethod stream: what is checked is pg_basebackup's tar (base-files.test.ts covers the other method).
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findPgBinDir } from '../../../src/postgres/bindir.js';
import { useCluster } from '../../helpers/postgres.js';
import { setupWarden } from '../../helpers/pgwarden.js';

// Reads pg_basebackup's whole tar (a test database is small) and damages it as ./mode says.
const TAMPER = `
import { readFileSync } from 'node:fs';
const mode = readFileSync(new URL('./mode', import.meta.url), 'utf8').trim();
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
let tar = Buffer.concat(chunks);
const entries = [];
for (let off = 0; off + 512 <= tar.length; ) {
  const h = tar.subarray(off, off + 512);
  if (h.every((b) => b === 0)) { entries.end = off; break; }
  const name = h.toString('latin1', 0, 100).replace(/\\0.*$/s, '');
  const size = parseInt(h.toString('latin1', 124, 136).replace(/\\0.*$/s, '').trim(), 8);
  const span = 512 + Math.ceil(size / 512) * 512;
  entries.push({ name, off, size, span });
  off += span;
}
const version = entries.find((e) => e.name === 'PG_VERSION');
function header(name, size) {
  const h = Buffer.alloc(512);
  h.write(name, 0); h.write('0000600\\0', 100); h.write('0000000\\0', 108); h.write('0000000\\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\\0', 124); h.write('00000000000\\0', 136); h.write('        ', 148);
  h.write('0', 156); h.write('ustar\\x0000', 257, 'latin1');
  let sum = 0; for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\\0 ', 148);
  return h;
}
if (mode === 'corrupt') tar[version.off + 512] ^= 1;
if (mode === 'missing') tar = Buffer.concat([tar.subarray(0, version.off), tar.subarray(version.off + version.span)]);
if (mode === 'extra') {
  const body = Buffer.alloc(512); body.write('stray');
  tar = Buffer.concat([tar.subarray(0, entries.end), header('base/pgwarden_stray', 5), body, tar.subarray(entries.end)]);
}
if (mode === 'truncate') tar = tar.subarray(0, Math.floor(tar.length / 2));
process.stdout.write(tar);
`;

describe('base backup checked while it streams', () => {
  it('a damaged, incomplete or padded tar stream fails the backup with the reason and leaves nothing marked good', async (t) => {
    const primary = await useCluster(t, { settings: { archive_mode: 'on', archive_command: '', archive_timeout: 0, wal_keep_size: '256MB' } });
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL); INSERT INTO stays (v) SELECT md5(i::text) FROM generate_series(1, 20000) i', [], 'hotel');

    // backup.pgBinDir: the real tools, but pg_basebackup's output passes through the tamperer.
    const bin = await mkdtemp(join(tmpdir(), 'pgwarden-tamperbin-'));
    t.after(() => rm(bin, { recursive: true, force: true }));
    const real = await findPgBinDir({ tool: 'pg_basebackup' });
    for (const tool of ['pg_dump', 'pg_restore', 'pg_waldump', 'pg_verifybackup', 'pg_receivewal', 'psql', 'pg_ctl', 'pg_controldata', 'pg_isready']) {
      await symlink(join(real, tool), join(bin, tool)).catch(() => {});
    }
    await writeFile(join(bin, 'tamper.mjs'), TAMPER);
    await writeFile(
      join(bin, 'pg_basebackup'),
      `#!/bin/sh\ncase "$1" in --version|-V) exec ${join(real, 'pg_basebackup')} "$@";; esac\n${join(real, 'pg_basebackup')} "$@" | ${process.execPath} ${join(bin, 'tamper.mjs')}\n`,
    );
    await chmod(join(bin, 'pg_basebackup'), 0o755);
    await chmod(bin, 0o755);

    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }], encrypt: true, extra: `backup: { pgBinDir: "${bin}", baseMethod: stream }` });
    const printed = await warden.run(['sql', 'archive-command', '--database', 'hotel']);
    assert.equal(printed.code, 0, printed.stderr);
    for (const statement of printed.stdout.split('\n').filter((l) => l.startsWith('ALTER SYSTEM'))) await primary.query(statement);
    await primary.query('SELECT pg_reload_conf()');

    const cases = [
      ['corrupt', /the base backup does not match its backup_manifest: checksum mismatch for file "PG_VERSION"/],
      ['missing', /the base backup does not match its backup_manifest: "PG_VERSION" is present in the manifest but not in the backup/],
      ['extra', /the base backup does not match its backup_manifest: "base\/pgwarden_stray" is present in the backup but not in the manifest/],
      ['truncate', /the base backup stream is truncated: it ended/],
    ] as const;
    for (const [mode, message] of cases) {
      await writeFile(join(bin, 'mode'), mode);
      const run = await warden.run(['backup', 'base']);
      assert.equal(run.code, 1, `${mode}: ${run.stdout}`);
      assert.match(run.stderr, message, mode);
      const bases = (await warden.storageFiles()).filter((f) => f.startsWith('hotel/base/'));
      assert.deepEqual(bases, [], `${mode}: nothing of the failed base backup stays on storage`);
    }
    const rows = await warden.query<{ status: string; verification_status: string | null; error: string | null }>(
      "SELECT status, verification_status, error FROM pgwarden.database_backups WHERE type = 'base' ORDER BY created_at",
    );
    assert.deepEqual(rows.map((r) => r.status), ['failed', 'failed', 'failed', 'failed']);
    assert.ok(rows.every((r) => r.verification_status !== 'ok' && r.error), JSON.stringify(rows));

    // The same wrapper passing the stream through untouched: the backup succeeds and verifies again on demand.
    await writeFile(join(bin, 'mode'), 'none');
    const good = await warden.run(['backup', 'base', '--json']);
    assert.equal(good.code, 0, good.stderr);
    const [record] = JSON.parse(good.stdout) as { backup_id: string; status: string }[];
    assert.equal(record?.status, 'succeeded');
    const verify = await warden.run(['verify', record!.backup_id, '--json']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(JSON.parse(verify.stdout).ok, true);
    const [log] = await warden.query<{ message: string }>("SELECT message FROM pgwarden.backup_logs WHERE backup_id = $1 AND step = 'verify'", [record!.backup_id]);
    assert.match(log!.message, /verified while streaming: \d+ files \(.+\) against backup_manifest \(CRC32C\); WAL \S+\.\.\S+ parsed by pg_waldump \(\d+ segments\)/);
  });
});
