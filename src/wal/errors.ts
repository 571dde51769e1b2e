// The WAL archive's failures. Each one makes `wal-push` / `wal-fetch` exit non-zero, which PostgreSQL reads as
// "keep the segment and retry" (archive_command) or "not available from the archive" (restore_command).
import { type ErrorOptions, PgwardenError } from '../errors.js';

/**
 * A WAL file of that name is already archived with different contents. Archiving it again would destroy
 * the copy a restore may need, so it is refused; PostgreSQL keeps retrying and keeps the segment.
 */
export class WalConflictError extends PgwardenError {
  override readonly code = 'WAL_CONFLICT';
  readonly walName: string;
  readonly objectPath: string;

  constructor(walName: string, objectPath: string, options: ErrorOptions = {}) {
    super(`WAL file ${walName} is already archived at ${objectPath} with different contents`, {
      hints: options.hints ?? [
        'two servers (or a restored copy of this one) may be archiving into the same place: give each its own database name or storage prefix',
        'compare the local file with the archived copy before removing either',
      ],
      cause: options.cause,
    });
    this.walName = walName;
    this.objectPath = objectPath;
  }
}

/** The local file handed to wal-push is missing, not a WAL file name, or not a whole segment. */
export class WalFileError extends PgwardenError {
  override readonly code = 'WAL_FILE_INVALID';
}

/** The archive could not be read or written in time, or an archived object cannot be read back. */
export class WalArchiveError extends PgwardenError {
  override readonly code: string = 'WAL_ARCHIVE_FAILED';
}

/** A push or fetch took longer than its timeout; it was aborted and nothing partial was left behind. */
export class WalTimeoutError extends WalArchiveError {
  override readonly code = 'WAL_TIMEOUT';
}

/** Timeline histories are missing or contradict each other, so the WAL chain cannot be followed. */
export class WalHistoryError extends PgwardenError {
  override readonly code = 'WAL_HISTORY';
}

/** pg_receivewal could not be set up (tool, slot) for a database. */
export class WalReceiverError extends PgwardenError {
  override readonly code = 'WAL_RECEIVER_FAILED';
}
