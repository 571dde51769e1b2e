// The one way pgwarden runs an external program (pg_dump, pg_restore, tar, …): stdio streamed, never buffered,
// the tail of stderr kept for the error message, the process killed when the caller aborts.
import { type ChildProcess, spawn } from 'node:child_process';
import { type Readable, Writable } from 'node:stream';
import { AbortedError, ToolError } from '../errors.js';

export interface ToolOptions {
  /** Extra environment on top of a minimal inherited one (PATH, HOME, LANG, TZ). */
  env?: Record<string, string | undefined>;
  /**
   * 'pipe' gives a writable `stdin`; default 'ignore'. A pipe stream (another program's stdout) is handed to
   * the program as its stdin, so the bytes flow between the two processes without passing through Node.
   */
  stdin?: 'pipe' | 'ignore' | Readable;
  /**
   * 'pipe' gives a readable `stdout`; a number is a file descriptor to write into; a pipe stream (another
   * program's stdin) is handed over like a `stdin` stream; default 'ignore'.
   */
  stdout?: 'pipe' | 'ignore' | number | Writable;
  signal?: AbortSignal;
  /** A description for messages, e.g. `pg_dump of "shop"`; defaults to the binary's base name. */
  label?: string;
  /** Called with each complete stderr line (for logs); the tail is kept regardless. */
  onStderrLine?: (line: string) => void;
  cwd?: string;
  /** The hint when the binary is not found; default: install the PostgreSQL client tools. */
  missingHint?: string;
  /** A death by SIGPIPE counts as success: the program's reader stopped early on purpose (see toolSink). */
  pipeCloseIsSuccess?: boolean;
}

export interface ToolProcess {
  readonly child: ChildProcess;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  /** Resolves when the program exits 0; rejects with a ToolError (or AbortedError) otherwise. */
  readonly done: Promise<void>;
  /** Everything the program has written to stderr so far, last 8 KiB. */
  stderrTail(): string;
  kill(signal?: NodeJS.Signals): void;
}

const STDERR_TAIL_BYTES = 8192;
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'PGSSLROOTCERT', 'PGSSLMODE', 'PGCONNECT_TIMEOUT'];

export function startTool(binary: string, args: string[], options: ToolOptions = {}): ToolProcess {
  const label = options.label ?? binary.split('/').pop() ?? binary;
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value !== undefined) env[name] = value;
  }
  const child = spawn(binary, args, {
    env,
    cwd: options.cwd,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  // A handed-over pipe now belongs to the program: our copy must close, or its other end never sees EOF
  // (or EPIPE) when the program exits.
  for (const handed of [options.stdin, options.stdout]) {
    if (typeof handed === 'object') handed.destroy();
  }

  let tail = '';
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    tail = (tail + text).slice(-STDERR_TAIL_BYTES);
    if (options.onStderrLine) {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') options.onStderrLine(line);
    }
  });

  const onAbort = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener('abort', onAbort);
      const hints = error.code === 'ENOENT' ? [options.missingHint ?? 'install the PostgreSQL client tools or set backup.pgBinDir'] : [];
      reject(new ToolError(`${label}: cannot run ${binary}: ${error.message}`, { hints, cause: error }));
    });
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) {
        reject(new AbortedError(`${label} was aborted`));
      } else if (code === 0 || (signal === 'SIGPIPE' && options.pipeCloseIsSuccess)) {
        resolve();
      } else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const detail = stderrSummary(tail);
        reject(new ToolError(detail ? `${label} ${how}: ${detail}` : `${label} ${how}`));
      }
    });
  });
  // A caller that never awaits `done` (because an earlier stage failed) must not crash the process.
  done.catch(() => {});

  return {
    child,
    stdin: child.stdin,
    stdout: child.stdout,
    done,
    stderrTail: () => tail,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Runs a program to completion and returns its stdout as text (for short outputs only: versions, listings). */
export async function runToolForText(binary: string, args: string[], options: Omit<ToolOptions, 'stdout'> = {}): Promise<string> {
  const tool = startTool(binary, args, { ...options, stdout: 'pipe' });
  let out = '';
  tool.stdout?.setEncoding('utf8');
  tool.stdout?.on('data', (text: string) => {
    out += text;
  });
  await tool.done;
  return out;
}

/** The last few meaningful lines of a program's stderr, joined for a one-line message. */
export function stderrSummary(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return lines.slice(-3).join(' | ');
}

/**
 * A Writable feeding a program's stdin that outlives the program closing it early. pg_restore stops reading
 * once it has processed the archive's last entry, sometimes before we end its stdin; writing on would fail
 * with EPIPE or "premature close". After such a close the rest is discarded, so upstream stages (the checksum
 * tap) still see every byte, and the program's exit status decides success.
 */
export function toolSink(tool: ToolProcess): Writable {
  const stdin = tool.stdin;
  if (!stdin) throw new Error('toolSink: the program was started without stdin: "pipe"');
  let closed = false;
  const markClosed = () => {
    closed = true;
  };
  stdin.on('error', markClosed);
  stdin.on('close', markClosed);
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      if (closed || stdin.destroyed || stdin.write(chunk)) {
        callback();
        return;
      }
      const done = () => {
        stdin.off('drain', done);
        stdin.off('close', done);
        callback();
      };
      stdin.on('drain', done);
      stdin.on('close', done);
    },
    final(callback) {
      if (closed || stdin.destroyed) callback();
      // An error closing the pipe is the program's business: its exit status reports it.
      else stdin.end(() => callback());
    },
  });
}
