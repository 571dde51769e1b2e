// Every backup lands on local disk, S3 (and its replica bucket) and GCS at once, through the real SDKs over
// loopback HTTP (s3rver, the GCS fake), and survives the loss of any of them: the data center lost (local
// deleted) → restore from S3, then from GCS with S3 down; the catalog dropped and rebuilt from S3's manifests
// alone; a target killed mid-upload or down for a whole backup → the backup is good on the others, marked
// degraded naming the target, and `storage sync` copies it over once the target is back.
import assert from 'node:assert/strict';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { openPgwarden } from '../../../src/app/open.js';
import { runFullBackup } from '../../../src/backup/full.js';
import { createWalAccess } from '../../../src/backup/wal-access.js';
import { loadConfig } from '../../../src/config/index.js';
import { cleanupContextFor, runCleanup } from '../../../src/retention/cleanup.js';
import { startFakeGcs } from '../../helpers/fake-gcs.js';
import { startFaultProxy } from '../../helpers/fault-proxy.js';
import { clusterForSuite, fingerprintDiff, loadFixture, tableFingerprints } from '../../helpers/postgres.js';
import { printedIds, setupWarden } from '../../helpers/pgwarden.js';
import { S3_CREDENTIALS, startS3Server } from '../../helpers/s3.js';

type Hooks = { after(fn: () => Promise<void> | void): void };

/** s3rver behind one fault proxy per bucket, the GCS fake, and the storage map that names them all. */
async function cloud(t: Hooks, options: { s3Key?: string; gcsBucket?: string } = {}) {
  const s3 = await startS3Server(t, { buckets: ['primary', 'replica'] });
  const primary = await startFaultProxy(t, { port: s3.port });
  const replica = await startFaultProxy(t, { port: s3.port });
  const gcs = await startFakeGcs(t, { buckets: ['gcs-backups'] });
  const s3Common = `region: us-east-1, forcePathStyle: true, requestChecksumCalculation: WHEN_REQUIRED, accessKeyId: ${options.s3Key ?? S3_CREDENTIALS.accessKeyId}, secretAccessKey: ${S3_CREDENTIALS.secretAccessKey}, partSizeMiB: 5, queueSize: 2, maxAttempts: 1, connectTimeoutSeconds: 2, idleTimeoutSeconds: 5`;
  const storageTargets = [
    `s3: { bucket: primary, endpoint: "${primary.url}", ${s3Common}, replica: { bucket: replica, region: us-west-2, endpoint: "${replica.url}" } }`,
    `gcs: { bucket: ${options.gcsBucket ?? 'gcs-backups'}, apiEndpoint: "${gcs.url}", projectId: test, maxRetries: 0, timeoutSeconds: 5 }`,
    'copyAttempts: 1',
    'copyRetryDelaySeconds: 0',
  ].join(', ');
  const keys = async (bucket: string) => {
    const listed = await s3.client().send(new ListObjectsV2Command({ Bucket: bucket }));
    return (listed.Contents ?? []).map((o) => o.Key!).sort();
  };
  return { s3, primary, replica, gcs, storageTargets, keys, gcsKeys: () => gcs.objects('gcs-backups').map((o) => o.name).sort() };
}

interface CatalogCopy {
  status: string;
  error?: string;
}

