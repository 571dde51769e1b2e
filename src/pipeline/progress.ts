// Progress of long byte work (a backup's dump, a verification's read-through, a restore): the engine says
// what it starts and feeds byte counts; a reporter shows them (the CLI's progress line, the
// in-progress metric). Updates come per chunk, so reporters throttle their own output.
export interface ProgressTaskInfo {
  database: string;
  /** Backup kind: full, base, incremental. */
  type: string;
  /** What runs: dump, verify, restore. */
  phase: string;
  /** The bytes expected in all (stored size), for the ETA; null when unknown. */
  totalBytes: number | null;
}

export interface ProgressTask {
  /** Bytes done so far (a running total). */
  update(bytes: number): void;
  /** The work ended (success or failure): the reporter clears what it shows. Safe to call twice. */
  end(): void;
}

export interface ProgressReporter {
  begin(task: ProgressTaskInfo): ProgressTask;
}

/** Feeds every reporter given (either may be absent). */
export function combineReporters(...reporters: (ProgressReporter | undefined)[]): ProgressReporter | undefined {
  const present = reporters.filter((r): r is ProgressReporter => r !== undefined);
  if (present.length <= 1) return present[0];
  return {
    begin(info) {
      const tasks = present.map((r) => r.begin(info));
      return {
        update: (bytes) => {
          for (const t of tasks) t.update(bytes);
        },
        end: () => {
          for (const t of tasks) t.end();
        },
      };
    },
  };
}

/** Runs `work` as a task of `reporter` (if any), ending it however the work ends. */
export async function withProgress<T>(
  reporter: ProgressReporter | undefined,
  info: ProgressTaskInfo,
  work: (onProgress: ((bytes: { storedBytes: number }) => void) | undefined) => Promise<T>,
): Promise<T> {
  if (!reporter) return work(undefined);
  const task = reporter.begin(info);
  try {
    return await work((bytes) => task.update(bytes.storedBytes));
  } finally {
    task.end();
  }
}
