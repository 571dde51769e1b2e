// Reads the YAML text into plain values; syntax errors are reported by line and column, without
// echoing the source line (it may hold a secret).
import { LineCounter, parseDocument } from 'yaml';

export type YamlResult = { ok: true; value: unknown } | { ok: false; problems: string[]; hints: string[] };

const QUOTE_HINT = 'quote values that start with "*", "&", "!", "@" or "`", e.g. full: "*/15 * * * *"';

export function readYaml(text: string): YamlResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems: string[] = [];
    const seenLines = new Set<number>();
    for (const error of doc.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      // One mistake often cascades into several errors on its line; the first says it best.
      if (seenLines.has(line)) continue;
      seenLines.add(line);
      problems.push(`line ${line}, column ${col}: ${error.message.split('\n')[0]}`);
    }
    const aliasLike = doc.errors.some((error) => /alias|anchor|tag|reserved/i.test(error.message));
    return { ok: false, problems, hints: aliasLike ? [QUOTE_HINT] : [] };
  }
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (error) {
    // Unresolved or exponentially expanding aliases are only found while building the values.
    return { ok: false, problems: [error instanceof Error ? error.message : String(error)], hints: [QUOTE_HINT] };
  }
}
