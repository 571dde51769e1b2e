// The retention planner on made-up catalogs and listings: periods per kind and per target kind, keepLast,
// the newest verified full, base backups and WAL kept for the PITR window, history files, failed and running
// runs, unreachable targets, and the recovery windows before and after.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StorageCopy } from '../../../src/catalog/types.js';
import { planRetention, planTotals } from '../../../src/retention/plan.js';
import type { CopyDecision, RetainedBackup, RetentionInput, RetentionPolicy, TargetState } from '../../../src/retention/types.js';
import type { ObjectInfo, StorageKind } from '../../../src/storage/types.js';
import { DEFAULT_SEGMENT_SIZE, formatLsn, formatTimeline, segmentName } from '../../../src/wal/names.js';

const NOW = new Date('2026-03-01T03:00:00Z');
const DAY = 86_400_000;
const POLICY: RetentionPolicy = { fullDays: 30, incrementalDays: 7, cloudDays: 90 };
const SIZE = DEFAULT_SEGMENT_SIZE;

const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);
const seg = (timeline: number, n: number) => segmentName(timeline, BigInt(n), SIZE);
const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
let counter = 0;

interface BackupOptions {
  status?: RetainedBackup['status'];
  verification?: RetainedBackup['verification'];
  /** Base backups: the segment (timeline 1 unless given) holding the start LSN. */
  startSegment?: number;
  timeline?: number;
  targets?: string[];
  error?: string;
}

function backup(kind: RetainedBackup['kind'], age: number, options: BackupOptions = {}): RetainedBackup {
  const at = daysAgo(age);
  const backupId = `${stamp(at)}-${kind}-${(counter++).toString(16).padStart(6, '0')}`;
  const copies: Record<string, StorageCopy> = {};
  for (const t of options.targets ?? ['local']) copies[t] = { status: 'stored', path: artifactPath(kind, backupId) };
  return {
    backupId,
    database: 'hotel',
    kind,
    status: options.status ?? 'succeeded',
    at,
    verification: options.verification === undefined ? 'ok' : options.verification,
    startLsn: options.startSegment === undefined ? null : formatLsn(BigInt(options.startSegment) * BigInt(SIZE) + 0x28n),
    timeline: options.startSegment === undefined ? null : (options.timeline ?? 1),
    error: options.error ?? null,
    copies: options.status === 'failed' ? {} : copies,
  };
}

const artifactPath = (kind: string, id: string) => `hotel/${kind}/${id}/${kind === 'base' ? 'base.tar.gz' : kind === 'full' ? 'dump.pgc.gz' : 'manifest.json'}`;

function object(path: string, size = 100, modifiedAt = NOW): ObjectInfo {
  return { path, size, modifiedAt };
}

/** What a target holds for these backups: artifact (except incrementals) and manifest. */
function held(backups: RetainedBackup[], options: { withoutManifest?: boolean } = {}): ObjectInfo[] {
  return backups.flatMap((b) => {
    const dir = `hotel/${b.kind}/${b.backupId}`;
    const out: ObjectInfo[] = [];
    if (b.kind !== 'incremental') out.push(object(artifactPath(b.kind, b.backupId), 1000));
    if (!options.withoutManifest) out.push(object(`${dir}/manifest.json`, 10));
    return out;
  });
}

function walFiles(timeline: number, from: number, to: number, modifiedAt = NOW): ObjectInfo[] {
  return Array.from({ length: to - from + 1 }, (_, i) => object(`hotel/wal/${formatTimeline(timeline)}/${seg(timeline, from + i)}.gz`, 50, modifiedAt));
}

function target(name: string, objects: ObjectInfo[] | undefined, kind: StorageKind = 'local', extra: Partial<TargetState> = {}): TargetState {
  return { name, kind, objects, ...(objects === undefined ? { error: 'connect ECONNREFUSED 127.0.0.1:9' } : {}), ...extra };
}

function plan(backups: RetainedBackup[], targets: TargetState[], options: { policy?: Partial<RetentionPolicy>; segmentSize?: number | null } = {}) {
  const input: RetentionInput = {
    prefix: '',
    policy: { ...POLICY, ...options.policy },
    databases: [{ name: 'hotel', ...(options.segmentSize === null ? { segmentSizeError: 'database unreachable' } : { segmentSize: options.segmentSize ?? SIZE }) }],
    backups,
    targets,
  };
  const result = planRetention(input, NOW);
  return { result, db: result.databases[0]! };
}

