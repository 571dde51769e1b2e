// Secrets never show: not in redacted output, not in error messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig, redactConfig, redactUrl, secretValues } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';

const SECRETS = {
  CATALOG_PASSWORD: 'catalog-pw-Zq81',
  DB_PASSWORD: 'p@ss/w:rd%x', // needs percent-encoding inside a URL
  REPLICATION_PASSWORD: 'replication-pw-77',
  STANDBY_PASSWORD: 'standby-pw-42',
  KEY: Buffer.alloc(32, 3).toString('base64'),
  OLD_KEY: Buffer.alloc(32, 4).toString('base64'),
  API_TOKEN: 'api-token-0123456789abcdef',
  METRICS_PASSWORD: 'metrics-pw-31',
  S3_SECRET: 's3-secret-access-key-xyz',
  KMS_SECRET: 'kms-secret-access-key-abc',
  SMTP_PASSWORD: 'smtp-pw-9911',
  SLACK_TOKEN: 'xoxb-slack-token-55',
  PD_KEY: 'pd-routing-key-66',
  TWILIO_TOKEN: 'twilio-auth-token-88',
};
const encoded = encodeURIComponent(SECRETS.DB_PASSWORD);

const TEXT = `
catalog: { url: "postgres://pgwarden:\${CATALOG_PASSWORD}@db1:5432/pgwarden" }
databases:
  - name: hotel
    url: "postgres://backup:${encoded}@db1:5432/hotel"
    replicationUrl: "postgresql://replicator@db1:5432/hotel?sslmode=require&password=\${REPLICATION_PASSWORD}"
    standbys: [ { name: replica1, url: "postgres://monitor:\${STANDBY_PASSWORD}@db2/hotel" } ]
storage:
  local: { path: /backups }
  s3: { bucket: b, region: us-east-1, accessKeyId: AKIAEXAMPLE, secretAccessKey: "\${S3_SECRET}" }
encryption:
  keys: [ { id: k2, key: "\${KEY}" }, { id: k1, key: "\${OLD_KEY}" } ]
  kms: { keyId: alias/backups, region: us-east-1, accessKeyId: AKIAKMSEXAMPLE, secretAccessKey: "\${KMS_SECRET}" }
server: { tokens: [ { name: ops, token: "\${API_TOKEN}" } ], metricsAuth: { username: prom, password: "\${METRICS_PASSWORD}" } }
channels:
  email: { host: smtp, user: alerts, password: "\${SMTP_PASSWORD}", from: a@example.com, to: [b@example.com] }
  slack: { token: "\${SLACK_TOKEN}", channel: "#db" }
  pagerduty: { routingKey: "\${PD_KEY}" }
  sms: { accountSid: AC123, authToken: "\${TWILIO_TOKEN}", from: "+15550000000", to: ["+15551111111"] }
`;

const allSecrets = Object.values(SECRETS);

test('redactUrl hides the password of a postgres URL and keeps the rest', () => {
  assert.equal(redactUrl('postgres://user:secret@host/db'), 'postgres://user:***@host/db');
  assert.equal(redactUrl('postgresql://user:secret@host:5432/db?sslmode=require'), 'postgresql://user:***@host:5432/db?sslmode=require');
  assert.equal(redactUrl('postgres://user@host/db?password=secret&sslmode=require'), 'postgres://user@host/db?password=***&sslmode=require');
  assert.equal(redactUrl('postgres://user@host/db'), 'postgres://user@host/db');
  assert.equal(redactUrl('https://user:secret@proxy.example.com/hook'), 'https://user:***@proxy.example.com/hook');
});

test('redactUrl hides the password of a URL it cannot parse', () => {
  assert.equal(redactUrl('postgres://user:secret@host:notaport/db'), 'postgres://user:***@host:notaport/db');
});

