// `pgwarden serve` as it runs in production: a real Prometheus scrapes it while it watches a primary with a
// streaming standby; two replicas share one catalog; SIGTERM in the middle of a backup is recorded cleanly.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStandby } from '../../../src/postgres/standby.js';
import { listFiles, setupWarden } from '../../helpers/pgwarden.js';
import { useCluster } from '../../helpers/postgres.js';
import { startPrometheus } from '../../helpers/prometheus.js';
import { startServe } from '../../helpers/serve.js';

const TOKEN = 'ops-token-0123456789abcdef';
const serverYaml = (extra = '') => `server: { port: 0, tokens: [ { name: ops, token: "${TOKEN}" } ]${extra} }`;

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('pgwarden serve', () => {
  it('gives Prometheus backup age, size ratio and replication lag, and lag rises while replay is paused', async (t) => {
    const primary = await useCluster(t);
    const standby = await startStandby(primary, { name: 'replica1' });
    t.after(() => standby.destroy());
    const url = await primary.createDatabase('hotel');
    await primary.query('CREATE TABLE bookings (id serial primary key, note text); INSERT INTO bookings (note) SELECT md5(i::text) FROM generate_series(1, 5000) i', [], 'hotel');
    const warden = await setupWarden(t, primary, {
      databases: [{ name: 'hotel', url, standbys: [{ name: 'replica1', url: standby.url('hotel') }] }],
      extra: `${serverYaml()}\nschedules: { replicationProbeSeconds: 1 }`,
    });
    const serve = await startServe(t, warden.configPath);
    // No backup yet: the overdue full backup runs at start.
    await until(async () => (await warden.query("SELECT 1 FROM pgwarden.database_backups WHERE status = 'succeeded'")).length === 1, 60_000, 'the catch-up backup');

    const address = new URL(serve.url).host;
    const prometheus = await startPrometheus(t, [{ address }]);
    const age = await prometheus.waitFor('pgwarden_backup_age_seconds{database="hotel",type="full"}', (r) => r.length === 1);
    assert.ok(age[0]!.value >= 0 && age[0]!.value < 300, `age ${age[0]!.value}`);
    const ratio = await prometheus.waitFor('pgwarden_backup_size_ratio{database="hotel",type="full"}', (r) => r.length === 1);
    assert.ok(ratio[0]!.value > 0 && ratio[0]!.value <= 2, `ratio ${ratio[0]!.value}`);
    await prometheus.waitFor('pgwarden_database_up{database="hotel"}', (r) => r[0]?.value === 1);
    await prometheus.waitFor('pgwarden_replication_standbys_connected{database="hotel"}', (r) => r[0]?.value === 1);
    const lagBefore = await prometheus.waitFor('pgwarden_replication_lag_seconds{database="hotel",standby="replica1"}', (r) => r.length === 1);
    assert.ok(lagBefore[0]!.value < 5, `lag before pausing ${lagBefore[0]!.value}`);

    await standby.query('SELECT pg_wal_replay_pause()');
    const writer = setInterval(() => {
      primary.query("INSERT INTO bookings (note) VALUES ('during pause')", [], 'hotel').catch(() => {});
    }, 200);
    try {
      await prometheus.waitFor('pgwarden_replication_lag_seconds{database="hotel",standby="replica1"}', (r) => (r[0]?.value ?? 0) >= 3, 30_000);
      await prometheus.waitFor('pgwarden_replication_lag_bytes{database="hotel",standby="replica1"}', (r) => (r[0]?.value ?? 0) > 0, 30_000);
    } finally {
      clearInterval(writer);
      await standby.query('SELECT pg_wal_replay_resume()');
    }
    await prometheus.waitFor('pgwarden_replication_lag_seconds{database="hotel",standby="replica1"}', (r) => (r[0]?.value ?? 99) < 3, 30_000);

    assert.equal(await serve.terminate(), 0);
  });

  it('two replicas on one catalog run each scheduled slot once, and an API-triggered backup once', async (t) => {
    const pg = await useCluster(t);
    const url = await pg.createDatabase('tiny');
    await pg.query('CREATE TABLE t AS SELECT generate_series(1, 100) AS i', [], 'tiny');
    const warden = await setupWarden(t, pg, {
      databases: [{ name: 'tiny', url, schedules: { full: '*/3 * * * * *' } }],
      extra: `${serverYaml()}\nschedules: { healthCheck: "0 0 1 1 *" }`,
    });
    const [a, b] = await Promise.all([startServe(t, warden.configPath), startServe(t, warden.configPath)]);
    await until(async () => (await warden.query("SELECT 1 FROM pgwarden.job_runs WHERE job = 'full:tiny' AND outcome = 'succeeded'")).length >= 4, 60_000, 'four scheduled runs');

    const response = await a.api('/api/backups', { method: 'POST', token: TOKEN, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'full', database: 'tiny' }) });
    assert.ok(response.status === 202 || response.status === 409, `status ${response.status}`);
    let apiBackupId: string | undefined;
    if (response.status === 202) apiBackupId = ((await response.json()) as { runs: { backupId: string }[] }).runs[0]!.backupId;
    assert.equal(await a.terminate(), 0);
    assert.equal(await b.terminate(), 0);

    const slots = await warden.query<{ scheduled_for: Date; claimed_by: string; outcome: string }>(
      "SELECT scheduled_for, claimed_by, outcome FROM pgwarden.job_runs WHERE job = 'full:tiny' ORDER BY scheduled_for",
    );
    const owners = new Set(slots.map((s) => s.claimed_by));
    assert.ok(slots.length >= 4);
    // Each slot is one row (the primary key guarantees it); every claimed slot ran exactly one backup.
    const backups = await warden.query<{ backup_id: string; status: string }>('SELECT backup_id, status FROM pgwarden.database_backups ORDER BY created_at');
    const ran = slots.filter((s) => s.outcome === 'succeeded' || s.outcome === 'failed').length;
    const apiRuns = apiBackupId ? 1 : 0;
    assert.equal(backups.length, ran + apiRuns, `backups ${JSON.stringify(backups)} vs slots ${JSON.stringify(slots)}`);
    if (apiBackupId) assert.equal(backups.filter((row) => row.backup_id === apiBackupId).length, 1);
    assert.ok(owners.size >= 1);
    const logs = await warden.query<{ message: string }>("SELECT message FROM pgwarden.backup_logs WHERE step = 'start'");
    assert.ok(logs.some((l) => /started by scheduler/.test(l.message)));
    if (apiBackupId) assert.ok(logs.some((l) => l.message.includes(apiBackupId) && /started by api:ops/.test(l.message)));
  });

  it('SIGTERM during a backup aborts it after the grace period, records it, removes the temporary file, exits 0', async (t) => {
    const pg = await useCluster(t);
    const url = await pg.createDatabase('busy');
    await pg.query(
      `CREATE TABLE events (id int, body text);
       INSERT INTO events SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 900000) i;`,
      [],
      'busy',
    );
    const warden = await setupWarden(t, pg, {
      databases: [{ name: 'busy', url, schedules: { full: '0 0 1 1 *' } }],
      extra: `${serverYaml(', shutdownGraceSeconds: 1')}\nbackup: { compression: gzip, compressionLevel: 9 }`,
    });
    // An earlier success keeps the catch-up run from starting: this test starts the backup through the API.
    assert.equal((await warden.run(['catalog', 'migrate'])).code, 0);
    await warden.query(`INSERT INTO pgwarden.database_backups (backup_id, database, type, status, finished_at) VALUES ('20260101T000000Z-full-000000', 'busy', 'full', 'succeeded', now())`);
    const serve = await startServe(t, warden.configPath);

    const noToken = await serve.api('/api/backups');
    assert.equal(noToken.status, 401);
    const wrong = await serve.api('/api/backups', { token: 'not-the-token-at-all' });
    assert.equal(wrong.status, 403);
    const unknown = await serve.api('/api/backups/20200101T000000Z-full-abcdef', { token: TOKEN });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: string }).error !== undefined, true);

    const started = await serve.api('/api/backups', { method: 'POST', token: TOKEN, headers: { 'content-type': 'application/json' }, body: '{"kind":"full"}' });
    assert.equal(started.status, 202);
    const { runs } = (await started.json()) as { runs: { backupId: string }[] };
    const backupId = runs[0]!.backupId;
    await until(
      async () => {
        for (const file of await listFiles(warden.storageDir)) {
          if (file.includes('.tmp-') && (await stat(join(warden.storageDir, file))).size > 256 * 1024) return true;
        }
        return false;
      },
      60_000,
      'the dump to be under way',
    );
    const busy = await serve.api('/api/backups', { method: 'POST', token: TOKEN, headers: { 'content-type': 'application/json' }, body: '{"kind":"full","database":"busy"}' });
    assert.equal(busy.status, 409);

    assert.equal(await serve.terminate('SIGTERM'), 0);
    const [row] = await warden.query<{ status: string; error: string }>('SELECT status, error FROM pgwarden.database_backups WHERE backup_id = $1', [backupId]);
    assert.equal(row?.status, 'failed');
    assert.match(row?.error ?? '', /^backup aborted: pgwarden is shutting down/);
    assert.deepEqual(await listFiles(warden.storageDir), [], 'no temporary file remains');
    const [jobRun] = await warden.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden.database_backups WHERE status = 'running'");
    assert.equal(jobRun?.n, 0);
  });
});
