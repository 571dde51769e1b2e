// `pgwarden demo`: the service end to end on an embedded default, with nothing configured — a throwaway
// primary holding a sample hotel database and a streaming standby, a catalog on the primary, local storage
// and WAL archiving under `--dir`. `pgwarden serve` takes the overdue full and base backups at once (both
// verified), the full one is restored and its row counts compared, metrics and the API are served.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Pgwarden } from '../app/open.js';
import { loadConfig, secretValues } from '../config/index.js';
import { PgwardenError } from '../errors.js';
import { createLogger } from '../logging/logger.js';
import { type Cluster, startCluster } from '../postgres/cluster.js';
import { restoreBackup } from '../restore/restore.js';
import { type Service, startService } from '../service/serve.js';
import { startStandby } from '../postgres/standby.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DemoOptions {
  dir: string;
  once: boolean;
  out: (text: string) => void;
  signal: AbortSignal;
}

// A small hotel: enough shape (enum, jsonb, arrays, numerics, a partitioned table) to make the round trip mean something.
const SAMPLE_SQL = `
CREATE TYPE room_kind AS ENUM ('single', 'double', 'suite');
CREATE TABLE hotels (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL, amenities text[] NOT NULL);
CREATE TABLE rooms (id int PRIMARY KEY, hotel_id int NOT NULL REFERENCES hotels, kind room_kind NOT NULL, rate numeric(10,2) NOT NULL);
CREATE TABLE guests (id int PRIMARY KEY, name text NOT NULL, profile jsonb NOT NULL);
CREATE TABLE bookings (id bigint NOT NULL, room_id int NOT NULL, guest_id int NOT NULL, night date NOT NULL, PRIMARY KEY (id, night))
  PARTITION BY RANGE (night);
CREATE TABLE bookings_2026 PARTITION OF bookings FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE bookings_2027 PARTITION OF bookings FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
INSERT INTO hotels SELECT i, 'Hotel ' || i, (ARRAY['Lisbon','Kyoto','Zürich','Lima'])[1 + i % 4], ARRAY['wifi','spa'] FROM generate_series(1, 20) i;
INSERT INTO rooms SELECT i, 1 + i % 20, (ARRAY['single','double','suite']::room_kind[])[1 + i % 3], 80 + (i % 50) * 3.5 FROM generate_series(1, 800) i;
INSERT INTO guests SELECT i, 'Guest ' || i, jsonb_build_object('vip', i % 10 = 0, 'visits', i % 7) FROM generate_series(1, 5000) i;
INSERT INTO bookings SELECT i, 1 + i % 800, 1 + i % 5000, date '2026-01-01' + (i % 700) FROM generate_series(1, 20000) i;
`;

