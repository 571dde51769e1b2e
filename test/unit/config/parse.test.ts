// A valid config parses into a frozen object with DESIGN.md's defaults filled in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Config, parseConfig } from '../../../src/config/index.js';

const MINIMAL = `
catalog: { url: "postgres://pgwarden@db1:5432/pgwarden" }
databases:
  - name: hotel_extranet
    url: "postgres://backup_user@db1:5432/hotel_extranet"
storage:
  local: { path: /backups }
`;

// DESIGN.md's example, verbatim.
const DESIGN_EXAMPLE = `
catalog: { url: "postgres://pgwarden@db1:5432/pgwarden" }          # schema pgwarden is created by migrations
databases:
  - name: hotel_extranet
    url: "postgres://backup_user@db1:5432/hotel_extranet"
    replicationUrl: "postgres://replicator@db1:5432/hotel_extranet"  # base backups and WAL; optional
    pitr: true                                                       # run WAL archiving for it
    standbys: [ { name: replica1, url: "postgres://monitor@db2:5432/hotel_extranet" } ]
storage:
  local: { path: /backups }
  s3: { bucket: hotel-extranet-backups-prod, region: us-east-1, kmsKeyId: alias/backups,
        replica: { bucket: hotel-extranet-backups-prod-dr, region: us-west-2 } }   # endpoint, forcePathStyle for S3-compatible stores
  gcs: { bucket: hotel-extranet-backups-prod }                                      # apiEndpoint for emulators
encryption: { keys: [ { id: k2026, key: "\${PGWARDEN_KEY_2026}" } ] }   # base64 of 32 bytes; the first encrypts, all decrypt
schedules: { full: "0 2 * * *", base: "0 1 * * 0", incremental: "0 */6 * * *", cleanup: "0 3 * * *", healthCheck: "*/15 * * * *", timezone: UTC }
retention: { fullDays: 30, incrementalDays: 7, cloudDays: 90 }
backup: { compressionLevel: 6, jobs: 1 }
server: { port: 9187, tokens: [ { name: ops, token: "\${PGWARDEN_API_TOKEN}" } ] }
alerts:
  routes: { critical: [pagerduty, sms, slack, email], warning: [slack, email], info: [slack] }
  repeatInterval: 4h
channels:           # each also takes an endpoint override for proxies and tests
  email: { host: smtp.example.com, port: 587, user: alerts, password: "\${SMTP_PASSWORD}", from: backups@example.com, to: [dba@example.com] }
  slack: { token: "\${SLACK_TOKEN}", channel: "#db-alerts" }
  pagerduty: { routingKey: "\${PD_ROUTING_KEY}" }
  sms: { accountSid: "\${TWILIO_SID}", authToken: "\${TWILIO_TOKEN}", from: "+15550000000", to: ["+15551111111"] }
`;

const KEY_2026 = Buffer.alloc(32, 7).toString('base64');
const DESIGN_ENV = {
  PGWARDEN_KEY_2026: KEY_2026,
  PGWARDEN_API_TOKEN: 'ops-token-0123456789abcdef',
  SMTP_PASSWORD: 'smtp-secret-password',
  SLACK_TOKEN: 'xoxb-slack-secret',
  PD_ROUTING_KEY: 'pd-routing-secret',
  TWILIO_SID: 'AC0123456789abcdef0123456789abcdef',
  TWILIO_TOKEN: 'twilio-secret-token',
};

test('a minimal config (catalog, one database, local storage) gets every default from DESIGN.md', () => {
  const config = parseConfig(MINIMAL, { env: {} });
  const expected: Config = {
    catalog: { url: 'postgres://pgwarden@db1:5432/pgwarden' },
    databases: [{ name: 'hotel_extranet', url: 'postgres://backup_user@db1:5432/hotel_extranet', pitr: false, standbys: [] }],
    storage: { prefix: '', copyAttempts: 3, copyRetryDelaySeconds: 5, local: { path: '/backups' } },
    schedules: {
      full: '0 2 * * *',
      base: '0 1 * * 0',
      incremental: '0 */6 * * *',
      cleanup: '0 3 * * *',
      healthCheck: '*/15 * * * *',
      storageSync: '*/10 * * * *',
      replicationProbeSeconds: 30,
      metricsRefreshSeconds: 60,
      timezone: 'UTC',
    },
    retention: { fullDays: 30, incrementalDays: 7, cloudDays: 90 },
    cost: { localGbMonth: 0.1, s3StandardGbMonth: 0.023, s3GlacierGbMonth: 0.004, gcsStandardGbMonth: 0.02, s3TransferOutGb: 0.09, gcsTransferOutGb: 0.12 },
    backup: { compression: 'zstd', jobs: 1, baseMethod: 'auto' },
    wal: { pushTimeoutSeconds: 120 },
    drills: { enabled: true, schedule: '0 4 * * 0' },
    server: { port: 9187, host: '127.0.0.1', tokens: [], shutdownGraceSeconds: 60, ui: true, sessionLifetime: '12h', sessionLifetimeMs: 12 * 3600 * 1000 },
    alerts: {
      thresholds: {
        backupMissingHours: 24,
        sizeDropRatio: 0.5,
        replicationLagWarningSeconds: 60,
        replicationLagCriticalSeconds: 300,
        rpoSeconds: 3600,
        storageSpaceFactor: 2,
        incrementalSpikeFactor: 2,
      },
      routes: { critical: ['pagerduty', 'sms', 'slack', 'email'], warning: ['slack', 'email'], info: ['slack'] },
      overrides: [],
      webhookRoutes: { critical: ['sms'], warning: [], info: [] },
      repeatInterval: '4h',
      repeatIntervalMs: 4 * 60 * 60 * 1000,
    },
    channels: {},
    logLevel: 'info',
  };
  assert.deepEqual(config, expected);
});

