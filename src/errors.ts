// The error catalogue: every failure a person can act on is one of these, with a stable code, an exit
// code (DESIGN.md: 1 the operation failed, 2 bad usage or config) and hints saying what to do.
// Anything else that escapes is a bug, and the CLI prints its stack.

export interface ErrorOptions {
  hints?: string[];
  cause?: unknown;
}

export class PgwardenError extends Error {
  readonly code: string = 'PGWARDEN_ERROR';
  readonly exitCode: number = 1;
  readonly hints: string[];

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hints = options.hints ?? [];
  }
}

/** The configuration file is missing, unreadable or invalid. */
export class ConfigError extends PgwardenError {
  override readonly code = 'CONFIG_INVALID';
  override readonly exitCode = 2;
  /** One line per problem, each naming the field: `databases[0].url: required`. */
  readonly problems: string[];

  constructor(message: string, problems: string[] = [], options: ErrorOptions = {}) {
    super(problems.length > 0 ? `${message}\n${problems.map((p) => `  ${p}`).join('\n')}` : message, options);
    this.problems = problems;
  }
}

/** The command line asks for something that cannot be done as asked. */
export class UsageError extends PgwardenError {
  override readonly code = 'USAGE';
  override readonly exitCode = 2;
}

/** A database (source, target or catalog) cannot be reached or refuses us. */
export class DatabaseUnreachableError extends PgwardenError {
  override readonly code = 'DATABASE_UNREACHABLE';
}

/** A pre-check failed before a backup started: nothing was written. */
export class PrecheckError extends PgwardenError {
  override readonly code = 'PRECHECK_FAILED';
  readonly check: 'connect' | 'read' | 'disk' | 'tools' | 'config';

  constructor(check: PrecheckError['check'], message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.check = check;
  }
}

/** A PostgreSQL client tool (pg_dump, pg_restore, …) is missing, too old, or exited non-zero. */
export class ToolError extends PgwardenError {
  override readonly code = 'TOOL_FAILED';
}

/** A storage target could not be read or written. */
export class StorageError extends PgwardenError {
  override readonly code: string = 'STORAGE_FAILED';
}

/** The storage target ran out of space while writing. */
export class StorageFullError extends StorageError {
  override readonly code = 'STORAGE_FULL';
}

/** Decryption failed: wrong or unknown key, or bytes that were altered, reordered or cut short. */
export class EncryptionError extends PgwardenError {
  override readonly code = 'ENCRYPTION_FAILED';
}

/** A backup did not pass verification; the message says which check failed. */
export class VerificationError extends PgwardenError {
  override readonly code = 'VERIFICATION_FAILED';
  readonly check: 'manifest' | 'checksum' | 'size' | 'decrypt' | 'decompress' | 'archive' | 'tables' | 'missing';

  constructor(check: VerificationError['check'], message: string, options: ErrorOptions = {}) {
    super(message, options);
    this.check = check;
  }
}

/** No backup with the given id exists in the catalog or in storage. */
export class NotFoundError extends PgwardenError {
  override readonly code = 'NOT_FOUND';
}

/** A restore could not start or did not complete. */
export class RestoreError extends PgwardenError {
  override readonly code = 'RESTORE_FAILED';
}

/** The catalog schema is missing, newer than this code, or being migrated by someone else. */
export class CatalogError extends PgwardenError {
  override readonly code = 'CATALOG_FAILED';
}

/** The operation was aborted (signal, shutdown) before it finished. */
export class AbortedError extends PgwardenError {
  override readonly code = 'ABORTED';
}

export function isPgwardenError(error: unknown): error is PgwardenError {
  return error instanceof PgwardenError;
}

/** The message of any thrown value, for logs and catalog rows. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
