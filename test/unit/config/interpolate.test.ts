// `${VAR}`, `${VAR:-default}`, `$${` escapes, `VAR_FILE` and `key_FILE` keys.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are config text holding ${VAR} references
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pgwarden-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const withCatalog = (catalogUrl: string, extra = '') =>
  `catalog: { url: "${catalogUrl}" }\ndatabases: [ { name: a, url: "postgres://h/a" } ]\nstorage: { local: { path: /b } }\n${extra}`;

function problems(text: string, env: NodeJS.ProcessEnv): string[] {
  try {
    parseConfig(text, { env, baseDir: dir });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('the config was accepted');
}

test('${VAR} is replaced inside a larger string', () => {
  const config = parseConfig(withCatalog('postgres://pgwarden:${PGPASS}@${PGHOST}:5432/pgwarden'), {
    env: { PGPASS: 's3cret', PGHOST: 'db1' },
  });
  assert.equal(config.catalog.url, 'postgres://pgwarden:s3cret@db1:5432/pgwarden');
});

test('${VAR:-default} uses the default when VAR is unset or empty, and VAR when set', () => {
  const text = withCatalog('postgres://${PGHOST:-localhost}/pgwarden');
  assert.equal(parseConfig(text, { env: {} }).catalog.url, 'postgres://localhost/pgwarden');
  assert.equal(parseConfig(text, { env: { PGHOST: '' } }).catalog.url, 'postgres://localhost/pgwarden');
  assert.equal(parseConfig(text, { env: { PGHOST: 'db9' } }).catalog.url, 'postgres://db9/pgwarden');
});

test('an empty default is allowed', () => {
  const config = parseConfig(withCatalog('postgres://db1/pgwarden${SUFFIX:-}'), { env: {} });
  assert.equal(config.catalog.url, 'postgres://db1/pgwarden');
});

test('$${ escapes a literal ${', () => {
  const text = withCatalog('postgres://db1/pgwarden', 'channels: { slack: { token: "xoxb-$${not-a-var}", channel: "$${HOME}" } }\n');
  const config = parseConfig(text, { env: { HOME: '/root' } });
  assert.equal(config.channels.slack?.token, 'xoxb-${not-a-var}');
  assert.equal(config.channels.slack?.channel, '${HOME}');
});

test('an unset VAR is read from the file named by VAR_FILE, without its trailing newline', () => {
  const file = join(dir, 'pg-url');
  writeFileSync(file, 'postgres://pgwarden:from-file@db1/pgwarden\n');
  const config = parseConfig(withCatalog('${PG_URL}'), { env: { PG_URL_FILE: file } });
  assert.equal(config.catalog.url, 'postgres://pgwarden:from-file@db1/pgwarden');
});

test('VAR wins over VAR_FILE when both are set', () => {
  const config = parseConfig(withCatalog('${PG_URL}'), { env: { PG_URL: 'postgres://env/db', PG_URL_FILE: join(dir, 'missing') } });
  assert.equal(config.catalog.url, 'postgres://env/db');
});

test('a VAR_FILE that cannot be read is reported on the field', () => {
  const missing = join(dir, 'no-such-file');
  assert.deepEqual(problems(withCatalog('${PG_URL}'), { PG_URL_FILE: missing }), [`catalog.url: PG_URL_FILE: cannot read ${missing} (not found)`]);
});

test('a key ending in _FILE is replaced by the key without the suffix, holding the file contents', () => {
  writeFileSync(join(dir, 'smtp'), 'smtp-password-from-file\r\n');
  writeFileSync(join(dir, 'slack'), 'xoxb-from-file');
  const text = withCatalog(
    'postgres://db1/pgwarden',
    `channels:
  email: { host: smtp, user: alerts, password_FILE: ${join(dir, 'smtp')}, from: a@example.com, to: [b@example.com] }
  slack: { token_FILE: slack, channel: "#db" }
`,
  );
  const config = parseConfig(text, { env: {}, baseDir: dir });
  assert.equal(config.channels.email?.password, 'smtp-password-from-file');
  assert.equal(config.channels.slack?.token, 'xoxb-from-file');
  assert.equal('password_FILE' in (config.channels.email ?? {}), false);
});

test('a _FILE key path may itself use ${VAR}', () => {
  writeFileSync(join(dir, 'pd'), 'pd-key-from-file\n');
  const text = withCatalog('postgres://db1/pgwarden', 'channels: { pagerduty: { routingKey_FILE: "${SECRETS}/pd" } }\n');
  const config = parseConfig(text, { env: { SECRETS: dir } });
  assert.equal(config.channels.pagerduty?.routingKey, 'pd-key-from-file');
});

test('a _FILE key whose file is missing names the _FILE field and the path, and nothing else', () => {
  const text = withCatalog('postgres://db1/pgwarden', 'channels: { slack: { token_FILE: /run/secrets/slack, channel: "#db" } }\n');
  assert.deepEqual(problems(text, {}), ['channels.slack.token_FILE: cannot read /run/secrets/slack (not found)']);
});

test('setting both a key and its _FILE variant is an error', () => {
  const text = withCatalog('postgres://db1/pgwarden', 'channels: { slack: { token: xoxb-inline, token_FILE: /run/secrets/slack, channel: "#db" } }\n');
  assert.deepEqual(problems(text, {}), ['channels.slack.token: set either token or token_FILE, not both']);
});

test('malformed references are errors, not literal text', () => {
  assert.deepEqual(problems(withCatalog('postgres://${PG HOST}/db'), {}), [
    'catalog.url: invalid reference "${PG HOST}" (expected ${NAME} or ${NAME:-default})',
  ]);
  assert.deepEqual(problems(withCatalog('postgres://${PGHOST/db'), {}), ['catalog.url: unterminated "${" (write "$${" for a literal "${")']);
});

test('unset variables in several fields are all reported', () => {
  const text = withCatalog('${CATALOG_URL}', 'server: { tokens: [ { name: ops, token: "${OPS_TOKEN}" }, { name: ci, token: "${CI_TOKEN}" } ] }\n');
  assert.deepEqual(problems(text, { OPS_TOKEN: 'ops-token-0123456789' }), [
    'catalog.url: environment variable CATALOG_URL is not set',
    'server.tokens[1].token: environment variable CI_TOKEN is not set',
  ]);
});

test('a value set to an empty string by the environment is reported as empty', () => {
  assert.deepEqual(problems(withCatalog('${PG_URL}'), { PG_URL: '' }), ['catalog.url: must not be empty']);
});

test('the environment is not interpolated twice: a value containing ${ stays as it is', () => {
  const text = withCatalog('postgres://db1/pgwarden', 'channels: { slack: { token: "${SLACK_TOKEN}", channel: "#db" } }\n');
  const config = parseConfig(text, { env: { SLACK_TOKEN: 'xoxb-${HOME}' } });
  assert.equal(config.channels.slack?.token, 'xoxb-${HOME}');
});
