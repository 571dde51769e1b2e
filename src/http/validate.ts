// Checks what clients send (query strings, JSON bodies, backup ids) and turns it into typed input. Every
// problem is reported at once, each naming its field: `limit: must be a whole number from 1 to 1000, got "abc"`.
import type { ListFilter } from '../catalog/catalog.js';
import type { BackupStatus, BackupType } from '../catalog/types.js';
import { parseBackupId } from '../manifest/layout.js';
import { HttpError } from './http-error.js';
import type { AlertmanagerPayload, SilenceInput } from './types.js';

const BACKUP_TYPES: readonly BackupType[] = ['full', 'base', 'incremental', 'wal'];
const BACKUP_STATUSES: readonly BackupStatus[] = ['running', 'succeeded', 'failed', 'expired'];
export const MAX_LIST_LIMIT = 1000;
export const MAX_SILENCE_SECONDS = 30 * 24 * 3600;
const MAX_COMMENT_LENGTH = 1000;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A client's value, quoted and cut short, for a message. */
const show = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
};
const field = (name: string): string => (name.length > 60 ? `${name.slice(0, 57)}...` : name);
const quoted = (values: readonly string[]): string => values.map((v) => `"${v}"`).join(', ');

function oneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}

function invalid(problems: string[]): HttpError {
  return new HttpError(400, 'INVALID_REQUEST', problems.join('; '));
}

/** 400 INVALID_BACKUP_ID unless `id` has the shape of a backup id. */
export function checkBackupId(id: string): string {
  if (!parseBackupId(id)) {
    throw new HttpError(400, 'INVALID_BACKUP_ID', `${show(id)} is not a backup id (they look like 20261125T020000Z-full-1a2b3c)`);
  }
  return id;
}

/** `GET /api/backups?database=&type=&status=&limit=`. Unknown or repeated parameters are errors. */
export function parseListQuery(query: Record<string, unknown>): ListFilter {
  const problems: string[] = [];
  const filter: ListFilter = {};
  for (const [key, raw] of Object.entries(query)) {
    if (typeof raw !== 'string') {
      problems.push(`${field(key)}: give it once`);
      continue;
    }
    switch (key) {
      case 'database':
        if (raw === '') problems.push('database: must not be empty');
        else filter.database = raw;
        break;
      case 'type':
        if (oneOf(BACKUP_TYPES, raw)) filter.type = raw;
        else problems.push(`type: must be one of ${quoted(BACKUP_TYPES)}, got ${show(raw)}`);
        break;
      case 'status':
        if (oneOf(BACKUP_STATUSES, raw)) filter.status = raw;
        else problems.push(`status: must be one of ${quoted(BACKUP_STATUSES)}, got ${show(raw)}`);
        break;
      case 'limit': {
        const limit = /^\d{1,7}$/.test(raw) ? Number(raw) : Number.NaN;
        if (limit >= 1 && limit <= MAX_LIST_LIMIT) filter.limit = limit;
        else problems.push(`limit: must be a whole number from 1 to ${MAX_LIST_LIMIT}, got ${show(raw)}`);
        break;
      }
      default:
        problems.push(`${field(key)}: unknown query parameter (known: database, type, status, limit)`);
    }
  }
  if (problems.length > 0) throw invalid(problems);
  return filter;
}

function objectBody(body: unknown, example: string): Record<string, unknown> {
  if (body === undefined) throw invalid([`body: required, a JSON object such as ${example}`]);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid([`body: must be a JSON object such as ${example}`]);
  return body as Record<string, unknown>;
}

function unknownFields(body: Record<string, unknown>, known: readonly string[]): string[] {
  const hint = known.length > 0 ? `known: ${known.join(', ')}` : 'this endpoint takes none';
  return Object.keys(body)
    .filter((key) => !known.includes(key))
    .map((key) => `${field(key)}: unknown field (${hint})`);
}