describe('multi-target storage', () => {
  const cluster = clusterForSuite();

  it('stores one dump on every target, restores after losing the data center from S3 then GCS, and rebuilds the catalog from S3', async (t) => {
    const sourceUrl = await cluster().createDatabase('mt_source');
    await loadFixture(sourceUrl, 'awkward');
    const c = await cloud(t);
    const warden = await setupWarden(t, cluster(), { databases: [{ name: 'awkward', url: sourceUrl }], encrypt: true, storageTargets: c.storageTargets });

    const check = await warden.run(['storage', 'check']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /ok +local/);
    assert.match(check.stdout, /ok +s3 /);
    assert.match(check.stdout, /ok +s3-replica /);
    assert.match(check.stdout, /ok +gcs /);

    const backup = await warden.run(['backup', 'full']);
    assert.equal(backup.code, 0, backup.stderr);
    const [id] = printedIds(backup);
    assert.ok(id);
    // One dump, four copies: the same objects under the same paths on every target.
    const local = await warden.storageFiles();
    assert.equal(local.length, 2);
    assert.deepEqual(await c.keys('primary'), local);
    assert.deepEqual(await c.keys('replica'), local);
    assert.deepEqual(c.gcsKeys(), local);
    const [row] = await warden.query<{ storage: Record<string, CatalogCopy> }>('SELECT storage FROM pgwarden.database_backups WHERE backup_id = $1', [id]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(row!.storage).map(([target, copy]) => [target, copy.status])),
      { local: 'stored', s3: 'stored', 's3-replica': 'stored', gcs: 'stored' },
    );
    const manifest = JSON.parse(await readFile(join(warden.storageDir, local.find((p) => p.endsWith('manifest.json'))!), 'utf8'));
    assert.deepEqual(manifest.copies, { local: { status: 'stored' }, s3: { status: 'stored' }, 's3-replica': { status: 'stored' }, gcs: { status: 'stored' } });
    const expected = await tableFingerprints(sourceUrl);

    // The data center is lost: local storage is gone. The restore reads the S3 copy.
    await rm(join(warden.storageDir, 'awkward'), { recursive: true, force: true });
    const fromS3 = await cluster().createDatabase('mt_from_s3');
    const r1 = await warden.run(['restore', id, '--target-url', fromS3]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(fingerprintDiff(expected, await tableFingerprints(fromS3)), []);
    const s3Gets = c.s3.requests.filter((r) => r.method === 'GET' && r.path === `/primary/${local[0]}`);
    assert.ok(s3Gets.length > 0, 'the artifact was read from the primary S3 bucket');

    // S3 is down too (both regions): GCS holds the last copy.
    c.primary.down();
    c.replica.down();
    const fromGcs = await cluster().createDatabase('mt_from_gcs');
    const r2 = await warden.run(['restore', id, '--target-url', fromGcs]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(fingerprintDiff(expected, await tableFingerprints(fromGcs)), []);
    c.primary.up();
    c.replica.up();

    // The catalog is lost as well: rebuilt from S3's manifests alone, then restore by id again.
    await warden.query('DROP SCHEMA pgwarden CASCADE');
    assert.equal((await warden.run(['catalog', 'migrate'])).code, 0);
    const rebuilt = await warden.run(['catalog', 'rebuild', '--from', 's3', '--json']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    assert.deepEqual(JSON.parse(rebuilt.stdout), { target: 's3', inserted: [id], updated: [], skipped: [] });
    const [after] = await warden.query<{ storage: Record<string, CatalogCopy>; checksum_sha256: string }>('SELECT storage, checksum_sha256 FROM pgwarden.database_backups WHERE backup_id = $1', [id]);
    assert.equal(after!.checksum_sha256, manifest.artifact.sha256);
    assert.equal(after!.storage['local']!.status, 'failed', 'the lost local copy is marked missing');
    assert.match(after!.storage['local']!.error!, /not on local when the catalog was rebuilt/);
    assert.equal(after!.storage['s3']!.status, 'stored');
    const fromRebuilt = await cluster().createDatabase('mt_from_rebuilt');
    const r3 = await warden.run(['restore', id, '--target-url', fromRebuilt]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.deepEqual(fingerprintDiff(expected, await tableFingerprints(fromRebuilt)), []);

    // And the new local disk is filled again from a surviving copy.
    const sync = await warden.run(['storage', 'sync']);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);
    assert.match(sync.stdout, new RegExp(`copied ${id} to local \\(from s3\\)`));
    assert.deepEqual(await warden.storageFiles(), local);
  });

  it('a target killed mid-upload or down for a whole backup: the backup is good on the others, degraded, and caught up when the target is back', async (t) => {
    const sourceUrl = await cluster().createDatabase('mt_faults');
    await loadFixture(sourceUrl, 'awkward');
    // 12 MB that do not compress: the artifact goes up as a multipart upload of several 5 MiB parts.
    const client = new pg.Client({ connectionString: sourceUrl });
    await client.connect();
    await client.query(`CREATE TABLE noise AS SELECT g AS id, decode(md5(random()::text) || md5(random()::text), 'hex') AS bytes FROM generate_series(1, 400000) g`);
    await client.end();
    const c = await cloud(t);
    const warden = await setupWarden(t, cluster(), { databases: [{ name: 'awkward', url: sourceUrl }], storageTargets: c.storageTargets });

    // S3 (primary bucket) dies in the middle of the upload and stays down.
    // The first bytes through the proxy in a backup are the artifact's upload: the cut lands in its second part.
    const cut = c.primary.cutAfter(7_000_000, { thenDown: true });
    const first = await warden.run(['backup', 'full']);
    await cut;
    assert.equal(first.code, 0, first.stderr);
    const [killed] = printedIds(first);
    assert.ok(killed);
    // GCS is down for the whole of the next backup.
    await c.gcs.down('refuse');
    const second = await warden.run(['backup', 'full']);
    assert.equal(second.code, 0, second.stderr);
    const [missed] = printedIds(second);
    assert.ok(missed);

    const list = await warden.run(['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${killed}.*degraded.*missing:s3\\b`));
    assert.match(list.stdout, new RegExp(`${missed}.*degraded.*missing:s3,gcs`));
    const rows = await warden.query<{ backup_id: string; status: string; verification_status: string; storage: Record<string, CatalogCopy> }>(
      'SELECT backup_id, status, verification_status, storage FROM pgwarden.database_backups ORDER BY created_at',
    );
    assert.deepEqual(rows.map((r) => [r.status, r.verification_status]), [['succeeded', 'ok'], ['succeeded', 'ok']]);
    assert.equal(rows[0]!.storage['s3']!.status, 'failed');
    assert.match(rows[0]!.storage['s3']!.error!, /s3/);
    assert.equal(rows[1]!.storage['gcs']!.status, 'failed');
    assert.match(rows[1]!.storage['gcs']!.error!, /gcs/);
    const degraded = await warden.query<{ backup_id: string; message: string }>(`SELECT backup_id, message FROM pgwarden.backup_logs WHERE step = 'degraded' ORDER BY id`);
    assert.equal(degraded.length, 2);
    assert.match(degraded[0]!.message, /backup is degraded: stored on local, s3-replica, gcs, missing on s3/);

    // Nothing half-written is visible where an upload died. The multipart upload S3 could not be told to abort
    // while it was down is aborted by the sync below, before the copy.
    c.primary.up();
    assert.deepEqual(await c.keys('primary'), []);
    await c.gcs.up();
    assert.deepEqual(c.gcsKeys().filter((k) => k.includes(missed!)), []);
    assert.deepEqual(c.gcs.sessions(), []);

    // Both targets are back: sync copies what each missed, checked against the catalog's size and SHA-256.
    const sync = await warden.run(['storage', 'sync', '--json']);
    assert.equal(sync.code, 0, sync.stdout + sync.stderr);
    const report = JSON.parse(sync.stdout);
    assert.deepEqual(
      report.copied.map((x: { backupId: string; target: string }) => `${x.backupId}→${x.target}`).sort(),
      [`${killed}→s3`, `${missed}→gcs`, `${missed}→s3`].sort(),
    );
    const local = await warden.storageFiles();
    assert.deepEqual(await c.keys('primary'), local);
    assert.deepEqual(await c.s3.pendingUploads('primary'), []);
    assert.deepEqual(c.gcsKeys(), local);
    assert.doesNotMatch((await warden.run(['list'])).stdout, /degraded/);

    // The caught-up copy is a real one: with local gone and the replica down, the restore reads it from S3.
    await rm(join(warden.storageDir, 'awkward'), { recursive: true, force: true });
    c.replica.down();
    await c.gcs.down('refuse');
    const target = await cluster().createDatabase('mt_faults_restored');
    const restore = await warden.run(['restore', missed!, '--target-url', target]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(fingerprintDiff(await tableFingerprints(sourceUrl), await tableFingerprints(target)), []);
  });

  it('bad credentials and a missing bucket are named per target; a backup still lands on the targets that work', async (t) => {
    const sourceUrl = await cluster().createDatabase('mt_badcreds');
    await loadFixture(sourceUrl, 'awkward');
    const c = await cloud(t, { s3Key: 'WRONGKEY', gcsBucket: 'no-such-bucket' });
    const warden = await setupWarden(t, cluster(), { databases: [{ name: 'awkward', url: sourceUrl }], storageTargets: c.storageTargets });

    const check = await warden.run(['storage', 'check']);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /ok +local/);
    assert.match(check.stdout, /FAILED s3 .*primary.*(credential|access key)/i);
    assert.match(check.stdout, /FAILED gcs .*no-such-bucket.*does not exist/);

    const backup = await warden.run(['backup', 'full']);
    assert.equal(backup.code, 0, backup.stderr);
    const [id] = printedIds(backup);
    const [row] = await warden.query<{ storage: Record<string, CatalogCopy> }>('SELECT storage FROM pgwarden.database_backups WHERE backup_id = $1', [id]);
    assert.equal(row!.storage['local']!.status, 'stored');
    assert.equal(row!.storage['s3']!.status, 'failed');
    assert.match(row!.storage['s3']!.error!, /s3.*primary/);
    assert.equal(row!.storage['gcs']!.status, 'failed');
    assert.match(row!.storage['gcs']!.error!, /no-such-bucket/);
  });

  it('writes bucket lifecycle rules from the config and prices what every target holds', async (t) => {
    const sourceUrl = await cluster().createDatabase('mt_cost');
    await loadFixture(sourceUrl, 'awkward');
    const c = await cloud(t);
    const warden = await setupWarden(t, cluster(), {
      databases: [{ name: 'awkward', url: sourceUrl }],
      storageTargets: c.storageTargets.replace('maxAttempts: 1,', 'maxAttempts: 1, glacierAfterDays: 30,'),
      extra: 'retention: { cloudDays: 120 }',
    });
    const backup = await warden.run(['backup', 'full', '--json']);
    assert.equal(backup.code, 0, backup.stderr);
    const [record] = JSON.parse(backup.stdout);

    const printed = await warden.run(['storage', 'lifecycle', '--print', '--json']);
    assert.equal(printed.code, 0, printed.stderr);
    const plan = JSON.parse(printed.stdout);
    assert.deepEqual(
      plan.targets.map((x: { target: string; applied: boolean; current?: unknown }) => [x.target, x.applied, x.current ?? null]),
      [['s3', false, null], ['s3-replica', false, null], ['gcs', false, null]],
    );
    const s3Rule = plan.targets[0].document.Rules[0];
    assert.deepEqual(s3Rule.Transitions, [{ Days: 30, StorageClass: 'GLACIER' }]);
    assert.deepEqual(s3Rule.Expiration, { Days: 120 });
    const gcsRules = plan.targets[2].document.rule;
    assert.deepEqual(gcsRules.find((r: { action: { type: string } }) => r.action.type === 'Delete').condition, { age: 120 });
    assert.match(plan.notes[0], /older than 120 days/);

    const applied = await warden.run(['storage', 'lifecycle', '--apply', '--json']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.ok(JSON.parse(applied.stdout).targets.every((x: { applied: boolean }) => x.applied));
    const after = JSON.parse((await warden.run(['storage', 'lifecycle', '--print', '--json'])).stdout);
    for (const target of after.targets) assert.deepEqual(target.current, target.document, `${target.target} holds the rules written`);

    const cost = await warden.run(['cost', '--json']);
    assert.equal(cost.code, 0, cost.stderr);
    const report = JSON.parse(cost.stdout);
    const GIB = 1024 ** 3;
    let localBytes = 0;
    for (const file of await warden.storageFiles()) localBytes += (await stat(join(warden.storageDir, file))).size;
    const byTarget = Object.fromEntries(report.targets.map((x: { target: string }) => [x.target, x]));
    const s3Bytes = (await c.s3.client().send(new ListObjectsV2Command({ Bucket: 'primary' }))).Contents!.reduce((n, o) => n + o.Size!, 0);
    assert.deepEqual(byTarget['s3'].bytes, { standard: s3Bytes }, 'new objects are priced as S3 Standard');
    assert.equal(byTarget['s3'].monthlyDollars, Math.round((s3Bytes / GIB) * 0.023 * 10_000) / 10_000);
    assert.equal(byTarget['s3'].restoreDollars, Math.round((record.file_size / GIB) * 0.09 * 10_000) / 10_000);
    assert.equal(byTarget['gcs'].restoreDollars, Math.round((record.file_size / GIB) * 0.12 * 10_000) / 10_000);
    assert.deepEqual(Object.keys(byTarget), ['local', 's3', 's3-replica', 'gcs']);
    assert.deepEqual(byTarget['local'].bytes, { local: localBytes });
    assert.equal(byTarget['local'].monthlyDollars, Math.round((localBytes / GIB) * 0.1 * 10_000) / 10_000);
    const text = await warden.run(['cost']);
    assert.match(text.stdout, /^TARGET +STORED +PER MONTH +ONE FULL RESTORE/m);
    assert.match(text.stdout, /total per month: \$\d/);
  });

  it('retention keeps cloud copies 90 days and local ones 30: expired copies go from every target that is past its period, and the catalog says so', async (t) => {
    const sourceUrl = await cluster().createDatabase('mt_retention');
    await loadFixture(sourceUrl, 'awkward');
    const c = await cloud(t);
    const warden = await setupWarden(t, cluster(), { databases: [{ name: 'awkward', url: sourceUrl }], storageTargets: c.storageTargets });
    // Backups taken "days ago" through an injected clock: their ids, manifests and catalog rows carry that age.
    let offsetDays = 0;
    const now = () => new Date(Date.now() - offsetDays * 86_400_000);
    const app = await openPgwarden(await loadConfig(warden.configPath), { logger: pino({ level: 'silent' }), now });
    t.after(() => app.close());
    const ids: Record<number, string> = {};
    for (const age of [95, 60, 1]) {
      offsetDays = age;
      const result = await runFullBackup(app, app.config.databases[0]!);
      assert.equal(result.status, 'succeeded', result.error ?? '');
      ids[age] = result.backup_id;
    }
    offsetDays = 0;
    const report = await runCleanup(cleanupContextFor(app, createWalAccess(app, { configPath: warden.configPath })), { databases: ['awkward'], dryRun: false, actor: 'cli:test' });
    assert.equal(report.ok, true, JSON.stringify(report.failures));

    const has = (keys: string[], id: string) => keys.some((k) => k.includes(id));
    const local = await warden.storageFiles();
    for (const [label, keys] of [
      ['local', local],
      ['s3', await c.keys('primary')],
      ['s3-replica', await c.keys('replica')],
      ['gcs', c.gcsKeys()],
    ] as const) {
      assert.equal(has(keys, ids[95]!), false, `${label}: the 95-day backup is past every period`);
      assert.equal(has(keys, ids[1]!), true, `${label}: the newest backup stays`);
      assert.equal(has(keys, ids[60]!), label !== 'local', `${label}: the 60-day backup is past 30 days locally, inside 90 in the cloud`);
    }
    const rows = await warden.query<{ backup_id: string; status: string; storage: Record<string, CatalogCopy> }>('SELECT backup_id, status, storage FROM pgwarden.database_backups ORDER BY backup_id');
    const byId = Object.fromEntries(rows.map((r) => [r.backup_id, r]));
    assert.equal(byId[ids[95]!]!.status, 'expired');
    assert.deepEqual(Object.values(byId[ids[95]!]!.storage).map((x) => x.status), ['removed', 'removed', 'removed', 'removed']);
    assert.equal(byId[ids[60]!]!.status, 'succeeded', 'still held by the cloud targets');
    assert.deepEqual(
      Object.fromEntries(Object.entries(byId[ids[60]!]!.storage).map(([k, v]) => [k, v.status])),
      { local: 'removed', s3: 'stored', 's3-replica': 'stored', gcs: 'stored' },
    );
    // A restore of the 60-day backup now reads a cloud copy.
    const target = await cluster().createDatabase('mt_retention_restored');
    const restore = await warden.run(['restore', ids[60]!, '--target-url', target]);
    assert.equal(restore.code, 0, restore.stderr);
  });
});
