// The alerts/ folder through the real tools (Debian packages `prometheus` and `prometheus-alertmanager`):
// promtool checks and unit-tests the rules, promtool parses every dashboard query, amtool checks the example
// Alertmanager config and where it routes each severity.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { dashboardExpressions, type DashboardJson, readOverviewText, readRules, ROOT, ruleFiles, ruleTestFiles } from '../../unit/alerts/alert-files.js';

const INSTALL: Record<string, string> = { promtool: 'prometheus', amtool: 'prometheus-alertmanager' };

/** Runs a tool from the repository root; fails the test with the tool's own output when it fails. */
function run(tool: 'promtool' | 'amtool', args: string[]): string {
  const result = spawnSync(tool, args, { cwd: ROOT, encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.fail(`${tool} is not installed: apt-get install -y --no-install-recommends ${INSTALL[tool]}`);
  }
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  assert.equal(result.status, 0, `${tool} ${args.join(' ')} failed:\n${output}`);
  return output;
}

const ALERTMANAGER_CONFIG = 'alerts/alertmanager.example.yml';

describe('alert rules through promtool', () => {
  it('promtool check rules passes, lint included, for every rule file', () => {
    const output = run('promtool', ['check', 'rules', ...ruleFiles()]);
    const found = [...output.matchAll(/SUCCESS: (\d+) rules found/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    assert.equal(found, ruleFiles().flatMap(readRules).length, output);
  });

  it('promtool test rules passes every unit test in alerts/tests/', () => {
    const output = run('promtool', ['test', 'rules', ...ruleTestFiles()]);
    assert.equal(output.match(/SUCCESS/g)?.length, ruleTestFiles().length, output);
  });
});

describe('dashboard queries through promtool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-dashboard-promql-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every query of the dashboard is valid PromQL once Grafana has filled in its variables', () => {
    const dashboard = JSON.parse(readOverviewText()) as DashboardJson;
    const exprs = dashboardExpressions(dashboard).map(({ where, expr, labelValues }) => {
      // label_values(<series selector>, label): the selector is PromQL.
      const promql = labelValues ? expr.replace(/^label_values\((.*),\s*\w+\)$/s, '$1') : expr;
      // Ranges such as $__rate_interval become a duration, any other variable a plain value.
      return { where, expr: promql.replace(/\$\{?__\w+\}?/g, '5m').replace(/\$\{?(\w+)(?::\w+)?\}?/g, 'x') };
    });
    const rules = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `pgwarden_dashboard_query_${i}`, expr: e.expr })) }] };
    const file = join(dir, 'dashboard.rules.yml');
    writeFileSync(file, JSON.stringify(rules, null, 2));
    run('promtool', ['check', 'rules', '--lint=none', file]);
  });
});

describe('example Alertmanager config through amtool', () => {
  it('amtool check-config accepts it', () => {
    run('amtool', ['check-config', ALERTMANAGER_CONFIG]);
  });

  it('routes critical alerts to PagerDuty and pgwarden (SMS), warnings to Slack and email, info to Slack', () => {
    const expected: Record<string, string> = { critical: 'critical', warning: 'warning', info: 'slack' };
    for (const [severity, receiver] of Object.entries(expected)) {
      const output = run('amtool', ['config', 'routes', 'test', `--config.file=${ALERTMANAGER_CONFIG}`, `--verify.receivers=${receiver}`, `severity=${severity}`, 'alertname=BackupFailed', 'database=hotel']);
      assert.equal(output.split('\n')[0], receiver, `severity=${severity}`);
    }
    type Receiver = { name: string; pagerduty_configs?: unknown[]; webhook_configs?: { url: string; send_resolved?: boolean }[]; slack_configs?: unknown[]; email_configs?: unknown[] };
    const config = parse(readFileSync(join(ROOT, ALERTMANAGER_CONFIG), 'utf8')) as { receivers: Receiver[] };
    const integrations = (name: string) => {
      const r = config.receivers.find((x) => x.name === name)!;
      return (['pagerduty_configs', 'webhook_configs', 'slack_configs', 'email_configs'] as const).filter((k) => (r[k]?.length ?? 0) > 0);
    };
    assert.deepEqual(integrations('critical'), ['pagerduty_configs', 'webhook_configs', 'slack_configs', 'email_configs']);
    assert.deepEqual(integrations('warning'), ['slack_configs', 'email_configs']);
    assert.deepEqual(integrations('slack'), ['slack_configs']);
    const webhook = config.receivers.find((x) => x.name === 'critical')!.webhook_configs![0]!;
    assert.match(webhook.url, /\/api\/alertmanager$/);
    assert.equal(webhook.send_resolved, true, 'pgwarden sends one resolved message');
  });

  it('routes exactly the severities the rules use', () => {
    const severities = new Set(ruleFiles().flatMap(readRules).map((r) => r.labels['severity']));
    assert.deepEqual([...severities].sort(), ['critical', 'info', 'warning']);
  });
});
