// The entry point for `pgwarden wal-push` and `pgwarden wal-fetch` (bin/pgwarden.js picks it): PostgreSQL
// runs them once per WAL segment, so they load only config, storage and the byte path — not the catalog,
// the service or the notifiers — which cuts start-up from ~0.4 s to ~0.15 s a segment.
import { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { UsageError } from '../errors.js';
import { defaultIo, type Io, reportError } from './common.js';
import { addWalCommands } from './wal-commands.js';

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => abort.abort(new Error(`received ${signal}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let exitCode = 0;
  const program = new Command('pgwarden')
    .option('-c, --config <file>', 'config file (or PGWARDEN_CONFIG)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  addWalCommands(program, {
    config: () => {
      const path = program.opts<{ config?: string }>().config ?? process.env['PGWARDEN_CONFIG'];
      if (!path) throw new UsageError('no config file given', { hints: ['pass --config FILE or set PGWARDEN_CONFIG'] });
      return loadConfig(path);
    },
    io,
    signal: abort.signal,
    setExitCode: (code) => {
      exitCode = code;
    },
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return reportError(error, io);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
