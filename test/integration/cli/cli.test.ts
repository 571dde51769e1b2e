// The command line as an operator meets it: exit codes, messages for bad config and usage, no stack traces,
// secrets never printed, and the least-privilege role from `sql backup-role` really able to back up.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { clusterForSuite, fingerprintDiff, loadFixture, tableFingerprints } from '../../helpers/postgres.js';
import { printedIds, runCli, setupWarden } from '../../helpers/pgwarden.js';
import { startRecorder } from '../../helpers/recorder.js';

describe('pgwarden CLI', () => {
  const pg1 = clusterForSuite({ hbaLines: ['host all pgwarden_backup 127.0.0.1/32 scram-sha-256'] });

  it('exits 2 with the field and the problem for a bad config, and no stack trace', async (t) => {
    const warden = await setupWarden(t, pg1(), { databases: [{ name: 'x', url: pg1().url() }] });
    const cases: [string, RegExp][] = [
      ['catalog: { url: "postgres://h/c" }\ndatabases: []\nstorage: { local: { path: /tmp } }\n', /databases: /],
      ['catalog: { url: "postgres://h/c" }\ndatabases: [ { name: a } ]\nstorage: { local: { path: /tmp } }\n', /databases\[0\]\.url: required/],
      ['catalog: { url: "postgres://h/c" }\ndatabases: [ { name: a, url: "postgres://h/a" } ]\nstorage: { local: { path: /tmp } }\nrentention: { fullDays: 3 }\n', /rentention: unknown key \(did you mean "retention"\?\)/],
      ['catalog: { url: "postgres://h/c" }\ndatabases: [ { name: a, url: "postgres://h/a" } ]\nstorage: { local: { path: /tmp } }\nbackup: { compressionLevel: 20 }\n', /backup\.compressionLevel: /],
      ['catalog: [\n', /line \d+/],
    ];
    for (const [text, pattern] of cases) {
      await writeFile(warden.configPath, text);
      for (const args of [['config', 'check'], ['backup', 'full'], ['list']]) {
        const result = await warden.run(args);
        assert.equal(result.code, 2, `${args.join(' ')} with ${JSON.stringify(text)}: ${result.stderr}`);
        assert.match(result.stderr, pattern);
        assert.doesNotMatch(result.stderr, /\n\s+at /);
        assert.equal(result.stdout, '');
      }
    }
    const missing = await runCli(['--config', join(warden.dir, 'nope.yml'), 'list']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /config file .*nope\.yml not found/);
    const none = await runCli(['list'], { env: { PGWARDEN_CONFIG: '' } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no config file given\nHINT: pass --config FILE or set PGWARDEN_CONFIG/);
  });

  it('exits 2 for bad usage', async () => {
    for (const args of [['bogus'], ['backup'], ['restore', 'x'], ['list', '--limit', 'zero'], ['backup', 'weekly', '--config', '/dev/null']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.doesNotMatch(result.stderr, /\n\s+at /);
    }
  });

  it('config check prints the config with every secret hidden', async (t) => {
    const warden = await setupWarden(t, pg1(), { databases: [{ name: 'x', url: 'postgres://u:supersecretpw@127.0.0.1:5/x' }], encrypt: true });
    const result = await warden.run(['config', 'check', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.includes('supersecretpw'), false);
    assert.equal(result.stdout.includes(warden.key), false);
    const printed = JSON.parse(result.stdout);
    assert.equal(printed.databases[0].url, 'postgres://u:***@127.0.0.1:5/x');
    assert.equal(printed.encryption.keys[0].key, '***');
    assert.equal(printed.retention.fullDays, 30);
  });

  it('backs up as the least-privilege role that `sql backup-role` creates', async (t) => {
    const sourceUrl = await pg1().createDatabase('guarded_hotel');
    await loadFixture(sourceUrl, 'awkward');
    const warden = await setupWarden(t, pg1(), { databases: [{ name: 'guarded_hotel', url: sourceUrl }] });
    const sql = await warden.run(['sql', 'backup-role']);
    assert.equal(sql.code, 0, sql.stderr);
    assert.match(sql.stdout, /GRANT pg_read_all_data TO "pgwarden_backup";/);
    assert.match(sql.stdout, /GRANT CONNECT ON DATABASE "guarded_hotel" TO "pgwarden_backup";/);

    const client = new pg.Client({ connectionString: sourceUrl });
    await client.connect();
    try {
      await client.query(sql.stdout);
      await client.query("ALTER ROLE pgwarden_backup PASSWORD 'backup-pass'");
    } finally {
      await client.end();
    }
    const roleUrl = sourceUrl.replace('postgres@', 'pgwarden_backup:backup-pass@');
    await warden.writeConfig({ databases: [{ name: 'guarded_hotel', url: roleUrl }] });
    const backup = await warden.run(['backup', 'full']);
    assert.equal(backup.code, 0, backup.stderr);
    const [id] = printedIds(backup);
    const targetUrl = await pg1().createDatabase('guarded_hotel_restored');
    const restore = await warden.run(['restore', id!, '--target-url', targetUrl]);
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(fingerprintDiff(await tableFingerprints(sourceUrl), await tableFingerprints(targetUrl)), []);
  });
  it('alert test sends one message through a configured channel and names an unconfigured one', async (t) => {
    const slack = await startRecorder(t, { default: { status: 200, body: { ok: true, channel: 'C1', ts: '1.2' } } });
    const warden = await setupWarden(t, pg1(), {
      databases: [{ name: 'x', url: pg1().url() }],
      extra: `channels: { slack: { token: xoxb-cli-test, channel: "#db", apiUrl: "${slack.url}/api/" } }`,
    });
    const sent = await warden.run(['alert', 'test', '--channel', 'slack']);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /test message sent through slack/);
    assert.equal(slack.requests.length, 1);
    assert.equal(slack.requests[0]!.bearer, 'xoxb-cli-test');
    assert.equal(slack.requests[0]!.path, '/api/chat.postMessage');
    const missing = await warden.run(['alert', 'test', '--channel', 'sms']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /channel sms is not configured/);
    const rows = await warden.query<{ channel: string; kind: string; result: string }>('SELECT channel, kind, result FROM pgwarden.alert_notifications');
    assert.deepEqual(rows.map((r) => `${r.channel}:${r.kind}:${r.result}`), ['slack:test:sent']);
  });
});
