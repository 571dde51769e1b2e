// The progress line on a (fake) terminal: drawn throttled on one line with bytes, rate and ETA, erased at
// the end; nothing at all when stdout is not a TTY or --json is given. And the in-progress metric: present
// while a backup writes its data, absent before and after.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createProgressLine, formatProgress } from '../../../src/cli/progress.js';
import { backupProgressMetric } from '../../../src/metrics/progress.js';
import { createMetrics } from '../../../src/metrics/registry.js';
import { combineReporters, withProgress } from '../../../src/pipeline/progress.js';

function fakeTerminal(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (text: string) => writes.push(text) } };
}

const info = { database: 'hotel', type: 'full', phase: 'dump', totalBytes: 900e6 };

test('on a TTY the line shows bytes, percentage, rate and ETA, is throttled, and is erased at the end', () => {
  const tty = fakeTerminal(true);
  let clock = 0;
  const reporter = createProgressLine({ stream: tty.stream, json: false, intervalMs: 250, now: () => clock })!;
  assert.ok(reporter);
  const task = reporter.begin(info);
  clock = 1000;
  task.update(100e6);
  clock = 1100;
  task.update(110e6); // within 250 ms of the last draw: not drawn
  clock = 2000;
  task.update(200e6);
  task.end();
  task.end();
  assert.equal(tty.writes.length, 3, tty.writes.join('|'));
  assert.ok(tty.writes.every((w) => w.startsWith('\r')), 'redrawn in place');
  assert.match(tty.writes[0]!, /hotel full dump: 100 MB of ~900 MB \(11%\), 100 MB\/s, ETA 8s/);
  assert.match(tty.writes[1]!, /200 MB of ~900 MB \(22%\), 100 MB\/s, ETA 7s/);
  assert.equal(tty.writes[2]!.trim(), '', 'the last write erases the line');
  assert.ok(tty.writes[0]!.length <= 100, 'fits the terminal');
});

test('no line when stdout is not a TTY, or with --json', () => {
  assert.equal(createProgressLine({ stream: fakeTerminal(false).stream, json: false }), undefined);
  assert.equal(createProgressLine({ stream: fakeTerminal(true).stream, json: true }), undefined);
  assert.equal(createProgressLine({ stream: { write: () => true }, json: false }), undefined);
});

test('without a known total the line shows bytes and rate, no ETA; long ETAs read in minutes and hours', () => {
  assert.equal(formatProgress({ ...info, totalBytes: null }, 5e6, 2), 'hotel full dump: 5.0 MB, 2.5 MB/s');
  assert.match(formatProgress(info, 1e6, 1), /ETA 14m59s$/);
  assert.match(formatProgress({ ...info, totalBytes: 100e9 }, 1e6, 1), /ETA 27h46m$/);
});

test('the in-progress metric exists while a backup writes its data and is gone after, also when it failed', async () => {
  const metrics = createMetrics(new Registry(), { processMetrics: false });
  const tty = fakeTerminal(true);
  const reporter = combineReporters(backupProgressMetric(metrics), createProgressLine({ stream: tty.stream, json: false, intervalMs: 0 }));
  const series = async () => (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('pgwarden_backup_in_progress_bytes'));
  assert.deepEqual(await series(), []);
  await withProgress(reporter, info, async (onProgress) => {
    onProgress!({ storedBytes: 4096 });
    assert.deepEqual(await series(), ['pgwarden_backup_in_progress_bytes{database="hotel",type="full"} 4096']);
  });
  assert.deepEqual(await series(), []);
  await assert.rejects(
    withProgress(reporter, { ...info, type: 'base' }, async (onProgress) => {
      onProgress!({ storedBytes: 1 });
      assert.equal((await series()).length, 1);
      throw new Error('disk on fire');
    }),
    /disk on fire/,
  );
  assert.deepEqual(await series(), []);
  // Verification reads back; it is not the backup writing data, so the metric ignores it.
  await withProgress(reporter, { ...info, phase: 'verify' }, async (onProgress) => {
    onProgress!({ storedBytes: 10 });
    assert.deepEqual(await series(), []);
  });
  assert.ok(tty.writes.length >= 3, 'the line was drawn by the same reporter');
});
