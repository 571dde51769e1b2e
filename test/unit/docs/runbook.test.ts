// docs/runbook.md and docs/security.md: every `pgwarden …` command in docs/ is one the real CLI accepts, the
// runbook covers its four scenarios with the commands each needs, security.md explains what
// `pgwarden sql backup-role` really grants, and the links between the docs resolve.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../../src/package-root.js';
import { backupRoleSql } from '../../../src/postgres/backup-role.js';
import { commandProblems, type DocCommand, extractCommands, markdownFiles } from './doc-commands.js';

const ROOT = packageRoot();
const DOCS = join(ROOT, 'docs');
const read = (name: string) => readFileSync(join(DOCS, name), 'utf8');

const block = (text: string): DocCommand => ({ file: 'test', line: 1, words: text.split(' ').slice(1), kind: 'block', text });

describe('pgwarden commands in docs/*.md', () => {
  const files = markdownFiles(DOCS);

  it('docs/ has the runbook and the security page, with commands in them', () => {
    assert.ok(files.includes('runbook.md') && files.includes('security.md'), files.join(', '));
    assert.ok(extractCommands(read('runbook.md'), 'docs/runbook.md').length >= 30);
  });

  for (const name of files) {
    it(`docs/${name}: every pgwarden command has a real subcommand, real options and the right arguments`, async () => {
      const failures: string[] = [];
      for (const command of extractCommands(read(name), `docs/${name}`)) {
        const problems = await commandProblems(command);
        if (problems.length > 0) failures.push(`${command.file}:${command.line}: ${command.text}\n    ${problems.join('\n    ')}`);
      }
      assert.deepEqual(failures, [], `commands the CLI would refuse:\n${failures.join('\n')}`);
      // An inline command wrapped over two lines would escape the check.
      const outsideBlocks = read(name).replace(/```[\s\S]*?```/g, '');
      const split = outsideBlocks.split('\n').filter((line) => /`pgwarden [^`]*$/.test(line));
      assert.deepEqual(split, [], 'keep each inline `pgwarden …` command on one line');
    });
  }

  it('the check refuses what the CLI refuses', async () => {
    const cases: [string, RegExp][] = [
      ['pgwarden failover demote --standby replica1', /no such command/],
      ['pgwarden restore-pitr --databse hotel_extranet --latest --data-dir /x', /unknown option --databse/],
      ['pgwarden list --type weekly', /--type weekly: not one of full, base, incremental, wal/],
      ['pgwarden backup nightly', /<kind> nightly: not one of full, base, incremental/],
      ['pgwarden verify', /needs id/],
      ['pgwarden verify a b', /takes 1 argument/],
      ['pgwarden catalog', /needs a subcommand: migrate, rebuild/],
      ['pgwarden restore 20261125T020000Z-full-1a2b3c --target-url', /--target-url needs a value/],
      ['pgwarden health --latest', /unknown option --latest/],
    ];
    for (const [text, expected] of cases) assert.match((await commandProblems(block(text))).join('\n'), expected, text);
    for (const text of [
      'pgwarden --config /etc/pgwarden/pgwarden.yml restore 20261125T020000Z-full-1a2b3c --target-url postgres://db/x -j 4 --no-owner --clean',
      'pgwarden wal-fetch --database hotel_extranet 000000010000000000000003 pg_wal/RECOVERYXLOG',
      'pgwarden catalog rebuild --from=local --json',
    ]) {
      assert.deepEqual(await commandProblems(block(text)), [], text);
    }
  });

  it('finds commands in code blocks (continuations, docker exec, docker run) and in inline code', () => {
    const markdown = [
      'Run `pgwarden verify <id>`, not `pgwarden.yml`.',
      '```sh',
      'docker exec pgwarden-serve pgwarden list --json | jq .   # a comment',
      'docker run --rm \\',
      '  -v cfg:/etc/pgwarden:ro pgwarden:16 catalog rebuild',
      'docker build -t pgwarden:16 .',
      '```',
      '```sql',
      'SELECT pgwarden FROM x;',
      '```',
    ].join('\n');
    assert.deepEqual(
      extractCommands(markdown, 'x.md').map((c) => [c.line, c.kind, c.words.join(' ')]),
      [
        [1, 'inline', 'verify <id>'],
        [3, 'block', 'list --json'],
        [4, 'block', 'catalog rebuild'],
      ],
    );
  });
});

