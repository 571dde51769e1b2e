// Gap finding over an archive listing: a straight run, holes, a log-id boundary, and timeline switches
// followed through history files the way recovery reads them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ArchivedObject, ArchivedWal } from '../../../src/wal/archive.js';
import { findWalGaps } from '../../../src/wal/archive.js';
import { WalHistoryError } from '../../../src/wal/errors.js';
import { DEFAULT_SEGMENT_SIZE, parseLsn, parseTimelineHistory, parseWalFileName, segmentName } from '../../../src/wal/names.js';

/** An archive listing holding exactly these names (what listArchivedWal would return). */
function archiveOf(names: string[]): ArchivedWal {
  const objects = new Map<string, ArchivedObject>();
  const segments = new Map<number, string[]>();
  const histories: string[] = [];
  for (const name of names) {
    objects.set(name, { name, path: `db/wal/x/${name}`, compression: 'none', encrypted: false, size: 1, modifiedAt: new Date(0) });
    const parsed = parseWalFileName(name)!;
    if (parsed.kind === 'segment') segments.set(parsed.timeline, [...(segments.get(parsed.timeline) ?? []), name]);
    if (parsed.kind === 'history') histories.push(name);
  }
  return { segments, histories, partials: [], backupFiles: [], objects };
}

const seg = (timeline: number, n: number, size = DEFAULT_SEGMENT_SIZE) => segmentName(timeline, BigInt(n), size);
const range = (timeline: number, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => seg(timeline, from + i));

describe('findWalGaps', () => {
  it('finds nothing missing in a complete run, and each hole by name', () => {
    const all = range(1, 3, 12);
    assert.deepEqual(findWalGaps(archiveOf(all), { from: seg(1, 3), to: seg(1, 12) }), []);
    const holey = all.filter((n) => n !== seg(1, 5) && n !== seg(1, 9));
    assert.deepEqual(findWalGaps(archiveOf(holey), { from: seg(1, 3), to: seg(1, 12) }), [seg(1, 5), seg(1, 9)]);
    assert.deepEqual(findWalGaps(archiveOf([]), { from: seg(1, 3), to: seg(1, 4) }), [seg(1, 3), seg(1, 4)]);
  });

  it('crosses a log-id boundary (…FF → next log id)', () => {
    const names = range(1, 0xfd, 0x102);
    assert.equal(names[3], '000000010000000100000000');
    assert.deepEqual(findWalGaps(archiveOf(names), { from: seg(1, 0xfd), to: seg(1, 0x102) }), []);
    assert.deepEqual(findWalGaps(archiveOf(names.filter((n) => n !== '000000010000000100000000')), { from: seg(1, 0xfd), to: seg(1, 0x102) }), [
      '000000010000000100000000',
    ]);
  });

  it('follows a timeline switch: old timeline before the switch segment, new timeline from it on', () => {
    // Timeline 2 branched off timeline 1 inside segment 6 (at 0/6000158).
    const histories = new Map([[2, parseTimelineHistory('1\t0/6000158\tno recovery target specified\n')]]);
    const archive = archiveOf([...range(1, 3, 7), '00000002.history', ...range(2, 6, 9)]);
    assert.deepEqual(findWalGaps(archive, { from: seg(1, 3), to: seg(2, 9), histories }), []);

    // Timeline 1's own copies of 6 and 7 (written before the switch was known) do not stand in for timeline 2's.
    const missingNew = archiveOf([...range(1, 3, 7), '00000002.history', ...range(2, 7, 9)]);
    assert.deepEqual(findWalGaps(missingNew, { from: seg(1, 3), to: seg(2, 9), histories }), [seg(2, 6)]);

    // …and the old timeline is still needed up to the segment before the switch.
    const missingOld = archiveOf([...range(1, 3, 4), '00000002.history', ...range(2, 6, 9)]);
    assert.deepEqual(findWalGaps(missingOld, { from: seg(1, 3), to: seg(2, 9), histories }), [seg(1, 5)]);

    // The new timeline's history file is part of the chain.
    const noHistory = archiveOf([...range(1, 3, 5), ...range(2, 6, 9)]);
    assert.deepEqual(findWalGaps(noHistory, { from: seg(1, 3), to: seg(2, 9), histories }), ['00000002.history']);
  });

  it('switching exactly at a segment boundary takes that segment from the new timeline', () => {
    const histories = new Map([[2, parseTimelineHistory('1\t0/6000000\treason\n')]]);
    const archive = archiveOf([...range(1, 3, 5), '00000002.history', ...range(2, 6, 7)]);
    assert.deepEqual(findWalGaps(archive, { from: seg(1, 3), to: seg(2, 7), histories }), []);
  });

  it('follows several switches (1 → 2 → 3) from the history of the last timeline', () => {
    const histories = new Map([[3, parseTimelineHistory('1\t0/5000100\ta\n2\t0/8000200\tb\n')]]);
    const archive = archiveOf([...range(1, 2, 4), '00000002.history', ...range(2, 5, 7), '00000003.history', ...range(3, 8, 10)]);
    assert.deepEqual(findWalGaps(archive, { from: seg(1, 2), to: seg(3, 10), histories }), []);
    // Starting on timeline 2 (a base backup taken there) needs nothing of timeline 1.
    assert.deepEqual(findWalGaps(archive, { from: seg(2, 6), to: seg(3, 10), histories }), []);
    const gappy = archiveOf([...range(1, 2, 4), ...range(2, 5, 6), '00000003.history', ...range(3, 8, 10)]);
    assert.deepEqual(findWalGaps(gappy, { from: seg(1, 2), to: seg(3, 10), histories }), ['00000002.history', seg(2, 7)]);
  });

  it('works with other segment sizes', () => {
    const size = 64 * 1024 * 1024;
    // 64 MiB: 64 segments per log id, switch at 1/10000000 = segment 64 + 4.
    const histories = new Map([[2, [{ timeline: 1, switchLsn: parseLsn('1/10000000'), reason: '' }]]]);
    const names = [seg(1, 62, size), seg(1, 63, size), seg(1, 64, size), seg(1, 67, size), '00000002.history', seg(2, 68, size), seg(2, 69, size)];
    assert.equal(seg(1, 64, size), '000000010000000100000000');
    assert.deepEqual(findWalGaps(archiveOf(names), { from: seg(1, 62, size), to: seg(2, 69, size), histories, segmentSize: size }), [
      seg(1, 65, size),
      seg(1, 66, size),
    ]);
  });

  it('refuses to guess without the history of a later timeline, or across unrelated timelines', () => {
    assert.throws(() => findWalGaps(archiveOf([]), { from: seg(1, 3), to: seg(2, 9) }), WalHistoryError);
    const histories = new Map([[3, parseTimelineHistory('1\t0/5000000\ta\n')]]);
    assert.throws(() => findWalGaps(archiveOf([]), { from: seg(2, 3), to: seg(3, 9), histories }), /not an ancestor/);
    assert.throws(() => findWalGaps(archiveOf([]), { from: seg(1, 7), to: seg(3, 9), histories }), /after timeline 1 ended/);
    assert.throws(() => findWalGaps(archiveOf([]), { from: seg(1, 9), to: seg(1, 3) }), /comes before/);
  });
});
