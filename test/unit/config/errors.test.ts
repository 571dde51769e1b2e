// Malformed configs: each is rejected with a ConfigError (exit code 2) whose problems name the field
// and say what is wrong, one line per problem, all at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';

const CATALOG = 'catalog: { url: "postgres://pgwarden@db1:5432/pgwarden" }\n';
const DATABASES = 'databases:\n  - name: hotel_extranet\n    url: "postgres://backup_user@db1:5432/hotel_extranet"\n';
const STORAGE = 'storage:\n  local: { path: /backups }\n';
const MINIMAL = CATALOG + DATABASES + STORAGE;
const KEY_32 = Buffer.alloc(32, 1).toString('base64');

function rejection(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfig(text, { env, baseDir: '/etc/pgwarden' });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    assert.doesNotMatch(error.message, /\n\s+at /, 'no stack trace in the message');
    return error;
  }
  assert.fail('the config was accepted');
}

const problems = (text: string, env: NodeJS.ProcessEnv = {}) => rejection(text, env).problems;

test('a missing catalog is reported as required', () => {
  assert.deepEqual(problems(DATABASES + STORAGE), ['catalog: required']);
});

test('a database without a url names databases[0].url', () => {
  assert.deepEqual(problems(`${CATALOG}databases:\n  - name: a\n${STORAGE}`), ['databases[0].url: required']);
});

test('a non-postgres URL scheme is rejected, naming the scheme', () => {
  assert.deepEqual(problems(MINIMAL.replace('postgres://pgwarden@db1', 'mysql://pgwarden@db1')), [
    'catalog.url: must be a postgres:// or postgresql:// URL, not mysql://',
  ]);
});

test('a database url that is not a URL at all is rejected', () => {
  for (const url of ['db1:5432/hotel', 'hotel']) {
    assert.deepEqual(problems(MINIMAL.replace('"postgres://backup_user@db1:5432/hotel_extranet"', url)), [
      'databases[0].url: must be a postgres:// or postgresql:// URL',
    ]);
  }
});

test('two databases with the same name are rejected on the second', () => {
  const text = `${CATALOG}databases:\n  - { name: a, url: "postgres://h/a" }\n  - { name: b, url: "postgres://h/b" }\n  - { name: a, url: "postgres://h/c" }\n${STORAGE}`;
  assert.deepEqual(problems(text), ['databases[2].name: duplicate database name "a" (first used at index 0)']);
});

test('a database name that is not a safe storage path segment is rejected', () => {
  const expected = 'must start with a letter, digit or "_" and hold only letters, digits, "_", "." and "-" (it names a storage folder)';
  for (const name of ['../etc', 'a/b', '.hidden', 'with space']) {
    const text = `${CATALOG}databases:\n  - { name: "${name}", url: "postgres://h/a" }\n${STORAGE}`;
    assert.deepEqual(problems(text), [`databases[0].name: ${expected}`], name);
  }
});

test('an unknown top-level key suggests the key that was meant', () => {
  assert.deepEqual(problems(`${MINIMAL}rentention: { fullDays: 10 }\n`), ['rentention: unknown key (did you mean "retention"?)']);
});

test('an unknown nested key suggests the key that was meant', () => {
  assert.deepEqual(problems(`${MINIMAL}retention: { fullDay: 10 }\n`), ['retention.fullDay: unknown key (did you mean "fullDays"?)']);
  assert.deepEqual(problems(`${MINIMAL}  s3: { bukcet: b, region: r }\n`), [
    'storage.s3.bucket: required',
    'storage.s3.bukcet: unknown key (did you mean "bucket"?)',
  ]);
  assert.deepEqual(problems(`${CATALOG}databases:\n  - { name: a, url: "postgres://h/a", replicationURL: "postgres://h/a" }\n${STORAGE}`), [
    'databases[0].replicationURL: unknown key (did you mean "replicationUrl"?)',
  ]);
});

