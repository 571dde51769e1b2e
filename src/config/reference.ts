// The configuration reference in README.md: every key of the config schema with its type, default and
// meaning, generated from the schema itself (`npm run docs:config`) so the two cannot drift apart; a unit
// test regenerates it and fails when the README differs or a key has no description here.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as z from 'zod';
import { packageRoot } from '../package-root.js';
import { configSchema } from './schema.js';

export const REFERENCE_START = '<!-- config-reference:start -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

export interface ReferenceRow {
  /** `storage.s3.partSizeMiB`; list items are `databases[].name`. */
  path: string;
  type: string;
  /** The default as written in YAML (JSON spelling), or undefined when there is none. */
  default: string | undefined;
  /** Required whenever its parent section (or list item) is present. */
  required: boolean;
}

// The alert thresholds appear twice: globally (alerts.thresholds.*) and per database (databases[].alerts.*).
const THRESHOLDS: Record<string, string> = {
  backupMissingHours: 'BackupMissing fires when the newest successful full backup is older than this many hours (or there is none)',
  sizeDropRatio: 'BackupSizeDrop fires when the newest backup ÷ the median of the last 7 successful ones is below this',
  replicationLagWarningSeconds: 'ReplicationLagHigh (warning) fires above this replication lag',
  replicationLagCriticalSeconds: 'ReplicationLagHigh (critical) fires above this replication lag',
  rpoSeconds: 'WalArchivingStalled fires when the newest archived WAL is older than this while WAL waits to be archived',
  storageSpaceFactor: 'StorageSpaceLow fires when free space is under this many times the largest expected backup',
  incrementalSpikeFactor: 'IncrementalSizeSpike fires when an incremental is more than this many times the previous one',
};

// biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own interpolation syntax, written out
const ENV_SYNTAX = '${VAR}';
/** Secrets are best kept out of the file: from the environment, or a file (Docker/Kubernetes secrets). */
const secret = (key: string) => `Secret: use \`${ENV_SYNTAX}\` or \`${key}_FILE\`.`;

const SCHEDULE_NOTE = 'cron expression (5 fields, or 6 with seconds) in `schedules.timezone`';