test('redactConfig replaces every secret with *** and keeps everything else', () => {
  const config = parseConfig(TEXT, { env: SECRETS });
  const redacted = redactConfig(config) as typeof config;
  assert.equal(redacted.catalog.url, 'postgres://pgwarden:***@db1:5432/pgwarden');
  assert.equal(redacted.databases[0]?.url, 'postgres://backup:***@db1:5432/hotel');
  assert.equal(redacted.databases[0]?.replicationUrl, 'postgresql://replicator@db1:5432/hotel?sslmode=require&password=***');
  assert.equal(redacted.databases[0]?.standbys[0]?.url, 'postgres://monitor:***@db2/hotel');
  assert.deepEqual(redacted.encryption?.keys, [
    { id: 'k2', key: '***' },
    { id: 'k1', key: '***' },
  ]);
  assert.deepEqual(redacted.server.tokens, [{ name: 'ops', token: '***', role: 'operate' }]);
  assert.deepEqual(redacted.server.metricsAuth, { username: 'prom', password: '***' });
  assert.equal(redacted.storage.s3?.secretAccessKey, '***');
  assert.equal(redacted.storage.s3?.accessKeyId, 'AKIAEXAMPLE');
  assert.deepEqual(redacted.encryption?.kms, { keyId: 'alias/backups', region: 'us-east-1', accessKeyId: 'AKIAKMSEXAMPLE', secretAccessKey: '***', timeoutSeconds: 10 });
  assert.equal(redacted.channels.email?.password, '***');
  assert.equal(redacted.channels.email?.user, 'alerts');
  assert.equal(redacted.channels.slack?.token, '***');
  assert.equal(redacted.channels.pagerduty?.routingKey, '***');
  assert.equal(redacted.channels.sms?.authToken, '***');
  assert.equal(redacted.channels.sms?.accountSid, 'AC123');
});

test('no secret value appears in JSON.stringify(redactConfig(config))', () => {
  const json = JSON.stringify(redactConfig(parseConfig(TEXT, { env: SECRETS })));
  for (const secret of [...allSecrets, encoded]) assert.equal(json.includes(secret), false, `leaked ${secret}`);
});

test('redactConfig returns a copy and leaves the config intact', () => {
  const config = parseConfig(TEXT, { env: SECRETS });
  redactConfig(config);
  assert.equal(config.channels.slack?.token, SECRETS.SLACK_TOKEN);
});

test('secretValues lists every secret, URL passwords both encoded and decoded', () => {
  const found = secretValues(parseConfig(TEXT, { env: SECRETS }));
  for (const secret of [...allSecrets, encoded]) assert.ok(found.includes(secret), `missing ${secret}`);
  assert.equal(found.includes('AKIAEXAMPLE'), false);
  assert.equal(found.includes('hotel'), false);
});

test('no secret value appears in the errors of an invalid config', () => {
  // Break every section that holds a secret, in ways whose messages could be tempted to quote the value.
  const broken = TEXT.replace('postgres://pgwarden:', 'mysql://pgwarden:')
    .replace('{ name: ops, token:', '{ name: ops, tokn: x, token:')
    .replace('channel: "#db"', 'channel: "#db", tokn: x')
    .replace('accountSid: AC123', 'accountSid: XX123')
    .replace('to: [b@example.com]', 'to: []')
    .replace('metricsAuth: { username: prom,', 'metricsAuth: { usernme: prom,')
    // biome-ignore lint/suspicious/noTemplateCurlyInString: config text holding a ${VAR} reference
    .concat('logLevel: "${SLACK_TOKEN}"\nbackup: { compression: "${PD_KEY}" }\n');
  const short = { ...SECRETS, KEY: Buffer.alloc(16, 5).toString('base64'), API_TOKEN: 'short-token' };
  try {
    parseConfig(broken, { env: short });
    assert.fail('accepted');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.ok(error.problems.length >= 8, error.message);
    assert.ok(error.problems.includes('encryption.keys[0].key: must be base64 of 32 bytes (decodes to 16)'));
    const everything = [error.message, ...error.problems, ...error.hints].join('\n');
    for (const secret of [...allSecrets, encoded, short.KEY, short.API_TOKEN]) {
      assert.equal(everything.includes(secret), false, `leaked ${secret} in:\n${everything}`);
    }
  }
});
