// The progress line of `backup`, `verify` and `restore` on a terminal: phase, bytes done, rate and ETA,
// redrawn at most a few times a second on one line and erased when the work ends. Only on a TTY and never
// with --json: pipes and scripts get the same output as before.
import type { ProgressReporter, ProgressTaskInfo } from '../pipeline/progress.js';

export interface ProgressStream {
  isTTY?: boolean | undefined;
  columns?: number | undefined;
  write(text: string): unknown;
}

export interface ProgressLineOptions {
  stream: ProgressStream;
  /** --json given: no line. */
  json: boolean;
  /** Milliseconds between redraws; default 250. */
  intervalMs?: number;
  now?: () => number;
}

/** A reporter drawing the progress line, or undefined when there must be none (not a TTY, or --json). */
export function createProgressLine(options: ProgressLineOptions): ProgressReporter | undefined {
  const { stream } = options;
  if (options.json || stream.isTTY !== true) return undefined;
  const interval = options.intervalMs ?? 250;
  const now = options.now ?? (() => performance.now());
  return {
    begin(info) {
      const started = now();
      let lastDraw = Number.NEGATIVE_INFINITY;
      let shown = false;
      let ended = false;
      return {
        update(bytes) {
          const at = now();
          if (ended || at - lastDraw < interval) return;
          lastDraw = at;
          const line = formatProgress(info, bytes, (at - started) / 1000);
          const width = Math.max(20, (stream.columns ?? 80) - 1);
          stream.write(`\r${line.slice(0, width).padEnd(width)}`);
          shown = true;
        },
        end() {
          if (ended) return;
          ended = true;
          if (shown) stream.write(`\r${' '.repeat(Math.max(20, (stream.columns ?? 80) - 1))}\r`);
        },
      };
    },
  };
}

/** `hotel full dump: 412 MB of ~900 MB (46%), 83 MB/s, ETA 6s` */
export function formatProgress(info: ProgressTaskInfo, bytes: number, seconds: number): string {
  const rate = seconds > 0 ? bytes / seconds : 0;
  const parts = [`${info.database} ${info.type} ${info.phase}: ${megabytes(bytes)}`];
  const total = info.totalBytes;
  if (total !== null && total > 0) {
    parts[0] += ` of ~${megabytes(total)} (${Math.min(99, Math.floor((bytes / total) * 100))}%)`;
  }
  parts.push(`${megabytes(rate)}/s`);
  if (total !== null && total > bytes && rate > 0) parts.push(`ETA ${duration((total - bytes) / rate)}`);
  return parts.join(', ');
}

function megabytes(bytes: number): string {
  const mb = bytes / 1e6;
  return mb >= 100 ? `${Math.round(mb)} MB` : `${mb.toFixed(1)} MB`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
