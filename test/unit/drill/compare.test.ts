// The drill's comparison of a restored database with its manifest, on hand-made figures: each kind of
// difference is reported by table, and an old manifest without row counts is compared by table count only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareWithManifest, describeMismatch } from '../../../src/drill/compare.js';
import { formatDrills } from '../../../src/drill/format.js';
import { scratchName, scratchPrefix } from '../../../src/drill/scratch.js';
import type { DrillResult } from '../../../src/drill/types.js';

const restored = [
  { table: 'Hotel Ops.Room Rates', rows: 207 },
  { table: 'Hotel Ops.bookings', rows: 0 },
  { table: 'Hotel Ops.bookings 2024', rows: 100 },
  { table: 'public.no columns', rows: 2 },
];

test('a restore that matches the manifest table by table has no mismatches', () => {
  const manifest = { count: 4, rows: { 'Hotel Ops.Room Rates': 207, 'Hotel Ops.bookings': 0, 'Hotel Ops.bookings 2024': 100, 'public.no columns': 2 } };
  assert.deepEqual(compareWithManifest(manifest, restored), []);
});

test('reports a different row count, a missing and an unexpected table, and the table count, each by table', () => {
  const manifest = {
    count: 5,
    rows: { 'Hotel Ops.Room Rates': 208, 'Hotel Ops.bookings': 0, 'Hotel Ops.bookings 2024': 100, 'Hotel Ops.guest_secrets': 20, 'public.zzz': 1 },
  };
  const mismatches = compareWithManifest(manifest, restored);
  assert.deepEqual(mismatches, [
    { table: null, problem: 'table-count', expected: 5, actual: 4 },
    { table: 'Hotel Ops.Room Rates', problem: 'rows', expected: 208, actual: 207 },
    { table: 'Hotel Ops.guest_secrets', problem: 'missing', expected: 20, actual: null },
    { table: 'public.no columns', problem: 'unexpected', expected: null, actual: 2 },
    { table: 'public.zzz', problem: 'missing', expected: 1, actual: null },
  ]);
  assert.deepEqual(mismatches.map(describeMismatch), [
    '4 tables restored, the manifest records 5',
    'Hotel Ops.Room Rates: 207 rows restored, 208 in the manifest',
    'Hotel Ops.guest_secrets: missing from the restored database (20 rows in the manifest)',
    'public.no columns: restored but not in the manifest (2 rows)',
    'public.zzz: missing from the restored database (1 rows in the manifest)',
  ]);
});

test('a table that lost every row is a mismatch, not a match of zero', () => {
  const manifest = { count: 1, rows: { 'public.t': 3 } };
  assert.deepEqual(compareWithManifest(manifest, [{ table: 'public.t', rows: 0 }]), [{ table: 'public.t', problem: 'rows', expected: 3, actual: 0 }]);
});

test('a manifest from before row counts is compared by its table count only', () => {
  assert.deepEqual(compareWithManifest({ count: 4 }, restored), []);
  assert.deepEqual(compareWithManifest({ count: 3 }, restored), [{ table: null, problem: 'table-count', expected: 3, actual: 4 }]);
});

test('a table named like a JavaScript object key is compared like any other', () => {
  const manifest = { count: 1, rows: { 'public.constructor': 1 } };
  assert.deepEqual(compareWithManifest(manifest, [{ table: 'public.toString', rows: 1 }]), [
    { table: 'public.constructor', problem: 'missing', expected: 1, actual: null },
    { table: 'public.toString', problem: 'unexpected', expected: null, actual: 1 },
  ]);
});

test('scratch database names are plain identifiers within 63 bytes, one prefix per database', () => {
  assert.equal(scratchName('hotel_extranet', '1a2b3c'), 'pgwarden_drill_hotel_extranet_1a2b3c');
  assert.equal(scratchName('Shop.EU-1', 'abcdef'), 'pgwarden_drill_shop_eu_1_abcdef');
  const long = scratchName('x'.repeat(100), '000000');
  assert.equal(long.length, 63);
  assert.ok(long.startsWith(scratchPrefix('x'.repeat(100))));
});

test('the CLI text names the backup, the measured RTO and what was checked, or every mismatch', () => {
  const ok: DrillResult = {
    drill_id: '20261129T040000Z-drill-1a2b3c',
    database: 'hotel',
    backup_id: '20261129T020000Z-full-abcdef',
    status: 'ok',
    target: 'postgres@db1:5432/pgwarden_drill_hotel_1a2b3c',
    started_at: '2026-11-29T04:00:00.000Z',
    finished_at: '2026-11-29T04:01:00.000Z',
    duration_seconds: 57.25,
    tables: 9,
    rows: 746,
    rows_compared: true,
    mismatches: [],
    error: null,
  };
  assert.equal(
    formatDrills([ok]),
    'hotel: backup 20261129T020000Z-full-abcdef: ok, restored in 57.25s (measured RTO); 9 tables and 746 rows match the manifest, table by table\n',
  );
  const failed: DrillResult = { ...ok, status: 'failed', error: 'artifact local:hotel/full/x/dump.pgc.gz does not match its checksum', tables: null, rows: null };
  assert.match(formatDrills([failed]), /^hotel: backup 20261129T020000Z-full-abcdef: FAILED after 57.25s: artifact .* does not match its checksum\n$/);
  const skipped: DrillResult = { ...ok, drill_id: null, backup_id: null, status: 'skipped', error: 'no successful full backup of "hotel" to drill' };
  assert.equal(formatDrills([skipped]), 'hotel: skipped: no successful full backup of "hotel" to drill\n');
});
