// WAL archiving inside `pgwarden serve`: one receiver (pg_receivewal + spool pusher) per database with
// `pitr: true`, all started and stopped together, with their status for metrics and the status page.
import { compressionFor } from '../pipeline/compression.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { walKeySource } from '../crypto/envelope.js';
import type { KeyRing } from '../crypto/keyring.js';
import type { StorageDriver } from '../storage/types.js';
import { startWalReceiver, type WalArchivedEvent, type WalReceiver, type WalReceiverStatus } from './receiver.js';

export interface WalArchivingOptions {
  /** Every storage target; each file reaches all of them before it leaves the spool. */
  storage: StorageDriver | readonly StorageDriver[];
  keyring: KeyRing | undefined;
  logger: Logger;
  /** One spool directory per database is made below it: `<spoolRoot>/<database>`. Must persist across restarts. */
  spoolRoot: string;
  onSegment?: (event: WalArchivedEvent) => void;
  restartDelayMs?: number;
}

export interface WalArchiving {
  /** By database name. */
  readonly receivers: ReadonlyMap<string, WalReceiver>;
  status(): WalReceiverStatus[];
  stop(): Promise<void>;
}

export function startWalArchiving(config: Config, options: WalArchivingOptions): WalArchiving {
  const receivers = new Map<string, WalReceiver>();
  for (const database of config.databases.filter((d) => d.pitr)) {
    receivers.set(
      database.name,
      startWalReceiver({
        database,
        storage: options.storage,
        prefix: config.storage.prefix,
        compression: compressionFor(config.backup, database),
        encryptionKey: walKeySource(options.keyring),
        keyring: options.keyring,
        spoolDir: join(options.spoolRoot, database.name),
        pgBinDir: config.backup.pgBinDir,
        logger: options.logger,
        onSegment: options.onSegment,
        restartDelayMs: options.restartDelayMs,
      }),
    );
  }
  return {
    receivers,
    status: () => [...receivers.values()].map((r) => r.status()),
    async stop() {
      await Promise.all([...receivers.values()].map((r) => r.stop()));
    },
  };
}
