// The 6-hourly incremental: seals the WAL archived since the previous backup. It switches the server to a
// new segment, waits until the completed one is archived, checks that the chain from the newest base backup
// to it has no gap (timeline switches followed through history files), and records the range and its size.
import type { DatabaseConfig } from '../config/index.js';
import { PrecheckError, VerificationError } from '../errors.js';
import { rootPrefix } from '../manifest/layout.js';
import { parseManifest, sealManifest } from '../manifest/manifest.js';
import { type BackupManifest, MANIFEST_FORMAT_VERSION } from '../manifest/types.js';
import { readTextObject } from '../storage/text.js';
import { writeManifestCopies } from '../copies/settle.js';
import type { StorageDriver } from '../storage/types.js';
import { formatLsn, nextSegment, parseLsn, parseWalFileName, segmentEndLsn, segmentNumber, segmentOfLsn, segmentStartLsn } from '../wal/names.js';
import { formatBytes } from './precheck.js';
import { type RunOptions, runInFrame } from './run-frame.js';
import type { BackupContext, BackupResult } from './types.js';
import type { WalAccess } from './wal-access.js';

export interface IncrementalContext extends BackupContext {
  wal: WalAccess;
}

/** The manifests of one kind of backup of a database, oldest first. */
export async function manifestsOf(storage: StorageDriver, prefix: string, database: string, kind: 'base' | 'incremental'): Promise<BackupManifest[]> {
  const out: BackupManifest[] = [];
  for (const object of await storage.list(`${rootPrefix(prefix)}${database}/${kind}/`)) {
    if (!object.path.endsWith('/manifest.json')) continue;
    const text = await readTextObject(storage, object.path);
    if (text !== undefined) out.push(parseManifest(text, `${storage.name}:${object.path}`));
  }
  return out.sort((a, b) => a.backupId.localeCompare(b.backupId));
}

export async function runIncrementalBackup(ctx: IncrementalContext, db: DatabaseConfig, options: RunOptions = {}): Promise<BackupResult> {
  const { storage, config, wal } = ctx;
  const prefix = config.storage.prefix;
  return runInFrame(
    ctx,
    db,
    'incremental',
    options,
    async ({ backupId, dir, createdAt, log }) => {
      if (!db.pitr) {
        throw new PrecheckError('config', `database "${db.name}" has no WAL archiving: there is no WAL to seal`, {
          hints: [`set pitr: true for "${db.name}"`],
        });
      }
      const base = (await manifestsOf(storage, prefix, db.name, 'base')).at(-1);
      if (!base?.startLsn || !base.timeline) {
        throw new PrecheckError('config', `database "${db.name}" has no base backup: an incremental needs one to start from`, {
          hints: [`pgwarden backup base --database ${db.name}`],
        });
      }
      const size = await wal.segmentSize(db);
      const baseStart = segmentOfLsn(parseLsn(base.startLsn), base.timeline, size);
      const last = await wal.sealCurrentSegment(db, ctx.signal);
      await log('seal', 'info', `segment ${last} switched and archived`);

      const missing = await wal.gaps(db, baseStart, last);
      if (missing.length > 0) {
        throw new VerificationError('missing', `the WAL chain of "${db.name}" from base backup ${base.backupId} (${baseStart}) to ${last} has a gap: missing ${missing.join(', ')}`, {
          hints: ['point-in-time recovery past the gap is impossible: take a new base backup now'],
        });
      }

      // The range starts after the previous incremental's last segment, if it belongs to the same chain.
      const previous = (await manifestsOf(storage, prefix, db.name, 'incremental')).filter((m) => m.wal && m.backupId > base.backupId).at(-1);
      const first = previous?.wal ? nextSegment(previous.wal.last, size) : baseStart;
      const held = await wal.archive(db);
      const from = segmentNumber(first, size);
      const to = segmentNumber(last, size);
      const inRange = [...held.objects.values()].filter((o) => {
        const parsed = parseWalFileName(o.name);
        if (parsed?.kind !== 'segment') return false;
        const n = segmentNumber(o.name, size);
        return n >= from && n <= to;
      });
      const bytes = inRange.reduce((sum, o) => sum + o.size, 0);
      const segments = from > to ? 0 : Number(to - from) + 1;
      const { manifest, text } = sealManifest({
        formatVersion: MANIFEST_FORMAT_VERSION,
        backupId,
        kind: 'incremental',
        database: db.name,
        serverVersion: base.serverVersion,
        toolVersion: 'pgwarden',
        startedAt: createdAt.toISOString(),
        finishedAt: ctx.now().toISOString(),
        startLsn: formatLsn(segmentStartLsn(first, size)),
        endLsn: formatLsn(segmentEndLsn(last, size)),
        timeline: parseWalFileName(last)!.timeline,
        artifact: null,
        wal: { first, last, segments, bytes },
        tables: { count: 0 },
        expectedBytes: null,
        verification: { ok: true, at: ctx.now().toISOString(), error: null },
      } satisfies Omit<BackupManifest, 'checksum'>);
      const stored = await writeManifestCopies({ storage, dir, artifactPath: null, text, holders: storage.targets.map((t) => t.name), failed: [], log });
      return {
        fileSize: bytes,
        rawSize: segments * size,
        checksumSha256: null,
        serverVersion: base.serverVersion,
        storage: stored.copies,
        verification: { status: 'ok', at: ctx.now(), error: null },
        manifest,
        summary: `${segments} segments ${first}..${last}, ${formatBytes(bytes)} stored; chain from base ${base.backupId} complete`,
      };
    },
    async () => {},
  );
}
