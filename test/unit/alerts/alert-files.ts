// Reads what the alerts/ and dashboards/ folders ship: the Prometheus rule files and the generated Grafana
// dashboard, with every PromQL expression in them and where it came from.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { OVERVIEW_JSON } from '../../../dashboards/src/generate.js';
import { packageRoot } from '../../../src/package-root.js';

export const ROOT = packageRoot();
export const ALERTS_DIR = join(ROOT, 'alerts');

export interface AlertRule {
  file: string;
  group: string;
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Every `alerts/*.rules.yml`, by path relative to the repository. */
export function ruleFiles(): string[] {
  return readdirSync(ALERTS_DIR)
    .filter((file) => file.endsWith('.rules.yml'))
    .sort()
    .map((file) => `alerts/${file}`);
}

/** `alerts/tests/*.test.yml`, by path relative to the repository. */
export function ruleTestFiles(): string[] {
  return readdirSync(join(ALERTS_DIR, 'tests'))
    .filter((file) => file.endsWith('.test.yml'))
    .sort()
    .map((file) => `alerts/tests/${file}`);
}

/** One `alert_rule_test` check of a promtool test file: an alert and the alerts expected at one time. */
export interface AlertCheck {
  file: string;
  alertname: string;
  expected: { labels: Record<string, string> }[];
}

export function readAlertChecks(): AlertCheck[] {
  return ruleTestFiles().flatMap((file) => {
    const doc = parse(readFileSync(join(ROOT, file), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: { exp_labels?: Record<string, string> }[] }[] }[];
    };
    return doc.tests.flatMap((test) =>
      (test.alert_rule_test ?? []).map((check) => ({
        file,
        alertname: check.alertname,
        expected: (check.exp_alerts ?? []).map((alert) => ({ labels: alert.exp_labels ?? {} })),
      })),
    );
  });
}

export function readRules(file: string): AlertRule[] {
  const doc = parse(readFileSync(join(ROOT, file), 'utf8')) as {
    groups: { name: string; rules: { alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
  };
  return doc.groups.flatMap((group) =>
    group.rules.map((rule) => {
      if (rule.alert === undefined) throw new Error(`${file}: group ${group.name} has a recording rule (${rule.record}); only alerting rules are expected`);
      return {
        file,
        group: group.name,
        alert: rule.alert,
        expr: String(rule.expr),
        ...(rule.for === undefined ? {} : { for: rule.for }),
        labels: rule.labels ?? {},
        annotations: rule.annotations ?? {},
      };
    }),
  );
}

// ---- the dashboard ----

export interface DashboardJson {
  uid?: unknown;
  title?: unknown;
  schemaVersion?: unknown;
  templating?: { list?: { type?: string; name?: string; query?: unknown; datasource?: unknown }[] };
  panels?: DashboardPanel[];
}

export interface DashboardPanel {
  id?: unknown;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string } | null;
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: { refId?: string; expr?: unknown; datasource?: unknown }[];
  panels?: DashboardPanel[];
}

export const OVERVIEW_FILE = OVERVIEW_JSON;

export function readOverviewText(): string {
  return readFileSync(join(ROOT, OVERVIEW_JSON), 'utf8');
}

/** Panels, rows included, and the panels inside collapsed rows. */
export function allPanels(dashboard: DashboardJson): DashboardPanel[] {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

export interface Expression {
  /** Where it is: the rule or panel, for messages. */
  where: string;
  expr: string;
  /** A Grafana label_values() variable query rather than PromQL. */
  labelValues?: boolean;
}

export function dashboardExpressions(dashboard: DashboardJson): Expression[] {
  const variables = (dashboard.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => ({ where: `variable $${v.name}`, expr: String(v.query), labelValues: true }));
  const targets = allPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({ where: `panel "${panel.title}" (${t.refId})`, expr: String(t.expr) })),
  );
  return [...variables, ...targets];
}