/** What every key means, by path. Every path `configReferenceRows()` yields must be here, and nothing else. */
export const CONFIG_DESCRIPTIONS: Readonly<Record<string, string>> = {
  catalog: 'The SQL catalog: backup rows, logs, alert state, job claims (schema `pgwarden`, created by migrations).',
  'catalog.url': 'postgres:// URL of the catalog database. Its password is a secret (redacted in output).',
  databases: 'The databases to protect, at least one.',
  'databases[].name': 'Name of the database in pgwarden: names its storage folder, metrics label and CLI `--database`. Letters, digits, `_`, `.`, `-`; unique.',
  'databases[].url': 'postgres:// URL pgwarden dumps from and probes, as the backup role (`pgwarden sql backup-role`).',
  'databases[].replicationUrl': 'postgres:// URL for `pg_basebackup` and `pg_receivewal` (a role with REPLICATION); default `url`.',
  'databases[].pitr': 'Point-in-time recovery: archive WAL continuously (pull with `pg_receivewal` under `pgwarden serve`, or push with `archive_command`), and take base backups and incrementals on their schedules.',
  'databases[].alerts': 'Alert thresholds for this database only; each key overrides the same key of `alerts.thresholds`.',
  ...Object.fromEntries(Object.entries(THRESHOLDS).map(([key, text]) => [`databases[].alerts.${key}`, `${text}; for this database only.`])),
  'databases[].compression': 'Compression for this database’s backups and WAL only (`zstd`, `gzip`, `lz4`, `none`); overrides `backup.compression`.',
  'databases[].compressionLevel': 'Compression level for this database only; default its algorithm’s default when `compression` is set here, else `backup.compressionLevel`.',
  'databases[].schedules': 'Schedules for this database only; each key overrides the same key of `schedules`.',
  'databases[].schedules.full': `When to take a full backup of this database: ${SCHEDULE_NOTE}.`,
  'databases[].schedules.base': `When to take a base backup of this database (with \`pitr: true\`): ${SCHEDULE_NOTE}.`,
  'databases[].schedules.incremental': `When to seal an incremental of this database (with \`pitr: true\`): ${SCHEDULE_NOTE}.`,
  'databases[].standbys': 'Streaming standbys of this database: replication lag per standby, `failover status`, `failover promote --standby NAME`.',
  'databases[].standbys[].name': 'Name of the standby (metrics label, `--standby`); unique within the database.',
  'databases[].standbys[].url': 'postgres:// URL of the standby (a role with `pg_monitor`; `failover promote` also needs `pg_promote()`).',
  storage: 'Where backups and WAL go; at least one target. Layout: `<prefix>/<database>/<kind>/<backupId>/`.',
  'storage.prefix': 'Path prefix inside every target; no leading or trailing `/`, no `.` or `..` segments.',
  'storage.local': 'A directory target: the first read when restoring (fastest). Every configured target (local, s3 and its replica, gcs) receives every backup and WAL file at once.',
  'storage.local.path': 'The directory holding backups; relative paths are relative to the config file. For push-mode `wal-push` it must be writable by the database server’s OS user.',
  'storage.s3': 'An S3 (or S3-compatible) bucket target.',
  'storage.copyAttempts': 'When a target fails during a backup, how many times pgwarden copies the backup over from a target that holds it (with growing delays) before marking the backup degraded; the `storage-sync` job keeps trying afterwards.',
  'storage.copyRetryDelaySeconds': 'Delay before the first such copy attempt; doubled for each next one.',
  'storage.s3.bucket': 'Bucket name.',
  'storage.s3.region': 'Bucket region, e.g. `us-east-1`.',
  'storage.s3.kmsKeyId': 'KMS key for server-side encryption (SSE-KMS), e.g. `alias/backups`. Default: SSE-S3 (`AES256`); every object is encrypted at rest either way.',
  'storage.s3.endpoint': 'http(s) endpoint of an S3-compatible store (MinIO, Ceph, s3rver); default AWS.',
  'storage.s3.forcePathStyle': 'Path-style requests (`endpoint/bucket/key`), which most S3-compatible stores need.',
  'storage.s3.requestChecksumCalculation': '`WHEN_REQUIRED` for stores that mishandle the SDK’s streamed `aws-chunked` checksum trailer (they store the framing as content).',
  'storage.s3.partSizeMiB': 'Multipart upload part size in MiB (S3 allows 5 MiB to 5 GiB). S3 takes at most 10 000 parts per object, so a backup whose expected size needs more gets larger parts (room for 3× its expected size), and past every 2 000 parts the part size doubles, so a backup larger than expected still fits. Reads fetch ranges of this size.',
  'storage.s3.queueSize': 'Parts uploaded at once; an upload holds exactly `partSizeMiB × (queueSize + 1)` of part buffers in memory (the parts in flight and the one filling), whatever the object size.',
  'storage.s3.accessKeyId': 'Static access key id; set with `secretAccessKey`. Default: the AWS SDK credential chain (env, instance role, …).',
  'storage.s3.secretAccessKey': 'Static secret key; set with `accessKeyId`. ' + secret('secretAccessKey'),
  'storage.s3.maxAttempts': 'Tries per S3 request (the first included) before the operation fails; retries back off exponentially.',
  'storage.s3.connectTimeoutSeconds': 'A request whose TCP/TLS connection is not established within this many seconds fails (an unreachable endpoint).',
  'storage.s3.idleTimeoutSeconds': 'A request whose connection sends and receives nothing for this many seconds fails (a stalled endpoint). Not a limit on a whole upload: parts keep it busy.',
  'storage.s3.glacierAfterDays': 'Bucket lifecycle (`pgwarden storage lifecycle`): move objects to S3 Glacier this many days after they were written; must be below the expiry (`retention.cloudDays`). Default: they stay in their class.',
  'storage.s3.replica': 'A second bucket in another region receiving every object too (cross-region copy for data-center loss); it shares the credentials and the other `storage.s3` settings.',
  'storage.s3.replica.bucket': 'Replica bucket name.',
  'storage.s3.replica.region': 'Replica bucket region, e.g. `us-west-2`.',
  'storage.s3.replica.endpoint': 'http(s) endpoint of the replica store; default AWS.',
  'storage.s3.replica.kmsKeyId': 'KMS key for SSE-KMS in the replica region; default `storage.s3.kmsKeyId` (an alias resolves in each region, a key ARN does not).',
  'storage.gcs': 'A Google Cloud Storage bucket target.',
  'storage.gcs.bucket': 'Bucket name.',
  'storage.gcs.apiEndpoint': 'http(s) API endpoint (emulators, private endpoints); default Google.',
  'storage.gcs.projectId': 'Google Cloud project id; default from the credentials.',
  'storage.gcs.keyFilename': 'Service-account key file; default Application Default Credentials.',
  'storage.gcs.kmsKeyName': 'Cloud KMS key for customer-managed encryption of every uploaded object (`projects/…/locations/…/keyRings/…/cryptoKeys/…`).',
  'storage.gcs.chunkSizeMiB': 'Resumable upload chunk size in MiB: one request per chunk, and the bytes re-sent after a dropped connection; memory use is about this per upload.',
  'storage.gcs.maxRetries': 'Retries of a failed request (5xx, 429, dropped connection) with exponential backoff; 0 fails at the first error.',
  'storage.gcs.timeoutSeconds': 'Time limit of one request (an upload chunk included), so an unreachable endpoint fails in seconds rather than hanging.',
  encryption: 'Client-side encryption of every artifact and WAL file (`pgwenc-1`: AES-256-GCM in chunks), with keys from config (`keys`), AWS KMS (`kms`) or both. Without it, artifacts are stored unencrypted.',
  'encryption.keys': 'Key ring: the first key encrypts new artifacts (unless `kms` is set), every key decrypts. Rotate by adding a key in front; keep old keys while backups made with them are retained. Optional when `kms` is set.',
  'encryption.keys[].id': 'Key id stored in each artifact’s header and manifest (1-64 letters, digits, `_`, `.`, `-`); unique.',
  'encryption.keys[].key': 'Base64 of 32 random bytes (`openssl rand -base64 32`). ' + secret('key'),
  'encryption.kms':
    'Envelope encryption with AWS KMS: every backup and WAL file gets a data key of its own from `GenerateDataKey`; only its wrapped copy is stored (in the manifest; in front of each WAL object) and reading unwraps it with `Decrypt`. New artifacts use KMS even when `keys` is set; `keys` then decrypt older artifacts. The credentials need `kms:GenerateDataKey` and `kms:Decrypt` on the key.',
  'encryption.kms.keyId': 'KMS key new data keys are made under: key id, key ARN, alias (`alias/backups`) or alias ARN. Artifacts record the key’s ARN, so they still decrypt after the alias is moved to another key (while the old key exists).',
  'encryption.kms.region': 'AWS region of the key, e.g. `us-east-1`.',
  'encryption.kms.endpoint': 'http(s) endpoint instead of the region’s (VPC or FIPS endpoints, a local KMS for tests).',
  'encryption.kms.accessKeyId': 'Static credentials (with `secretAccessKey`); default the AWS credential chain (environment, profile, instance role).',
  'encryption.kms.secretAccessKey': 'Secret of `accessKeyId`. ' + secret('secretAccessKey'),
  'encryption.kms.timeoutSeconds': 'Each KMS call gives up after this long, one retry included, so an unreachable KMS fails a backup (or a wal-push) in seconds.',
  schedules: 'When `pgwarden serve` runs each job (per database overrides in `databases[].schedules`).',
  'schedules.full': `Full backups (\`pg_dump\`): ${SCHEDULE_NOTE}.`,
  'schedules.base': `Base backups (\`pg_basebackup\`) of databases with \`pitr: true\`: ${SCHEDULE_NOTE}.`,
  'schedules.incremental': `Incrementals (seal the WAL archived since the previous backup) of databases with \`pitr: true\`: ${SCHEDULE_NOTE}.`,
  'schedules.cleanup': `Retention cleanup: ${SCHEDULE_NOTE}.`,
  'schedules.storageSync': `Storage sync: copies degraded backups and WAL to targets that missed them once they are reachable again: ${SCHEDULE_NOTE}.`,
  'schedules.healthCheck': `Health check (interrupted runs, metrics refresh, alert evaluation): ${SCHEDULE_NOTE}.`,
  'schedules.replicationProbeSeconds': 'Seconds between replication-lag probes.',
  'schedules.metricsRefreshSeconds': 'Seconds between refreshes of each replica’s cached catalog-derived metrics.',
  'schedules.timezone': 'IANA time zone the cron expressions are read in, e.g. `UTC`, `Europe/Paris`.',
  cost: 'Price table for `pgwarden cost` and the cost metric, in US dollars per GiB (list prices by default; set your negotiated ones).',
  retention: 'How long backups are kept; cleanup never deletes the newest verified full backup or WAL a retained base backup needs.',
  'retention.fullDays': 'Days full backups are kept (base backups stay while a retained point-in-time window needs them).',
  'retention.incrementalDays': 'Days incrementals are kept.',
  'retention.cloudDays': 'Days backups of every kind are kept on the cloud targets (S3, its replica, GCS), or the kind’s own period when that is longer.',
  'cost.localGbMonth': 'Price of one GiB stored for a month on the local target (disk, with its backups and redundancy), in US dollars.',
  'cost.s3StandardGbMonth': 'S3 Standard, per GiB-month (US dollars); also used for the replica bucket.',
  'cost.s3GlacierGbMonth': 'S3 Glacier, per GiB-month, for objects older than `storage.s3.glacierAfterDays`.',
  'cost.gcsStandardGbMonth': 'GCS Standard, per GiB-month.',
  'cost.s3TransferOutGb': 'S3 data transfer out to the internet, per GiB: what restoring from S3 costs.',
  'cost.gcsTransferOutGb': 'GCS network egress, per GiB: what restoring from GCS costs.',
  'retention.keepLast': 'Keep at least this many newest successful backups (verification not failed) per database and kind, on every target, whatever their age.',
  backup: 'How backups are taken.',
  'backup.compression': 'Compression of artifacts and WAL: `zstd` (fast and small), `gzip` (a standard gzip stream, by `pigz`), `lz4` (fastest, larger) or `none`. Runs the system binary (`zstd`, `pigz`, `lz4`) on every core; checked at start. Restores read whatever each backup’s manifest says.',
  'backup.compressionLevel': 'The chosen algorithm’s level: zstd 1–19 (default 3), gzip 0–9 (default 6), lz4 1–12 (default 1). README “Performance” shows what each costs.',
  'backup.jobs': 'Parallelism. Full backups over 1: `pg_dump -Fd -j N` (N connections in one snapshot) through temporary space in `tempDir`. Compression uses every core, and at least this many threads.',
  'backup.baseMethod': 'How base backups read the cluster: `files` reads the data directory on this host between `pg_backup_start` and `pg_backup_stop` (pgBackRest’s way; needs the server’s OS user or read access, a primary, no tablespaces); `stream` runs `pg_basebackup` (any host); `auto` takes `files` where it can and says why not otherwise.',
  'backup.pgBinDir': 'Directory of the PostgreSQL client tools; default the installed `/usr/lib/postgresql/<N>/bin` that fits the server.',
  'backup.tempDir': 'Temporary space for parallel dumps and restores, verification and the default WAL spool; default the system temp dir.',
  wal: 'WAL archiving for databases with `pitr: true`.',
  'wal.spoolDir': 'Where `pg_receivewal` writes before upload (pull mode), one folder per database; must survive restarts. Default `<tempDir>/pgwarden-wal`.',
  'wal.pushTimeoutSeconds': 'Timeout of each WAL push or fetch (`wal-push`, `wal-fetch`, the receiver’s uploads); a hung upload fails and is retried.',
  drills: 'Restore drills: the newest full backup of each database restored into a scratch database, compared with its manifest, dropped.',
  'drills.enabled': 'Run drills on `drills.schedule` under `pgwarden serve`.',
  'drills.schedule': `When drills run: ${SCHEDULE_NOTE}.`,
  'drills.targetUrl': 'postgres:// URL of a maintenance database (e.g. `postgres`) on the server the scratch databases are created on; default each database’s own server.',
  'drills.jobs': 'pg_restore jobs for drills; default 1 (streamed in one transaction without temporary space).',
  server: 'The HTTP server of `pgwarden serve`: `/metrics`, `/healthz`, `/readyz`, `/api`.',
  'server.port': 'TCP port; 0 picks a free one.',
  'server.host': 'Address to listen on. `127.0.0.1` keeps it on the machine; a container needs `0.0.0.0`.',
  'server.tokens': 'API tokens for `/api` (`Authorization: Bearer <token>`); none configured means every `/api` request is refused (401 without a token, 403 with one).',
  'server.tokens[].name': 'Token name, recorded as the actor `api:<name>` in the access log; unique.',
  'server.tokens[].token': 'The token, at least 16 characters (`openssl rand -hex 32`). ' + secret('token'),
  'server.tokens[].role': '`read`: GET requests and the status page without its actions; `operate`: also runs backups, verifies and silences (`POST` under `/api`, the page’s buttons). A `read` token is answered 403 on anything else.',
  'server.metricsAuth': 'Basic auth for `/metrics`; without it `/metrics` is open.',
  'server.metricsAuth.username': 'Basic-auth user name for `/metrics`.',
  'server.metricsAuth.password': 'Basic-auth password for `/metrics`. ' + secret('password'),
  'server.ui': 'The status page at `/` (sign in with one of `server.tokens`); false leaves `/` answering the JSON index of endpoints.',
  'server.sessionLifetime': 'How long a status-page sign-in lasts (a duration such as `12h`); sessions live in the memory of the replica that signed in.',
  'server.shutdownGraceSeconds': 'On SIGTERM, how long a running backup may finish before it is aborted and recorded as failed.',
  alerts: 'The built-in alert evaluator and its routing.',
  'alerts.thresholds': 'Thresholds of the built-in rules (per database overrides in `databases[].alerts`).',
  ...Object.fromEntries(Object.entries(THRESHOLDS).map(([key, text]) => [`alerts.thresholds.${key}`, `${text}.`])),
  'alerts.routes': 'Channels per severity. A channel named but not configured is logged and skipped.',
  'alerts.routes.critical': 'Channels for critical alerts.',
  'alerts.routes.warning': 'Channels for warnings.',
  'alerts.routes.info': 'Channels for info alerts.',
  'alerts.overrides': 'Routes for particular databases, rules or severities, checked in order before `routes`; the first that matches decides.',
  'alerts.overrides[].match': 'What the override applies to; every matcher given must fit.',
  'alerts.overrides[].match.database': 'Only alerts of this database.',
  'alerts.overrides[].match.rule': 'Only this rule, e.g. `BackupSizeDrop`.',
  'alerts.overrides[].match.severity': 'Only this severity.',
  'alerts.overrides[].channels': 'Channels for the matching alerts; `[]` sends them nowhere.',
  'alerts.webhookRoutes': 'Channels per severity for alerts arriving from Alertmanager (`POST /api/alertmanager`), which notifies its own receivers.',
  'alerts.webhookRoutes.critical': 'Channels for critical Alertmanager alerts.',
  'alerts.webhookRoutes.warning': 'Channels for Alertmanager warnings.',
  'alerts.webhookRoutes.info': 'Channels for Alertmanager info alerts.',
  'alerts.repeatInterval': 'How often a firing alert is sent again: a duration such as `4h`, `30m`, `90s`.',
  channels: 'Notification channels; none configured means alerts are only logged and recorded.',
  'channels.email': 'Email through SMTP.',
  'channels.email.host': 'SMTP server host.',
  'channels.email.port': 'SMTP port.',
  'channels.email.secure': '`true`: implicit TLS (port 465); `false`: STARTTLS when the server offers it.',
  'channels.email.user': 'SMTP user name; omit for no authentication.',
  'channels.email.password': 'SMTP password. ' + secret('password'),
  'channels.email.from': 'Sender address.',
  'channels.email.to': 'Recipient addresses, at least one.',
  'channels.slack': 'Slack through the Web API (`chat.postMessage`).',
  'channels.slack.token': 'Bot token (`xoxb-…`) with `chat:write`. ' + secret('token'),
  'channels.slack.channel': 'Channel to post to, e.g. `#db-alerts`.',
  'channels.slack.apiUrl': 'Slack API base URL (proxies, tests); default `https://slack.com/api/`.',
  'channels.pagerduty': 'PagerDuty Events API v2: one event per alert, deduplicated by its fingerprint.',
  'channels.pagerduty.routingKey': 'Integration (routing) key of the service. ' + secret('routingKey'),
  'channels.pagerduty.url': 'Events API URL (proxies, tests); default PagerDuty’s.',
  'channels.sms': 'SMS through Twilio (at most 160 GSM-7 characters per message).',
  'channels.sms.accountSid': 'Twilio account SID (starts with `AC`).',
  'channels.sms.authToken': 'Twilio auth token. ' + secret('authToken'),
  'channels.sms.from': 'Sending phone number (E.164, e.g. `+15550000000`).',
  'channels.sms.to': 'Phone numbers to text, at least one.',
  'channels.sms.apiUrl': 'Twilio API base URL (proxies, tests); default Twilio’s.',
  logLevel: 'Log level of the JSON lines on stderr.',
};

