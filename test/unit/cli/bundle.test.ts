// The bundled CLI (dist/bundle, scripts/bundle.js) that bin/pgwarden.js runs: it starts, and what every
// command loads at start holds none of the SDKs and servers loaded on demand, so `pgwarden --help` and each
// wal-push stay quick (the SDKs' own ~100 files would be back in every start-up).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../../src/package-root.js';

const BUNDLE = join(packageRoot(), 'dist', 'bundle');
const run = promisify(execFile);

/** Every module an entry loads before its code runs: its static imports, transitively (import() excluded). */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    const text = readFileSync(join(BUNDLE, file), 'utf8');
    for (const [, spec] of text.matchAll(/(?:^|\n)import\s(?:[^;]*?\sfrom\s)?"([^"]+)";/g)) {
      const key = spec!.startsWith('./') ? spec!.slice(2) : spec!;
      if (seen.has(key)) continue;
      seen.add(key);
      if (spec!.startsWith('./')) visit(key);
    }
  };
  visit(entry);
  return seen;
}

for (const entry of ['main.js', 'wal-main.js']) {
  test(`${entry} loads at start only its chunks and Node's modules: every package is bundled or imported on demand`, () => {
    const loaded = [...staticClosure(entry)];
    assert.ok(loaded.some((m) => m.startsWith('chunk-')), `${entry} imports its chunks`);
    const packages = loaded.filter((m) => !m.startsWith('chunk-') && !m.startsWith('node:'));
    assert.deepEqual(packages, [], `${entry} imports packages at start`);
  });
}

test('the bundled CLI and its wal-push entry run', async () => {
  const bin = join(packageRoot(), 'bin', 'pgwarden.js');
  const help = await run(process.execPath, [bin, '--help']);
  assert.match(help.stdout, /Usage: pgwarden/);
  assert.match(help.stdout, /\bbackup\b/);
  const walPush = await run(process.execPath, [bin, 'wal-push', '--help']);
  assert.match(walPush.stdout, /wal-push/);
});