const decision = (copies: CopyDecision[], b: RetainedBackup, target = 'local') => {
  const found = copies.find((c) => c.backupId === b.backupId && c.target === target);
  assert.ok(found, `no decision for ${b.backupId} on ${target}`);
  return { action: found.action, reason: found.reason, overdue: found.overdue };
};

describe('retention planner: backup copies', () => {
  it('keeps the only full backup although it is older than 30 days: it is the newest verified one', () => {
    const only = backup('full', 41);
    const { db } = plan([only], [target('local', held([only]))]);
    assert.deepEqual(decision(db.copies, only), { action: 'keep', reason: 'newest verified full backup', overdue: true });
  });

  it('removes full backups older than 30 days, saying how old, and keeps the recent ones', () => {
    const old = backup('full', 41);
    const older = backup('full', 35.5);
    const recent = backup('full', 1);
    const { db, result } = plan([old, older, recent], [target('local', held([old, older, recent]))]);
    assert.deepEqual(decision(db.copies, old), { action: 'remove', reason: 'full older than 30 days (41 days)', overdue: false });
    assert.deepEqual(decision(db.copies, older), { action: 'remove', reason: 'full older than 30 days (35 days)', overdue: false });
    assert.deepEqual(decision(db.copies, recent), { action: 'keep', reason: 'within 30 days', overdue: false });
    assert.deepEqual(planTotals(result), { copies: 2, walFiles: 0, bytes: 2020, overdueKept: 0 });
  });

  it('protects the newest *verified* full: a newer one whose verification failed does not count', () => {
    const verified = backup('full', 45);
    const failedVerification = backup('full', 40, { verification: 'failed' });
    const unverified = backup('full', 35, { verification: null });
    const { db } = plan([verified, failedVerification, unverified], [target('local', held([verified, failedVerification, unverified]))]);
    assert.equal(decision(db.copies, verified).reason, 'newest verified full backup');
    assert.equal(decision(db.copies, failedVerification).action, 'remove');
    assert.equal(decision(db.copies, unverified).action, 'remove');
  });

  it('with no verified full at all, keeps the newest successful one', () => {
    const a = backup('full', 50, { verification: null });
    const b = backup('full', 40, { verification: null });
    const { db } = plan([a, b], [target('local', held([a, b]))]);
    assert.deepEqual(decision(db.copies, b), { action: 'keep', reason: 'newest full backup (none is verified)', overdue: true });
    assert.equal(decision(db.copies, a).action, 'remove');
  });

  it('keepLast keeps the N newest usable backups per kind whatever their age', () => {
    const fulls = [60, 55, 50, 45, 40].map((age) => backup('full', age));
    const bad = backup('full', 42, { verification: 'failed' });
    const incrementals = [20, 15, 10].map((age) => backup('incremental', age));
    const all = [...fulls, bad, ...incrementals];
    const { db } = plan(all, [target('local', held(all))], { policy: { keepLast: 3 } });
    assert.deepEqual(
      fulls.map((b) => decision(db.copies, b).reason),
      [
        'full older than 30 days (60 days)',
        'full older than 30 days (55 days)',
        'keepLast 3: one of the 3 newest full backups',
        'keepLast 3: one of the 3 newest full backups',
        'newest verified full backup',
      ],
    );
    assert.equal(decision(db.copies, bad).action, 'remove', 'a backup that failed verification is not one of the N kept');
    assert.deepEqual(
      incrementals.map((b) => decision(db.copies, b).action),
      ['keep', 'keep', 'keep'],
    );
  });

  it('removes incrementals after 7 days', () => {
    const old = backup('incremental', 9);
    const recent = backup('incremental', 3);
    const newestFull = backup('full', 1);
    const { db } = plan([old, recent, newestFull], [target('local', held([old, recent, newestFull]))]);
    assert.deepEqual(decision(db.copies, old), { action: 'remove', reason: 'incremental older than 7 days (9 days)', overdue: false });
    assert.equal(decision(db.copies, recent).action, 'keep');
    const copy = db.copies.find((c) => c.backupId === old.backupId)!;
    assert.deepEqual(copy.paths, [`hotel/incremental/${old.backupId}/manifest.json`]);
  });

  it('keeps cloud copies 90 days while the local copy of the same backup goes after 30', () => {
    const both = ['local', 's3'];
    const full41 = backup('full', 41, { targets: both });
    const full95 = backup('full', 95, { targets: both });
    const incremental20 = backup('incremental', 20, { targets: both });
    const newest = backup('full', 0.5, { targets: both });
    const all = [full95, full41, incremental20, newest];
    const { db } = plan(all, [target('local', held(all)), target('s3', held(all), 's3'), target('gcs', held([full41]), 'gcs')]);
    assert.deepEqual(decision(db.copies, full41, 'local'), { action: 'remove', reason: 'full older than 30 days (41 days)', overdue: false });
    assert.deepEqual(decision(db.copies, full41, 's3'), { action: 'keep', reason: 'within 90 days', overdue: false });
    assert.deepEqual(decision(db.copies, full41, 'gcs'), { action: 'keep', reason: 'within 90 days', overdue: false });
    assert.deepEqual(decision(db.copies, full95, 'local'), { action: 'remove', reason: 'full older than 30 days (95 days)', overdue: false });
    assert.deepEqual(decision(db.copies, full95, 's3'), { action: 'remove', reason: 'full older than 90 days (95 days)', overdue: false });
    assert.equal(decision(db.copies, incremental20, 'local').action, 'remove');
    assert.equal(decision(db.copies, incremental20, 's3').action, 'keep');
  });

  it('a cloud target keeps the longer of the kind period and cloudDays', () => {
    const full100 = backup('full', 100, { targets: ['s3'] });
    const newest = backup('full', 1, { targets: ['s3'] });
    const { db } = plan([full100, newest], [target('s3', held([full100, newest]), 's3')], { policy: { fullDays: 120 } });
    assert.deepEqual(decision(db.copies, full100, 's3'), { action: 'keep', reason: 'within 120 days', overdue: false });
  });

  it('removes what failed runs left behind, never touches running ones, and keeps what the catalog does not know', () => {
    const failed = backup('full', 0.1, { status: 'failed', error: 'pg_dump exited with code 1: connection lost\nmore detail' });
    const running = backup('full', 50, { status: 'running' });
    const stray = backup('full', 60, { status: 'unknown' });
    const newest = backup('full', 1);
    const all = [failed, running, stray, newest];
    const { db } = plan(all, [target('local', held(all, {}))]);
    assert.deepEqual(decision(db.copies, failed), { action: 'remove', reason: 'leftover of a failed run: pg_dump exited with code 1: connection lost', overdue: false });
    assert.equal(
      db.copies.find((c) => c.backupId === running.backupId),
      undefined,
    );
    assert.deepEqual(decision(db.copies, stray), { action: 'keep', reason: 'not in the catalog (pgwarden catalog rebuild adds it)', overdue: false });
  });

  it('removes the manifest before the artifact', () => {
    const old = backup('full', 40);
    const newest = backup('full', 1);
    const { db } = plan([old, newest], [target('local', held([old, newest]))]);
    const copy = db.copies.find((c) => c.backupId === old.backupId)!;
    assert.deepEqual(copy.paths, [`hotel/full/${old.backupId}/manifest.json`, `hotel/full/${old.backupId}/dump.pgc.gz`]);
    assert.equal(copy.catalogPath, `hotel/full/${old.backupId}/dump.pgc.gz`);
  });

  it('an expired copy the target no longer holds is still decided, so the catalog can mark it removed', () => {
    const gone = backup('full', 40, { targets: ['local', 's3'] });
    const newest = backup('full', 1);
    const { db } = plan([gone, newest], [target('local', held([newest])), target('s3', held([]), 's3')]);
    const local = db.copies.find((c) => c.backupId === gone.backupId && c.target === 'local')!;
    assert.equal(local.action, 'remove');
    assert.deepEqual(local.paths, []);
    // On s3 it is within 90 days: the copy the catalog counts stays counted.
    assert.equal(decision(db.copies, gone, 's3').action, 'keep');
  });

  it('an unreachable target gets no decisions and is reported', () => {
    const old = backup('full', 40, { targets: ['local', 'local2'] });
    const newest = backup('full', 1, { targets: ['local', 'local2'] });
    const { db, result } = plan([old, newest], [target('local', held([old, newest])), target('local2', undefined)]);
    assert.deepEqual(result.unreachable, [{ target: 'local2', error: 'connect ECONNREFUSED 127.0.0.1:9' }]);
    assert.deepEqual(
      db.copies.filter((c) => c.action === 'remove').map((c) => c.target),
      ['local'],
    );
    assert.deepEqual(
      db.before.map((w) => w.target),
      ['local'],
    );
  });
});

