// The rule files as DESIGN.md "Alerts" describes them: its rules with their severities, routable severity
// labels, the annotations a notification shows, and a promtool unit test that sees each alert fire and not fire.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AlertRule, readAlertChecks, readRules, ruleFiles } from './alert-files.js';

const rules: AlertRule[] = ruleFiles().flatMap(readRules);

/** DESIGN.md "Alerts": rule → severities; then the rules about pgwarden itself. */
const EXPECTED: Record<string, string[]> = {
  BackupMissing: ['critical'],
  BackupFailed: ['critical'],
  BackupVerificationFailed: ['critical'],
  WalArchivingStalled: ['critical'],
  DatabaseUnreachable: ['critical'],
  BackupSizeDrop: ['warning'],
  ReplicationLagHigh: ['critical', 'warning'],
  StorageSpaceLow: ['warning'],
  StorageTargetDown: ['warning'],
  BackupDegraded: ['warning'],
  IncrementalSizeSpike: ['info'],
  RestoreDrillFailed: ['critical'],
  PgwardenDown: ['critical'],
  PgwardenMetricsStale: ['warning'],
  PgwardenCollectorFailing: ['warning'],
};

describe('alert rules', () => {
  it('has every rule of DESIGN.md and of pgwarden itself, with its severities, and no other', () => {
    const found: Record<string, Set<string>> = {};
    for (const rule of rules) {
      found[rule.alert] = (found[rule.alert] ?? new Set()).add(rule.labels['severity'] ?? '(none)');
    }
    assert.deepEqual(
      Object.fromEntries(Object.entries(found).map(([alert, severities]) => [alert, [...severities].sort()])),
      EXPECTED,
    );
  });

  it('keeps WalArchivingStalled, on the WAL archiving metrics, in its own file', () => {
    assert.deepEqual(
      rules.filter((r) => r.file === 'alerts/pgwarden-wal.rules.yml').map((r) => r.alert),
      ['WalArchivingStalled'],
    );
  });

  it('gives every rule a summary, a description and a runbook hint', () => {
    for (const rule of rules) {
      for (const key of ['summary', 'description', 'runbook']) {
        assert.ok((rule.annotations[key] ?? '').trim().length > 0, `${rule.file} ${rule.alert} (${rule.labels['severity']}) lacks ${key}`);
      }
    }
  });

  it('has a promtool unit test seeing each alert fire, and not fire', () => {
    const seen = new Map<string, { fires: boolean; quiet: boolean }>();
    for (const check of readAlertChecks()) {
      const state = seen.get(check.alertname) ?? { fires: false, quiet: false };
      if (check.expected.length > 0) state.fires = true;
      else state.quiet = true;
      seen.set(check.alertname, state);
    }
    for (const alert of new Set(rules.map((r) => r.alert))) {
      assert.deepEqual(seen.get(alert), { fires: true, quiet: true }, `${alert}: a test where it fires and one where it does not`);
    }
  });

  it('sees each rule of an alert (each severity and reason) fire in a test', () => {
    const key = (alert: string, labels: Record<string, string>) => `${alert} ${labels['severity']} ${labels['reason'] ?? ''}`.trim();
    const fired = new Set(readAlertChecks().flatMap((check) => check.expected.map((alert) => key(check.alertname, alert.labels))));
    for (const rule of rules) assert.ok(fired.has(key(rule.alert, rule.labels)), `no test sees ${key(rule.alert, rule.labels)} (${rule.file}) fire`);
  });
});
