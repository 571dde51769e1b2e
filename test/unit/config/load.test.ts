// loadConfig reads a file: missing files, paths relative to the file, the file named in errors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pgwarden-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MINIMAL = `catalog: { url: "postgres://pgwarden@db1/pgwarden" }
databases: [ { name: a, url: "postgres://db1/a" } ]
storage: { local: { path: ./backups } }
`;

test('a missing config file is a ConfigError naming the file, with a hint about --config and PGWARDEN_CONFIG', async () => {
  const file = join(dir, 'nope.yml');
  await assert.rejects(loadConfig(file, {}), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, `config file ${file} not found`);
    assert.equal(error.exitCode, 2);
    assert.match(error.hints.join('\n'), /--config/);
    assert.match(error.hints.join('\n'), /PGWARDEN_CONFIG/);
    return true;
  });
});

test('a config path that is a directory is a ConfigError', async () => {
  await assert.rejects(loadConfig(dir, {}), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, `config file ${dir} cannot be read (is a directory)`);
    return true;
  });
});

test('relative paths in the file are resolved from its directory, not the working directory', async () => {
  const file = join(dir, 'relative.yml');
  writeFileSync(join(dir, 'slack-token'), 'xoxb-token\n');
  writeFileSync(file, `${MINIMAL}channels: { slack: { token_FILE: ./slack-token, channel: "#db" } }\n`);
  const config = await loadConfig(file, {});
  assert.equal(config.storage.local?.path, join(dir, 'backups'));
  assert.equal(config.channels.slack?.token, 'xoxb-token');
});

test('the environment passed in is the one interpolated', async () => {
  const file = join(dir, 'env.yml');
  // biome-ignore lint/suspicious/noTemplateCurlyInString: config text holding a ${VAR} reference
  writeFileSync(file, MINIMAL.replace('postgres://pgwarden@db1/pgwarden', '${CATALOG_URL}'));
  const config = await loadConfig(file, { CATALOG_URL: 'postgres://pgwarden@db7/pgwarden' });
  assert.equal(config.catalog.url, 'postgres://pgwarden@db7/pgwarden');
});

test('an invalid file is named in the error message', async () => {
  const file = join(dir, 'invalid.yml');
  writeFileSync(file, `${MINIMAL}backup: { jobs: 0 }\n`);
  await assert.rejects(loadConfig(file, {}), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message, `config file ${file} is invalid\n  backup.jobs: must be an integer from 1 to 64`);
    return true;
  });
});
