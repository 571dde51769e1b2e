// What base backups, incrementals and restore-pitr need from the WAL archive, built on src/wal: make sure
// a segment is archived (switching the server's segment when it is still open), find gaps in a chain, and
// describe the newest archived point.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pgwarden } from '../app/open.js';
import type { DatabaseConfig } from '../config/index.js';
import { VerificationError } from '../errors.js';
import { connect } from '../postgres/connection.js';
import { fetchWalFile, findWalGaps, listArchivedWal, readTimelineHistories, type ArchivedWal } from '../wal/archive.js';
import { restoreCommandFor } from '../wal/commands.js';
import { formatLsn, nextSegment, parseLsn, parseWalFileName, previousSegment, segmentEndLsn, segmentNumber, segmentOfLsn } from '../wal/names.js';
import type { BaseBackupWal } from './base.js';

export interface WalAccess extends BaseBackupWal {
  /** Switches the server to a new segment and waits until the one it completed is archived; returns its name. */
  sealCurrentSegment(db: DatabaseConfig, signal?: AbortSignal): Promise<string>;
  /** Segments missing between `from` and `to` (inclusive), following timeline switches. */
  gaps(db: DatabaseConfig, from: string, to: string): Promise<string[]>;
  archive(db: DatabaseConfig): Promise<ArchivedWal>;
  segmentSize(db: DatabaseConfig): Promise<number>;
  restoreCommand(database: string): string;
  newest(database: string): Promise<{ segment: string; endLsn: string; archivedAt: Date } | undefined>;
  firstGap(database: string, startLsn: string, timeline: number): Promise<{ missing: string; lastGoodArchivedAt: Date | null } | undefined>;
}

export interface WalAccessOptions {
  /** Absolute path of the config file, carried into restore_command. */
  configPath: string;
  /** How long to wait for a segment to reach the archive. */
  archiveTimeoutMs?: number;
}