type AnySchema = z.core.$ZodType;

interface Unwrapped {
  schema: AnySchema;
  optional: boolean;
  /** A `.default()`: the value itself (a getter in zod, evaluated here). */
  defaultValue?: { value: unknown };
  /** A `.prefault()`: an absent section is parsed from this input, so its keys' defaults apply. */
  prefault: boolean;
}

const defOf = (schema: AnySchema) => (schema as z.core.$ZodTypes)._zod.def;

/** Peels optional, default, prefault and the like; a pipe is read on the side that is a schema, not a function. */
function unwrap(start: AnySchema): Unwrapped {
  const result: Unwrapped = { schema: start, optional: false, prefault: false };
  for (;;) {
    const def = defOf(result.schema);
    switch (def.type) {
      case 'optional':
        result.optional = true;
        result.schema = def.innerType;
        break;
      case 'default':
        result.defaultValue ??= { value: def.defaultValue };
        result.schema = def.innerType;
        break;
      case 'prefault':
        result.prefault = true;
        result.schema = def.innerType;
        break;
      case 'nullable':
      case 'readonly':
      case 'nonoptional':
      case 'catch':
        result.schema = def.innerType;
        break;
      case 'pipe':
        // z.preprocess(fn, schema) is pipe(transform, schema); schema.transform(fn) is pipe(schema, transform).
        result.schema = defOf(def.in).type === 'transform' ? def.out : def.in;
        break;
      default:
        return result;
    }
  }
}