test('the example config in DESIGN.md parses, with its variables taken from the environment', () => {
  const config = parseConfig(DESIGN_EXAMPLE, { env: DESIGN_ENV });
  assert.deepEqual(config.databases[0], {
    name: 'hotel_extranet',
    url: 'postgres://backup_user@db1:5432/hotel_extranet',
    replicationUrl: 'postgres://replicator@db1:5432/hotel_extranet',
    pitr: true,
    standbys: [{ name: 'replica1', url: 'postgres://monitor@db2:5432/hotel_extranet' }],
  });
  assert.deepEqual(config.storage, {
    prefix: '',
    copyAttempts: 3,
    copyRetryDelaySeconds: 5,
    local: { path: '/backups' },
    s3: {
      bucket: 'hotel-extranet-backups-prod',
      region: 'us-east-1',
      kmsKeyId: 'alias/backups',
      forcePathStyle: false,
      requestChecksumCalculation: 'WHEN_SUPPORTED',
      partSizeMiB: 8,
      queueSize: 2,
      maxAttempts: 3,
      connectTimeoutSeconds: 5,
      idleTimeoutSeconds: 60,
      replica: { bucket: 'hotel-extranet-backups-prod-dr', region: 'us-west-2' },
    },
    gcs: { bucket: 'hotel-extranet-backups-prod', chunkSizeMiB: 8, maxRetries: 3, timeoutSeconds: 60 },
  });
  assert.deepEqual(config.encryption, { keys: [{ id: 'k2026', key: KEY_2026 }] });
  assert.deepEqual(config.server, {
    port: 9187,
    host: '127.0.0.1',
    tokens: [{ name: 'ops', token: DESIGN_ENV.PGWARDEN_API_TOKEN, role: 'operate' }],
    shutdownGraceSeconds: 60,
    ui: true,
    sessionLifetime: '12h',
    sessionLifetimeMs: 12 * 3600 * 1000,
  });
  assert.equal(config.alerts.repeatIntervalMs, 14_400_000);
  assert.deepEqual(config.channels, {
    email: {
      host: 'smtp.example.com',
      port: 587,
      secure: false,
      user: 'alerts',
      password: DESIGN_ENV.SMTP_PASSWORD,
      from: 'backups@example.com',
      to: ['dba@example.com'],
    },
    slack: { token: DESIGN_ENV.SLACK_TOKEN, channel: '#db-alerts' },
    pagerduty: { routingKey: DESIGN_ENV.PD_ROUTING_KEY },
    sms: { accountSid: DESIGN_ENV.TWILIO_SID, authToken: DESIGN_ENV.TWILIO_TOKEN, from: '+15550000000', to: ['+15551111111'] },
  });
});

test('the loaded config is deeply frozen', () => {
  const config = parseConfig(DESIGN_EXAMPLE, { env: DESIGN_ENV });
  for (const part of [config, config.databases, config.databases[0], config.databases[0]!.standbys[0], config.storage.s3, config.alerts.routes.critical]) {
    assert.ok(Object.isFrozen(part));
  }
  assert.throws(() => {
    (config.retention as { fullDays: number }).fullDays = 1;
  }, TypeError);
  assert.throws(() => {
    (config.databases as unknown as unknown[]).push({});
  }, TypeError);
});

test('parsing twice gives independent results: defaults are not shared between configs', () => {
  const first = parseConfig(MINIMAL, { env: {} });
  const second = parseConfig(MINIMAL, { env: {} });
  assert.notEqual(first.alerts.routes.critical, second.alerts.routes.critical);
  assert.notEqual(first.server.tokens, second.server.tokens);
});

test('a relative local storage path is resolved from the config file directory', () => {
  const config = parseConfig(MINIMAL.replace('path: /backups', 'path: ./data/../backups'), { env: {}, baseDir: '/etc/pgwarden' });
  assert.equal(config.storage.local?.path, '/etc/pgwarden/backups');
});

