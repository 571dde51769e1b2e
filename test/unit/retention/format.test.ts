// How a cleanup report reads when something went wrong: an unreachable target, a removal that failed, and a WAL
// chain found broken afterwards (by this cleanup or before it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CleanupReport } from '../../../src/retention/cleanup.js';
import { formatCleanup, formatCleanupErrors } from '../../../src/retention/format.js';

const report: CleanupReport = {
  dryRun: false,
  plan: {
    at: '2026-03-01T03:00:00Z',
    policy: { fullDays: 30, incrementalDays: 7, cloudDays: 90, keepLast: 2 },
    databases: [],
    unreachable: [{ target: 's3', error: 'connect ECONNREFUSED 127.0.0.1:9000' }],
  },
  removed: { copies: 1, walFiles: 0, bytes: 2048 },
  failures: [
    { target: 's3', what: 'everything', error: 'connect ECONNREFUSED 127.0.0.1:9000' },
    { target: 'gcs', what: '20260101T020000Z-full-a1b2c3', error: 'storage target gcs: 503 Service Unavailable' },
  ],
  brokenChains: [
    { database: 'hotel', target: 'local', backupId: '20260201T010000Z-base-d4e5f6', missing: ['000000010000000000000007'], before: false },
    { database: 'hotel', target: 'gcs', backupId: '20260201T010000Z-base-d4e5f6', missing: ['000000010000000000000003'], before: true },
  ],
  ok: false,
};

describe('cleanup report text', () => {
  it('says what could not be done, and where, one error line each', () => {
    assert.equal(
      formatCleanupErrors(report),
      [
        'error: cannot remove 20260101T020000Z-full-a1b2c3 from gcs (the next run retries): storage target gcs: 503 Service Unavailable',
        'error: the WAL chain of base 20260201T010000Z-base-d4e5f6 on local is broken after this cleanup: missing 000000010000000000000007',
        'error: the WAL chain of base 20260201T010000Z-base-d4e5f6 on gcs was already broken before this cleanup: missing 000000010000000000000003',
        '',
      ].join('\n'),
    );
  });

  it('names the unreachable target, the policy and what was removed', () => {
    assert.equal(
      formatCleanup(report),
      [
        'cleanup at 2026-03-01T03:00:00Z',
        'retention: full and base 30 days, incremental 7 days, cloud copies 90 days, keepLast 2',
        'target s3 unreachable, skipped (the next run retries): connect ECONNREFUSED 127.0.0.1:9000',
        'removed 1 backup copy and 0 WAL files (2.0 KiB)',
        'WAL chains checked: see the errors',
        '',
      ].join('\n'),
    );
  });
});
