import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectedSize, formatBytes } from '../../../src/backup/precheck.js';
import { countTocTables } from '../../../src/verify/verify-artifact.js';
import { parseToolVersion } from '../../../src/postgres/tools.js';

test('the expected size is the median of recent backups, or a share of the database for the first', () => {
  assert.equal(expectedSize([], 4_000_000, true), 1_000_000);
  assert.equal(expectedSize([], 4_000_000, false), 4_000_000);
  assert.equal(expectedSize([5, 1, 9], 0, true), 5);
  assert.equal(expectedSize([10, 20, 30, 1000], 0, true), 25);
});

test('sizes print in binary units', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(100_000), '97.7 KiB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
});

test('table count from pg_restore --list ignores TABLE DATA and TABLE ATTACH entries', () => {
  const listing = [
    ';',
    '; Archive created at 2026-11-25 08:50:23 UTC',
    '215; 1259 16390 TABLE public hotels postgres',
    '216; 1259 16391 TABLE "Hotel Ops" Room Rates postgres',
    '217; 1259 16392 TABLE public bookings_2026 postgres',
    '3301; 0 0 TABLE ATTACH public bookings_2026 postgres',
    '3402; 0 16390 TABLE DATA public hotels postgres',
    '220; 1259 16400 VIEW public v postgres',
    '221; 1259 16401 MATERIALIZED VIEW public mv postgres',
    ';218; 1259 16393 TABLE public commented_out postgres',
  ].join('\n');
  assert.equal(countTocTables(listing), 3);
});

test('tool versions are read from --version output', () => {
  assert.deepEqual(parseToolVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)'), { major: 15, version: '15.18' });
  assert.deepEqual(parseToolVersion('pg_restore (PostgreSQL) 17beta1'), { major: 17, version: '17' });
  assert.equal(parseToolVersion('bash: pg_dump: not found'), undefined);
});