export function createWalAccess(app: Pgwarden, options: WalAccessOptions): WalAccess {
  const { storage, config } = app;
  const prefix = config.storage.prefix;
  const timeoutMs = options.archiveTimeoutMs ?? 120_000;
  const sizes = new Map<string, number>();

  const segmentSize = async (db: DatabaseConfig): Promise<number> => {
    const known = sizes.get(db.name);
    if (known) return known;
    const client = await connect(db.url, { purpose: `database "${db.name}"` });
    try {
      const { rows } = await client.query<{ bytes: string }>("SELECT setting::bigint * (CASE unit WHEN 'MB' THEN 1048576 ELSE 1 END) AS bytes FROM pg_settings WHERE name = 'wal_segment_size'");
      const bytes = Number(rows[0]!.bytes);
      sizes.set(db.name, bytes);
      return bytes;
    } finally {
      await client.end().catch(() => {});
    }
  };

  const archive = (db: DatabaseConfig) => listArchivedWal(storage, prefix, db.name);

  /** Waits until `segment` is archived; switches the server's segment once if it is the one being written. */
  const waitArchived = async (db: DatabaseConfig, segment: string, signal?: AbortSignal): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let switched = false;
    for (;;) {
      if ((await archive(db)).objects.has(segment)) return;
      if (!switched) {
        switched = true;
        const client = await connect(db.url, { purpose: `database "${db.name}"` });
        try {
          const { rows } = await client.query<{ current: string }>('SELECT pg_walfile_name(pg_current_wal_insert_lsn()) AS current');
          // Still open on the server: close it so it can be archived.
          if (rows[0]?.current === segment) await client.query('SELECT pg_switch_wal()');
        } finally {
          await client.end().catch(() => {});
        }
      }
      if (signal?.aborted) throw signal.reason;
      if (Date.now() > deadline) {
        throw new VerificationError('missing', `WAL segment ${segment} of "${db.name}" did not reach the archive within ${Math.round(timeoutMs / 1000)} s`, {
          hints: ['check WAL archiving: pgwarden serve running with pitr: true, or archive_command = pgwarden wal-push (see pg_stat_archiver)'],
        });
      }
      await sleep(250);
    }
  };

  const gaps = async (db: DatabaseConfig, from: string, to: string): Promise<string[]> => {
    const held = await archive(db);
    const histories = await readTimelineHistories({ storage, prefix, database: db.name, keyring: app.keyring }, held);
    return findWalGaps(held, { from, to, histories, segmentSize: await segmentSize(db) });
  };

  return {
    segmentSize,
    archive,
    gaps,

    async collect({ database, startLsn, endLsn, timeline, dir, signal }) {
      const size = await segmentSize(database);
      const first = segmentOfLsn(parseLsn(startLsn), timeline, size);
      // End-LSN points just past the last record: the segment holding the byte before it is the last needed.
      const last = segmentOfLsn(parseLsn(endLsn) - 1n, timeline, size);
      await waitArchived(database, last, signal);
      const missing = await gaps(database, first, last);
      if (missing.length > 0) {
        throw new VerificationError('missing', `the WAL archive of "${database.name}" lacks ${missing.join(', ')}, which this base backup needs`);
      }
      const names: string[] = [];
      for (let name = first; ; name = nextSegment(name, size)) {
        const outcome = await fetchWalFile({ storage, prefix, database: database.name, name, destination: `${dir}/${name}`, keyring: app.keyring, signal });
        if (outcome === 'not-found') throw new VerificationError('missing', `WAL segment ${name} of "${database.name}" vanished from the archive`);
        names.push(name);
        if (name === last) break;
      }
      return names;
    },

    async sealCurrentSegment(db, signal) {
      const client = await connect(db.url, { purpose: `database "${db.name}"` });
      let segment: string;
      try {
        // pg_walfile_name() of the switch position names the segment just completed.
        const { rows } = await client.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment');
        segment = rows[0]!.segment;
      } finally {
        await client.end().catch(() => {});
      }
      await waitArchived(db, segment, signal);
      return segment;
    },

    restoreCommand: (database) => restoreCommandFor(options.configPath, database),

    async firstGap(database, startLsn, timeline) {
      const db = config.databases.find((d) => d.name === database);
      if (!db) return undefined;
      const size = await segmentSize(db).catch(() => 16 * 1024 * 1024);
      const held = await archive(db);
      const lastTimeline = [...held.segments.keys()].at(-1);
      if (lastTimeline === undefined) return undefined;
      const newestSegment = held.segments.get(lastTimeline)!.at(-1)!;
      const first = segmentOfLsn(parseLsn(startLsn), timeline, size);
      const missing = (await gaps(db, first, newestSegment))[0];
      if (!missing) return undefined;
      const before = parseWalFileName(missing)?.kind === 'segment' ? held.objects.get(previousSegment(missing, size)) : undefined;
      return { missing, lastGoodArchivedAt: before?.modifiedAt ?? null };
    },

    async newest(database) {
      const db = config.databases.find((d) => d.name === database);
      if (!db) return undefined;
      const held = await listArchivedWal(storage, prefix, database);
      const timelines = [...held.segments.keys()];
      const lastTimeline = timelines.at(-1);
      if (lastTimeline === undefined) return undefined;
      const segment = held.segments.get(lastTimeline)!.at(-1)!;
      const size = await segmentSize(db).catch(() => 16 * 1024 * 1024);
      return { segment, endLsn: formatLsn(segmentEndLsn(segment, size)), archivedAt: held.objects.get(segment)!.modifiedAt };
    },
  };
}

/** Segments from `first` to `last` inclusive (same timeline). */
export function segmentCount(first: string, last: string, size: number): number {
  if (parseWalFileName(first)?.kind !== 'segment') return 0;
  return Number(segmentNumber(last, size) - segmentNumber(first, size)) + 1;
}