export async function runDemo(options: DemoOptions): Promise<void> {
  const dir = resolve(options.dir);
  const { out } = options;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  out(`starting a throwaway PostgreSQL primary and streaming standby; pgwarden's files go under ${dir} ...\n`);
  let primary: Cluster | undefined;
  let standby: Cluster | undefined;
  let service: Service | undefined;
  try {
    // The clusters live in the system's temp dir: the postgres OS user (the server's, when run as root) may not
    // be able to reach --dir (a home directory is often closed to other users).
    primary = await startCluster({});
    await primary.createDatabase('hotel');
    await primary.query(SAMPLE_SQL, [], 'hotel');
    await primary.createDatabase('pgwarden');
    standby = await startStandby(primary, { name: 'replica1' });
    const token = randomBytes(18).toString('base64url');
    const configPath = join(dir, 'pgwarden.yml');
    await writeFile(
      configPath,
      [
        `# Written by pgwarden demo: a throwaway primary on port ${primary.port}, its standby on ${standby.port}.`,
        `catalog: { url: "${primary.url('pgwarden')}" }`,
        `databases:`,
        `  - name: hotel`,
        `    url: "${primary.url('hotel')}"`,
        `    pitr: true      # pgwarden serve archives its WAL with pg_receivewal`,
        `    standbys: [ { name: replica1, url: "${standby.url('hotel')}" } ]`,
        `storage: { local: { path: "${join(dir, 'backups')}" } }`,
        `wal: { spoolDir: "${join(dir, 'wal-spool')}" }`,
        `encryption: { keys: [ { id: demo, key: "${randomBytes(32).toString('base64')}" } ] }`,
        `server: { port: 0, tokens: [ { name: demo, token: "${token}" } ] }`,
        `schedules: { replicationProbeSeconds: 5 }`,
        `logLevel: warn`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const config = await loadConfig(configPath);
    const logger = createLogger({ level: config.logLevel, secrets: secretValues(config) });
    out(`sample database "hotel" loaded; config written to ${configPath}\n\n`);
    out('1. pgwarden serve: no backup exists yet, so the full and the base backup are overdue and start at once ...\n');
    service = await startService(config, { logger, configPath });
    const app = service.app;
    const [full, base] = await Promise.all([waitForBackup(app, 'full', options.signal), waitForBackup(app, 'base', options.signal)]);
    out(`   full ${full.backupId}: ${full.fileSize} bytes stored, verified through pg_restore\n`);
    out(`   base ${base.backupId}: ${base.fileSize} bytes stored, checked against its backup_manifest while streaming, its WAL parsed by pg_waldump\n`);

    out('2. restore the full backup into a new database "hotel_restored" ...\n');
    const targetUrl = await primary.createDatabase('hotel_restored');
    const restored = await restoreBackup(
      { ...app, prefix: config.storage.prefix, signal: options.signal },
      { backupId: full.backupId, targetUrl, jobs: 1, clean: false, noOwner: false, actor: 'cli:demo' },
    );
    const original = await primary.query<{ n: string }>('SELECT (SELECT count(*) FROM bookings) + (SELECT count(*) FROM guests) + (SELECT count(*) FROM rooms) + (SELECT count(*) FROM hotels) AS n', [], 'hotel');
    const expectedRows = Number(original.rows[0]!.n);
    if (restored.rows !== expectedRows) throw new PgwardenError(`demo restore has ${restored.rows} rows; the source has ${expectedRows}`);
    out(`   ${restored.tables} tables, ${restored.rows} rows in ${restored.duration_seconds}s: the row counts match the source\n\n`);

    await service.metrics.refresh();
    const metrics = await service.metrics.render();
    const age = /pgwarden_backup_age_seconds\{database="hotel",type="full"\} ([\d.]+)/.exec(metrics)?.[1];
    const lag = /pgwarden_replication_lag_seconds\{database="hotel",standby="replica1"\} ([\d.]+)/.exec(metrics)?.[1];
    out(`3. metrics: full backup age ${age ?? '?'} s, replica1 lag ${lag ?? '?'} s\n\n`);
    out(
      [
        `   metrics:   curl ${service.url}/metrics`,
        `   API:       curl -H 'Authorization: Bearer ${token}' ${service.url}/api/backups`,
        `   health:    psql "${primary.url('pgwarden')}" -c 'SET search_path TO pgwarden; SELECT * FROM check_backup_health()'`,
        `   CLI:       npx pgwarden --config ${configPath} list`,
        '',
      ].join('\n'),
    );
    if (options.once) {
      out('demo finished: full and base backup verified, restore checked, metrics served\n');
      return;
    }
    out('pgwarden serve keeps running (WAL archiving, schedules, API) until Ctrl-C.\n');
    if (!options.signal.aborted) {
      await new Promise<void>((done) => options.signal.addEventListener('abort', () => done(), { once: true }));
    }
    out('\nstopping the demo\n');
  } finally {
    await service?.stop().catch(() => {});
    await standby?.destroy().catch(() => {});
    await primary?.destroy().catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

/** Waits until a backup of that kind succeeded; a failed one ends the demo with its reason. */
async function waitForBackup(app: Pgwarden, kind: 'full' | 'base', signal: AbortSignal): Promise<{ backupId: string; fileSize: number }> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const [row] = await app.catalog.listBackups({ database: 'hotel', type: kind, limit: 1 });
    if (row?.status === 'succeeded') return { backupId: row.backupId, fileSize: row.fileSize ?? 0 };
    if (row?.status === 'failed') throw new PgwardenError(`the demo's ${kind} backup failed: ${row.error}`);
    if (signal.aborted) throw new PgwardenError('demo interrupted');
    if (Date.now() > deadline) throw new PgwardenError(`the demo's ${kind} backup did not finish within 3 minutes`);
    await sleep(200);
  }
}
