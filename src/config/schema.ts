// The whole configuration shape (DESIGN.md "Config"): every object strict, so a typo is an error, and
// every default taken from DESIGN.md's tables. Keys are part of the interface: add, don't rename.
import * as z from 'zod';
import { BASE_METHODS } from '../backup/base-method.js';
import { COMPRESSION_ALGORITHMS, LEVEL_RANGES } from '../pipeline/compression.js';
import { parseDuration } from './duration.js';
import {
  aes256Key,
  cronExpression,
  cronPattern,
  duration,
  flag,
  httpUrl,
  intInRange,
  nonEmptyString,
  positiveInt,
  postgresUrl,
  timeZone,
  uniqueBy,
  whenArray,
  whenObject,
} from './fields.js';

// A database name becomes a folder in every storage target, so it must be a safe path segment.
const DATABASE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export const ALERT_CHANNELS = ['email', 'slack', 'pagerduty', 'sms'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const TOKEN_ROLES = ['read', 'operate'] as const;

const standbySchema = z.strictObject({
  name: nonEmptyString(),
  url: postgresUrl(),
});

// Thresholds of the built-in alert rules (DESIGN.md "Alerts"); a database can override any of them.
const thresholdFields = {
  backupMissingHours: z.number().positive().optional(),
  sizeDropRatio: z.number().positive().max(1).optional(),
  replicationLagWarningSeconds: z.number().positive().optional(),
  replicationLagCriticalSeconds: z.number().positive().optional(),
  rpoSeconds: z.number().positive().optional(),
  storageSpaceFactor: z.number().positive().optional(),
  incrementalSpikeFactor: z.number().positive().optional(),
};
const databaseSchema = z.strictObject({
  name: nonEmptyString().regex(
    DATABASE_NAME,
    'must start with a letter, digit or "_" and hold only letters, digits, "_", "." and "-" (it names a storage folder)',
  ),
  url: postgresUrl(),
  replicationUrl: postgresUrl().optional(),
  pitr: flag().default(false),
  // Per-database alert thresholds override alerts.thresholds for this database only.
  alerts: z.strictObject(thresholdFields).optional(),
  // Per-database schedules override the global ones (schedules.*) for this database only.
  schedules: z
    .strictObject({ full: cronPattern().optional(), base: cronPattern().optional(), incremental: cronPattern().optional() })
    .optional(),
  standbys: z
    .array(standbySchema)
    .superRefine(uniqueBy('name', 'standby name'), whenArray)
    .default(() => []),
  // Override backup.compression / backup.compressionLevel for this database (its artifacts and WAL).
  compression: z.enum(COMPRESSION_ALGORITHMS).optional(),
  compressionLevel: intInRange(0, 19).optional(),
});

const storagePrefix = z.string().superRefine((prefix, ctx) => {
  if (prefix.startsWith('/') || prefix.endsWith('/')) {
    ctx.addIssue({ code: 'custom', message: 'must not start or end with "/"', input: prefix });
  } else if (prefix.split('/').some((segment) => segment === '..' || segment === '.' || segment === '')) {
    ctx.addIssue({ code: 'custom', message: 'must not contain ".", ".." or empty segments', input: prefix });
  }
});

const s3Schema = z
  .strictObject({
    bucket: nonEmptyString(),
    region: nonEmptyString(),
    kmsKeyId: nonEmptyString().optional(),
    endpoint: httpUrl().optional(),
    forcePathStyle: flag().default(false),
    requestChecksumCalculation: z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED']).default('WHEN_SUPPORTED'),
    // S3 refuses parts under 5 MiB (except the last) and over 5 GiB.
    partSizeMiB: intInRange(5, 5120).default(8),
    queueSize: intInRange(1, 64).default(2),
    accessKeyId: nonEmptyString().optional(),
    secretAccessKey: nonEmptyString().optional(),
    // A dead or stalled endpoint must fail a backup in seconds, not hang it: every request is bounded.
    maxAttempts: intInRange(1, 10).default(3),
    connectTimeoutSeconds: intInRange(1, 300).default(5),
    idleTimeoutSeconds: intInRange(1, 3600).default(60),
    glacierAfterDays: positiveInt().optional(),
    replica: z
      .strictObject({
        bucket: nonEmptyString(),
        region: nonEmptyString(),
        endpoint: httpUrl().optional(),
        // KMS keys are regional: an ARN names one region, so the replica may need its own.
        kmsKeyId: nonEmptyString().optional(),
      })
      .optional(),
  })
  .superRefine((s3, ctx) => {
    // Half a key pair would silently fall back to the default credential chain: say so instead.
    if (s3.accessKeyId !== undefined && s3.secretAccessKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secretAccessKey'], message: 'required when accessKeyId is set', input: undefined });
    }
    if (s3.secretAccessKey !== undefined && s3.accessKeyId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['accessKeyId'], message: 'required when secretAccessKey is set', input: undefined });
    }
  });

