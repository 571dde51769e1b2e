// dashboards/pgwarden-overview.json is a Grafana dashboard Grafana can import and use as is, and it is exactly
// what dashboards/src/ generates (edit the TypeScript, run `npm run dashboards`, commit both).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderOverviewJson } from '../../../dashboards/src/generate.js';
import { allPanels, type DashboardJson, OVERVIEW_FILE, readOverviewText, ROOT } from './alert-files.js';

/** Grafana's reference to the datasource the $datasource variable selects. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
const SELECTED_DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

const text = readOverviewText();
const dashboard = JSON.parse(text) as DashboardJson;
const rows = allPanels(dashboard).filter((p) => p.type === 'row');
const panels = allPanels(dashboard).filter((p) => p.type !== 'row');

describe('pgwarden overview dashboard', () => {
  it(`${OVERVIEW_FILE} is what dashboards/src/ generates (run \`npm run dashboards\` after changing it)`, () => {
    const committed = text.split('\n');
    const generated = renderOverviewJson(ROOT).split('\n');
    const line = committed.findIndex((l, i) => l !== generated[i]);
    const at = line === -1 && committed.length !== generated.length ? Math.min(committed.length, generated.length) : line;
    assert.equal(at, -1, `${OVERVIEW_FILE} differs from the generated dashboard at line ${at + 1}:\n  committed: ${committed[at]}\n  generated: ${generated[at]}\nRun \`npm run dashboards\`.`);
  });

  it('has a uid, a title and a schemaVersion', () => {
    assert.equal(typeof dashboard.uid, 'string');
    assert.match(dashboard.uid as string, /^[a-zA-Z0-9_-]{8,40}$/, 'Grafana uids are 8-40 characters');
    assert.equal(dashboard.title, 'pgwarden overview');
    // 36 and later: datasources referenced as {type, uid} objects (Grafana 9+).
    assert.ok(Number.isInteger(dashboard.schemaVersion) && (dashboard.schemaVersion as number) >= 36, `schemaVersion ${dashboard.schemaVersion}`);
  });

  it('has a Prometheus datasource variable, and $job and $database variables reading label values', () => {
    const variables = dashboard.templating?.list ?? [];
    const datasource = variables.find((v) => v.type === 'datasource');
    assert.deepEqual({ name: datasource?.name, query: datasource?.query }, { name: 'datasource', query: 'prometheus' });
    for (const name of ['job', 'database']) {
      const variable = variables.find((v) => v.name === name);
      assert.equal(variable?.type, 'query', `$${name}`);
      assert.match(String(variable?.query), new RegExp(`^label_values\\(.+, ${name}\\)$`), `$${name}`);
      assert.deepEqual(variable?.datasource, SELECTED_DATASOURCE, `$${name} uses the selected datasource`);
    }
  });

  it('gives every panel and row a unique id', () => {
    const ids = allPanels(dashboard).map((p) => p.id);
    assert.ok(ids.every((id) => Number.isInteger(id) && (id as number) > 0), `ids ${ids.join(', ')}`);
    assert.equal(new Set(ids).size, ids.length, `duplicate ids among ${ids.join(', ')}`);
    assert.ok(rows.length > 0 && panels.length >= 20, `${rows.length} rows, ${panels.length} panels`);
  });

  it('gives every panel the selected datasource and at least one query with a refId and an expression', () => {
    for (const panel of panels) {
      assert.deepEqual(panel.datasource, SELECTED_DATASOURCE, `panel "${panel.title}"`);
      const targets = panel.targets ?? [];
      assert.ok(targets.length > 0, `panel "${panel.title}" has no target`);
      for (const target of targets) {
        assert.ok(typeof target.expr === 'string' && target.expr.length > 0, `panel "${panel.title}" ${target.refId}: no expr`);
        assert.deepEqual(target.datasource, panel.datasource, `panel "${panel.title}" ${target.refId}`);
      }
      const refIds = targets.map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `panel "${panel.title}": duplicate refIds`);
    }
  });

  it('shows every part of pgwarden the design asks for', () => {
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => String(t.expr))).join('\n');
    for (const needed of [
      'pgwarden_backup_age_seconds',
      'pgwarden_backup_last_size_bytes',
      'pgwarden_backup_size_ratio',
      'histogram_quantile(0.95, max by (le, database, type) (increase(pgwarden_backup_duration_seconds_bucket',
      'pgwarden_backup_runs_total',
      'pgwarden_backup_verification_last_success_timestamp_seconds',
      'pgwarden_replication_lag_seconds',
      'pgwarden_replication_lag_bytes',
      'pgwarden_replication_standbys_connected',
      'pgwarden_rpo_seconds',
      'pgwarden_wal_archive_last_segment_timestamp_seconds',
      'pgwarden_storage_used_bytes',
      'pgwarden_storage_free_bytes',
      'pgwarden_database_up',
      'pgwarden_collector_success',
      'pgwarden_metrics_last_refresh_timestamp_seconds',
      'ALERTS{alertstate="firing"',
      'pgwarden_alerts_firing',
      'pgwarden_notifications_total',
    ]) {
      assert.ok(exprs.includes(needed), `no panel queries ${needed}`);
    }
  });

  it('keeps panels inside the 24-column grid without overlapping', () => {
    const cells = new Set<string>();
    for (const panel of allPanels(dashboard)) {
      assert.ok(panel.gridPos, `panel "${panel.title}" has no gridPos`);
      const { x, y, w, h } = panel.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24, `panel "${panel.title}" is outside the grid`);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          assert.ok(!cells.has(`${i},${j}`), `panel "${panel.title}" overlaps another at ${i},${j}`);
          cells.add(`${i},${j}`);
        }
      }
    }
  });
});
