// Point-in-time recovery end to end on real clusters: archive_command = pgwarden wal-push, base backups,
// incrementals, restore-pitr --start to a time, across a segment boundary and to the latest point; a hole in
// the archive; a promoted standby carrying archiving and PITR on to timeline 2.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findPgBinDir } from '../../../src/postgres/bindir.js';
import { startStandby } from '../../../src/postgres/standby.js';
import { archiveCommandFor } from '../../../src/wal/commands.js';
import { startFakeKms } from '../../helpers/fake-kms.js';
import { type Cluster, useCluster } from '../../helpers/postgres.js';
import { type CliResult, setupWarden, type WardenSetup } from '../../helpers/pgwarden.js';
import { startServe } from '../../helpers/serve.js';

async function archivingPrimary(t: Parameters<typeof useCluster>[0]): Promise<Cluster> {
  // archive_command is set once the config file exists; until then WAL waits in pg_wal (nothing is lost).
  return useCluster(t, { settings: { archive_mode: 'on', archive_command: '', archive_timeout: 0, wal_keep_size: '256MB' } });
}

/** Runs the statements `pgwarden sql archive-command` prints (one at a time: ALTER SYSTEM refuses a transaction). */
async function enableArchiving(cluster: Cluster, warden: WardenSetup, database: string): Promise<void> {
  const printed = await ok(warden.run(['sql', 'archive-command', '--database', database]), 'sql archive-command');
  const statements = printed.stdout.split('\n').filter((l) => l.startsWith('ALTER SYSTEM'));
  assert.equal(statements.length, 2);
  assert.ok(statements[1]!.includes(archiveCommandFor(warden.configPath, database).replace(/'/g, "''")));
  for (const statement of statements) await cluster.query(statement);
  await cluster.query('SELECT pg_reload_conf()');
}

function ids(result: CliResult, kind: string): string[] {
  return result.stdout.split('\n').filter((l) => new RegExp(`^\\d{8}T\\d{6}Z-${kind}-[0-9a-f]{6}$`).test(l.trim()));
}

async function ok(result: Promise<CliResult>, what: string): Promise<CliResult> {
  const r = await result;
  assert.equal(r.code, 0, `${what} failed: ${r.stderr}`);
  return r;
}

/** Restores into a fresh directory with --start, returns the rows of `sql`, and stops the server again. */
async function recoverAndQuery(t: Parameters<typeof useCluster>[0], warden: WardenSetup, targetArgs: string[], sql: string): Promise<string[]> {
  const dataDir = join(warden.dir, `restored-${Math.random().toString(16).slice(2, 8)}`);
  const restore = await warden.run(['restore-pitr', '--database', 'hotel', ...targetArgs, '--data-dir', dataDir, '--start', '--timeout', '120', '--json']);
  assert.equal(restore.code, 0, `restore-pitr ${targetArgs.join(' ')} failed: ${restore.stderr}`);
  const result = JSON.parse(restore.stdout) as { port: number; recovery_seconds: number; wal_staged: number };
  assert.ok(result.recovery_seconds >= 0);
  // The WAL was fetched before the start (one process, not one wal-fetch per file), and the staging folder is gone.
  assert.ok(result.wal_staged >= 1, `staged ${result.wal_staged} WAL files`);
  assert.equal(existsSync(join(dataDir, 'pgwarden_wal_staging')), false);
  const client = new pg.Client({ host: '127.0.0.1', port: result.port, user: 'postgres', database: 'hotel' });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>(sql);
    const inRecovery = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    assert.equal(inRecovery.rows[0]?.r, false, 'the restored server was promoted at the target');
    return rows.map((r) => r.v);
  } finally {
    await client.end().catch(() => {});
    const pgCtl = join(await findPgBinDir({ tool: 'pg_ctl' }), 'pg_ctl');
    const args = ['--pgdata', dataDir, '--mode', 'immediate', 'stop'];
    try {
      if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore' });
      else execFileSync(pgCtl, args, { stdio: 'ignore' });
    } catch {
      // already stopped
    }
    t.after(() => rm(dataDir, { recursive: true, force: true }));
  }
}

/** A commit, then the server's clock after it, so a target between two commits is exact. */
async function insertAndMark(cluster: Cluster, value: string): Promise<Date> {
  await cluster.query('INSERT INTO stays (v) VALUES ($1)', [value], 'hotel');
  const { rows } = await cluster.query<{ now: Date }>('SELECT clock_timestamp() AS now', [], 'hotel');
  return rows[0]!.now;
}

describe('point-in-time recovery', () => {
  it('recovers to a time between two commits (also across a segment switch) and to the latest point', async (t) => {
    const primary = await archivingPrimary(t);
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL)', [], 'hotel');
    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }], encrypt: true });
    await enableArchiving(primary, warden, 'hotel');

    const base = await ok(warden.run(['backup', 'base']), 'base backup');
    assert.equal(ids(base, 'base').length, 1);
    const files = await warden.storageFiles();
    assert.ok(files.some((f) => /^hotel\/base\/.*\/base\.tar\.zst\.enc$/.test(f)), files.join('\n'));
    assert.ok(files.some((f) => /^hotel\/wal\/00000001\/[0-9A-F]{24}\.zst\.enc$/.test(f)), 'WAL is archived, compressed and encrypted');

    const afterFirst = await insertAndMark(primary, 'first');
    await sleep(1100);
    await insertAndMark(primary, 'second');
    // A segment boundary between the third and fourth commits.
    await primary.query('INSERT INTO stays (v) VALUES ($1)', ['third'], 'hotel');
    const afterThird = (await primary.query<{ now: Date }>('SELECT clock_timestamp() AS now', [], 'hotel')).rows[0]!.now;
    await primary.query('SELECT pg_switch_wal()', [], 'hotel');
    await sleep(1100);
    await insertAndMark(primary, 'fourth');
    const incremental = await ok(warden.run(['backup', 'incremental', '--json']), 'incremental');
    const [record] = JSON.parse(incremental.stdout);
    assert.equal(record.status, 'succeeded');
    assert.ok(record.file_size > 0, 'the incremental records the archived bytes');

    // Both kinds verify again on demand: the base through pg_verifybackup and its WAL, the incremental's chain.
    for (const id of [ids(base, 'base')[0]!, record.backup_id]) {
      const verify = await warden.run(['verify', id, '--json']);
      assert.equal(verify.code, 0, verify.stderr);
      assert.equal(JSON.parse(verify.stdout).ok, true);
    }

    const between = new Date(afterFirst.getTime() + 500).toISOString();
    assert.deepEqual(await recoverAndQuery(t, warden, ['--target-time', between], 'SELECT v FROM stays ORDER BY id'), ['first']);
    const acrossSwitch = new Date(afterThird.getTime() + 500).toISOString();
    assert.deepEqual(await recoverAndQuery(t, warden, ['--target-time', acrossSwitch], 'SELECT v FROM stays ORDER BY id'), ['first', 'second', 'third']);
    assert.deepEqual(await recoverAndQuery(t, warden, ['--latest'], 'SELECT v FROM stays ORDER BY id'), ['first', 'second', 'third', 'fourth']);

    // Targets outside the window are refused before anything is laid out.
    const early = await warden.run(['restore-pitr', '--database', 'hotel', '--target-time', '2020-01-01T00:00:00Z', '--data-dir', join(warden.dir, 'early')]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /time 2020-01-01T00:00:00\.000Z is before the oldest base backup of "hotel"/);
    const late = await warden.run(['restore-pitr', '--database', 'hotel', '--target-time', '2099-01-01T00:00:00Z', '--data-dir', join(warden.dir, 'late')]);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /is after the newest archived WAL of "hotel" \(segment [0-9A-F]{24}/);
    const zoneless = await warden.run(['restore-pitr', '--database', 'hotel', '--target-time', '2026-01-01 10:00', '--data-dir', join(warden.dir, 'x')]);
    assert.equal(zoneless.code, 2);
  });

  it('with KMS only: a data key per base backup and per WAL file, and restore-pitr unwraps each with one KMS call', async (t) => {
    const kms = await startFakeKms(t);
    const primary = await archivingPrimary(t);
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL)', [], 'hotel');
    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }], kms: kms.configYaml('alias/backups') });
    await enableArchiving(primary, warden, 'hotel');

    const baseId = ids(await ok(warden.run(['backup', 'base']), 'base backup'), 'base')[0]!;
    const manifest = JSON.parse(await readFile(join(warden.storageDir, 'hotel', 'base', baseId, 'manifest.json'), 'utf8'));
    assert.match(manifest.artifact.encryption.keyId, /^kms-[0-9a-f]{32}$/);
    assert.equal(manifest.artifact.encryption.kms.keyId, kms.arn('alias/backups'));
    await insertAndMark(primary, 'first');
    await primary.query('SELECT pg_switch_wal()', [], 'hotel');
    await insertAndMark(primary, 'second');
    await ok(warden.run(['backup', 'incremental']), 'incremental');

    const generated = kms.calls.GenerateDataKey;
    const wal = (await warden.storageFiles()).filter((f) => /^hotel\/wal\/00000001\/[0-9A-F]{24}[^/]*\.zst\.enc$/.test(f));
    assert.ok(wal.length >= 3, wal.join('\n'));
    for (const file of wal) assert.equal((await readFile(join(warden.storageDir, file))).subarray(0, 6).toString(), 'PGWKMS', file);
    assert.equal(generated, wal.length + 1, 'one data key per archived WAL file and one for the base backup');

    kms.resetCalls();
    assert.deepEqual(await recoverAndQuery(t, warden, ['--latest'], 'SELECT v FROM stays ORDER BY id'), ['first', 'second']);
    t.diagnostic(`KMS: ${generated} GenerateDataKey for ${wal.length} WAL files + 1 base backup; restore-pitr made ${kms.calls.Decrypt} Decrypt calls`);
    assert.equal(kms.calls.GenerateDataKey, 0);
    assert.ok(kms.calls.Decrypt >= 2 && kms.calls.Decrypt <= wal.length + 1, `${kms.calls.Decrypt} Decrypt calls for ${wal.length} WAL files and one base backup`);
  });

  it('a segment missing from the archive fails the incremental, naming it, and restore-pitr past it', async (t) => {
    const primary = await archivingPrimary(t);
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL)', [], 'hotel');
    const warden = await setupWarden(t, primary, { databases: [{ name: 'hotel', url, pitr: true }] });
    await enableArchiving(primary, warden, 'hotel');
    await ok(warden.run(['backup', 'base']), 'base backup');
    for (const v of ['a', 'b', 'c']) {
      await insertAndMark(primary, v);
      await primary.query('SELECT pg_switch_wal()', [], 'hotel');
    }
    await ok(warden.run(['backup', 'incremental']), 'first incremental');
    const segments = (await warden.storageFiles()).filter((f) => /^hotel\/wal\/00000001\/[0-9A-F]{24}\.zst$/.test(f));
    assert.ok(segments.length >= 4, segments.join(', '));
    const victim = segments[segments.length - 2]!;
    const victimName = victim.split('/').at(-1)!.replace('.zst', '');
    await rm(join(warden.storageDir, victim));

    await insertAndMark(primary, 'd');
    const broken = await warden.run(['backup', 'incremental', '--json']);
    assert.equal(broken.code, 1);
    const [record] = JSON.parse(broken.stdout);
    assert.match(record.error, new RegExp(`has a gap: missing ${victimName}`));
    const [row] = await warden.query<{ status: string; error: string }>("SELECT status, error FROM pgwarden.database_backups WHERE type = 'incremental' ORDER BY created_at DESC LIMIT 1");
    assert.equal(row?.status, 'failed');

    const restore = await warden.run(['restore-pitr', '--database', 'hotel', '--latest', '--data-dir', join(warden.dir, 'gap')]);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, new RegExp(`lacks segment ${victimName}, needed to recover from base backup`));
  });

  it('after promoting the standby, archiving and PITR continue on timeline 2', async (t) => {
    const primary = await archivingPrimary(t);
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL)', [], 'hotel');
    // The catalog lives elsewhere: this test loses the primary.
    const catalogCluster = await useCluster(t);
    const warden = await setupWarden(t, catalogCluster, { databases: [{ name: 'hotel', url, pitr: true }] });
    await enableArchiving(primary, warden, 'hotel');
    // archive_mode on: once promoted it archives (archive_command came along in postgresql.auto.conf).
    const standby = await startStandby(primary, { name: 'replica1', settings: { archive_mode: 'on' } });
    t.after(() => standby.destroy());
    await warden.writeConfig({ databases: [{ name: 'hotel', url, pitr: true, standbys: [{ name: 'replica1', url: standby.url('hotel') }] }] });
    await ok(warden.run(['backup', 'base']), 'base backup');
    await insertAndMark(primary, 'before failover');
    await primary.query('SELECT pg_switch_wal()', [], 'hotel');

    const status = await ok(warden.run(['failover', 'status', '--json']), 'failover status');
    const [standbyRow] = JSON.parse(status.stdout);
    assert.equal(standbyRow.standby, 'replica1');
    assert.equal(standbyRow.connected, true);
    // Let the standby catch up, then lose the primary.
    for (let i = 0; i < 100; i++) {
      const { rows } = await standby.query<{ n: number }>('SELECT count(*)::int AS n FROM stays', [], 'hotel');
      if (rows[0]?.n === 1) break;
      await sleep(100);
    }
    await primary.stop('fast');

    const promoted = await ok(warden.run(['failover', 'promote', '--standby', 'replica1', '--json']), 'promote');
    assert.equal(JSON.parse(promoted.stdout).timeline, 2);
    // The new primary archives with the same archive_command (copied by pg_basebackup) on timeline 2.
    await warden.writeConfig({ databases: [{ name: 'hotel', url: standby.url('hotel'), pitr: true }] });
    await standby.query("INSERT INTO stays (v) VALUES ('after failover')", [], 'hotel');
    const incremental = await ok(warden.run(['backup', 'incremental', '--json']), 'incremental on timeline 2');
    assert.match(JSON.parse(incremental.stdout)[0].backup_id, /-incremental-/);
    const files = await warden.storageFiles();
    assert.ok(files.includes('hotel/wal/00000002/00000002.history.zst') || files.some((f) => /00000002\.history/.test(f)), files.join('\n'));
    assert.ok(files.some((f) => /^hotel\/wal\/00000002\/00000002[0-9A-F]{16}\.zst$/.test(f)), 'segments on timeline 2 are archived');

    assert.deepEqual(await recoverAndQuery(t, warden, ['--latest'], 'SELECT v FROM stays ORDER BY id'), ['before failover', 'after failover']);
  });
  it('pull mode: pgwarden serve archives WAL with pg_receivewal, takes the overdue base backup, and PITR works', async (t) => {
    // No archive_command at all: the service streams WAL over a replication slot.
    const primary = await useCluster(t);
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE stays (id serial PRIMARY KEY, v text NOT NULL)', [], 'hotel');
    const spool = join('/tmp', `pgwarden-spool-${process.pid}-${Date.now()}`);
    t.after(() => rm(spool, { recursive: true, force: true }));
    const warden = await setupWarden(t, primary, {
      databases: [{ name: 'hotel', url, pitr: true, schedules: { full: '0 0 1 1 *', incremental: '0 0 1 1 *' } }],
      extra: `server: { port: 0 }\nwal: { spoolDir: "${spool}" }`,
    });
    const serve = await startServe(t, warden.configPath);
    const deadline = Date.now() + 90_000;
    while ((await warden.query("SELECT 1 FROM pgwarden.database_backups WHERE type = 'base' AND status = 'succeeded'")).length === 0) {
      const failed = await warden.query<{ error: string }>("SELECT error FROM pgwarden.database_backups WHERE type = 'base' AND status = 'failed'");
      assert.equal(failed.length, 0, `base backup failed: ${failed[0]?.error}`);
      assert.ok(Date.now() < deadline, 'the overdue base backup did not finish');
      await sleep(250);
    }
    const slots = await primary.query<{ slot_name: string; active: boolean }>('SELECT slot_name, active FROM pg_replication_slots');
    assert.deepEqual(slots.rows.map((r) => [r.slot_name, r.active]), [['pgwarden_hotel', true]]);

    // The WAL archive's freshness is on /metrics after the job's refresh: RPO and the archive's age.
    let text = '';
    for (let i = 0; i < 100 && !/pgwarden_rpo_seconds\{database="hotel"\} [\d.]+/.test(text); i++) {
      text = await (await serve.api('/metrics')).text();
      await sleep(200);
    }
    const rpo = Number(/pgwarden_rpo_seconds\{database="hotel"\} ([\d.]+)/.exec(text)?.[1]);
    assert.ok(rpo >= 0 && rpo < 120, `rpo_seconds ${rpo}`);
    assert.match(text, /pgwarden_wal_archive_last_segment_timestamp_seconds\{database="hotel"\} \d+/);
    assert.match(text, /pgwarden_wal_archive_lag_bytes\{database="hotel"\} \d+/);

    await insertAndMark(primary, 'streamed');
    await ok(warden.run(['backup', 'incremental']), 'incremental in pull mode');
    assert.equal(await serve.terminate(), 0);
    assert.deepEqual(await recoverAndQuery(t, warden, ['--latest'], 'SELECT v FROM stays ORDER BY id'), ['streamed']);
  });
});