const gcsSchema = z.strictObject({
  bucket: nonEmptyString(),
  apiEndpoint: httpUrl().optional(),
  projectId: nonEmptyString().optional(),
  keyFilename: nonEmptyString().optional(),
  kmsKeyName: nonEmptyString().optional(),
  // Resumable uploads send one chunk per request; GCS wants multiples of 256 KiB, which whole MiB are.
  chunkSizeMiB: intInRange(1, 1024).default(8),
  maxRetries: intInRange(0, 10).default(3),
  timeoutSeconds: intInRange(1, 3600).default(60),
});

const storageSchema = z
  .strictObject({
    prefix: storagePrefix.default(''),
    // A target that failed during a backup is retried by copying from one that holds it, this many times.
    copyAttempts: intInRange(1, 20).default(3),
    copyRetryDelaySeconds: z.number().min(0).max(3600).default(5),
    local: z.strictObject({ path: nonEmptyString() }).optional(),
    s3: s3Schema.optional(),
    gcs: gcsSchema.optional(),
  })
  .superRefine((storage, ctx) => {
    if (storage.local === undefined && storage.s3 === undefined && storage.gcs === undefined) {
      ctx.addIssue({ code: 'custom', message: 'configure at least one target (local, s3 or gcs)', input: storage });
    }
  }, whenObject);

const kmsSchema = z
  .strictObject({
    keyId: nonEmptyString(),
    region: nonEmptyString(),
    endpoint: httpUrl().optional(),
    accessKeyId: nonEmptyString().optional(),
    secretAccessKey: nonEmptyString().optional(),
    timeoutSeconds: z.number().positive().max(300).default(10),
  })
  .superRefine((kms, ctx) => {
    // Half a key pair would silently fall back to the default credential chain: say so instead.
    if (kms.accessKeyId !== undefined && kms.secretAccessKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['secretAccessKey'], message: 'required when accessKeyId is set', input: undefined });
    }
    if (kms.secretAccessKey !== undefined && kms.accessKeyId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['accessKeyId'], message: 'required when secretAccessKey is set', input: undefined });
    }
  });

const encryptionSchema = z
  .strictObject({
    // The first key encrypts (unless kms is set); all of them decrypt, so rotating is adding a key in front.
    keys: z
      .array(
        z.strictObject({
          id: nonEmptyString().regex(KEY_ID, 'must be 1 to 64 letters, digits, "_", "." or "-"'),
          key: aes256Key(),
        }),
      )
      .min(1, 'must list at least one key')
      .superRefine(uniqueBy('id', 'key id'), whenArray)
      .optional(),
    // Envelope encryption: a KMS data key per artifact; config keys then only decrypt older artifacts.
    kms: kmsSchema.optional(),
  })
  .superRefine((encryption, ctx) => {
    if (encryption.keys === undefined && encryption.kms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'set keys, kms, or both', input: encryption });
    }
  }, whenObject);

const schedulesSchema = z.strictObject({
  full: cronExpression('0 2 * * *'),
  base: cronExpression('0 1 * * 0'),
  incremental: cronExpression('0 */6 * * *'),
  cleanup: cronExpression('0 3 * * *'),
  healthCheck: cronExpression('*/15 * * * *'),
  // Copies what a target missed while it was down (degraded backups, WAL) once it is back.
  storageSync: cronExpression('*/10 * * * *'),
  // Replication lag moves faster than backups: it is probed on its own short interval.
  replicationProbeSeconds: intInRange(1, 3600).default(30),
  // Each serve replica refreshes its cached metrics this often, whichever replica runs the health check.
  metricsRefreshSeconds: intInRange(5, 3600).default(60),
  timezone: timeZone().default('UTC'),
});

