// Reads the metric names (and the label names) a PromQL expression uses, so tests can check rules and
// dashboards against what pgwarden exports. A tokenizer, not a full parser: it knows enough of the grammar to
// tell a metric name from a function, an aggregation, a keyword, a label name, a duration or a string, and it
// fails on what it does not know (an unknown function) rather than guessing. Grafana's template variables
// ($database, ${__rate_interval}, $__range) are skipped wherever they stand.

/** One vector selector: `name{label="…"}` or `{__name__="name", …}`. */
export interface Selector {
  metric: string;
  /** Label names in its matchers (`__name__` excluded). */
  labels: string[];
}

export interface PromqlUse {
  selectors: Selector[];
  /** Label names in by / without / on / ignoring / group_left / group_right lists. */
  groupingLabels: string[];
}

const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  'limitk', 'limit_ratio',
]);

// Prometheus 2.x and 3.x functions.
const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time', 'ceil',
  'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh', 'count_over_time', 'day_of_month', 'day_of_week',
  'day_of_year', 'days_in_month', 'deg', 'delta', 'deriv', 'double_exponential_smoothing', 'end', 'exp', 'floor',
  'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_stddev',
  'histogram_stdvar', 'histogram_sum', 'holt_winters', 'hour', 'idelta', 'increase', 'info', 'irate',
  'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'mad_over_time', 'max_over_time',
  'min_over_time', 'minute', 'month', 'pi', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rad',
  'rate', 'resets', 'round', 'scalar', 'sgn', 'sin', 'sinh', 'sort', 'sort_by_label', 'sort_by_label_desc',
  'sort_desc', 'sqrt', 'start', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'tan', 'tanh', 'time',
  'timestamp', 'vector', 'year',
]);

const BINARY_KEYWORDS = new Set(['and', 'or', 'unless', 'atan2', 'bool']);
const GROUPING_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

type Token =
  | { kind: 'ident'; text: string; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'number' | 'variable'; at: number }
  | { kind: 'punct'; text: string; at: number };

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
// Numbers, and durations (5m, 1h30m, 250ms) wherever they stand.
const NUMBER = /(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)(?:(?:ms|[smhdwy])(?:[0-9]+(?:ms|[smhdwy]))*)?/y;
const VARIABLE = /\$(?:\{[^}]*\}|[a-zA-Z0-9_]+)/y;
const PUNCT = /=~|!~|!=|==|>=|<=|[-+*/%^<>=(),{}:@]/y;

function sticky(re: RegExp, text: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(text)?.[0];
}

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      const start = i++;
      let value = '';
      while (i < expr.length && expr[i] !== c) {
        if (expr[i] === '\\' && c !== '`') i++;
        value += expr[i] ?? '';
        i++;
      }
      if (i >= expr.length) throw new Error(`unterminated string at ${start} in: ${expr}`);
      i++;
      tokens.push({ kind: 'string', value, at: start });
      continue;
    }
    if (c === '[') {
      // A range or subquery ([5m], [1h:30s], [$__rate_interval]) or Grafana's [[var]]: nothing in it names a
      // metric or a label.
      const end = expr.startsWith('[[', i) ? expr.indexOf(']]', i) + 2 : expr.indexOf(']', i) + 1;
      if (end <= i) throw new Error(`unterminated [ at ${i} in: ${expr}`);
      i = end;
      continue;
    }
    const variable = sticky(VARIABLE, expr, i);
    if (variable !== undefined) {
      tokens.push({ kind: 'variable', at: i });
      i += variable.length;
      continue;
    }
    const number = sticky(NUMBER, expr, i);
    if (number !== undefined) {
      tokens.push({ kind: 'number', at: i });
      i += number.length;
      continue;
    }
    const ident = sticky(IDENT, expr, i);
    if (ident !== undefined) {
      tokens.push({ kind: 'ident', text: ident, at: i });
      i += ident.length;
      continue;
    }
    const punct = sticky(PUNCT, expr, i);
    if (punct === undefined) throw new Error(`unexpected ${JSON.stringify(c)} at ${i} in: ${expr}`);
    tokens.push({ kind: 'punct', text: punct, at: i });
    i += punct.length;
  }
  return tokens;
}

