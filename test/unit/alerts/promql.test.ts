// The PromQL reader that the metric-name checks rely on: metric names told apart from functions, aggregations,
// keywords, label names, durations, strings and Grafana variables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readLabelValuesQuery, readPromql } from './promql.js';

const metrics = (expr: string) => readPromql(expr).selectors.map((s) => s.metric);

describe('readPromql', () => {
  it('finds the metric inside functions and aggregations, with its matcher labels, and the grouping labels', () => {
    const use = readPromql('sum by (database, type) (rate(pgwarden_backup_runs_total{result="failed", type=~"full|base"}[5m]))');
    assert.deepEqual(use.selectors, [{ metric: 'pgwarden_backup_runs_total', labels: ['result', 'type'] }]);
    assert.deepEqual(use.groupingLabels, ['database', 'type']);
  });

  it('reads aggregations with the grouping clause after the arguments, and without()', () => {
    const use = readPromql('max(pgwarden_backup_age_seconds) without (instance) > bool 3 or min without(job) (up)');
    assert.deepEqual(metrics('max(pgwarden_backup_age_seconds) without (instance) > bool 3 or min without(job) (up)'), ['pgwarden_backup_age_seconds', 'up']);
    assert.deepEqual(use.groupingLabels, ['instance', 'job']);
  });

  it('takes on/ignoring/group_left label lists as labels, not metrics', () => {
    const use = readPromql('a_bytes < on(job, instance) group_left(target) 2 * max by (job, instance) (b_bytes) unless ignoring(result) c_total');
    assert.deepEqual(use.selectors.map((s) => s.metric), ['a_bytes', 'b_bytes', 'c_total']);
    assert.deepEqual(use.groupingLabels, ['job', 'instance', 'target', 'job', 'instance', 'result']);
    assert.deepEqual(metrics('x * on() group_left y'), ['x', 'y']);
  });

  it('skips keywords, numbers, durations, offsets, @ modifiers and subqueries', () => {
    assert.deepEqual(
      metrics('a and b or c unless d > bool 1e3 + 0x1F - Inf * NaN + e offset 5m + f offset -1h30m + max_over_time(g[1h:30s]) + h @ end() + i @ 1609746000'),
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'],
    );
    assert.deepEqual(metrics('AND_metric_name and ON_metric'), ['AND_metric_name', 'ON_metric']);
  });

  it('ignores words in strings, comments and label values', () => {
    assert.deepEqual(
      metrics('label_replace(x, "dst", "not_a_metric", "src", "(.*)") # y_total\n + count_values("version", z{a="rate(w)"})'),
      ['x', 'z'],
    );
  });

  it('reads a name given as {__name__="…"}, with escapes and every quote style', () => {
    assert.deepEqual(readPromql('{__name__="x_total", a=\'b\', c=~`d\\`}').selectors, [{ metric: 'x_total', labels: ['a', 'c'] }]);
    assert.deepEqual(readPromql('y{a="q\\"uote", b!="c"}').selectors, [{ metric: 'y', labels: ['a', 'b'] }]);
  });

  it('skips Grafana variables in ranges, values and thresholds', () => {
    assert.deepEqual(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${variable} syntax, not a template
      metrics('increase(a{job=~"$job"}[$__rate_interval]) > $threshold + b[${__range}] + c[[interval]]'),
      ['a', 'b', 'c'],
    );
  });

  it('recognises histogram_quantile, time(), absent() and scalar()', () => {
    assert.deepEqual(
      metrics('histogram_quantile(0.95, sum by (le) (rate(d_bucket[5m]))) + time() - scalar(absent(up{job=~".*pgwarden.*"}))'),
      ['d_bucket', 'up'],
    );
  });

  it('fails on an unknown function, a regex __name__ and a selector without a name, rather than guessing', () => {
    assert.throws(() => readPromql('rates(x[5m])'), /unknown function rates\(\)/);
    assert.throws(() => readPromql('{__name__=~"pgwarden_.*"}'), /__name__/);
    assert.throws(() => readPromql('{job="x"}'), /without a metric name/);
    assert.throws(() => readPromql('x{a="b'), /unterminated string/);
  });
});

describe('readLabelValuesQuery', () => {
  it('reads the metric and the label of a Grafana label_values() query', () => {
    assert.deepEqual(readLabelValuesQuery('label_values(pgwarden_backup_runs_total{job=~"$job"}, database)'), {
      selectors: [{ metric: 'pgwarden_backup_runs_total', labels: ['job'] }],
      groupingLabels: ['database'],
    });
    assert.deepEqual(readLabelValuesQuery('label_values(job)'), { selectors: [], groupingLabels: ['job'] });
    assert.throws(() => readLabelValuesQuery('query_result(up)'), /not a label_values/);
  });
});
