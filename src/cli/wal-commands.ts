// The wal-push and wal-fetch commands, shared by the full CLI and the small entry point PostgreSQL's
// archive_command and restore_command run (src/cli/wal-main.ts), which must start fast: once per segment.
import type { Command } from 'commander';
import type { Config } from '../config/index.js';
import { secretValues } from '../config/index.js';
import { createLogger } from '../logging/logger.js';
import { walFetch, walPush } from '../wal/commands.js';
import { type Io, positiveInt } from './common.js';

export interface WalCommandContext {
  config: () => Promise<Config>;
  io: Io;
  signal: AbortSignal;
  setExitCode: (code: number) => void;
}

export function addWalCommands(program: Command, ctx: WalCommandContext): void {
  program
    .command('wal-push')
    .description("archive one WAL file (archive_command = '… wal-push %p')")
    .argument('<path>', '%p')
    .option('-d, --database <name>', 'the configured database this WAL belongs to')
    .option('--timeout <seconds>', 'give up after this long (non-zero exit: PostgreSQL retries)', positiveInt)
    .action(async (path: string, opts: { database?: string; timeout?: number }) => {
      const cfg = await ctx.config();
      const result = await walPush(cfg, {
        database: opts.database,
        path,
        timeoutMs: (opts.timeout ?? cfg.wal.pushTimeoutSeconds) * 1000,
        signal: ctx.signal,
        logger: createLogger({ level: cfg.logLevel, secrets: secretValues(cfg) }),
      });
      // The server logs whatever archive_command prints: only failures, so its log is not a line per segment.
      if (result.exitCode !== 0) ctx.io.err(`${result.message}\n`);
      ctx.setExitCode(result.exitCode);
    });

  program
    .command('wal-fetch')
    .description("restore one WAL file from the archive (restore_command = '… wal-fetch %f %p')")
    .argument('<name>', '%f')
    .argument('<destination>', '%p')
    .option('-d, --database <name>', 'the configured database whose archive to read')
    .option('--timeout <seconds>', 'give up after this long', positiveInt)
    .action(async (name: string, destination: string, opts: { database?: string; timeout?: number }) => {
      const cfg = await ctx.config();
      const result = await walFetch(cfg, { database: opts.database, name, destination, timeoutMs: (opts.timeout ?? cfg.wal.pushTimeoutSeconds) * 1000, signal: ctx.signal });
      if (result.exitCode !== 0) ctx.io.err(`${result.message}\n`);
      ctx.setExitCode(result.exitCode);
    });
}
