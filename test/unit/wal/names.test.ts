// WAL names and LSN arithmetic: what PostgreSQL calls each file, for 16 MiB and other segment sizes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareSegments,
  DEFAULT_SEGMENT_SIZE,
  formatLsn,
  historyFileName,
  isValidSegmentSize,
  nextSegment,
  parseControlDataSegmentSize,
  parseLsn,
  parseSegmentSize,
  parseTimelineHistory,
  parseWalFileName,
  previousSegment,
  segmentEndLsn,
  segmentName,
  segmentNumber,
  segmentOfLsn,
  segmentsPerLogId,
  segmentStartLsn,
} from '../../../src/wal/names.js';

const MiB = 1024 * 1024;

describe('WAL file names', () => {
  it('parses segment names into timeline, log and segment', () => {
    assert.deepEqual(parseWalFileName('00000002000000A1000000FE'), {
      kind: 'segment',
      name: '00000002000000A1000000FE',
      timeline: 2,
      log: 0xa1,
      seg: 0xfe,
    });
  });

  it('parses .partial, .backup and .history names', () => {
    assert.deepEqual(parseWalFileName('000000010000000000000005.partial'), {
      kind: 'partial',
      name: '000000010000000000000005.partial',
      segment: '000000010000000000000005',
      timeline: 1,
    });
    assert.deepEqual(parseWalFileName('000000010000000000000002.00000028.backup'), {
      kind: 'backup',
      name: '000000010000000000000002.00000028.backup',
      segment: '000000010000000000000002',
      timeline: 1,
      offset: 0x28,
    });
    assert.deepEqual(parseWalFileName('0000000A.history'), { kind: 'history', name: '0000000A.history', timeline: 10 });
    assert.equal(historyFileName(10), '0000000A.history');
  });

  it('rejects what PostgreSQL would not write: lower case, wrong length, timeline 0, other suffixes', () => {
    for (const name of [
      '00000001000000000000000a',
      '0000000100000000000000001',
      '00000000000000000000000A',
      '000000010000000000000005.partial.tmp',
      '00000002.history.tmp',
      'RECOVERYXLOG',
      '../00000001000000000000000A',
      '',
    ]) {
      assert.equal(parseWalFileName(name), undefined, name);
    }
  });
});