/** The text of the `## ` section whose heading matches, up to the next `## `. */
function section(markdown: string, heading: RegExp): string {
  const parts = markdown.split(/^(?=## )/m);
  const found = parts.find((part) => heading.test(part.split('\n')[0]!));
  assert.ok(found, `a "## " section matching ${heading}`);
  return found;
}

const commandsIn = (text: string) => extractCommands(text, 'docs/runbook.md').filter((c) => c.kind === 'block');
const has = (commands: DocCommand[], start: string[], ...options: string[]) =>
  commands.some((c) => start.every((word, i) => c.words[i] === word) && options.every((o) => c.words.includes(o)));

describe('docs/runbook.md', () => {
  const runbook = read('runbook.md');

  it('single server failure: failover status, promote a standby, re-point the config, new backups', () => {
    const commands = commandsIn(section(runbook, /single server failure/i));
    assert.ok(has(commands, ['failover', 'status']));
    assert.ok(has(commands, ['failover', 'promote'], '--standby'));
    assert.ok(has(commands, ['config', 'check']));
    assert.ok(has(commands, ['backup', 'base']) && has(commands, ['backup', 'full']));
  });

  it('complete data-center loss: config check, catalog rebuild, restore-pitr --latest --start, restore by id', () => {
    const commands = commandsIn(section(runbook, /data.center loss/i));
    assert.ok(has(commands, ['config', 'check']));
    assert.ok(has(commands, ['catalog', 'migrate']) && has(commands, ['catalog', 'rebuild']));
    assert.ok(has(commands, ['restore-pitr'], '--latest', '--start', '--data-dir'));
    assert.ok(has(commands, ['restore'], '--target-url'));
  });

  it('ransomware: list, verify, restore-pitr to a time before the attack into a new data directory', () => {
    const text = section(runbook, /ransomware/i);
    const commands = commandsIn(text);
    assert.ok(has(commands, ['list']) && has(commands, ['verify']));
    const pitr = commands.find((c) => c.words[0] === 'restore-pitr');
    assert.ok(pitr, 'a restore-pitr command');
    assert.ok(pitr.words.includes('--target-time'), 'restore-pitr --target-time');
    const dataDir = pitr.words[pitr.words.indexOf('--data-dir') + 1] ?? '';
    assert.doesNotMatch(dataDir, /^\/var\/lib\/postgresql\/\d+\/main\/?$/, 'a new directory, not the cluster being replaced');
    assert.match(text, /offline/i, 'the keys come from the offline copy');
  });

  it('critical data loss: restore-pitr just before into a scratch directory with --start, pg_dump the table, pg_restore it', () => {
    const text = section(runbook, /critical data loss/i);
    const commands = commandsIn(text);
    assert.ok(has(commands, ['restore-pitr'], '--target-time', '--start', '--data-dir'));
    assert.match(text, /pg_dump [^\n]*--table/);
    assert.match(text, /pg_restore [^\n]*--single-transaction/);
  });

  it('the container section matches the image: port, volume, config path', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^EXPOSE 9187$/m);
    assert.match(runbook, /-p 127\.0\.0\.1:9187:9187/);
    assert.match(runbook, /:\/backups\b/);
    assert.match(runbook, /:\/etc\/pgwarden\/pgwarden\.yml:ro/);
  });
});

describe('docs/security.md', () => {
  const security = read('security.md');

  it('explains every privilege `pgwarden sql backup-role --replication` grants', () => {
    const sql = backupRoleSql({ role: 'pgwarden_backup', databases: ['hotel_extranet'], replication: true });
    const statements = sql.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('--'));
    const granted = new Set<string>();
    for (const line of statements) {
      for (const match of line.matchAll(/GRANT (\w+(?: ON (?:DATABASE|LARGE OBJECT))?)/g)) granted.add(match[1]!);
      const alter = /^ALTER ROLE \S+ (\w+);$/.exec(line);
      if (alter) granted.add(alter[1]!);
      const create = /^CREATE ROLE \S+ WITH (.+);$/.exec(line);
      if (create) for (const attribute of create[1]!.split(/\s+/)) granted.add(attribute);
    }
    assert.ok(granted.size >= 8, [...granted].join(', '));
    for (const privilege of granted) {
      const word = privilege.replace(/^SELECT ON /, '');
      assert.ok(security.toLowerCase().includes(word.toLowerCase()), `security.md explains ${privilege}`);
    }
  });

  it('covers roles, encryption and rotation, API tokens, file permissions and the network', () => {
    for (const heading of ['## Database roles', '## Encryption', '### Rotation', '## API tokens', '## File permissions', '## Network']) {
      assert.ok(security.includes(`\n${heading}\n`), heading);
    }
    for (const fact of ['pgwenc-1', 'BYPASSRLS', 'pg_monitor', '401', '403', 'api:<name>', '0600', '0700', '127.0.0.1', '_FILE']) {
      assert.ok(security.includes(fact), fact);
    }
  });

  it('states what the code does: modes, constant-time comparison, default host', () => {
    const driver = readFileSync(join(ROOT, 'src/storage/local/driver.ts'), 'utf8');
    assert.match(driver, /0o600/);
    assert.match(driver, /mode: 0o700/);
    assert.match(readFileSync(join(ROOT, 'src/http/auth.ts'), 'utf8'), /timingSafeEqual/);
    assert.match(readFileSync(join(ROOT, 'src/config/schema.ts'), 'utf8'), /host: nonEmptyString\(\)\.default\('127\.0\.0\.1'\)/);
  });
});

describe('links in docs/*.md', () => {
  it('every relative link points to a file that exists, and an anchor to a heading in it', () => {
    const broken: string[] = [];
    for (const name of markdownFiles(DOCS)) {
      const text = read(name);
      const withoutCode = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
      for (const match of withoutCode.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/i.test(target)) continue;
        const [file, anchor] = target.split('#') as [string, string | undefined];
        const path = file === '' ? join(DOCS, name) : join(dirname(join(DOCS, name)), file);
        if (!existsSync(path)) {
          broken.push(`docs/${name}: ${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && path.endsWith('.md') && !headingSlugs(readFileSync(path, 'utf8')).has(anchor)) {
          broken.push(`docs/${name}: ${target}: no such heading`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });
});

/** GitHub's anchors for the headings of a Markdown text. */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  for (const match of markdown.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const slug = match[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let unique = slug;
    for (let n = 1; slugs.has(unique); n++) unique = `${slug}-${n}`;
    slugs.add(unique);
  }
  return slugs;
}