/** The metric selectors and grouping labels of one PromQL expression. Throws on what it cannot read. */
export function readPromql(expr: string): PromqlUse {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const isPunct = (t: Token | undefined, text: string) => t?.kind === 'punct' && t.text === text;
  const isWord = (t: Token | undefined, ...words: string[]) => t?.kind === 'ident' && words.includes(t.text.toLowerCase());
  const fail = (message: string, t: Token | undefined): never => {
    throw new Error(`${message} at ${t?.at ?? expr.length} in: ${expr}`);
  };

  /** Reads `{name op "value", …}` starting at tokens[i] (the `{`) into selector; returns the index after `}`. */
  const readMatchers = (i: number, selector: Selector): number => {
    let j = i + 1;
    while (!isPunct(tokens[j], '}')) {
      const [label, op, value] = [tokens[j], tokens[j + 1], tokens[j + 2]];
      if (label?.kind !== 'ident') return fail('expected a label name', label);
      if (op?.kind !== 'punct' || !['=', '!=', '=~', '!~'].includes(op.text)) return fail('expected a matcher operator', op);
      if (value?.kind !== 'string') return fail('expected a quoted label value', value);
      if (label.text !== '__name__') selector.labels.push(label.text);
      else if (op.text === '=') selector.metric = value.value;
      else return fail('a __name__ matcher other than = names no single metric', op);
      j += 3;
      if (isPunct(tokens[j], ',')) j++;
    }
    return j + 1;
  };

  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (isPunct(t, '{')) {
      const selector: Selector = { metric: '', labels: [] };
      i = readMatchers(i, selector);
      if (selector.metric === '') fail('a selector without a metric name', t);
      selectors.push(selector);
    } else if (t.kind !== 'ident') {
      i++;
    } else if (isWord(t, 'inf', 'nan', ...BINARY_KEYWORDS)) {
      i++;
    } else if (isWord(t, 'offset')) {
      // offset 5m, offset -1h
      i += isPunct(next, '-') ? 3 : 2;
    } else if (isWord(t, ...GROUPING_KEYWORDS)) {
      i++;
      if (!isPunct(tokens[i], '(')) continue; // group_left without labels
      i++;
      while (!isPunct(tokens[i], ')')) {
        const label = tokens[i];
        if (label?.kind !== 'ident') return fail(`expected a label name after ${t.text}`, label);
        groupingLabels.push(label.text);
        i++;
        if (isPunct(tokens[i], ',')) i++;
      }
      i++;
    } else if (AGGREGATIONS.has(t.text.toLowerCase()) && (isPunct(next, '(') || isWord(next, 'by', 'without'))) {
      i++;
    } else if (isPunct(next, '(')) {
      if (!FUNCTIONS.has(t.text)) fail(`unknown function ${t.text}()`, t);
      i++;
    } else {
      const selector: Selector = { metric: t.text, labels: [] };
      i = isPunct(next, '{') ? readMatchers(i + 1, selector) : i + 1;
      selectors.push(selector);
    }
  }
  return { selectors, groupingLabels };
}

/** Grafana's label_values(metric, label) / label_values(label) variable query, as PromQL plus the label. */
export function readLabelValuesQuery(query: string): PromqlUse {
  const match = /^\s*label_values\(\s*(?:(.*),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/s.exec(query);
  if (!match) throw new Error(`not a label_values() query: ${query}`);
  const use = match[1] === undefined ? { selectors: [], groupingLabels: [] } : readPromql(match[1]);
  return { selectors: use.selectors, groupingLabels: [...use.groupingLabels, match[2]!] };
}
