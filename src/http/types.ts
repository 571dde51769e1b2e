// Contracts of the HTTP API: what the service passes into createHttpApp, and what the actions behind the
// routes promise. Everything is passed in, so tests wire the app with fakes and a free port.
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config/index.js';
import type { StatusSource } from '../status/types.js';
import type { VerifyResult } from '../verify/verify-backup.js';

export interface HttpDeps {
  /** `server.tokens` and `server.metricsAuth` guard the routes; `databases` checks `POST /api/backups`. */
  config: Pick<Config, 'server' | 'databases'>;
  logger: Logger;
  /** The reads the API serves straight from the catalog. */
  catalog: Pick<Catalog, 'listBackups' | 'getBackup' | 'health'>;
  metrics: MetricsSource;
  /** `GET /readyz`: catalog reachable, scheduler running… */
  readiness: () => Promise<Readiness>;
  actions: HttpActions;
  /** `GET /api/status` (every database) and `GET /api/status/:database`; without it they answer 501. */
  status?: StatusSource;
  /** The status page (src/ui), mounted at the root before the probes: it answers browsers at `/`. */
  page?: RequestHandler;
  /** Largest JSON body accepted; a larger one is answered 413. Default 64 KiB. */
  bodyLimitBytes?: number;
  /** A readiness check that has not answered by then counts as not ready. Default 5 s. */
  readinessTimeoutMs?: number;
}

export interface MetricsSource {
  render(): Promise<string>;
  /** Sent as Content-Type, e.g. prom-client's `register.contentType`. */
  contentType: string;
}

export interface Readiness {
  ready: boolean;
  /** One line per check, `ok` when it passes: `{ catalog: 'ok', scheduler: 'stopped' }`. */
  checks: Record<string, string>;
}

export interface HttpActions {
  /** Starts backups now and resolves once they have started, not when they finish. */
  runBackup(input: RunBackupInput): Promise<RunBackupOutcome>;
  /** Reads a backup back from storage; resolves with ok=false when the backup is bad. Records its own access-log row. */
  verifyBackup(backupId: string, actor: string): Promise<VerifyResult>;
  /** Active alerts; without it `GET /api/alerts` answers an empty list. */
  alerts?: () => Promise<unknown[]>;
  /** Without it `POST /api/silences` validates the body, then answers 501. */
  silence?: (input: SilenceInput) => Promise<unknown>;
  /** Without it `POST /api/alertmanager` answers 501. */
  alertmanagerWebhook?: (body: AlertmanagerPayload) => Promise<void>;
}

export interface RunBackupInput {
  /** base and incremental only for databases with pitr: true. */
  kind: 'full' | 'base' | 'incremental';
  /** One configured database; every configured database (with pitr: true for base and incremental) when absent. */
  database?: string | undefined;
  /** Who asked: `api:<token name>` (the status page: `ui:<token name>`). */
  actor: string;
}

/** One run that was started (or, when refused, that is in the way). */
export interface StartedRun {
  database: string;
  /** Known once the run has registered in the catalog. */
  backupId?: string | undefined;
}

/** 202 with the runs when accepted; 409 BACKUP_RUNNING with the runs in the way when refused. */
export type RunBackupOutcome =
  | { accepted: true; runs: StartedRun[] }
  | { accepted: false; reason: 'already-running'; message: string; runs: StartedRun[] };

export interface SilenceInput {
  /** Label name → exact value; an alert is silenced when every matcher matches. */
  matchers: Record<string, string>;
  durationSeconds: number;
  comment?: string | undefined;
  actor: string;
}

/** Alertmanager's webhook payload; only `alerts` is checked here, the rest is passed through. */
export interface AlertmanagerPayload {
  alerts: unknown[];
  [field: string]: unknown;
}
