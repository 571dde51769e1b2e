// The catalog schema: migrations are idempotent and safe to run concurrently, a catalog newer than the code
// is refused, and check_backup_health() reports what the alert rules will.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { loadMigrations, migrateCatalog } from '../../../src/catalog/migrate.js';
import { clusterForSuite } from '../../helpers/postgres.js';
import { printedIds, setupWarden } from '../../helpers/pgwarden.js';

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

describe('catalog', () => {
  const cluster = clusterForSuite();

  it('migrates once, is idempotent, and survives two processes migrating at the same time', async (t) => {
    const warden = await setupWarden(t, cluster(), { databases: [{ name: 'x', url: cluster().url() }] });
    const [a, b] = await Promise.all([warden.run(['catalog', 'migrate']), warden.run(['catalog', 'migrate'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const migrations = await loadMigrations();
    const latest = migrations.at(-1)!.version;
    const outputs = [a.stdout, b.stdout].sort();
    assert.equal(outputs[0], `applied ${migrations.map((m) => m.name).join(', ')}; catalog at version ${latest}\n`);
    assert.equal(outputs[1], `catalog is up to date (version ${latest})\n`);
    const again = await warden.run(['catalog', 'migrate']);
    assert.match(again.stdout, /up to date/);
    const tables = await warden.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'pgwarden' ORDER BY 1",
    );
    const names = tables.map((r) => r.table_name);
    for (const table of ['alert_events', 'alert_notifications', 'alert_silences', 'backup_access_logs', 'backup_logs', 'database_backups', 'job_runs', 'schema_migrations']) {
      assert.ok(names.includes(table), `table pgwarden.${table} is missing (have ${names.join(', ')})`);
    }
  });

  it('refuses a catalog migrated by a newer pgwarden', async (t) => {
    const warden = await setupWarden(t, cluster(), { databases: [{ name: 'x', url: cluster().url() }] });
    const c = await client(warden.catalogUrl);
    try {
      await migrateCatalog(c, await loadMigrations());
      await c.query("INSERT INTO pgwarden.schema_migrations (version, name) VALUES (999, '0999_future')");
    } finally {
      await c.end();
    }
    const result = await warden.run(['list']);
    assert.equal(result.code, 1);
    const latest = (await loadMigrations()).at(-1)!.version;
    assert.match(result.stderr, new RegExp(`the catalog schema is at version 999, newer than this pgwarden knows \\(${latest}\\)\nHINT: upgrade pgwarden`));
  });

  it('check_backup_health() and `pgwarden health` report age, failures and size drops per database', async (t) => {
    const url = await cluster().createDatabase('health_db');
    await cluster().query('CREATE TABLE t AS SELECT i, md5(i::text) AS v FROM generate_series(1, 50000) i', [], 'health_db');
    const warden = await setupWarden(t, cluster(), { databases: [{ name: 'health_db', url }] });
    const ok = await warden.run(['backup', 'full']);
    assert.equal(ok.code, 0, ok.stderr);
    const healthy = await warden.run(['health', '--json']);
    assert.equal(healthy.code, 0, healthy.stderr);
    const rows = JSON.parse(healthy.stdout) as { database: string; check: string; status: string; detail: string }[];
    assert.deepEqual(rows.map((r) => [r.check, r.status]), [['full_backup_age', 'ok'], ['last_full_run', 'ok'], ['size_ratio', 'ok'], ['verification', 'ok']]);

    // Shrink the data: the next backup is far below the median of the previous ones.
    await cluster().query('TRUNCATE t', [], 'health_db');
    const small = await warden.run(['backup', 'full']);
    assert.equal(small.code, 0, small.stderr);
    // Make the database unreachable: the last run fails.
    await warden.writeConfig({ databases: [{ name: 'health_db', url: 'postgres://postgres@127.0.0.1:1/health_db' }] });
    const failed = await warden.run(['backup', 'full']);
    assert.equal(failed.code, 1);
    await warden.query("UPDATE pgwarden.database_backups SET finished_at = finished_at - interval '25 hours' WHERE status = 'succeeded'");

    const sick = await warden.run(['health']);
    assert.equal(sick.code, 1);
    assert.match(sick.stdout, /health_db\s+full_backup_age\s+critical\s+last successful full backup .* finished 1 day 0?1:00:\d\d ago/);
    assert.match(sick.stdout, /health_db\s+last_full_run\s+critical\s+backup .* failed: cannot connect to database "health_db"/);
    assert.match(sick.stdout, /health_db\s+size_ratio\s+warning\s+last full backup is 0\.\d+ of the median of the last 7/);

    // The runbook's form: search_path set, the function called by name.
    const c = await client(warden.catalogUrl);
    try {
      await c.query('SET search_path TO pgwarden');
      const { rows: fromSql } = await c.query('SELECT * FROM check_backup_health() WHERE status <> $1 ORDER BY check_name', ['ok']);
      assert.deepEqual(fromSql.map((r) => [r.check_name, r.status]), [['full_backup_age', 'critical'], ['last_full_run', 'critical'], ['size_ratio', 'warning']]);
    } finally {
      await c.end();
    }
    assert.equal(printedIds(ok).length, 1);
  });
});
