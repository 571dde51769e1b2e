// Bundles the compiled CLI (dist/src, from tsc) into dist/bundle, which bin/pgwarden.js runs.
//
// Why: every command starts by loading its modules, and as several hundred files (ours, zod's, yaml's,
// pino's, pg's) that was most of each `pgwarden` run's start-up and of every `wal-push` PostgreSQL's
// archive_command starts, one per WAL segment. Bundled, each starts 0.14–0.16 s sooner (hyperfine; figures in
// README "Performance").
//
// Only what every command loads is bundled: our code and the small libraries it starts with. The SDKs and
// servers loaded on demand (S3, GCS, KMS, notifiers, express, prom-client) stay ordinary imports from
// node_modules, untouched, so the bundle changes how fast pgwarden starts and nothing else. Our own
// on-demand modules become chunks loaded when first imported, as before.
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLED = new Set(['commander', 'pg', 'pino', 'yaml', 'zod']);
const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = Object.keys(dependencies)
  .filter((name) => !BUNDLED.has(name))
  .flatMap((name) => [name, `${name}/*`]);

const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: join(root, 'dist/src/cli/main.js'), 'wal-main': join(root, 'dist/src/cli/wal-main.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // pg and pino are CommonJS and require Node's modules; an ES module has no `require` of its own.
  banner: { js: "import { createRequire as pgwardenCreateRequire } from 'node:module'; const require = pgwardenCreateRequire(import.meta.url);" },
  // pg and zod ask whether they run on Cloudflare Workers: with no `navigator` (Node 20) pg then builds a
  // fetch Response, which loads Node's undici, 20 ms of every start. The bundle runs on Node: say so.
  define: { navigator: '{"userAgent":"Node.js"}' },
  // Readable stack traces without source maps: names and code are kept as written.
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
