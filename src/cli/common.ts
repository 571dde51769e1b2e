// What every pgwarden entry point shares: where output goes, argument parsers, and how an error becomes a
// message and an exit code (DESIGN.md: 1 the operation failed, 2 bad usage or bad config).
import { CommanderError, InvalidArgumentError } from 'commander';
import { isPgwardenError } from '../errors.js';
import type { ProgressStream } from './progress.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Where the progress line of long commands goes: stdout, drawn only when it is a terminal. */
  progress?: ProgressStream | undefined;
}

export const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  progress: process.stdout,
};

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of 1 or more');
  return n;
}

export function reportError(error: unknown, io: Io): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message; help and version are not failures.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (isPgwardenError(error)) {
    io.err(`error: ${error.message}\n${error.hints.map((h) => `HINT: ${h}\n`).join('')}`);
    return error.exitCode;
  }
  io.err(`pgwarden: unexpected error (a bug; please report it with this trace):\n${(error as Error)?.stack ?? String(error)}\n`);
  return 1;
}
