// The Dockerfile, checked without a Docker engine: what it copies exists (or is built by the stage), the
// image runs the built CLI as a non-root user, probes /healthz on the port it exposes, keeps backups on a
// volume and installs the client tools of PG_MAJOR; and the documented container config fits the image.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { packageRoot } from '../../../src/package-root.js';
import {
  copyPaths,
  execForm,
  type Instruction,
  instructionsOf,
  isIgnored,
  parseDockerfile,
  resolvePosix,
  type Stage,
  splitFlags,
  workdirAt,
} from './dockerfile.js';

const ROOT = packageRoot();
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(ROOT, '.dockerignore'), 'utf8');
const EXAMPLE_CONFIG = 'docs/docker/pgwarden.yml';
const dockerfile = parseDockerfile(DOCKERFILE);
const runtime = dockerfile.stages.at(-1)!;
const stageNamed = (name: string) => dockerfile.stages.find((s) => s.name === name);

/** What the build stage leaves in its WORKDIR besides what it copied in, and the RUN that makes it. */
const BUILT: Record<string, { by: RegExp; what: string }> = {
  dist: { by: /\b(npm run build|tsc)\b/, what: 'the TypeScript build' },
  node_modules: { by: /\bnpm ci\b/, what: 'npm ci' },
};

const runs = (stage: Stage) => instructionsOf(stage, 'RUN').map((i) => i.args);
const lastOf = (stage: Stage, keyword: string): Instruction | undefined => instructionsOf(stage, keyword).at(-1);