export const RUN_KINDS = ['full', 'base', 'incremental'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** A configured database, as far as starting a run is concerned: base and incremental need WAL archiving. */
export interface RunnableDatabase {
  readonly name: string;
  readonly pitr?: boolean | undefined;
}

/** `POST /api/backups`: `{ "kind": "full" | "base" | "incremental", "database"?: "<configured name>" }`. */
export function parseRunBackupBody(body: unknown, databases: readonly RunnableDatabase[]): { kind: RunKind; database?: string } {
  const input = objectBody(body, '{"kind":"full"}');
  const problems = unknownFields(input, ['kind', 'database']);
  const { kind, database } = input;
  const names = databases.map((d) => d.name);
  if (kind === undefined) problems.push(`kind: required (${quoted(RUN_KINDS)})`);
  else if (typeof kind !== 'string' || !oneOf(RUN_KINDS, kind)) problems.push(`kind: must be one of ${quoted(RUN_KINDS)}, got ${show(kind)}`);
  const physical = kind === 'base' || kind === 'incremental';
  if (database !== undefined) {
    if (typeof database !== 'string' || database === '') problems.push(`database: must be a database name, got ${show(database)}`);
    else if (!names.includes(database)) {
      problems.push(`database: no database named ${show(database)} in the config (configured: ${names.join(', ')})`);
    } else if (physical && !databases.find((d) => d.name === database)?.pitr) {
      problems.push(`kind: "${kind}" backups need WAL archiving, and database "${database}" does not have pitr: true`);
    }
  } else if (physical && !databases.some((d) => d.pitr)) {
    problems.push(`kind: "${kind}" backups need WAL archiving, and no configured database has pitr: true`);
  }
  if (problems.length > 0) throw invalid(problems);
  const runKind = kind as RunKind;
  return database === undefined ? { kind: runKind } : { kind: runKind, database: database as string };
}

/** `POST /api/silences`: `{ "matchers": { "<label>": "<value>" }, "durationSeconds": 3600, "comment"?: "…" }`. */
export function parseSilenceBody(body: unknown): Omit<SilenceInput, 'actor'> {
  const input = objectBody(body, '{"matchers":{"alertname":"BackupMissing"},"durationSeconds":3600}');
  const problems = unknownFields(input, ['matchers', 'durationSeconds', 'comment']);
  const { matchers, durationSeconds, comment } = input;
  const parsedMatchers: Record<string, string> = {};
  if (matchers === undefined) problems.push('matchers: required, an object of label name to value');
  else if (typeof matchers !== 'object' || matchers === null || Array.isArray(matchers)) {
    problems.push('matchers: must be an object of label name to value');
  } else {
    const entries = Object.entries(matchers);
    if (entries.length === 0) problems.push('matchers: must name at least one label (a silence of everything is refused)');
    for (const [name, value] of entries) {
      if (!LABEL_NAME.test(name)) problems.push(`matchers.${field(name)}: not a label name (letters, digits and _, not first a digit)`);
      else if (typeof value !== 'string' || value === '') problems.push(`matchers.${name}: must be a non-empty string, got ${show(value)}`);
      else parsedMatchers[name] = value;
    }
  }
  if (durationSeconds === undefined) problems.push('durationSeconds: required');
  else if (!Number.isInteger(durationSeconds) || (durationSeconds as number) < 1 || (durationSeconds as number) > MAX_SILENCE_SECONDS) {
    problems.push(`durationSeconds: must be a whole number of seconds from 1 to ${MAX_SILENCE_SECONDS} (30 days), got ${show(durationSeconds)}`);
  }
  if (comment !== undefined && (typeof comment !== 'string' || comment.length > MAX_COMMENT_LENGTH)) {
    problems.push(`comment: must be a string of at most ${MAX_COMMENT_LENGTH} characters`);
  }
  if (problems.length > 0) throw invalid(problems);
  const silence: Omit<SilenceInput, 'actor'> = { matchers: parsedMatchers, durationSeconds: durationSeconds as number };
  if (comment !== undefined) silence.comment = comment as string;
  return silence;
}

/** `POST /api/alertmanager`: a webhook payload with an `alerts` array; other fields pass through unchecked. */
export function parseAlertmanagerBody(body: unknown): AlertmanagerPayload {
  const input = objectBody(body, '{"version":"4","status":"firing","alerts":[…]}');
  if (!Array.isArray(input.alerts)) throw invalid(['alerts: required, an array (is this an Alertmanager webhook payload?)']);
  return input as AlertmanagerPayload;
}

/** An endpoint that takes no parameters accepts no body or `{}`. */
export function checkNoBody(body: unknown): void {
  if (body === undefined) return;
  const problems = unknownFields(objectBody(body, '{}'), []);
  if (problems.length > 0) throw invalid(problems);
}