test('an unknown key with no close match lists the allowed keys', () => {
  assert.deepEqual(problems(`${MINIMAL}retention: { weeks: 4 }\n`), [
    'retention.weeks: unknown key (allowed: fullDays, incrementalDays, cloudDays, keepLast)',
  ]);
});

test('a negative or fractional retention is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}retention: { fullDays: -1, cloudDays: 1.5, keepLast: 0 }\n`), [
    'retention.fullDays: must be a positive integer',
    'retention.cloudDays: must be a positive integer',
    'retention.keepLast: must be a positive integer',
  ]);
});

test('compressionLevel 12 is out of range for gzip, though zstd takes it', () => {
  assert.deepEqual(problems(`${MINIMAL}backup: { compression: gzip, compressionLevel: 12 }\n`), ['backup.compressionLevel: must be 0 to 9 for gzip']);
  assert.equal(parseConfig(`${MINIMAL}backup: { compressionLevel: 12 }\n`, { env: {} }).backup.compressionLevel, 12);
  assert.deepEqual(problems(`${MINIMAL}backup: { compressionLevel: 20 }\n`), ['backup.compressionLevel: must be an integer from 0 to 19']);
});

test("a database's compression level is checked against its own algorithm, or the global one it inherits", () => {
  const db = (extra: string) => `${CATALOG}${DATABASES}${extra}${STORAGE}`;
  assert.deepEqual(problems(db('    compression: lz4\n    compressionLevel: 15\n')), ['databases[0].compressionLevel: must be 1 to 12 for lz4']);
  assert.deepEqual(problems(db('    compressionLevel: 0\n')), ['databases[0].compressionLevel: must be 1 to 19 for zstd']);
  assert.equal(parseConfig(`${db('    compressionLevel: 0\n')}backup: { compression: gzip }\n`, { env: {} }).databases[0]!.compressionLevel, 0);
});

test('jobs 0 is out of range', () => {
  assert.deepEqual(problems(`${MINIMAL}backup: { jobs: 0 }\n`), ['backup.jobs: must be an integer from 1 to 64']);
});

test('an unknown compression is rejected, listing the choices', () => {
  assert.deepEqual(problems(`${MINIMAL}backup: { compression: brotli }\n`), ['backup.compression: must be one of zstd, gzip, lz4, none (got "brotli")']);
});

test('a cron expression with the wrong number of fields is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}schedules: { full: "0 2 * *" }\n`), [
    'schedules.full: invalid cron expression "0 2 * *": expected 5 or 6 fields, got 4',
  ]);
});

test('a cron expression with an out-of-range or garbled field is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}schedules: { base: "0 25 * * *", cleanup: "0 3 * * x?" }\n`), [
    'schedules.base: invalid cron expression "0 25 * * *": hour field "25": 25 is outside 0-23',
    'schedules.cleanup: invalid cron expression "0 3 * * x?": day of week field "x?" is not made of numbers, names, "*", "/", "," and "-"',
  ]);
});

test('an unknown time zone is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}schedules: { timezone: Mars/Olympus_Mons }\n`), [
    'schedules.timezone: unknown time zone "Mars/Olympus_Mons" (use an IANA name such as UTC or Europe/Paris)',
  ]);
});

test('an encryption key that is not base64 is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}encryption: { keys: [ { id: k1, key: "not base64!" } ] }\n`), [
    'encryption.keys[0].key: must be base64 of 32 bytes (not valid base64)',
  ]);
});

test('an encryption key of the wrong length says what it decodes to', () => {
  const key16 = Buffer.alloc(16, 9).toString('base64');
  assert.deepEqual(problems(`${MINIMAL}encryption: { keys: [ { id: k1, key: "${key16}" } ] }\n`), [
    'encryption.keys[0].key: must be base64 of 32 bytes (decodes to 16)',
  ]);
});