/** Every section and key of the schema, in schema order, depth first. */
export function configReferenceRows(schema: AnySchema = configSchema): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  const visit = (node: AnySchema, path: string): void => {
    const { schema: inner, optional, defaultValue, prefault } = unwrap(node);
    const def = defOf(inner);
    const required = !optional && defaultValue === undefined && !prefault;
    if (def.type === 'object') {
      // The root, and the items of a list (described by the list's own row), get no row of their own.
      if (path !== '' && !path.endsWith('[]')) rows.push({ path, type: 'object', default: undefined, required });
      for (const [key, child] of Object.entries(def.shape)) visit(child, path === '' ? key : `${path}.${key}`);
      return;
    }
    if (def.type === 'array') {
      const element = unwrap(def.element).schema;
      if (defOf(element).type === 'object') {
        rows.push({ path, type: `list of objects${minItems(inner)}`, default: formatDefault(defaultValue), required });
        visit(element, `${path}[]`);
        return;
      }
    }
    rows.push({ path, type: typeName(inner), default: formatDefault(defaultValue), required });
  };
  visit(schema, '');
  return rows;
}

function checksOf(schema: AnySchema): z.core.$ZodChecks['_zod']['def'][] {
  return (defOf(schema).checks ?? []).map((check) => (check as z.core.$ZodChecks)._zod.def);
}

