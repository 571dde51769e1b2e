// README.md's configuration reference is what src/config/reference.ts generates from the config schema
// (`npm run docs:config` after changing either), every key has a description, and what the table says —
// types, defaults, required — is what parsing a config really does.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { configSchema, parseConfig } from '../../../src/config/index.js';
import {
  betweenMarkers,
  CONFIG_DESCRIPTIONS,
  configReferenceRows,
  descriptionProblems,
  REFERENCE_END,
  REFERENCE_START,
  renderConfigReference,
  replaceBetweenMarkers,
} from '../../../src/config/reference.js';
import { ConfigError } from '../../../src/errors.js';
import { packageRoot } from '../../../src/package-root.js';

const README = join(packageRoot(), 'README.md');
const rows = configReferenceRows();

describe('configuration reference', () => {
  it('every key of the schema has a description in src/config/reference.ts', () => {
    const { missing } = descriptionProblems(rows);
    assert.deepEqual(missing, [], `describe these keys in CONFIG_DESCRIPTIONS (src/config/reference.ts): ${missing.join(', ')}`);
  });

  it('no description is left for a key the schema does not have', () => {
    const { stale } = descriptionProblems(rows);
    assert.deepEqual(stale, [], `remove or rename these descriptions: ${stale.join(', ')}`);
  });

  it('README.md holds the reference the schema generates (run `npm run docs:config` after changing either)', () => {
    const readme = readFileSync(README, 'utf8');
    const committed = betweenMarkers(readme);
    assert.ok(committed !== undefined, `README.md needs the markers ${REFERENCE_START} and ${REFERENCE_END}`);
    const generated = renderConfigReference(rows).split('\n');
    const lines = committed.split('\n');
    const at = lines.findIndex((line, i) => line !== generated[i]);
    const first = at === -1 && lines.length !== generated.length ? Math.min(lines.length, generated.length) : at;
    assert.equal(first, -1, `README.md's configuration reference differs from the schema at its line ${first + 1}:\n  README:    ${lines[first]}\n  generated: ${generated[first]}\nRun \`npm run docs:config\`.`);
  });

  it('covers the whole schema: every top-level section, and leaves deep inside lists', () => {
    const paths = rows.map((row) => row.path);
    for (const key of Object.keys(configSchema.shape)) assert.ok(paths.includes(key), key);
    for (const path of ['catalog.url', 'databases[].standbys[].url', 'storage.s3.partSizeMiB', 'encryption.keys[].key', 'alerts.overrides[].match.rule', 'logLevel']) {
      assert.ok(paths.includes(path), path);
    }
  });

  it('names every type (no zod internals such as pipe or transform leak into the table)', () => {
    for (const row of rows) {
      assert.match(row.type, /^(object|string|boolean|(integer|number)( .+)?|one of .+|list of .+)$/, `${row.path}: ${row.type}`);
    }
  });

  it('gives the defaults parsing applies, and marks as required what a config cannot leave out', () => {
    const config = parseConfig(
      `catalog: { url: "postgres://pgwarden@db1/pgwarden" }
databases: [ { name: a, url: "postgres://db1/a", alerts: {}, schedules: {}, standbys: [ { name: s, url: "postgres://db2/a" } ] } ]
storage: { local: { path: /backups }, s3: { bucket: b, region: r, replica: { bucket: c, region: d } }, gcs: { bucket: g } }
encryption: { keys: [ { id: k, key: "${Buffer.alloc(32, 1).toString('base64')}" } ], kms: { keyId: alias/backups, region: r } }
server: { tokens: [ { name: ops, token: "0123456789abcdef" } ], metricsAuth: { username: u, password: p } }
alerts: { overrides: [ { match: {} } ] }
channels:
  email: { host: smtp, from: a@example.com, to: [b@example.com] }
  slack: { token: t, channel: c }
  pagerduty: { routingKey: k }
  sms: { accountSid: AC1, authToken: t, from: "+1", to: ["+2"] }
`,
      { env: {}, baseDir: '/' },
    );
    // Lists of objects are given items above, so their defaults are checked on a config without them.
    const minimal = parseConfig('catalog: { url: "postgres://db1/c" }\ndatabases: [ { name: a, url: "postgres://db1/a" } ]\nstorage: { local: { path: /b } }\n', { env: {} });
    let checked = 0;
    for (const row of rows.filter((r) => r.type !== 'object')) {
      const value = valueAt(row.type.startsWith('list of objects') ? minimal : config, row.path);
      if (row.default !== undefined) {
        assert.deepEqual(value, JSON.parse(row.default), `${row.path}: the table says default ${row.default}`);
        checked++;
      } else if (!row.required) {
        assert.equal(value, undefined, `${row.path}: the table gives no default, but parsing set ${JSON.stringify(value)}`);
      }
    }
    assert.ok(checked >= 40, `${checked} defaults checked`);
    // The required top-level keys are exactly what an otherwise empty config is missing.
    const required = rows.filter((r) => r.required && !r.path.includes('.')).map((r) => `${r.path}: required`);
    assert.throws(
      () => parseConfig('logLevel: info', { env: {} }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems, required);
        return true;
      },
    );
  });

  it('reads through optional, default, prefault, preprocess, transform and refinements', () => {
    const schema = z.strictObject({
      count: z.preprocess((v) => v, z.int().min(1).max(5)).default(3),
      ratio: z.number().positive().max(1).optional(),
      section: z.strictObject({ name: z.string().superRefine(() => {}) }).prefault({ name: 'n' }),
      items: z
        .array(z.strictObject({ kind: z.enum(['x', 'y']), tags: z.array(z.string()).min(1) }))
        .min(1)
        .superRefine(() => {}),
      mapped: z
        .strictObject({ on: z.boolean().default(false) })
        .transform((v) => ({ ...v, extra: 1 }))
        .prefault({}),
    });
    assert.deepEqual(
      configReferenceRows(schema).map((r) => [r.path, r.type, r.default, r.required]),
      [
        ['count', 'integer 1–5', '3', false],
        ['ratio', 'number > 0, ≤ 1', undefined, false],
        ['section', 'object', undefined, false],
        ['section.name', 'string', undefined, true],
        ['items', 'list of objects (at least 1)', undefined, true],
        ['items[].kind', 'one of `x`, `y`', undefined, true],
        ['items[].tags', 'list of strings (at least 1)', undefined, true],
        ['mapped', 'object', undefined, false],
        ['mapped.on', 'boolean', 'false', false],
      ],
    );
  });

  it('renders a Markdown table, escaping pipes, and refuses a key without a description', () => {
    const schema = z.strictObject({ mode: z.enum(['a|b', 'c']) });
    const table = renderConfigReference(configReferenceRows(schema), { mode: 'the mode | or not' });
    assert.ok(table.split('\n').includes('| `mode` | one of `a\\|b`, `c` |  | yes | the mode \\| or not |'), table);
    assert.throws(() => renderConfigReference(configReferenceRows(schema), {}), /without a description.*mode/);
  });

  it('replaces only what lies between the markers', () => {
    const text = `# x\n\nbefore\n${REFERENCE_START}\nold\n${REFERENCE_END}\nafter\n`;
    assert.equal(replaceBetweenMarkers(text, 'new\n'), `# x\n\nbefore\n${REFERENCE_START}\nnew\n${REFERENCE_END}\nafter\n`);
    assert.equal(betweenMarkers(replaceBetweenMarkers(text, 'new\n')), 'new\n');
    assert.throws(() => replaceBetweenMarkers('no markers', 'x'), /markers/);
  });

  it('describes each key in one line of plain text', () => {
    for (const [path, text] of Object.entries(CONFIG_DESCRIPTIONS)) {
      assert.ok(!text.includes('\n'), `${path}: one line`);
      assert.match(text, /[.)]$/, `${path}: a sentence ending with a period`);
    }
  });
});

/** The value at a reference path in a parsed config (`[]` is the first item). */
function valueAt(config: unknown, path: string): unknown {
  let value: unknown = config;
  for (const part of path.split('.')) {
    const list = part.endsWith('[]');
    const key = list ? part.slice(0, -2) : part;
    value = (value as Record<string, unknown> | undefined)?.[key];
    if (list) value = (value as unknown[] | undefined)?.[0];
  }
  return value;
}
