// Cost estimates from bytes stored per target and class, against figures worked out by hand from the default
// price table (local $0.10, S3 Standard $0.023, Glacier $0.004, GCS $0.020 per GiB-month; egress S3 $0.09, GCS $0.12).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { estimateCost, formatDollars } from '../../../src/cost/estimate.js';

const GIB = 1024 ** 3;
const now = new Date('2026-11-25T00:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
const prices = parseConfig('catalog: { url: "postgres://c@h/db" }\ndatabases: [{ name: a, url: "postgres://u@h/a" }]\nstorage: { local: { path: /b } }\n', { env: {} }).cost;

test('the default price table is the issue’s', () => {
  assert.deepEqual(prices, { localGbMonth: 0.1, s3StandardGbMonth: 0.023, s3GlacierGbMonth: 0.004, gcsStandardGbMonth: 0.02, s3TransferOutGb: 0.09, gcsTransferOutGb: 0.12 });
});

test('local: 10 GiB cost $1.00 a month and nothing to read back', () => {
  const cost = estimateCost({ target: 'local', kind: 'local', objects: [{ path: 'a', size: 4 * GIB, modifiedAt: now }, { path: 'b', size: 6 * GIB, modifiedAt: daysAgo(40) }], restoreBytes: 2 * GIB }, prices, { now });
  assert.deepEqual(cost, { target: 'local', kind: 'local', bytes: { local: 10 * GIB }, monthlyDollars: 1, restoreDollars: 0 });
});

test('S3: objects past glacierAfterDays are priced as Glacier; a 2 GiB restore costs $0.18 of transfer', () => {
  const objects = [
    { path: 'old', size: 5 * GIB, modifiedAt: daysAgo(31) },
    { path: 'new', size: 5 * GIB, modifiedAt: daysAgo(29) },
  ];
  const tiered = estimateCost({ target: 's3', kind: 's3', objects, restoreBytes: 2 * GIB }, prices, { now, glacierAfterDays: 30 });
  assert.deepEqual(tiered.bytes, { glacier: 5 * GIB, standard: 5 * GIB });
  assert.equal(tiered.monthlyDollars, 0.135); // 5 × 0.004 + 5 × 0.023
  assert.equal(tiered.restoreDollars, 0.18);
  const flat = estimateCost({ target: 's3', kind: 's3', objects, restoreBytes: 0 }, prices, { now });
  assert.equal(flat.monthlyDollars, 0.23);
});

test('GCS: 10 GiB Standard is $0.20 a month; a 2 GiB restore $0.24', () => {
  const cost = estimateCost({ target: 'gcs', kind: 'gcs', objects: [{ path: 'x', size: 10 * GIB, modifiedAt: daysAgo(100) }], restoreBytes: 2 * GIB }, prices, { now, glacierAfterDays: 30 });
  assert.deepEqual([cost.bytes, cost.monthlyDollars, cost.restoreDollars], [{ standard: 10 * GIB }, 0.2, 0.24]);
});

test('dollars print with cents, or four decimals under a cent', () => {
  assert.equal(formatDollars(1), '$1.00');
  assert.equal(formatDollars(0.135), '$0.14');
  assert.equal(formatDollars(0.0012), '$0.0012');
  assert.equal(formatDollars(0), '$0.00');
});