function minItems(schema: AnySchema): string {
  const min = checksOf(schema).find((check) => check.check === 'min_length');
  return min && min.check === 'min_length' && min.minimum > 0 ? ` (at least ${min.minimum})` : '';
}

function typeName(schema: AnySchema): string {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return numberType(schema);
    case 'enum':
      return `one of ${enumValues(def.entries)}`;
    case 'array': {
      const element = unwrap(def.element).schema;
      const elementDef = defOf(element);
      const items = elementDef.type === 'enum' ? enumValues(elementDef.entries) : plural(typeName(element));
      return `list of ${items}${minItems(schema)}`;
    }
    default:
      return def.type;
  }
}

const enumValues = (entries: Readonly<Record<string, unknown>>) =>
  Object.values(entries)
    .map((value) => `\`${String(value)}\``)
    .join(', ');

const plural = (type: string) => (type === 'string' || type === 'boolean' || type === 'number' || type === 'integer' ? `${type}s` : type);

/** `integer 5–5120`, `integer ≥ 1`, `number > 0, ≤ 1`. */
function numberType(schema: AnySchema): string {
  // z.int() is a number schema that is its own format check.
  const integer = (defOf(schema) as { format?: string }).format === 'safeint';
  let min: { value: number; inclusive: boolean } | undefined;
  let max: { value: number; inclusive: boolean } | undefined;
  for (const check of checksOf(schema)) {
    if (check.check === 'greater_than') min = { value: Number(check.value), inclusive: check.inclusive };
    if (check.check === 'less_than') max = { value: Number(check.value), inclusive: check.inclusive };
  }
  const name = integer ? 'integer' : 'number';
  if (integer && min?.inclusive && max?.inclusive) return `${name} ${min.value}–${max.value}`;
  const bounds = [min && `${min.inclusive ? '≥' : '>'} ${min.value}`, max && `${max.inclusive ? '≤' : '<'} ${max.value}`].filter((b) => b !== undefined);
  return bounds.length > 0 ? `${name} ${bounds.join(', ')}` : name;
}

