// Reads Prometheus text exposition (what GET /metrics returns) into families and samples, so the /metrics
// benchmark can count series, check what pgwarden reports, and build a baseline registry of the same shape.

export interface ExpositionSample {
  /** The sample's own name: `<family>_bucket`, `_sum`, `_count` for histograms. */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ExpositionFamily {
  name: string;
  help: string;
  type: string;
  samples: ExpositionSample[];
}

/** Sample lines: every non-empty line that is not a comment. */
export function countSamples(text: string): number {
  let count = 0;
  for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) count++;
  return count;
}

/** Families in text order; a sample belongs to the family whose HELP/TYPE lines came last before it. */
export function parseExposition(text: string): ExpositionFamily[] {
  const families: ExpositionFamily[] = [];
  const byName = new Map<string, ExpositionFamily>();
  let current: ExpositionFamily | undefined;
  const family = (name: string) => {
    let f = byName.get(name);
    if (f === undefined) {
      f = { name, help: '', type: 'untyped', samples: [] };
      byName.set(name, f);
      families.push(f);
    }
    current = f;
    return f;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!);
      if (meta[1] === 'HELP') f.help = unescapeHelp(meta[3]!);
      else f.type = meta[3]!;
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = parseSample(line);
    (current ?? family(sample.name)).samples.push(sample);
  }
  return families;
}

function parseSample(line: string): ExpositionSample {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  if (brace === -1 || (space !== -1 && space < brace)) {
    const [name, value] = line.split(' ');
    return { name: name!, labels: {}, value: parseValue(value!) };
  }
  const labels: Record<string, string> = {};
  const pair = /\s*([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y;
  pair.lastIndex = brace + 1;
  let end = brace + 1;
  for (let match = pair.exec(line); match !== null; match = pair.exec(line)) {
    labels[match[1]!] = unescapeLabel(match[2]!);
    end = pair.lastIndex;
  }
  if (line[end] !== '}') throw new Error(`cannot parse the labels of: ${line}`);
  const value = line.slice(end + 1).trim().split(' ')[0]!;
  return { name: line.slice(0, brace), labels, value: parseValue(value) };
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

const unescapeLabel = (text: string) => text.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
const unescapeHelp = (text: string) => text.replace(/\\([\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
