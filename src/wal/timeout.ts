// A deadline for one WAL push or fetch: the work gets an AbortSignal that fires at the deadline, and the
// caller gets a WalTimeoutError then even if some storage call ignores the signal, so nothing waits forever.
import { WalTimeoutError } from './errors.js';

/** A push that takes longer fails, so a hung upload never stalls archiving (and fills pg_wal) silently. */
export const DEFAULT_WAL_TIMEOUT_MS = 120_000;

/** `outer` (a shutdown, say) aborts the work too, with its own reason. */
export async function withTimeout<T>(timeoutMs: number, what: string, work: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new WalTimeoutError(`${what} timed out after ${formatDuration(timeoutMs)} and was aborted`, {
        hints: ['check that the storage target is reachable and fast enough; the WAL file stays where it is and is retried'],
      });
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  const running = work(controller.signal);
  // After a timeout the work may still fail (aborted); nobody awaits it any more, so that must not crash.
  running.catch(() => {});
  try {
    return await Promise.race([running, timedOut]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