function formatDefault(defaultValue: { value: unknown } | undefined): string | undefined {
  if (defaultValue === undefined) return undefined;
  const { value } = defaultValue;
  if (Array.isArray(value)) return `[${value.map((item) => JSON.stringify(item)).join(', ')}]`;
  return JSON.stringify(value);
}

/** Rows whose path has no description, and descriptions for paths the schema no longer has. */
export function descriptionProblems(rows: readonly ReferenceRow[], descriptions: Readonly<Record<string, string>> = CONFIG_DESCRIPTIONS): { missing: string[]; stale: string[] } {
  const paths = new Set(rows.map((row) => row.path));
  return {
    missing: rows.filter((row) => !descriptions[row.path]?.trim()).map((row) => row.path),
    stale: Object.keys(descriptions).filter((path) => !paths.has(path)),
  };
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** The Markdown that goes between the README's markers. */
export function renderConfigReference(rows: readonly ReferenceRow[] = configReferenceRows(), descriptions: Readonly<Record<string, string>> = CONFIG_DESCRIPTIONS): string {
  const { missing } = descriptionProblems(rows, descriptions);
  if (missing.length > 0) throw new Error(`config keys without a description in src/config/reference.ts: ${missing.join(', ')}`);
  const lines = [
    '### Configuration reference',
    '',
    'Generated from `src/config/schema.ts` by `npm run docs:config` (descriptions in `src/config/reference.ts`); a',
    'unit test fails when this table and the schema differ. *Required* means required whenever its section is',
    `present; \`[]\` marks the items of a list. Any value can be written as \`${ENV_SYNTAX}\`, and any key as \`key_FILE: /path\``,
    'to read it from a file (secrets).',
    '',
    '| key | type | default | required | description |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((row) =>
      [
        '',
        `\`${row.path}\``,
        cell(row.type),
        row.default === undefined ? '' : `\`${cell(row.default)}\``,
        row.required ? 'yes' : 'no',
        cell(descriptions[row.path]!),
        '',
      ]
        .join(' | ')
        .trim(),
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** `text` with everything between the markers replaced by `block`; throws when the markers are missing. */
export function replaceBetweenMarkers(text: string, block: string): string {
  const start = text.indexOf(REFERENCE_START);
  const end = text.indexOf(REFERENCE_END);
  if (start === -1 || end === -1 || end < start) throw new Error(`README.md needs the markers ${REFERENCE_START} and ${REFERENCE_END}, in that order`);
  return `${text.slice(0, start + REFERENCE_START.length)}\n${block}${text.slice(end)}`;
}

/** The Markdown between the markers, as committed. */
export function betweenMarkers(text: string): string | undefined {
  const start = text.indexOf(REFERENCE_START);
  const end = text.indexOf(REFERENCE_END);
  if (start === -1 || end === -1 || end < start) return undefined;
  return text.slice(start + REFERENCE_START.length + 1, end);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const readme = join(packageRoot(), 'README.md');
  const before = readFileSync(readme, 'utf8');
  const after = replaceBetweenMarkers(before, renderConfigReference());
  if (after !== before) writeFileSync(readme, after);
  process.stdout.write(after === before ? 'README.md configuration reference is up to date\n' : 'wrote the configuration reference into README.md\n');
}