/** The one exposed port. */
function exposedPort(): number {
  const ports = instructionsOf(runtime, 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
  assert.equal(ports.length, 1, `one EXPOSE port, got ${ports.join(', ')}`);
  return Number(ports[0]!.replace(/\/tcp$/, ''));
}

/** Where a file of the runtime image comes from: the stage and the path inside it (COPY --from), or undefined. */
function sourceInImage(path: string): { stage: Stage; path: string } | undefined {
  let found: { stage: Stage; path: string } | undefined;
  for (const copy of instructionsOf(runtime, 'COPY')) {
    const { flags, sources, destination } = copyPaths(copy.args);
    const dest = resolvePosix(workdirAt(runtime, copy), destination);
    const from = flags['from'] === undefined ? undefined : stageNamed(flags['from']);
    if (sources.length !== 1 || !from) continue;
    if (path === dest || path.startsWith(`${dest}/`)) found = { stage: from, path: `${sources[0]!.replace(/\/$/, '')}${path.slice(dest.length)}` };
  }
  return found;
}

/** Where the files a stage copies from the build context land (a directory destination keeps their names). */
function landedPaths(stage: Stage): Set<string> {
  const landed = new Set<string>();
  for (const copy of instructionsOf(stage, 'COPY')) {
    const { flags, sources, destination } = copyPaths(copy.args);
    if (flags['from'] !== undefined) continue;
    const dest = resolvePosix(workdirAt(stage, copy), destination);
    const intoDirectory = destination.endsWith('/') || sources.length > 1;
    for (const source of sources) landed.add(intoDirectory ? resolvePosix(dest, source.replace(/\/$/, '').split('/').at(-1)!) : dest);
  }
  return landed;
}

describe('Dockerfile', () => {
  it('is multi-stage: a node:22 bookworm build stage and a separate runtime stage', () => {
    assert.ok(dockerfile.stages.length >= 2, `expected at least 2 FROM, got ${dockerfile.stages.length}`);
    const build = stageNamed('build');
    assert.ok(build, 'a stage named "build"');
    assert.match(build.base, /^node:22-bookworm-slim$/);
    assert.notEqual(runtime, build, 'the last stage (the image) is not the build stage');
    assert.match(runtime.base, /^(node:22-bookworm-slim|debian:bookworm-slim)$/);
    assert.match(runs(build).join('\n'), /npm prune --omit=dev/, 'the build stage prunes dev dependencies');
    const ci = runs(build).findIndex((r) => /\bnpm ci\b/.test(r));
    const prune = runs(build).findIndex((r) => /npm prune --omit=dev/.test(r));
    assert.ok(ci !== -1 && ci < prune, 'npm ci, then npm prune --omit=dev');
  });

  it('copies from the build context only files that exist in the repository and that .dockerignore lets through', () => {
    const copies = dockerfile.stages.flatMap((stage) => instructionsOf(stage, 'COPY').map((copy) => ({ stage, copy, ...copyPaths(copy.args) })));
    const fromContext = copies.filter((c) => c.flags['from'] === undefined);
    assert.ok(fromContext.length > 0);
    for (const { copy, sources } of fromContext) {
      for (const source of sources) {
        assert.ok(existsSync(join(ROOT, source)), `line ${copy.line}: COPY ${source}: no such file in the repository`);
        assert.ok(!isIgnored(DOCKERIGNORE, source.replace(/\/$/, '')), `line ${copy.line}: COPY ${source}: excluded by .dockerignore`);
      }
    }
    for (const instruction of dockerfile.stages.flatMap((s) => s.instructions)) {
      assert.notEqual(instruction.keyword, 'ADD', `line ${instruction.line}: use COPY (ADD fetches URLs and unpacks archives)`);
    }
  });

  it('copies from other stages only what they copied in or built', () => {
    for (const stage of dockerfile.stages) {
      for (const copy of instructionsOf(stage, 'COPY')) {
        const { flags, sources } = copyPaths(copy.args);
        if (flags['from'] === undefined) continue;
        const from = stageNamed(flags['from']);
        assert.ok(from, `line ${copy.line}: COPY --from=${flags['from']}: no such stage`);
        assert.ok(dockerfile.stages.indexOf(from) < dockerfile.stages.indexOf(stage), `line ${copy.line}: --from=${flags['from']} is a later stage`);
        if (from.name !== 'build') {
          // Another helper stage (the PGDG keyring): the file must be made by one of its RUNs.
          assert.ok(runs(from).length > 0, `line ${copy.line}: stage ${from.name} runs nothing that could make ${sources.join(' ')}`);
          continue;
        }
        const workdir = lastOf(from, 'WORKDIR');
        assert.ok(workdir, 'the build stage sets a WORKDIR');
        const buildDir = resolvePosix('/', workdir.args);
        for (const source of sources) {
          const inBuild = relative(buildDir, resolvePosix(buildDir, source));
          assert.ok(!inBuild.startsWith('..'), `line ${copy.line}: ${source} is outside the build stage's WORKDIR ${buildDir}`);
          const top = inBuild.split('/')[0]!;
          const copiedIn = landedPaths(from).has(resolvePosix(buildDir, top));
          const built = BUILT[top];
          assert.ok(
            copiedIn || (built !== undefined && runs(from).some((r) => built.by.test(r))),
            `line ${copy.line}: ${source} is neither copied into the build stage nor made there${built ? ` (by ${built.what})` : ''}`,
          );
        }
      }
    }
  });

  it('the build is tsc (src/ into dist/src), then scripts/bundle.js (dist/src into dist/bundle), both in the build stage', () => {
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    assert.equal(resolvePosix('/', tsconfig.compilerOptions.outDir), '/dist');
    assert.equal(resolvePosix('/', tsconfig.compilerOptions.rootDir), '/');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts['build'], 'tsc -p tsconfig.json && node scripts/bundle.js');
    const build = stageNamed('build')!;
    const buildDir = resolvePosix('/', lastOf(build, 'WORKDIR')!.args);
    for (const input of ['tsconfig.json', 'src', 'scripts']) assert.ok(landedPaths(build).has(resolvePosix(buildDir, input)), `the build stage copies ${input}`);
  });

  it('ENTRYPOINT runs bin/pgwarden.js, which exists and loads the compiled CLI the image holds', () => {
    const entrypoint = execForm(lastOf(runtime, 'ENTRYPOINT')?.args ?? '');
    assert.deepEqual(entrypoint?.slice(0, 1), ['node'], 'ENTRYPOINT in exec form, running node (signals reach pgwarden)');
    const script = entrypoint![1]!;
    const origin = sourceInImage(script);
    assert.ok(origin, `${script} is copied into the image`);
    assert.equal(origin.stage.name, 'build');
    const buildDir = resolvePosix('/', lastOf(origin.stage, 'WORKDIR')!.args);
    const repoPath = relative(buildDir, origin.path);
    assert.equal(repoPath, 'bin/pgwarden.js');
    assert.ok(existsSync(join(ROOT, repoPath)));
    assert.ok(statSync(join(ROOT, repoPath)).mode & 0o111, 'bin/pgwarden.js is executable (it is also linked as /usr/local/bin/pgwarden)');

    // Every module the entry point loads (the CLI, and the small wal-push/wal-fetch entry) comes, inside
    // the image, from the build's dist/bundle: an entry point scripts/bundle.js makes from dist/src, compiled
    // from src/.
    const text = readFileSync(join(ROOT, repoPath), 'utf8');
    const loaded = [...text.matchAll(/'(\.\.\/dist\/[^']+\.js)'/g)].map((m) => m[1]!);
    assert.deepEqual(loaded.sort(), ['../dist/bundle/main.js', '../dist/bundle/wal-main.js'], `bin/pgwarden.js loads the bundled CLI, got ${loaded.join(', ')}`);
    const bundler = readFileSync(join(ROOT, 'scripts/bundle.js'), 'utf8');
    for (const module of loaded) {
      const inImage = sourceInImage(resolvePosix(resolvePosix(script, '..'), module));
      assert.ok(inImage, `${module} (from ${script}) is in the image`);
      const built = relative(buildDir, inImage.path);
      const entry = built.match(/^dist\/bundle\/([a-z-]+)\.js$/)?.[1];
      assert.ok(entry, `${built} is a bundle entry point`);
      assert.ok(bundler.includes(`'${entry}': join(root, 'dist/src/cli/${entry}.js')`) || bundler.includes(`${entry}: join(root, 'dist/src/cli/${entry}.js')`), `scripts/bundle.js bundles dist/src/cli/${entry}.js as ${entry}`);
      assert.ok(existsSync(join(ROOT, `src/cli/${entry}.ts`)), `src/cli/${entry}.ts compiles to dist/src/cli/${entry}.js`);
    }

    // packageRoot() finds the migrations beside package.json: both must be in the image next to bin/.
    const appDir = resolvePosix(script, '../..');
    for (const needed of ['package.json', 'sql']) assert.ok(sourceInImage(`${appDir}/${needed}`), `${appDir}/${needed} is in the image`);
    assert.deepEqual(execForm(lastOf(runtime, 'CMD')?.args ?? ''), ['serve']);
  });

  it('the image runs only production dependencies: every package src/ imports at run time is in "dependencies"', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith('.ts')) for (const name of runtimeImports(readFileSync(path, 'utf8'))) imported.set(name, relative(ROOT, path));
      }
    };
    walk(join(ROOT, 'src'));
    assert.ok(imported.size > 0);
    for (const [name, file] of imported) assert.ok(name in pkg.dependencies, `${file} imports ${name}, which npm prune --omit=dev removes`);
  });

  it('HEALTHCHECK fetches /healthz on the exposed port with node, which the HTTP server serves', () => {
    const healthcheck = lastOf(runtime, 'HEALTHCHECK');
    assert.ok(healthcheck, 'the runtime stage has a HEALTHCHECK');
    const { flags, rest } = splitFlags(healthcheck.args);
    assert.ok(flags['interval'] && flags['timeout'], 'interval and timeout are set');
    const command = execForm(rest.replace(/^CMD\s+/, ''));
    assert.ok(command, 'HEALTHCHECK CMD in exec form');
    assert.equal(command[0], 'node', 'no curl in the image: node fetches');
    const url = /https?:\/\/127\.0\.0\.1:(\d+)(\/\w+)/.exec(command.join(' '));
    assert.ok(url, `a loopback URL in ${command.join(' ')}`);
    assert.equal(url[2], '/healthz');
    assert.equal(Number(url[1]), exposedPort());
    assert.match(readFileSync(join(ROOT, 'src/http/probe-routes.ts'), 'utf8'), /\.route\('\/healthz'\)/);
  });

  it('keeps /backups on a volume the runtime user owns', () => {
    const volumes = instructionsOf(runtime, 'VOLUME').flatMap((i) => execForm(i.args) ?? i.args.split(/\s+/));
    assert.ok(volumes.includes('/backups'), `VOLUME ${volumes.join(' ')}`);
    assert.match(runs(runtime).join('\n'), /install -d -o pgwarden\b[^\n]*\/backups/, '/backups is created for the pgwarden user');
  });

  it('installs postgresql-client-<PG_MAJOR> from apt.postgresql.org, with tar, gzip, the compressors and ca-certificates', () => {
    const arg = instructionsOf(runtime, 'ARG').find((i) => /^PG_MAJOR(=|$)/.test(i.args));
    assert.ok(arg, 'ARG PG_MAJOR in the runtime stage');
    assert.match(arg.args, /^PG_MAJOR=\d+$/, 'with a default major');
    const install = runs(runtime).join('\n');
    assert.ok(runtime.instructions.indexOf(arg) < runtime.instructions.findIndex((i) => i.keyword === 'RUN' && i.args.includes('postgresql-client-')));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's ARG reference, as written
    assert.ok(install.includes('postgresql-client-${PG_MAJOR}'), 'the client package is named by PG_MAJOR');
    for (const pkg of ['tar', 'gzip', 'zstd', 'pigz', 'lz4', 'ca-certificates']) assert.match(install, new RegExp(`apt-get install[^;&]*\\s${pkg}\\b`), `installs ${pkg}`);
    assert.match(install, /URIs: https:\/\/apt\.postgresql\.org\/pub\/repos\/apt/);
    assert.match(install, /Signed-By: \S+/, 'the PGDG repository is pinned to its signing key');
    assert.match(install, /rm -rf \/var\/lib\/apt\/lists/, 'apt lists are not left in the image');
  });

  it('sets PGWARDEN_CONFIG, so the config is a mounted file', () => {
    const env = instructionsOf(runtime, 'ENV').map((i) => i.args).join(' ');
    assert.match(env, /PGWARDEN_CONFIG=\/etc\/pgwarden\/pgwarden\.yml/);
  });
});

