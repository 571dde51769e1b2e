// The read-back verification of a dump, started beside its write when a storage target can be read back as the
// bytes land there (a local disk): the read-through (decrypt, decompress, pg_restore) then runs alongside
// pg_dump instead of after it. It reads the target's own file, not the stream being written, so it proves
// the same as reading the copy back afterwards; it counts only once the write completed, that target holds
// the artifact whole, and the bytes read match the ones written (checkReadThrough).
import { errorMessage } from '../errors.js';
import type { TargetSetWriter } from '../storage/target-set.js';
import { type ReadThrough, type ReadThroughOptions, readThroughArtifact } from './verify-artifact.js';

export type EarlyOutcome = { read: ReadThrough; durationSeconds: number } | { error: string };

export interface EarlyVerification {
  /** The target being read back. */
  target: string;
  /** `target:path`, for messages. */
  name: string;
  /** Settles with what the read-through saw, or why it failed; never rejects. */
  outcome: Promise<EarlyOutcome>;
  /** Stops the read-through (the write failed, or the target dropped out) and waits until its processes exited. */
  stop(): Promise<void>;
}

export type VerifyWhileWritingOptions = Omit<ReadThroughOptions, 'open' | 'name' | 'onProgress'> & { path: string };

/** Starts the read-through on the first target of `writer` that can be read while written; undefined when none can. */
export function verifyWhileWriting(writer: TargetSetWriter, options: VerifyWhileWritingOptions): EarlyVerification | undefined {
  const landing = writer.readWhileWriting();
  if (!landing) return undefined;
  const stopping = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopping.signal]) : stopping.signal;
  const name = `${landing.target}:${options.path}`;
  const started = performance.now();
  const outcome = readThroughArtifact({ ...options, name, open: landing.read, signal }).then(
    (read): EarlyOutcome => ({ read, durationSeconds: (performance.now() - started) / 1000 }),
    (error: unknown): EarlyOutcome => ({ error: errorMessage(error) }),
  );
  return {
    target: landing.target,
    name,
    outcome,
    async stop() {
      stopping.abort();
      await outcome;
    },
  };
}