const retentionSchema = z.strictObject({
  fullDays: positiveInt().default(30),
  incrementalDays: positiveInt().default(7),
  cloudDays: positiveInt().default(90),
  keepLast: positiveInt().optional(),
});

// Prices in US dollars for `pgwarden cost` and pgwarden_storage_cost_monthly_dollars; defaults are list prices.
const price = (dollars: number) => z.number().min(0).default(dollars);
const costSchema = z.strictObject({
  localGbMonth: price(0.1),
  s3StandardGbMonth: price(0.023),
  s3GlacierGbMonth: price(0.004),
  gcsStandardGbMonth: price(0.02),
  s3TransferOutGb: price(0.09),
  gcsTransferOutGb: price(0.12),
});

const backupSchema = z
  .strictObject({
    compression: z.enum(COMPRESSION_ALGORITHMS).default('zstd'),
    // The chosen algorithm's own level; default that algorithm's default (zstd 3, gzip 6, lz4 1).
    compressionLevel: intInRange(0, 19).optional(),
    jobs: intInRange(1, 64).default(1),
    baseMethod: z.enum(BASE_METHODS).default('auto'),
    pgBinDir: nonEmptyString().optional(),
    tempDir: nonEmptyString().optional(),
  })
  // Absent, the level is the algorithm's own default (compressionFor applies it).
  .superRefine((backup, ctx) => checkLevel(backup, ctx, []), whenObject);

/** A level must lie in its algorithm's range; `path` leads to the object holding the two keys. */
function checkLevel(
  spec: { compression?: (typeof COMPRESSION_ALGORITHMS)[number] | undefined; compressionLevel?: number | undefined },
  ctx: z.RefinementCtx,
  path: PropertyKey[],
  fallback: (typeof COMPRESSION_ALGORITHMS)[number] = 'zstd',
): void {
  const algorithm = spec.compression ?? fallback;
  const level = spec.compressionLevel;
  // Outside 0–19 the field's own check has said so already.
  if (level === undefined || algorithm === 'none' || level < 0 || level > 19) return;
  const [min, max] = LEVEL_RANGES[algorithm];
  if (level < min || level > max) {
    ctx.addIssue({ code: 'custom', path: [...path, 'compressionLevel'], message: `must be ${min} to ${max} for ${algorithm}`, input: level });
  }
}

const walSchema = z.strictObject({
  // pg_receivewal's spool (pull mode): must survive restarts, or WAL still in it is fetched again from the slot.
  spoolDir: nonEmptyString().optional(),
  // A push (archive_command or the receiver's upload) that takes longer fails, so archiving never hangs silently.
  pushTimeoutSeconds: intInRange(1, 86_400).default(120),
});

// Restore drills (README "Restore drills"): the newest full backup of each database restored into a scratch
// database on the database's own server, or on targetUrl's server (a maintenance database, e.g. postgres).
const drillsSchema = z.strictObject({
  enabled: flag().default(true),
  schedule: cronExpression('0 4 * * 0'),
  targetUrl: postgresUrl().optional(),
  // pg_restore --jobs; 1 streams in one transaction without temporary space, like `pgwarden restore`.
  jobs: intInRange(1, 64).optional(),
});

const serverSchema = z.strictObject({
  // 0 asks the OS for a free port, which tests rely on.
  port: intInRange(0, 65535).default(9187),
  host: nonEmptyString().default('127.0.0.1'),
  tokens: z
    .array(
      z.strictObject({
        name: nonEmptyString(),
        token: z.string().min(16, 'must be at least 16 characters'),
        // read: GET only (the status page hides its actions); operate: also runs backups, verifies, silences.
        role: z.enum(TOKEN_ROLES).default('operate'),
      }),
    )
    .superRefine(uniqueBy('name', 'token name'), whenArray)
    .default(() => []),
  metricsAuth: z.strictObject({ username: nonEmptyString(), password: nonEmptyString() }).optional(),
  // On SIGTERM a running backup gets this long to finish before it is aborted and recorded as such.
  shutdownGraceSeconds: intInRange(0, 86_400).default(60),
  // The status page at `/` (sign-in with a token, a session cookie); false leaves only the JSON index there.
  ui: flag().default(true),
  sessionLifetime: duration().default('12h'),
}).transform((server) => ({ ...server, sessionLifetimeMs: parseDuration(server.sessionLifetime)! }));

const channelList = (defaults: readonly (typeof ALERT_CHANNELS)[number][]) => z.array(z.enum(ALERT_CHANNELS)).default(() => [...defaults]);

