// The catalog snapshot's arithmetic: medians, size ratios, duration buckets, and which series exist.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildCatalogSnapshot, medianOf, type SummaryRow, sizeRatio } from '../../../src/metrics/snapshot.js';
import { DURATION_BUCKETS } from '../../../src/metrics/types.js';

const takenAt = new Date('2026-11-25T12:00:00Z');

function summary(overrides: Partial<SummaryRow> = {}): SummaryRow {
  return {
    database: 'hotel',
    type: 'full',
    succeeded: 1,
    failed: 0,
    last_verified_at: null,
    sizes: [1000],
    last_success_at: new Date('2026-11-25T02:00:00Z'),
    last_size: 1000,
    last_status: 'succeeded',
    expected_size: null,
    ...overrides,
  };
}

describe('size arithmetic', () => {
  it('takes the middle value of an odd count and the mean of the two middle values of an even count', () => {
    assert.equal(medianOf([5, 1, 3]), 3);
    assert.equal(medianOf([4, 1, 3, 2]), 2.5);
    assert.equal(medianOf([7]), 7);
    assert.equal(medianOf([]), null);
  });

  it('divides the newest size by the median of the window, the newest included', () => {
    // Six healthy backups of 1000 bytes and a newest one of 100: the median stays 1000, the ratio 0.1.
    const snapshot = buildCatalogSnapshot({
      databases: ['hotel'],
      summary: [summary({ sizes: [100, 1000, 1000, 1000, 1000, 1000, 1000], last_size: 100, succeeded: 7 })],
      durations: [],
      buckets: DURATION_BUCKETS,
      takenAt,
    });
    const full = snapshot.series.find((s) => s.type === 'full')!;
    assert.equal(full.sizeRatio, 0.1);
    assert.equal(full.expectedSize, 1000);
  });

  it('gives a first backup a ratio of 1, and two backups the ratio to their mean', () => {
    assert.equal(sizeRatio(1000, medianOf([1000])), 1);
    assert.equal(sizeRatio(200, medianOf([200, 1000])), 200 / 600);
  });

  it('has no ratio without a size or with a median of 0', () => {
    assert.equal(sizeRatio(null, 10), null);
    assert.equal(sizeRatio(10, null), null);
    assert.equal(sizeRatio(0, 0), null);
  });

  it("falls back to the last run's recorded estimate for the expected size before any success", () => {
    const snapshot = buildCatalogSnapshot({
      databases: ['hotel'],
      summary: [summary({ succeeded: 0, failed: 1, sizes: null, last_size: null, last_success_at: null, last_status: 'failed', expected_size: 4096 })],
      durations: [],
      buckets: DURATION_BUCKETS,
      takenAt,
    });
    const full = snapshot.series.find((s) => s.type === 'full')!;
    assert.equal(full.expectedSize, 4096);
    assert.equal(full.sizeRatio, null);
    assert.equal(full.lastSuccessAt, null);
  });
});

describe('catalog snapshot', () => {
  it('has a series at zero runs for every configured database and scheduled kind, before any run', () => {
    const snapshot = buildCatalogSnapshot({ databases: ['a', 'b'], summary: [], durations: [], buckets: DURATION_BUCKETS, takenAt });
    assert.deepEqual(
      snapshot.series.map((s) => `${s.database}/${s.type}`),
      ['a/full', 'a/base', 'a/incremental', 'b/full', 'b/base', 'b/incremental'],
    );
    for (const s of snapshot.series) {
      assert.deepEqual(s.runs, { succeeded: 0, failed: 0 });
      assert.equal(s.lastSuccessAt, null);
      assert.equal(s.lastStatus, null);
    }
  });

  it('adds kinds seen in the catalog and keeps the config order of databases', () => {
    const snapshot = buildCatalogSnapshot({
      databases: ['zeta', 'alpha'],
      summary: [summary({ database: 'alpha', type: 'wal' }), summary({ database: 'zeta' })],
      durations: [],
      buckets: DURATION_BUCKETS,
      takenAt,
    });
    assert.deepEqual(
      snapshot.series.map((s) => `${s.database}/${s.type}`),
      ['zeta/full', 'zeta/base', 'zeta/incremental', 'alpha/full', 'alpha/base', 'alpha/incremental', 'alpha/wal'],
    );
  });

  it('accumulates duration buckets, sum and count per database and kind', () => {
    const snapshot = buildCatalogSnapshot({
      databases: ['hotel'],
      summary: [summary()],
      durations: [
        { database: 'hotel', type: 'full', idx: 0, n: 2, seconds: 1.5 },
        { database: 'hotel', type: 'full', idx: 4, n: 3, seconds: 150 },
        { database: 'hotel', type: 'full', idx: DURATION_BUCKETS.length, n: 1, seconds: 30_000 },
      ],
      buckets: DURATION_BUCKETS,
      takenAt,
    });
    const d = snapshot.series.find((s) => s.type === 'full')!.durations;
    assert.equal(d.count, 6);
    assert.equal(d.sum, 30_151.5);
    assert.equal(d.counts.length, DURATION_BUCKETS.length + 1);
    assert.equal(d.counts[0], 2);
    assert.equal(d.counts[4], 3);
    assert.equal(d.counts[DURATION_BUCKETS.length], 1);
  });
});