describe('.dockerignore', () => {
  it('keeps local state, build output and configs with secrets out of the build context', () => {
    for (const path of ['node_modules/pg/package.json', 'dist/src/cli/main.js', '.git/config', '.pgwarden-demo/storage', 'pgwarden.yml', 'test/unit/x.ts', 'npm-debug.log']) {
      assert.ok(isIgnored(DOCKERIGNORE, path), `${path} is excluded`);
    }
    for (const path of ['src/cli/main.ts', 'bin/pgwarden.js', 'sql/0001_init.sql', 'package.json', 'package-lock.json']) {
      assert.ok(!isIgnored(DOCKERIGNORE, path), `${path} is included`);
    }
  });
});

describe(`the container config (${EXAMPLE_CONFIG})`, () => {
  const env = {
    CATALOG_PASSWORD: 'catalog-secret',
    BACKUP_PASSWORD: 'backup-secret',
    FAILOVER_PASSWORD: 'failover-secret',
    PGWARDEN_KEY_2026: Buffer.alloc(32, 7).toString('base64'),
    PGWARDEN_API_TOKEN: 'an-api-token-of-enough-length',
    PGWARDEN_METRICS_PASSWORD: 'metrics-secret',
  };
  const load = () => parseConfig(readFileSync(join(ROOT, EXAMPLE_CONFIG), 'utf8'), { env, baseDir: '/etc/pgwarden' });

  it('is valid, listens on every interface of the container, on the port the image exposes and probes', () => {
    const config = load();
    assert.equal(config.server.host, '0.0.0.0');
    assert.equal(config.server.port, exposedPort());
  });

  it('stores backups on the image volume and spools WAL where a volume can be mounted', () => {
    const config = load();
    assert.equal(config.storage.local?.path, '/backups');
    assert.match(config.wal.spoolDir ?? '', /^\/var\/lib\/pgwarden\//, 'the spool must survive restarts, so not in /tmp');
  });
});

/** Packages a module loads at run time (type-only imports are erased by tsc). */
function runtimeImports(source: string): string[] {
  const names = new Set<string>();
  const statement = /(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?'([^']+)'/g;
  for (const match of source.matchAll(statement)) if (!match[1]) names.add(match[2]!);
  for (const match of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) names.add(match[1]!);
  return [...names]
    .filter((name) => !name.startsWith('.') && !name.startsWith('node:') && !builtinModules.includes(name))
    .map((name) => (name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0]!));
}

describe('the Dockerfile reader', () => {
  it('joins continuations, drops comment lines inside them, and groups instructions by stage', () => {
    const parsed = parseDockerfile(
      ['# syntax=docker/dockerfile:1', 'ARG BASE=x', 'FROM node:22 AS build', 'RUN a \\', '  # a comment', '  && b', 'FROM debian', 'COPY --from=build /src/dist ./dist'].join('\n'),
    );
    assert.deepEqual(
      parsed.globalArgs.map((i) => i.args),
      ['BASE=x'],
    );
    assert.deepEqual(
      parsed.stages.map((s) => [s.name, s.base, s.instructions.map((i) => `${i.keyword} ${i.args}`)]),
      [
        ['build', 'node:22', ['RUN a && b']],
        [undefined, 'debian', ['COPY --from=build /src/dist ./dist']],
      ],
    );
  });

  it('matches .dockerignore like the builder: the last matching rule for a path or a parent decides', () => {
    const rules = '*\n!src\nsrc/**/*.md\n';
    assert.equal(isIgnored(rules, 'README.md'), true);
    assert.equal(isIgnored(rules, 'src/cli/main.ts'), false);
    assert.equal(isIgnored(rules, 'src/wal/README.md'), true);
  });
});