test('duplicate encryption key ids and bad ids are rejected', () => {
  const text = `${MINIMAL}encryption:\n  keys:\n    - { id: k1, key: "${KEY_32}" }\n    - { id: k1, key: "${KEY_32}" }\n    - { id: "k 2", key: "${KEY_32}" }\n`;
  assert.deepEqual(problems(text), [
    'encryption.keys[2].id: must be 1 to 64 letters, digits, "_", "." or "-"',
    'encryption.keys[1].id: duplicate key id "k1" (first used at index 0)',
  ]);
});

test('an encryption section with no keys is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}encryption: { keys: [] }\n`), ['encryption.keys: must list at least one key']);
});

test('an encryption section needs keys, kms or both', () => {
  assert.deepEqual(problems(`${MINIMAL}encryption: {}\n`), ['encryption: set keys, kms, or both']);
});

test('encryption.kms needs a key and a region, and both halves of a key pair', () => {
  assert.deepEqual(problems(`${MINIMAL}encryption: { kms: { keyId: alias/backups } }\n`), ['encryption.kms.region: required']);
  assert.deepEqual(problems(`${MINIMAL}encryption: { kms: { keyId: alias/backups, region: us-east-1, accessKeyId: AKIA1 } }\n`), [
    'encryption.kms.secretAccessKey: required when accessKeyId is set',
  ]);
  assert.deepEqual(problems(`${MINIMAL}encryption: { kms: { keyId: k, region: r, endpoint: "ftp://kms", timeoutSeconds: 0 } }\n`).length, 2);
});

test('an unset environment variable names the field and the variable', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: config text holding a ${VAR} reference
  const text = MINIMAL.replace('"postgres://pgwarden@db1:5432/pgwarden"', '"${PG_URL}"');
  const error = rejection(text);
  assert.deepEqual(error.problems, ['catalog.url: environment variable PG_URL is not set']);
  assert.match(error.hints[0] ?? '', /PG_URL|NAME_FILE/);
});

test('a storage section with no target is rejected', () => {
  assert.deepEqual(problems(`${CATALOG}${DATABASES}storage: { prefix: backups }\n`), [
    'storage: configure at least one target (local, s3 or gcs)',
  ]);
});

test('a missing storage section is required', () => {
  assert.deepEqual(problems(CATALOG + DATABASES), ['storage: required']);
});

test('a storage prefix with a leading slash or ".." is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}  prefix: /backups/\n`), ['storage.prefix: must not start or end with "/"']);
  assert.deepEqual(problems(`${MINIMAL}  prefix: a/../b\n`), ['storage.prefix: must not contain ".", ".." or empty segments']);
});

test('half an S3 key pair is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}  s3: { bucket: b, region: r, accessKeyId: AKIAEXAMPLE }\n`), [
    'storage.s3.secretAccessKey: required when accessKeyId is set',
  ]);
});

test('an sms accountSid that does not start with AC is rejected', () => {
  const text = `${MINIMAL}channels:\n  sms: { accountSid: SK123, authToken: twilio-token, from: "+15550000000", to: ["+15551111111"] }\n`;
  assert.deepEqual(problems(text), ['channels.sms.accountSid: must start with "AC" (a Twilio account SID)']);
});

test('an email channel without recipients is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}channels:\n  email: { host: smtp, from: a@example.com, to: [] }\n`), [
    'channels.email.to: must list at least one recipient',
  ]);
});

test('an unknown alert channel in a route is rejected, listing the channels', () => {
  assert.deepEqual(problems(`${MINIMAL}alerts: { routes: { critical: [pagerduty, pager] } }\n`), [
    'alerts.routes.critical[1]: must be one of email, slack, pagerduty, sms (got "pager")',
  ]);
});

test('a repeat interval that is not a duration is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}alerts: { repeatInterval: 4 hours }\n`), [
    'alerts.repeatInterval: must be a duration such as "4h", "30m" or "90s", not "4 hours"',
  ]);
  assert.deepEqual(problems(`${MINIMAL}alerts: { repeatInterval: 0s }\n`), [
    'alerts.repeatInterval: must be a duration such as "4h", "30m" or "90s", not "0s"',
  ]);
});