test('other relative paths (gcs keyFilename, pgBinDir, tempDir) are resolved from the config directory too', () => {
  const text = `${MINIMAL}  gcs: { bucket: b, keyFilename: keys/gcs.json }\nbackup: { pgBinDir: bin, tempDir: /var/tmp/pgwarden }\n`;
  const config = parseConfig(text, { env: {}, baseDir: '/etc/pgwarden' });
  assert.equal(config.storage.gcs?.keyFilename, '/etc/pgwarden/keys/gcs.json');
  assert.equal(config.backup.pgBinDir, '/etc/pgwarden/bin');
  assert.equal(config.backup.tempDir, '/var/tmp/pgwarden');
});

test('optional fields keep the values given', () => {
  const text = `${MINIMAL}
  prefix: prod/eu-west
  s3: { bucket: b, region: eu-west-1, endpoint: "http://127.0.0.1:9000", forcePathStyle: true,
        requestChecksumCalculation: WHEN_REQUIRED, partSizeMiB: 64, queueSize: 8 }
retention: { fullDays: 14, keepLast: 3 }
backup: { compression: none, jobs: 4 }
server: { port: 0, host: 0.0.0.0, metricsAuth: { username: prom, password: scrape-secret } }
alerts: { routes: { critical: [slack], info: [] }, repeatInterval: 1h30m }
logLevel: debug
`;
  const config = parseConfig(text, { env: {} });
  assert.equal(config.storage.prefix, 'prod/eu-west');
  assert.equal(config.storage.s3?.forcePathStyle, true);
  assert.equal(config.storage.s3?.requestChecksumCalculation, 'WHEN_REQUIRED');
  assert.equal(config.storage.s3?.partSizeMiB, 64);
  assert.deepEqual(config.retention, { fullDays: 14, incrementalDays: 7, cloudDays: 90, keepLast: 3 });
  assert.deepEqual(config.backup, { compression: 'none', jobs: 4, baseMethod: 'auto' });
  assert.equal(config.server.port, 0);
  assert.deepEqual(config.server.metricsAuth, { username: 'prom', password: 'scrape-secret' });
  assert.deepEqual(config.alerts.routes, { critical: ['slack'], warning: ['slack', 'email'], info: [] });
  assert.equal(config.alerts.repeatIntervalMs, 90 * 60 * 1000);
  assert.equal(config.logLevel, 'debug');
});

test('a key with no value (YAML null) counts as not set, so its default applies', () => {
  const config = parseConfig(`${MINIMAL}retention:\n  fullDays:\nlogLevel:\n`, { env: {} });
  assert.equal(config.retention.fullDays, 30);
  assert.equal(config.logLevel, 'info');
});

test('numbers and booleans that come from environment variables are accepted in their plain spelling', () => {
  const text = `${MINIMAL}server: { port: "\${PORT}" }\nbackup: { jobs: "\${JOBS}" }\nchannels: { email: { host: h, secure: "\${SECURE}", from: a@b, to: [c@d] } }\n`;
  const config = parseConfig(text, { env: { PORT: '8080', JOBS: '2', SECURE: 'true' } });
  assert.equal(config.server.port, 8080);
  assert.equal(config.backup.jobs, 2);
  assert.equal(config.channels.email?.secure, true);
});

test('a 6-field cron expression with names is accepted', () => {
  const config = parseConfig(`${MINIMAL}schedules: { full: "30 0 2 * * MON-FRI", timezone: Europe/Paris }\n`, { env: {} });
  assert.equal(config.schedules.full, '30 0 2 * * MON-FRI');
  assert.equal(config.schedules.timezone, 'Europe/Paris');
});

test('encryption.kms alone is a valid encryption section; with keys, both are kept', () => {
  const kmsOnly = parseConfig(`${MINIMAL}encryption: { kms: { keyId: alias/backups, region: eu-west-1 } }\n`, { env: {} });
  assert.deepEqual(kmsOnly.encryption, { kms: { keyId: 'alias/backups', region: 'eu-west-1', timeoutSeconds: 10 } });
  const key = Buffer.alloc(32, 5).toString('base64');
  const both = parseConfig(
    `${MINIMAL}encryption:\n  keys: [ { id: k2025, key: "${key}" } ]\n  kms: { keyId: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", region: eu-west-1, endpoint: "http://127.0.0.1:4566", timeoutSeconds: 2.5 }\n`,
    { env: {} },
  );
  assert.deepEqual(both.encryption?.keys, [{ id: 'k2025', key }]);
  assert.equal(both.encryption?.kms?.endpoint, 'http://127.0.0.1:4566');
  assert.equal(both.encryption?.kms?.timeoutSeconds, 2.5);
});
