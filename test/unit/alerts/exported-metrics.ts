// The metric names (and their label names) pgwarden really exports, read from what the real registry renders
// when every collector has stored a snapshot — so rules and dashboards are checked against /metrics, not
// against a hand-written list that drifts.
import { Registry } from 'prom-client';
import { createMetrics } from '../../../src/metrics/registry.js';
import { buildCatalogSnapshot } from '../../../src/metrics/snapshot.js';
import { COLLECTORS, DURATION_BUCKETS } from '../../../src/metrics/types.js';
import type { StandbyReport } from '../../../src/replication/types.js';
import { parseExposition } from '../metrics/exposition.js';

/** Series names as PromQL sees them, each with the label names its samples carry. */
export type ExportedMetrics = ReadonlyMap<string, ReadonlySet<string>>;

/** Labels every scraped series gets from Prometheus itself. */
export const TARGET_LABELS = ['job', 'instance'] as const;

/** Series names a metric family of this type renders (a histogram has no series under its own name). */
function seriesNames(family: string, type: string): string[] {
  if (type === 'histogram') return [`${family}_bucket`, `${family}_sum`, `${family}_count`];
  if (type === 'summary') return [family, `${family}_sum`, `${family}_count`];
  return [family];
}

const NOW = new Date('2026-11-25T12:00:00Z');

function standby(name: string, connected: boolean): StandbyReport {
  return {
    name,
    configured: true,
    connected,
    primary: null,
    standby: null,
    standbyError: null,
    lagSeconds: connected ? 0.5 : null,
    lagBytes: connected ? 2048 : null,
  };
}

/**
 * Renders a registry from src/metrics filled with one sample snapshot per collector. Every family the
 * registry defines is included (from its `# TYPE` line) even if the sample left it without samples, so a
 * metric added later is known here at once; label names come from the samples.
 */
export async function renderExportedMetrics(): Promise<ExportedMetrics> {
  const registry = new Registry();
  const metrics = createMetrics(registry, { clock: { now: () => NOW } });
  metrics.setCatalog(
    buildCatalogSnapshot({
      databases: ['hotel', 'fresh'],
      summary: [
        {
          database: 'hotel',
          type: 'full',
          succeeded: 8,
          failed: 1,
          last_verified_at: new Date('2026-11-25T02:20:00Z'),
          last_verification_status: 'ok',
          sizes: [900, 1000, 1100],
          last_success_at: new Date('2026-11-25T02:15:00Z'),
          last_size: 900,
          last_status: 'succeeded',
          expected_size: 1000,
          drill_last_status: 'ok',
          drill_last_error: null,
          drill_last_backup_id: '20261122T020000Z-full-1a2b3c',
          drill_last_success_at: new Date('2026-11-22T04:02:00Z'),
          drill_last_success_duration: 95.5,
        },
      ],
      durations: [{ database: 'hotel', type: 'full', idx: 3, n: 8, seconds: 200 }],
      buckets: DURATION_BUCKETS,
      takenAt: NOW,
    }),
  );
  metrics.setReplication(
    new Map([
      [
        'hotel',
        { checkedAt: NOW, primaryError: null, primaryInRecovery: false, connectedCount: 1, standbys: [standby('replica1', true), standby('replica2', false)] },
      ],
    ]),
  );
  metrics.setDatabases([{ database: 'hotel', up: true, error: null }]);
  metrics.setStorage([{ target: 'local', up: true, error: null, usedBytes: 10_000, freeBytes: 1_000_000 }]);
  metrics.setWal([{ database: 'hotel', lastSegmentAt: new Date('2026-11-25T11:59:00Z'), lagBytes: 4096 }]);
  metrics.setAlerts([{ rule: 'BackupFailed', severity: 'critical' }]);
  metrics.initNotifications(['slack', 'sms']);
  metrics.countNotification('sms', 'sent');
  for (const collector of COLLECTORS) metrics.setCollector(collector, { success: true, at: NOW, durationSeconds: 0.01 });

  const exposition = parseExposition(await registry.metrics());
  const exported = new Map<string, Set<string>>();
  for (const [family, type] of exposition.types) {
    for (const name of seriesNames(family, type)) exported.set(name, new Set(TARGET_LABELS));
  }
  for (const sample of exposition.samples) {
    const labels = exported.get(sample.name) ?? new Set(TARGET_LABELS);
    for (const label of Object.keys(sample.labels)) labels.add(label);
    exported.set(sample.name, labels);
  }
  return exported;
}
