// The process log: pino, JSON lines on stderr (stdout is for command output). Every secret value from the
// config is scrubbed from messages and fields before a line is written.
import { pino, type Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  /** Secret strings (passwords, tokens, keys) that must never reach a log line. */
  secrets: readonly string[];
  /** Defaults to stderr. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets.filter((s) => s.length >= 4);
  const scrub = (text: string) => secrets.reduce((t, secret) => t.split(secret).join('***'), text);
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // pino serialises after this hook; scrubbing the finished line catches secrets in any field.
        streamWrite: secrets.length > 0 ? scrub : undefined,
      },
    },
    destination,
  );
}