describe('LSNs and segments', () => {
  it('parses and prints LSNs as PostgreSQL does', () => {
    assert.equal(parseLsn('16/B374D848'), 0x16b374d848n);
    assert.equal(parseLsn('0/0'), 0n);
    assert.equal(formatLsn(0x16b374d848n), '16/B374D848');
    assert.equal(formatLsn(0x1_0000_0000n), '1/0');
    assert.throws(() => parseLsn('16B374D848'), /invalid LSN/);
    assert.throws(() => parseLsn('1/123456789'), /invalid LSN/);
  });

  it('finds the segment containing an LSN (16 MiB)', () => {
    assert.equal(segmentOfLsn(parseLsn('0/3000000'), 1, DEFAULT_SEGMENT_SIZE), '000000010000000000000003');
    assert.equal(segmentOfLsn(parseLsn('0/2FFFFFF'), 1, DEFAULT_SEGMENT_SIZE), '000000010000000000000002');
    assert.equal(segmentOfLsn(parseLsn('16/B374D848'), 1, DEFAULT_SEGMENT_SIZE), '0000000100000016000000B3');
    assert.equal(segmentOfLsn(parseLsn('16/B374D848'), 3, DEFAULT_SEGMENT_SIZE), '0000000300000016000000B3');
  });

  it('goes to the next log id after segment FF with 16 MiB segments, and back', () => {
    assert.equal(nextSegment('0000000100000000000000FF', DEFAULT_SEGMENT_SIZE), '000000010000000100000000');
    assert.equal(previousSegment('000000010000000100000000', DEFAULT_SEGMENT_SIZE), '0000000100000000000000FF');
    assert.equal(nextSegment('000000010000000000000009', DEFAULT_SEGMENT_SIZE), '00000001000000000000000A');
    assert.throws(() => previousSegment('000000010000000000000000', DEFAULT_SEGMENT_SIZE), /first possible segment/);
  });

  it('handles other segment sizes: 1 MiB, 64 MiB, 1 GiB', () => {
    assert.equal(segmentsPerLogId(MiB), 4096n);
    assert.equal(nextSegment('000000010000000000000FFF', MiB), '000000010000000100000000');
    assert.equal(segmentOfLsn(parseLsn('0/1234567'), 1, MiB), '000000010000000000000012');

    assert.equal(segmentsPerLogId(64 * MiB), 64n);
    assert.equal(nextSegment('00000001000000000000003F', 64 * MiB), '000000010000000100000000');
    assert.equal(segmentOfLsn(parseLsn('2/8C000000'), 1, 64 * MiB), '000000010000000200000023');
    assert.throws(() => segmentNumber('000000010000000000000040', 64 * MiB), /impossible/);

    assert.equal(segmentsPerLogId(1024 * MiB), 4n);
    assert.equal(nextSegment('000000010000000000000003', 1024 * MiB), '000000010000000100000000');
    assert.equal(segmentStartLsn('000000010000000100000002', 1024 * MiB), parseLsn('1/80000000'));
  });

  it('converts between segment names, numbers and start/end LSNs', () => {
    const name = '0000000100000001000000A0';
    assert.equal(segmentNumber(name, DEFAULT_SEGMENT_SIZE), 256n + 0xa0n);
    assert.equal(segmentName(1, 256n + 0xa0n, DEFAULT_SEGMENT_SIZE), name);
    assert.equal(formatLsn(segmentStartLsn(name, DEFAULT_SEGMENT_SIZE)), '1/A0000000');
    assert.equal(formatLsn(segmentEndLsn(name, DEFAULT_SEGMENT_SIZE)), '1/A1000000');
  });

  it('orders segments by position, then timeline', () => {
    const names = ['000000020000000000000004', '000000010000000100000000', '000000010000000000000005', '000000010000000000000004'];
    assert.deepEqual([...names].sort(compareSegments), [
      '000000010000000000000004',
      '000000020000000000000004',
      '000000010000000000000005',
      '000000010000000100000000',
    ]);
  });
});

describe('segment size', () => {
  it('accepts powers of two from 1 MiB to 1 GiB only', () => {
    for (const size of [MiB, 2 * MiB, 16 * MiB, 64 * MiB, 1024 * MiB]) assert.equal(isValidSegmentSize(size), true, String(size));
    for (const size of [0, 512 * 1024, 3 * MiB, 2048 * MiB, 16 * MiB + 1]) assert.equal(isValidSegmentSize(size), false, String(size));
  });

  it('reads SHOW wal_segment_size, pg_settings and pg_controldata forms', () => {
    assert.equal(parseSegmentSize('16MB'), 16 * MiB);
    assert.equal(parseSegmentSize('1GB'), 1024 * MiB);
    assert.equal(parseSegmentSize('1024kB'), MiB);
    assert.equal(parseSegmentSize('16777216'), 16 * MiB);
    assert.throws(() => parseSegmentSize('24MB'), /invalid WAL segment size/);
    const controldata = 'Maximum data alignment:               8\nBytes per WAL segment:                67108864\nBlocks per segment of large relation: 131072\n';
    assert.equal(parseControlDataSegmentSize(controldata), 64 * MiB);
  });
});

describe('timeline history files', () => {
  it('parses ancestors with their switch points, skipping comments', () => {
    const text = '1\t0/3000158\tno recovery target specified\n\n# a comment\n2\t0/5000000\tat restore point "before"\n';
    assert.deepEqual(parseTimelineHistory(text), [
      { timeline: 1, switchLsn: 0x3000158n, reason: 'no recovery target specified' },
      { timeline: 2, switchLsn: 0x5000000n, reason: 'at restore point "before"' },
    ]);
    assert.throws(() => parseTimelineHistory('2\t0/5\n1\t0/3\n'), /increasing order/);
    assert.throws(() => parseTimelineHistory('x 0/5\n'), /invalid timeline history line/);
  });
});