const thresholdsSchema = z.strictObject({
  backupMissingHours: thresholdFields.backupMissingHours.default(24),
  sizeDropRatio: thresholdFields.sizeDropRatio.default(0.5),
  replicationLagWarningSeconds: thresholdFields.replicationLagWarningSeconds.default(60),
  replicationLagCriticalSeconds: thresholdFields.replicationLagCriticalSeconds.default(300),
  rpoSeconds: thresholdFields.rpoSeconds.default(3600),
  storageSpaceFactor: thresholdFields.storageSpaceFactor.default(2),
  incrementalSpikeFactor: thresholdFields.incrementalSpikeFactor.default(2),
});

const alertsSchema = z
  .strictObject({
    thresholds: thresholdsSchema.prefault({}),
    // A route may name a channel that is not configured: it is skipped, so log-only setups stay valid.
    routes: z
      .strictObject({
        critical: channelList(['pagerduty', 'sms', 'slack', 'email']),
        warning: channelList(['slack', 'email']),
        info: channelList(['slack']),
      })
      .prefault({}),
    // Routes for particular databases or rules, checked in order before the severity routes: the first whose
    // every matcher fits decides the channels (e.g. a staging database only to Slack).
    overrides: z
      .array(
        z.strictObject({
          match: z.strictObject({ database: nonEmptyString().optional(), rule: nonEmptyString().optional(), severity: z.enum(['critical', 'warning', 'info']).optional() }),
          channels: channelList([]),
        }),
      )
      .default(() => []),
    // Alerts arriving from Alertmanager's webhook: Alertmanager notifies its own receivers, so by default
    // pgwarden adds only what Alertmanager lacks.
    webhookRoutes: z
      .strictObject({
        critical: channelList(['sms']),
        warning: channelList([]),
        info: channelList([]),
      })
      .prefault({}),
    repeatInterval: duration().default('4h'),
  })
  .transform((alerts) => ({ ...alerts, repeatIntervalMs: parseDuration(alerts.repeatInterval)! }));

const recipients = (what: string) => z.array(nonEmptyString()).min(1, `must list at least one ${what}`);

const channelsSchema = z.strictObject({
  email: z
    .strictObject({
      host: nonEmptyString(),
      port: intInRange(1, 65535).default(587),
      secure: flag().default(false),
      user: nonEmptyString().optional(),
      password: nonEmptyString().optional(),
      from: nonEmptyString(),
      to: recipients('recipient'),
    })
    .optional(),
  slack: z.strictObject({ token: nonEmptyString(), channel: nonEmptyString(), apiUrl: httpUrl().optional() }).optional(),
  pagerduty: z.strictObject({ routingKey: nonEmptyString(), url: httpUrl().optional() }).optional(),
  sms: z
    .strictObject({
      accountSid: nonEmptyString().startsWith('AC', 'must start with "AC" (a Twilio account SID)'),
      authToken: nonEmptyString(),
      from: nonEmptyString(),
      to: recipients('phone number'),
      apiUrl: httpUrl().optional(),
    })
    .optional(),
});

export const configSchema = z
  .strictObject({
  catalog: z.strictObject({ url: postgresUrl() }),
  databases: z.array(databaseSchema).min(1, 'must list at least one database').superRefine(uniqueBy('name', 'database name'), whenArray),
  storage: storageSchema,
  encryption: encryptionSchema.optional(),
  // `prefault` parses `{}` through the inner schema, so an absent section still gets its field defaults.
  schedules: schedulesSchema.prefault({}),
  retention: retentionSchema.prefault({}),
  cost: costSchema.prefault({}),
  backup: backupSchema.prefault({}),
  wal: walSchema.prefault({}),
  drills: drillsSchema.prefault({}),
  server: serverSchema.prefault({}),
  alerts: alertsSchema.prefault({}),
  channels: channelsSchema.prefault({}),
  logLevel: z.enum(LOG_LEVELS).default('info'),
})
  .superRefine((config, ctx) => {
    // A database's level is read against its own algorithm, or the global one it inherits.
    if (!Array.isArray(config.databases)) return;
    config.databases.forEach((db, index) => {
      if (db.compression !== undefined || db.compressionLevel !== undefined) checkLevel(db, ctx, ['databases', index], config.backup?.compression);
    });
  }, whenObject);
