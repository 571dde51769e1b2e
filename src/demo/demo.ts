// `pgwarden demo`: the main job end to end on an embedded default, with nothing configured — a throwaway
// PostgreSQL cluster holding a sample hotel database, a catalog on the same cluster, local storage under
// `--dir`. It backs up (encrypted), verifies, restores into a second database and compares row counts.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openPgwarden } from '../app/open.js';
import { runBackups } from '../backup/run.js';
import { loadConfig, secretValues } from '../config/index.js';
import { PgwardenError } from '../errors.js';
import { createLogger } from '../logging/logger.js';
import { type Cluster, startCluster } from '../postgres/cluster.js';
import { restoreBackup } from '../restore/restore.js';
import { verifyBackup } from '../verify/verify-backup.js';

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
  out(`starting a throwaway PostgreSQL cluster under ${dir} ...\n`);
  let cluster: Cluster | undefined;
  try {
    cluster = await startCluster({ baseDir: join(dir, 'cluster') });
    await cluster.createDatabase('hotel');
    await cluster.query(SAMPLE_SQL, [], 'hotel');
    await cluster.createDatabase('pgwarden');
    const configPath = join(dir, 'pgwarden.yml');
    await writeFile(
      configPath,
      [
        `# Written by pgwarden demo: a throwaway cluster on port ${cluster.port}.`,
        `catalog: { url: "${cluster.url('pgwarden')}" }`,
        `databases:`,
        `  - { name: hotel, url: "${cluster.url('hotel')}" }`,
        `storage: { local: { path: "${join(dir, 'backups')}" } }`,
        `encryption: { keys: [ { id: demo, key: "${randomBytes(32).toString('base64')}" } ] }`,
        `logLevel: warn`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const config = await loadConfig(configPath);
    const app = await openPgwarden(config, { logger: createLogger({ level: config.logLevel, secrets: secretValues(config) }) });
    try {
      out(`sample database "hotel" loaded; config written to ${configPath}\n\n1. full backup (pg_dump → gzip → AES-256-GCM → SHA-256 → local storage) ...\n`);
      const [backup] = await runBackups(app, { kind: 'full', signal: options.signal });
      if (backup?.status !== 'succeeded') {
        throw new PgwardenError(`demo backup failed: ${backup?.error ?? 'no result'}`);
      }
      out(`   ${backup.backup_id}: ${backup.file_size} bytes stored, sha256 ${backup.checksum_sha256?.slice(0, 16)}…, verified\n`);

      out(`2. verify again from storage ...\n`);
      const verified = await verifyBackup({ ...app, prefix: config.storage.prefix, signal: options.signal }, backup.backup_id, 'cli:demo');
      if (!verified.ok) throw new PgwardenError(`demo verification failed: ${verified.error}`);
      out(`   ok: ${verified.tables} tables, every data block read\n`);

      out(`3. restore into a new database "hotel_restored" ...\n`);
      const targetUrl = await cluster.createDatabase('hotel_restored');
      const restored = await restoreBackup(
        { ...app, prefix: config.storage.prefix, signal: options.signal },
        { backupId: backup.backup_id, targetUrl, jobs: 1, clean: false, noOwner: false, actor: 'cli:demo' },
      );
      out(`   ${restored.tables} tables, ${restored.rows} rows in ${restored.duration_seconds}s\n`);
      const original = await cluster.query<{ n: string }>('SELECT (SELECT count(*) FROM bookings) + (SELECT count(*) FROM guests) + (SELECT count(*) FROM rooms) + (SELECT count(*) FROM hotels) AS n', [], 'hotel');
      const expectedRows = Number(original.rows[0]!.n);
      if (restored.rows !== expectedRows) throw new PgwardenError(`demo restore has ${restored.rows} rows; the source has ${expectedRows}`);
      out(`   row counts match the source (${expectedRows})\n\n`);
    } finally {
      await app.close();
    }
    if (options.once) {
      out('demo finished: backup, verification and restore all succeeded\n');
      return;
    }
    out(
      [
        'The cluster stays up until Ctrl-C. Try:',
        `  npx pgwarden --config ${configPath} list`,
        `  npx pgwarden --config ${configPath} backup full`,
        `  npx pgwarden --config ${configPath} health`,
        `  psql "${cluster.url('pgwarden')}" -c 'SET search_path TO pgwarden; SELECT * FROM check_backup_health()'`,
        '',
      ].join('\n'),
    );
    if (!options.signal.aborted) {
      await new Promise<void>((done) => options.signal.addEventListener('abort', () => done(), { once: true }));
    }
    out('\nstopping the demo cluster\n');
  } finally {
    await cluster?.destroy().catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}