describe('retention planner: base backups and WAL for the PITR window', () => {
  /** Weekly-ish bases at 50, 40, 20 and 1 days, starting in segments 2, 10, 20 and 30; WAL 1..35 archived. */
  function pitrSetup(extraObjects: ObjectInfo[] = []) {
    const bases = [
      backup('base', 50, { startSegment: 2 }),
      backup('base', 40, { startSegment: 10 }),
      backup('base', 20, { startSegment: 20 }),
      backup('base', 1, { startSegment: 30 }),
    ];
    const full = backup('full', 1);
    const objects = [
      ...held([...bases, full]),
      ...walFiles(1, 1, 35, daysAgo(0.01)),
      object(`hotel/wal/00000001/${seg(1, 2)}.00000028.backup.gz`),
      object(`hotel/wal/00000001/${seg(1, 10)}.00000028.backup.gz`),
      ...extraObjects,
    ];
    return { bases, full, objects };
  }

  it('keeps the newest base that finished before the window starts, removes older ones, and the WAL before it', () => {
    const { bases, full, objects } = pitrSetup();
    const { db } = plan([...bases, full], [target('local', objects)]);
    assert.deepEqual(decision(db.copies, bases[0]!), {
      action: 'remove',
      reason: `base older than 30 days (50 days); the window starts from base ${bases[1]!.backupId}`,
      overdue: false,
    });
    assert.deepEqual(decision(db.copies, bases[1]!), {
      action: 'keep',
      reason: 'needed for PITR: recovery to the start of the 30-day window (2026-01-30T03:00:00Z) starts from it',
      overdue: true,
    });
    assert.equal(decision(db.copies, bases[2]!).action, 'keep');
    assert.equal(decision(db.copies, bases[3]!).action, 'keep');

    assert.equal(db.wal.length, 1);
    const wal = db.wal[0]!;
    assert.equal(wal.reason, `before ${seg(1, 10)}, where base ${bases[1]!.backupId} (the oldest kept on local) starts`);
    assert.deepEqual(
      wal.objects.map((o) => o.name),
      [seg(1, 1), seg(1, 2), `${seg(1, 2)}.00000028.backup`, ...[3, 4, 5, 6, 7, 8, 9].map((n) => seg(1, n))],
    );
    assert.equal(wal.first, seg(1, 1));
    assert.equal(wal.last, seg(1, 9));
    // The WAL the oldest retained base needs stays: its start segment and its .backup file.
    const removed = new Set(wal.objects.map((o) => o.name));
    assert.ok(!removed.has(seg(1, 10)) && !removed.has(`${seg(1, 10)}.00000028.backup`));
  });

  it('shows the recovery window before and after: it starts at the base the cleanup keeps', () => {
    const { bases, full, objects } = pitrSetup();
    const { db } = plan([...bases, full], [target('local', objects)]);
    const newestAt = daysAgo(0.01).toISOString().replace(/\.\d{3}Z$/, 'Z');
    assert.deepEqual(db.before[0]!.pitr, {
      from: { at: bases[0]!.at.toISOString().replace(/\.\d{3}Z$/, 'Z'), backupId: bases[0]!.backupId, lsn: '0/2000028' },
      to: { at: newestAt, segment: seg(1, 35), lsn: '0/24000000' },
    });
    assert.deepEqual(db.after[0]!.pitr?.from, { at: bases[1]!.at.toISOString().replace(/\.\d{3}Z$/, 'Z'), backupId: bases[1]!.backupId, lsn: '0/A000028' });
    assert.equal(db.after[0]!.pitr?.to.segment, seg(1, 35));
    assert.equal(db.after[0]!.problem, null);
    assert.deepEqual(db.after[0]!.fulls, { oldest: { at: full.at.toISOString().replace(/\.\d{3}Z$/, 'Z'), backupId: full.backupId }, newest: { at: full.at.toISOString().replace(/\.\d{3}Z$/, 'Z'), backupId: full.backupId }, count: 1 });
  });

  it('keepLast moves the WAL floor down to the oldest base it keeps', () => {
    const { bases, full, objects } = pitrSetup();
    const { db } = plan([...bases, full], [target('local', objects)], { policy: { keepLast: 4 } });
    assert.equal(decision(db.copies, bases[0]!).reason, 'keepLast 4: one of the 4 newest base backups');
    assert.equal(db.wal[0]!.last, seg(1, 1));
  });

  it('on a cloud target the 90-day window keeps every base and the WAL they need', () => {
    const { bases, full, objects } = pitrSetup();
    const { db } = plan([...bases, full], [target('local', objects), target('s3', objects, 's3')]);
    for (const base of bases) assert.equal(decision(db.copies, base, 's3').action, 'keep');
    assert.deepEqual(
      db.wal.map((w) => [w.target, w.first, w.last]),
      [['local', seg(1, 1), seg(1, 9)], ['s3', seg(1, 1), seg(1, 1)]],
    );
  });

  it('never removes timeline history files, and follows a timeline switch by WAL position', () => {
    // Timeline 2 branched from timeline 1 in segment 25; the newest base is on timeline 2.
    const old = backup('base', 60, { startSegment: 2 });
    const tl2 = backup('base', 40, { startSegment: 28, timeline: 2 });
    const full = backup('full', 1);
    const history = '1\t0/19000000\tno recovery target specified\n';
    const objects = [
      ...held([old, tl2, full]),
      ...walFiles(1, 1, 25),
      object(`hotel/wal/00000002/00000002.history.gz`),
      ...walFiles(2, 25, 40),
    ];
    const histories = new Map([['hotel', new Map([[2, [{ timeline: 1, switchLsn: 0x19000000n, reason: history.trim() }]]])]]);
    const { db } = plan([old, tl2, full], [target('local', objects, 'local', { histories })]);
    assert.equal(decision(db.copies, old).action, 'remove');
    const wal = db.wal[0]!;
    const names = wal.objects.map((o) => o.name);
    assert.ok(!names.includes('00000002.history'), 'the history file stays');
    assert.deepEqual(names, [...Array.from({ length: 25 }, (_, i) => seg(1, i + 1)), seg(2, 25), seg(2, 26), seg(2, 27)]);
    assert.equal(db.after[0]!.pitr?.from.backupId, tl2.backupId);
    assert.equal(db.before[0]!.pitr?.from.backupId, old.backupId, 'before: recovery from timeline 1 follows the switch to timeline 2');
  });

  it('keeps all WAL when the segment size is unknown, or no base backup is kept on the target', () => {
    const { bases, full, objects } = pitrSetup();
    const unknownSize = plan([...bases, full], [target('local', objects)], { segmentSize: null }).db;
    assert.deepEqual(unknownSize.wal, []);
    assert.deepEqual(unknownSize.walKept, [{ database: 'hotel', target: 'local', reason: 'the WAL segment size of "hotel" is unknown (database unreachable): all its WAL is kept' }]);
    assert.equal(unknownSize.before[0]!.problem, 'WAL segment size unknown (database unreachable)');

    const noBase = plan([full], [target('local', [...held([full]), ...walFiles(1, 1, 5)])]).db;
    assert.deepEqual(noBase.wal, []);
    assert.deepEqual(noBase.walKept, [{ database: 'hotel', target: 'local', reason: 'no base backup of "hotel" is kept on local: all its WAL is kept' }]);
    assert.equal(noBase.before[0]!.problem, 'no base backup');
  });

  it('a base whose copy lacks its manifest on a target does not hold WAL there, nor count in the window', () => {
    const half = backup('base', 10, { startSegment: 5 });
    const whole = backup('base', 2, { startSegment: 12 });
    const objects = [...held([half], { withoutManifest: true }), ...held([whole]), ...walFiles(1, 1, 15)];
    const { db } = plan([half, whole], [target('local', objects)]);
    assert.equal(db.wal[0]!.last, seg(1, 11));
    assert.equal(db.before[0]!.pitr?.from.backupId, whole.backupId);
  });

  it('reports a broken chain in the window instead of a range', () => {
    const base = backup('base', 2, { startSegment: 3 });
    const objects = [...held([base]), ...walFiles(1, 3, 6), ...walFiles(1, 8, 9)];
    const { db } = plan([base], [target('local', objects)]);
    assert.equal(db.before[0]!.pitr, null);
    assert.equal(db.before[0]!.problem, `no base backup has an unbroken WAL chain to ${seg(1, 9)}: base ${base.backupId} lacks ${seg(1, 7)}`);
  });
});