test('an API token shorter than 16 characters is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}server: { tokens: [ { name: ops, token: short } ] }\n`), [
    'server.tokens[0].token: must be at least 16 characters',
  ]);
});

test('a port that is not a number is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}server: { port: http }\n`), ['server.port: must be an integer from 0 to 65535']);
  assert.deepEqual(problems(`${MINIMAL}server: { port: 70000 }\n`), ['server.port: must be an integer from 0 to 65535']);
});

test('pitr must be true or false', () => {
  assert.deepEqual(problems(`${CATALOG}databases:\n  - { name: a, url: "postgres://h/a", pitr: yes }\n${STORAGE}`), [
    'databases[0].pitr: must be true or false',
  ]);
});

test('an unknown log level is rejected', () => {
  assert.deepEqual(problems(`${MINIMAL}logLevel: verbose\n`), ['logLevel: must be one of fatal, error, warn, info, debug, trace (got "verbose")']);
});

test('a list where a mapping is expected, and the reverse, name both types', () => {
  assert.deepEqual(problems(`${CATALOG}databases: foo\n${STORAGE}`), ['databases: expected a list, got a string']);
  assert.deepEqual(problems(`${MINIMAL}retention: [30]\n`), ['retention: expected a mapping, got a list']);
  assert.deepEqual(problems(`${CATALOG}databases: []\n${STORAGE}`), ['databases: must list at least one database']);
});

test('a YAML syntax error names the line and column', () => {
  const error = rejection(`${CATALOG}databases: [ { name: a, url: "postgres://h/a" }\n${STORAGE}`);
  assert.equal(error.message.split('\n')[0], 'config is not valid YAML');
  assert.deepEqual(error.problems, ['line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]']);
});

test('a duplicated YAML key is an error on its line', () => {
  assert.deepEqual(problems(`${MINIMAL}logLevel: info\nlogLevel: debug\n`), ['line 8, column 1: Map keys must be unique']);
});

test('an unquoted cron expression is a YAML error with a hint to quote it', () => {
  const error = rejection(`${MINIMAL}schedules:\n  healthCheck: */15 * * * *\n`);
  assert.deepEqual(error.problems, ['line 8, column 21: Unexpected alias at node end']);
  assert.match(error.hints.join('\n'), /quote/);
});

test('an empty file says it is empty and lists what is required', () => {
  for (const text of ['', '# only a comment\n']) {
    const error = rejection(text);
    assert.equal(error.message.split('\n')[0], 'config is empty');
    assert.deepEqual(error.problems, ['catalog: required', 'databases: required', 'storage: required']);
  }
});

test('a file that is not a mapping is rejected at the root', () => {
  assert.deepEqual(problems('- catalog\n- databases\n'), ['(root): expected a mapping, got a list']);
});

test('every problem is reported at once, one line each', () => {
  const text = `${CATALOG.replace('postgres:', 'http:')}databases:\n  - { name: a }\n  - { name: a, url: "postgres://h/a" }\nstorage: {}\nbackup: { jobs: 0, compressionLevel: 20 }\nrentention: {}\n`;
  const error = rejection(text);
  assert.deepEqual(error.problems, [
    'catalog.url: must be a postgres:// or postgresql:// URL, not http://',
    'databases[0].url: required',
    'databases[1].name: duplicate database name "a" (first used at index 0)',
    'storage: configure at least one target (local, s3 or gcs)',
    'backup.compressionLevel: must be an integer from 0 to 19',
    'backup.jobs: must be an integer from 1 to 64',
    'rentention: unknown key (did you mean "retention"?)',
  ]);
  assert.equal(error.message, ['config is invalid', ...error.problems.map((line) => `  ${line}`)].join('\n'));
});

test('the source is named in the message', () => {
  try {
    parseConfig('logLevel: loud\n', { env: {}, source: '/etc/pgwarden/pgwarden.yml' });
    assert.fail('accepted');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.message.split('\n')[0], 'config file /etc/pgwarden/pgwarden.yml is invalid');
  }
});
