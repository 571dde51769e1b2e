// Starts the real HTTP app on 127.0.0.1:0 with in-memory fakes behind it (the catalog itself is tested
// against PostgreSQL elsewhere), records what the actions received and what was logged, and cleans up.
import { Writable } from 'node:stream';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type { ListFilter } from '../../src/catalog/catalog.js';
import type { BackupRow, HealthRow } from '../../src/catalog/types.js';
import { parseConfig } from '../../src/config/index.js';
import { createHttpApp, type HttpDeps, type RunBackupInput, startHttpServer } from '../../src/http/index.js';
import type { VerifyResult } from '../../src/verify/verify-backup.js';

export const OPS_TOKEN = 'ops-token-0123456789abcdef';
export const CI_TOKEN = 'ci-token-fedcba9876543210';
export const METRICS_USER = 'prometheus';
export const METRICS_PASSWORD = 'scrape-secret-42';
export const METRICS_TEXT = '# HELP pgwarden_up 1 when up\n# TYPE pgwarden_up gauge\npgwarden_up 1\n';
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const KNOWN_ID = '20261125T020000Z-full-1a2b3c';
export const OTHER_ID = '20261124T020000Z-full-0f0f0f';
export const UNKNOWN_ID = '20261125T020000Z-full-ffffff';

export function testConfig(options: { tokens?: boolean; metricsAuth?: boolean } = {}) {
  const tokens = options.tokens === false ? '[]' : `[ { name: ops, token: "${OPS_TOKEN}" }, { name: ci, token: "${CI_TOKEN}" } ]`;
  const metricsAuth = options.metricsAuth ? `, metricsAuth: { username: ${METRICS_USER}, password: "${METRICS_PASSWORD}" }` : '';
  return parseConfig(`
catalog: { url: "postgres://pgwarden@127.0.0.1:5432/pgwarden" }
databases:
  - { name: shop, url: "postgres://backup@127.0.0.1:5432/shop" }
  - { name: crm, url: "postgres://backup@127.0.0.1:5432/crm" }
storage:
  local: { path: /tmp/pgwarden-http-test }
server: { port: 0, tokens: ${tokens}${metricsAuth} }
`);
}

export function backupRow(backupId: string, database: string, overrides: Partial<BackupRow> = {}): BackupRow {
  return {
    backupId,
    database,
    type: 'full',
    status: 'succeeded',
    createdAt: new Date('2026-11-25T02:00:00Z'),
    finishedAt: new Date('2026-11-25T02:01:00Z'),
    fileSize: 4096,
    rawSize: 10_000,
    expectedSize: null,
    checksumSha256: 'a'.repeat(64),
    compression: 'gzip:6',
    encryptionKeyId: null,
    serverVersion: '16.4',
    tableCount: 3,
    storage: { local: { status: 'stored', path: `shop/full/${backupId}/dump.pgc.gz` } },
    verifiedAt: new Date('2026-11-25T02:01:30Z'),
    verificationStatus: 'ok',
    verificationError: null,
    error: null,
    host: 'db1',
    pid: 4242,
    ...overrides,
  };
}

export const HEALTH: HealthRow[] = [{ database: 'shop', check: 'full_backup_age', status: 'ok', detail: 'last full backup 2 hours ago' }];

/** What the fakes were asked, in order. */
export interface Calls {
  list: ListFilter[];
  runBackup: RunBackupInput[];
  verify: { backupId: string; actor: string }[];
  access: unknown[];
}

export interface TestServer {
  url: string;
  calls: Calls;
  /** Every log line written so far, parsed. */
  logs(): Record<string, unknown>[];
  /** The raw log text, to look for things that must never be in it. */
  logText(): string;
  close(): Promise<void>;
}

export type DepsOverrides = Partial<Omit<HttpDeps, 'actions'>> & { actions?: Partial<HttpDeps['actions']>; shutdownTimeoutMs?: number };

export async function startTestServer(t: TestContext | undefined, overrides: DepsOverrides = {}): Promise<TestServer> {
  let logText = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logText += chunk.toString();
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const calls: Calls = { list: [], runBackup: [], verify: [], access: [] };
  const rows = [backupRow(KNOWN_ID, 'shop'), backupRow(OTHER_ID, 'crm', { status: 'failed', error: 'pg_dump exited 1' })];

  const catalog: HttpDeps['catalog'] & { access(entry: unknown): Promise<void> } = {
    async listBackups(filter = {}) {
      calls.list.push(filter);
      return rows
        .filter((r) => (!filter.database || r.database === filter.database) && (!filter.status || r.status === filter.status))
        .slice(0, filter.limit ?? 1000);
    },
    async getBackup(id) {
      return rows.find((r) => r.backupId === id);
    },
    async health() {
      return HEALTH;
    },
    // Not part of what the app needs; recorded so a test can show the app never writes the access log itself.
    async access(entry) {
      calls.access.push(entry);
    },
  };

  const { actions, shutdownTimeoutMs, ...rest } = overrides;
  const deps: HttpDeps = {
    config: testConfig(),
    logger,
    catalog,
    metrics: { render: async () => METRICS_TEXT, contentType: METRICS_CONTENT_TYPE },
    readiness: async () => ({ ready: true, checks: { catalog: 'ok', scheduler: 'ok' } }),
    ...rest,
    actions: {
      async runBackup(input) {
        calls.runBackup.push(input);
        const databases = input.database ? [input.database] : ['shop', 'crm'];
        return { accepted: true, runs: databases.map((database, i) => ({ database, backupId: `20261125T030000Z-full-00000${i}` })) };
      },
      async verifyBackup(backupId, actor): Promise<VerifyResult> {
        calls.verify.push({ backupId, actor });
        return { backup_id: backupId, database: 'shop', ok: true, verified_at: '2026-11-25T03:00:00.000Z', tables: 3, duration_seconds: 0.5, summary: '3 tables, every data block read', error: null };
      },
      ...actions,
    },
  };

  const server = await startHttpServer(createHttpApp(deps), { host: '127.0.0.1', port: 0, shutdownTimeoutMs: shutdownTimeoutMs ?? 2000 });
  t?.after(() => server.close());
  return {
    url: server.url,
    calls,
    logs: () =>
      logText
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    logText: () => logText,
    close: () => server.close(),
  };
}

export function bearer(token = OPS_TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** A JSON POST with the ops token. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { ...bearer(), 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** The response's JSON body, after checking that it is JSON. */
export async function jsonOf(response: Response): Promise<Record<string, unknown>> {
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('application/json')) throw new Error(`expected a JSON response, got ${type || 'no content type'}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}
